import { TypedEventEmitter } from 'main-event'
import { eventStream } from '../event-stream.ts'
import type {
  AbortOptions,
  Address,
  CallSignalInput,
  ConversationEvents,
  DirectMessage,
  DmDevice,
  DmSendResult,
  FileManifest,
  MessageState,
  ReadSignal,
  TimerChange,
} from '../types.ts'
import type { DmContent } from './delivery.ts'

/** What a conversation needs from the DM layer that owns it. */
export interface ConversationHost {
  send(
    peer: Address,
    text: string,
    options: { parentId?: string; file?: FileManifest } & AbortOptions,
  ): Promise<DmSendResult>
  change(
    peer: Address,
    content: Exclude<DmContent, { kind: 'text' | 'timer' }>,
    options: AbortOptions,
  ): Promise<DmSendResult>
  setDisappearing(peer: Address, seconds: number, options: AbortOptions): Promise<DmSendResult>
  disappearing(peer: Address): TimerChange | undefined
  expiryOf(peer: Address, sentAtMs: number, receivedAtMs: number): number | undefined
  message(peer: Address, id: string): MessageState | undefined
  thread(peer: Address, rootId: string): MessageState[]
  keptMessages(peer: Address): MessageState[]
  devices(address: Address): DmDevice[]
  discover(address: Address, options: AbortOptions): Promise<DmDevice[]>
  typing(peer: Address, typing: boolean): boolean
  markRead(peer: Address, id: string): void
  readPosition(peer: Address): ReadSignal | undefined
  sendCallSignal(peer: Address, signal: CallSignalInput): Promise<void>
}

/**
 * The direct-message conversation with one wallet (all of its devices), mirroring `Room`:
 * `send`, `messages()` and typed events. Get one with `client.dm(address)`.
 */
export class Conversation extends TypedEventEmitter<ConversationEvents> {
  /** The other wallet. */
  readonly peer: Address
  readonly #host: ConversationHost
  #stopped = false

  constructor(host: ConversationHost, peer: Address) {
    super()
    this.#host = host
    this.peer = peer
  }

  /**
   * Sends a text message to every device of the peer wallet (found on its inbox, see
   * `DM_DISCOVERY_TIMEOUT_MS`) and to this wallet's other devices. Resolves to the message id and
   * send time and, in `delivery`, what happened per device (each device's record and ciphertext
   * hash when sent); a wallet with no device online has no entry there.
   */
  send(text: string, options: { parentId?: string; file?: FileManifest } & AbortOptions = {}): Promise<DmSendResult> {
    return this.#host.send(this.peer, text, options)
  }

  /** Replies to message `parentId` (in its thread). */
  reply(parentId: string, text: string, options: AbortOptions = {}): Promise<DmSendResult> {
    return this.#host.send(this.peer, text, { ...options, parentId })
  }

  /** Adds this wallet's reaction `emoji` to message `id`. */
  react(id: string, emoji: string, options: AbortOptions = {}): Promise<DmSendResult> {
    return this.#host.change(this.peer, { kind: 'react', target: id, emoji }, options)
  }

  /** Takes this wallet's reaction `emoji` to message `id` back. */
  unreact(id: string, emoji: string, options: AbortOptions = {}): Promise<DmSendResult> {
    return this.#host.change(this.peer, { kind: 'react', target: id, emoji, remove: true }, options)
  }

  /** A new text for message `id`, which this wallet sent: the other side sees it edited, with every version. */
  edit(id: string, text: string, options: AbortOptions = {}): Promise<DmSendResult> {
    return this.#host.change(this.peer, { kind: 'edit', target: id, body: text }, options)
  }

  /** Deletes message `id`, which this wallet sent: honest devices drop its text, from their vaults too. */
  delete(id: string, options: AbortOptions = {}): Promise<DmSendResult> {
    return this.#host.change(this.peer, { kind: 'delete', target: id }, options)
  }

  /**
   * Sets the conversation's disappearing-messages timer, in seconds (0: off; `disappearing.ts`): messages sent from
   * now on leave both wallets' devices that long after they were sent.
   */
  setDisappearing(seconds: number, options: AbortOptions = {}): Promise<DmSendResult> {
    return this.#host.setDisappearing(this.peer, seconds, options)
  }

  /** The disappearing-messages timer in force (its last change), if it was ever set. */
  disappearing(): TimerChange | undefined {
    return this.#host.disappearing(this.peer)
  }

  /** When a message sent at `sentAtMs` and received at `receivedAtMs` leaves this device; undefined: never. */
  expiryOf(sentAtMs: number, receivedAtMs: number): number | undefined {
    return this.#host.expiryOf(this.peer, sentAtMs, receivedAtMs)
  }

  /** Message `id` as this device knows it now (reactions, versions, deleted, thread), if it is here. */
  message(id: string): MessageState | undefined {
    return this.#host.message(this.peer, id)
  }

  /** The replies of the thread whose root is `rootId`, oldest first. */
  thread(rootId: string): MessageState[] {
    return this.#host.thread(this.peer, rootId)
  }

  /** The messages this device keeps of the conversation, in the order they came (`Room.keptMessages`). */
  keptMessages(): MessageState[] {
    return this.#host.keptMessages(this.peer)
  }

  /**
   * The person is typing (`true`: repeat it as they type, it goes out every `TYPING_SEND_INTERVAL_MS` at most) or
   * cleared or sent the composer (`false`); nothing while typing is turned off. Returns whether a record went out.
   */
  typing(typing: boolean): boolean {
    return this.#host.typing(this.peer, typing)
  }

  /**
   * The person read the conversation up to message `id`: the other wallet sees "read" (unless receipts are off) and
   * this wallet's other devices mark it read. Coalesced over `READ_SEND_DELAY_MS`.
   */
  markRead(id: string): void {
    this.#host.markRead(this.peer, id)
  }

  /** How far the other wallet read the conversation, as last heard (undefined while receipts are off). */
  readPosition(): ReadSignal | undefined {
    return this.#host.readPosition(this.peer)
  }

  /**
   * Sends a call signal (`here`, `leave`, or an `offer` or `answer` for one device) in this conversation: to each of
   * the other wallet's devices and this wallet's other devices (an offer or answer only to the device its `to`
   * names), ephemeral like typing, in records relays never store — but a `here` opens a session with a device that has
   * none (in an initial message, which relays keep, as a first text would), so that a call rings a wallet never
   * written to. Not turned off by the typing or receipts settings. Throws (with what to do) when it is malformed or
   * reached none of the other wallet's devices (none found; an offer or answer with no session yet).
   */
  sendCallSignal(signal: CallSignalInput): Promise<void> {
    return this.#host.sendCallSignal(this.peer, signal)
  }

  /** The peer's devices this device knows of (from its inbox and from earlier sessions). */
  devices(): DmDevice[] {
    return this.#host.devices(this.peer)
  }

  /** Asks the peer's inbox which devices are online; resolves with what is known afterwards. */
  discover(options: AbortOptions = {}): Promise<DmDevice[]> {
    return this.#host.discover(this.peer, options)
  }

  /** Received messages (both directions) as they arrive; ends on abort or when the DM layer stops. */
  messages(options: AbortOptions = {}): AsyncIterable<DirectMessage> {
    return eventStream<DirectMessage>(
      this,
      { event: 'message:received', endEvent: 'conversation:stopped', ended: this.#stopped },
      options,
    )
  }

  /** Called by the DM layer when it stops. */
  stopped(): void {
    if (this.#stopped) return
    this.#stopped = true
    this.safeDispatchEvent('conversation:stopped')
  }
}
