import type { SecureChatClient } from '@securechat/sdk/client'
import { TYPING_SHOWN_MS } from '@securechat/sdk/constants'
import type { Room } from '@securechat/sdk/rooms'
import type { MessageDelivery, ReadSignal, TypingSignal } from '@securechat/sdk/types'
import { z } from 'zod'
import type { Conversations } from './conversations.ts'
import type { ChatEntry } from './history-store.ts'
import type { SessionPart, SignedIn } from './session.ts'

/**
 * Read receipts and typing indicators (docs/web-app.md, Receipts and typing): who is typing in each conversation
 * (each shown until `TYPING_SHOWN_MS` after their last record, or their "stopped"), how far each member read, and
 * this device's own reading and typing told through the sdk. Read on another device of this wallet, a conversation
 * is read here too. Dispatches `signals:changed` when what it shows changed, and `receipts:changed` too when a read
 * position or a delivery of one's own room message did (the marks under messages follow that one, not typing).
 *
 * "Delivered" (a room's `Room.delivery`, a DM's status per device) is not a receipt and shows with receipts off too:
 * it is the protocol's acknowledgement, which members send whatever they chose (docs/architecture.md, Typing and read
 * receipts).
 *
 * The two settings are in the vault, never localStorage; off is off both ways (the sdk neither sends nor shows).
 */
export interface SignalSettings {
  receipts: boolean
  typing: boolean
}

const SETTINGS = 'web/signal-settings'
const settingsSchema = z.object({ receipts: z.boolean(), typing: z.boolean() })
const DEFAULTS: SignalSettings = { receipts: true, typing: true }

export class Signals extends EventTarget implements SessionPart {
  readonly #conversations: Conversations
  #signedIn: SignedIn | undefined
  #client: SecureChatClient | undefined
  #settings: SignalSettings = { ...DEFAULTS }
  /** Per conversation, who is typing and until when. */
  readonly #typing = new Map<string, Map<string, number>>()
  readonly #timers = new Set<ReturnType<typeof setTimeout>>()
  /** Per conversation, each other wallet's read position (the id of the last message it read). */
  readonly #reads = new Map<string, Map<string, string>>()
  /** The last read position told (or learnt from another device of this wallet), per conversation. */
  readonly #told = new Map<string, string>()
  /**
   * Read positions from this wallet's other devices whose message is not in the history yet: a catch-up tells the read
   * position as it delivers the messages, which the conversations may add after it. Applied again once it is there.
   */
  readonly #ownPending = new Map<string, string>()
  readonly #watched = new WeakSet<Room>()
  readonly #detach: Array<() => void> = []

  constructor(conversations: Conversations) {
    super()
    this.#conversations = conversations
    conversations.addEventListener('conversations:changed', () => {
      this.#watchRooms()
      this.#applyOwnPending()
    })
  }

  get settings(): SignalSettings {
    return { ...this.#settings }
  }

  async open(signedIn: SignedIn): Promise<void> {
    this.#signedIn = signedIn
    this.#settings = (await signedIn.vault.getJson(SETTINGS, settingsSchema).catch(() => undefined)) ?? { ...DEFAULTS }
    signedIn.client.setSignalSettings(this.#settings)
    this.#changed(true)
  }

  async connected(client: SecureChatClient): Promise<void> {
    this.#client = client
    const dms = client.dms
    const onTyping = (event: CustomEvent<TypingSignal>): void => this.#onTyping(event.detail)
    const onRead = (event: CustomEvent<ReadSignal>): void => this.#onRead(event.detail)
    dms.addEventListener('typing:changed', onTyping)
    dms.addEventListener('read:received', onRead)
    this.#detach.push(() => {
      dms.removeEventListener('typing:changed', onTyping)
      dms.removeEventListener('read:received', onRead)
    })
    for (const read of dms.readPositions()) this.#onRead(read)
    this.#watchRooms()
  }

  close(): void {
    for (const detach of this.#detach.splice(0)) detach()
    for (const timer of this.#timers) clearTimeout(timer)
    this.#timers.clear()
    this.#typing.clear()
    this.#reads.clear()
    this.#told.clear()
    this.#ownPending.clear()
    this.#client = undefined
    this.#signedIn = undefined
    this.#settings = { ...DEFAULTS }
    this.#changed(true)
  }

  /** Turns receipts or typing on or off on this device, both ways, and keeps the choice in the vault. */
  async setSettings(settings: Partial<SignalSettings>): Promise<void> {
    this.#settings = { ...this.#settings, ...settings }
    this.#signedIn?.client.setSignalSettings(this.#settings)
    if (!this.#settings.typing) this.#typing.clear()
    if (!this.#settings.receipts) this.#reads.clear()
    this.#changed(true)
    await this.#signedIn?.vault.putJson(SETTINGS, this.#settings)
  }

  /** Who is typing in conversation `id` now (other wallets). */
  typingIn(id: string): string[] {
    const now = Date.now()
    return [...(this.#typing.get(id) ?? [])].filter(([, untilMs]) => untilMs > now).map(([address]) => address)
  }

  /** The other wallets that read conversation `id` up to `entry` or past it (its history as shown). */
  seenBy(id: string, entry: ChatEntry, history: ChatEntry[]): string[] {
    return this.readers(id, history)(entry.id)
  }

  /**
   * Who read conversation `id` up to each message of `history` or past it, by message id: the history is walked once
   * for every mark under it.
   */
  readers(id: string, history: readonly ChatEntry[]): (messageId: string) => string[] {
    const reads = this.#reads.get(id)
    if (reads === undefined || reads.size === 0) return () => []
    const indexOf = new Map(history.map((entry, index) => [entry.id, index]))
    const positions = [...reads].map(([address, upTo]) => ({ address, at: indexOf.get(upTo) ?? -1 }))
    return (messageId) => {
      const at = indexOf.get(messageId)
      return at === undefined ? [] : positions.filter((read) => read.at >= at).map((read) => read.address)
    }
  }

  /** How far this device's message `messageId` of room `id` got (`Room.delivery`); undefined in a DM. */
  delivery(id: string, messageId: string): MessageDelivery | undefined {
    return this.#client?.rooms.find((room) => room.id === id)?.delivery(messageId)
  }

  /** The person's composer in conversation `id` holds `text` (empty: cleared or sent). */
  typing(id: string, text: string): void {
    const target = this.#target(id)
    target?.typing(text.trim() !== '')
  }

  /** Conversation `id` is on screen: its newest message from another wallet is read (told once). */
  read(id: string): void {
    const history = this.#conversations.history(id)
    const last = history.findLast((entry) => !entry.mine && entry.state === 'ok')
    if (last === undefined || this.#told.get(id) === last.id) return
    this.#told.set(id, last.id)
    try {
      this.#target(id)?.markRead(last.id)
    } catch {
      // An id the sdk does not take (a message shown before its id was known): nothing to tell.
    }
  }

  #target(id: string): { typing(on: boolean): boolean; markRead(id: string): void } | undefined {
    const client = this.#client
    const view = this.#conversations.get(id)
    if (client === undefined || view === undefined || view.state !== 'joined') return undefined
    return view.kind === 'room' ? client.rooms.find((room) => room.id === id) : client.dm(id)
  }

  #watchRooms(): void {
    for (const room of this.#client?.rooms ?? []) {
      if (this.#watched.has(room)) continue
      this.#watched.add(room)
      room.addEventListener('typing:changed', (event) => this.#onTyping(event.detail))
      room.addEventListener('read:received', (event) => this.#onRead(event.detail))
      room.addEventListener('message:delivered', () => this.#changed(true))
      // What the room heard before this watched it (a catch-up that ran as it was joined).
      for (const read of room.readPositions()) this.#onRead(read)
    }
  }

  #onTyping(signal: TypingSignal): void {
    const id = signal.conversation
    const typing = this.#typing.get(id) ?? new Map<string, number>()
    if (signal.typing) {
      typing.set(signal.sender, Date.now() + TYPING_SHOWN_MS)
      const timer = setTimeout(() => {
        this.#timers.delete(timer)
        this.#changed()
      }, TYPING_SHOWN_MS + 50)
      this.#timers.add(timer)
    } else {
      typing.delete(signal.sender)
    }
    this.#typing.set(id, typing)
    this.#changed()
  }

  #onRead(signal: ReadSignal): void {
    const id = signal.conversation
    if (signal.own) {
      // Read on another device of this wallet: read here too, and not told again from here.
      this.#told.set(id, signal.upTo)
      this.#ownPending.set(id, signal.upTo)
      this.#conversations.markReadUpTo(id, signal.upTo)
      this.#applyOwnPending()
      return
    }
    const reads = this.#reads.get(id) ?? new Map<string, string>()
    reads.set(signal.reader, signal.upTo)
    this.#reads.set(id, reads)
    this.#changed(true)
  }

  #applyOwnPending(): void {
    for (const [id, upTo] of this.#ownPending) {
      if (!this.#conversations.history(id).some((entry) => entry.id === upTo)) continue
      this.#ownPending.delete(id)
      this.#conversations.markReadUpTo(id, upTo)
    }
  }

  /** `receipts`: a read position or a delivery changed too. */
  #changed(receipts = false): void {
    this.dispatchEvent(new Event('signals:changed'))
    if (receipts) this.dispatchEvent(new Event('receipts:changed'))
  }
}
