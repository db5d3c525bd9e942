import { DISAPPEAR_CHOICES_SECONDS, DISAPPEAR_MAX_SECONDS, DISAPPEAR_MIN_SECONDS } from '@securechat/sdk/constants'
import { describeTimer, ExpiryClock, isTimerSeconds } from '@securechat/sdk/disappearing'
import type { DirectMessages } from '@securechat/sdk/dm'
import type { Room } from '@securechat/sdk/rooms'
import type { DmTimerUpdate, RoomTimerUpdate, TimerChange } from '@securechat/sdk/types'
import type { ConversationView } from './conversations.ts'
import type { ChatEntry } from './history-store.ts'

export { DISAPPEAR_CHOICES_SECONDS, DISAPPEAR_MAX_SECONDS, DISAPPEAR_MIN_SECONDS, describeTimer, isTimerSeconds }

/** What a conversation's timer is read from: its room, or the DMs for one wallet. */
interface TimerSource {
  disappearing(): TimerChange | undefined
  expiryOf(sentAtMs: number, receivedAtMs: number): number | undefined
}

/** What the conversations give the timers: their histories, and how to change one. */
export interface TimerHost {
  history(id: string): ChatEntry[]
  /** Adds an entry (a timer change's line) to conversation `id`, as a message is. */
  append(id: string, entry: ChatEntry): void
  /** Conversation `id` lost messages past their timer: `entries` is what is left, written to the vault at once. */
  replace(id: string, entries: ChatEntry[]): void
  /** The signed-in wallet. */
  self(): string | undefined
}

/**
 * Disappearing messages in the web app (`@securechat/sdk/disappearing` has the rules): each conversation's timer as
 * the sdk knows it, a line in the conversation for each change ("0x12…ab set disappearing messages to 1 hour"), and
 * the app's own history kept in step with the sdk — every message past its time leaves the page and the vault's
 * `web/history/<id>` when it expires, each entry keeping when that is (`expiresAtMs`), so a reload, offline too,
 * never shows one (`HistoryStore.history` leaves it out).
 */
export class ConversationTimers {
  readonly #host: TimerHost
  readonly #sources = new Map<string, TimerSource>()
  /** The rooms followed: whose owner may change the timer is their moderation log's. */
  readonly #rooms = new Map<string, Room>()
  readonly #clocks = new Map<string, ExpiryClock>()
  /** A DM's conversation by the other wallet's address, once the DMs are watched (a DM opened since included). */
  #dm: ((address: string) => TimerSource) | undefined

  constructor(host: TimerHost) {
    this.#host = host
  }

  /** The timer in force in conversation `id` (its last change), once the network brought the conversation. */
  current(id: string): TimerChange | undefined {
    return this.#source(id)?.disappearing()
  }

  #source(id: string): TimerSource | undefined {
    return this.#sources.get(id) ?? (/^0x[0-9a-fA-F]{40}$/.test(id) ? this.#dm?.(id) : undefined)
  }

  /**
   * Why the signed-in wallet `self` may not change `view`'s timer — a room's member who is not its owner (as its
   * moderation log says: the manifest's signer until it hands the room over) — in a sentence; undefined when it may
   * (either wallet of a DM).
   */
  refusal(view: ConversationView, self: string): string | undefined {
    const room = view.kind === 'room' ? this.#rooms.get(view.id) : undefined
    if (room?.disappearingRefusal(self) === undefined) return undefined
    return `Only the room's owner (${room.moderation.state.owner}) can change its disappearing messages.`
  }

  /** Follows `room`'s timer; returns how to stop. */
  watchRoom(room: Room): () => void {
    this.#sources.set(room.id, room)
    this.#rooms.set(room.id, room)
    const onTimer = (event: CustomEvent<RoomTimerUpdate>): void => this.#changed(room.id, event.detail.change)
    const onExpired = (): void => this.refresh(room.id)
    const onMessage = (): void => this.refresh(room.id)
    room.addEventListener('timer:changed', onTimer)
    room.addEventListener('message:expired', onExpired)
    room.addEventListener('message:received', onMessage)
    this.refresh(room.id)
    return () => {
      room.removeEventListener('timer:changed', onTimer)
      room.removeEventListener('message:expired', onExpired)
      room.removeEventListener('message:received', onMessage)
      this.#forget(room.id)
    }
  }

  /** Follows the DMs' timers (`idOf`: the conversation of a wallet, opened if new); `ids`: the DMs there are now. */
  watchDms(dms: DirectMessages, idOf: (address: string) => string, ids: readonly string[]): () => void {
    this.#dm = (address) => dms.conversation(address)
    const follow = (id: string): void => {
      if (!this.#sources.has(id)) this.#sources.set(id, dms.conversation(id))
    }
    const onTimer = (event: CustomEvent<DmTimerUpdate>): void => {
      const id = idOf(event.detail.conversation)
      follow(id)
      this.#changed(id, event.detail.change)
    }
    const onExpired = (event: CustomEvent<{ conversation: string }>): void => {
      const id = idOf(event.detail.conversation)
      follow(id)
      this.refresh(id)
    }
    const onMessage = (event: CustomEvent<{ conversation: string }>): void => onExpired(event)
    dms.addEventListener('timer:changed', onTimer)
    dms.addEventListener('message:expired', onExpired)
    dms.addEventListener('message:received', onMessage)
    for (const id of ids) {
      follow(id)
      this.refresh(id)
    }
    return () => {
      dms.removeEventListener('timer:changed', onTimer)
      dms.removeEventListener('message:expired', onExpired)
      dms.removeEventListener('message:received', onMessage)
      for (const id of ids) this.#forget(id)
      this.#dm = undefined
    }
  }

  /**
   * Brings conversation `id`'s history in step with its timer: each message's expiry noted, those past it gone
   * (from the vault at once), and a sweep set for the next.
   */
  refresh(id: string): void {
    const source = this.#source(id)
    if (source === undefined) return
    const now = Date.now()
    let changed = false
    const kept: ChatEntry[] = []
    for (const entry of this.#host.history(id)) {
      if (entry.notice !== undefined) {
        kept.push(entry)
        continue
      }
      const expiresAtMs = source.expiryOf(entry.sentAtMs, entry.receivedAtMs)
      if (expiresAtMs !== undefined && expiresAtMs <= now) {
        changed = true
        continue
      }
      if (entry.expiresAtMs !== expiresAtMs) {
        if (expiresAtMs === undefined) delete entry.expiresAtMs
        else entry.expiresAtMs = expiresAtMs
        changed = true
      }
      kept.push(entry)
    }
    if (changed) this.#host.replace(id, kept)
    this.#clockOf(id).schedule()
  }

  close(): void {
    for (const id of [...this.#clocks.keys()]) this.#forget(id)
    this.#sources.clear()
    this.#rooms.clear()
    this.#dm = undefined
  }

  #changed(id: string, change: TimerChange): void {
    const self = this.#host.self()
    this.#host.append(id, {
      id: change.id,
      sender: change.sender,
      text: '',
      sentAtMs: change.sentAtMs,
      receivedAtMs: Date.now(),
      mine: self !== undefined && self.toLowerCase() === change.sender.toLowerCase(),
      state: 'ok',
      notice: { kind: 'timer', seconds: change.seconds },
    })
    this.refresh(id)
  }

  #clockOf(id: string): ExpiryClock {
    let clock = this.#clocks.get(id)
    if (clock === undefined) {
      clock = new ExpiryClock({
        next: () => {
          let next: number | undefined
          for (const entry of this.#host.history(id)) {
            const atMs = entry.expiresAtMs
            if (atMs !== undefined && (next === undefined || atMs < next)) next = atMs
          }
          return next
        },
        sweep: () => this.refresh(id),
      })
      this.#clocks.set(id, clock)
    }
    return clock
  }

  #forget(id: string): void {
    this.#clocks.get(id)?.stop()
    this.#clocks.delete(id)
    this.#sources.delete(id)
    this.#rooms.delete(id)
  }
}
