import { TypedEventEmitter } from 'main-event'
import { eventStream } from '../event-stream.ts'
import type { AbortOptions, Address, ConversationEvents, DirectMessage, DmDevice, DmSendResult } from '../types.ts'

/** What a conversation needs from the DM layer that owns it. */
export interface ConversationHost {
  send(peer: Address, text: string, options: { parentId?: string } & AbortOptions): Promise<DmSendResult>
  devices(address: Address): DmDevice[]
  discover(address: Address, options: AbortOptions): Promise<DmDevice[]>
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
  send(text: string, options: { parentId?: string } & AbortOptions = {}): Promise<DmSendResult> {
    return this.#host.send(this.peer, text, options)
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
