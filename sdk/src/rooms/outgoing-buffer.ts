import {
  MAX_OUTGOING_MESSAGES,
  MAX_REPUBLISH_ATTEMPTS,
  REPUBLISH_BATCH,
  REPUBLISH_BATCH_INTERVAL_MS,
  STORE_CHECK_AFTER_MS,
} from '../constants.ts'
import type { Logger } from '../logger.ts'
import type { OutgoingStats, UnacknowledgedMessage } from '../types.ts'
import type { AckFilter } from './ack-filter.ts'

export interface OutgoingBufferInit {
  roomId: string
  /** Publishes the record's bytes again: gossip gives it a new sequence number, its id stays. */
  republish: (bytes: Uint8Array) => Promise<void>
  /** A message given up: some member never acknowledged it. */
  onUnacknowledged: (detail: UnacknowledgedMessage) => void
  /** Until the first re-publish; each next one waits twice as long. */
  firstDelayMs: number
  /**
   * Which of these ids a relay's store holds; undefined when no store can be asked now. With it,
   * a message sent while no other member is present waits for a store instead of for members
   * (first asked {@link STORE_CHECK_AFTER_MS} after sending, re-published like any other).
   */
  stored?: (ids: string[]) => Promise<ReadonlySet<string> | undefined>
  maxAttempts?: number
  maxMessages?: number
  log: Logger
}

interface Entry {
  id: string
  bytes: Uint8Array
  /** Members present when it was sent that have not acknowledged it yet, or {@link A_STORE}. */
  awaiting: Set<string>
  attempts: number
  /** When the stores are asked next, or it is re-published. */
  dueAtMs: number
  /** Not re-published before this. */
  republishAtMs: number
}

/** What a message sent while nobody else was present waits for: any relay's store (not a PeerId). */
const A_STORE = 'store'

/** When `entry` is looked at next: re-published then, and a store is asked every {@link STORE_CHECK_AFTER_MS} until. */
function dueAt(entry: Entry, nowMs: number): number {
  return entry.awaiting.has(A_STORE) ? Math.min(entry.republishAtMs, nowMs + STORE_CHECK_AFTER_MS) : entry.republishAtMs
}

/**
 * Scalable Data Sync's outgoing buffer: the sender keeps each of its messages until every member
 * present when it was sent has acknowledged it, and re-publishes it meanwhile with backoff, a
 * bounded number of times, then gives up (`onUnacknowledged`).
 *
 * A member acknowledges a message when one of its records names it: a message's `deps`, or the
 * Bloom filter of recently received ids in its presence (`ack-filter.ts`), which members send
 * every heartbeat anyway — so a quiet room, where nobody else writes, costs no record more, and
 * a message whose acknowledgement arrives within {@link OutgoingBufferInit.firstDelayMs} (two
 * heartbeats) is never sent twice. A member that says it goes (`leaving`) or is gone for good is
 * no longer waited for (it reads what it lacks from the stores on return); one that merely times
 * out is, since it may be slow rather than gone. A member that joins later reads it from the stores. Receivers drop a re-published record
 * by its id, and stores keep it once.
 *
 * A message sent while no other member is present is for the stores alone: it waits until a
 * relay's store holds it (`stored`), asked soon after sending and again until it does, and is
 * re-published meanwhile like any other. A connection aborted with records queued on it (a relay
 * that failed its pings under load) loses them; without this nothing would send them again.
 */
export class OutgoingBuffer {
  readonly #init: OutgoingBufferInit
  readonly #maxAttempts: number
  readonly #maxMessages: number
  /** In order of sending (a Map iterates in insertion order). */
  readonly #entries = new Map<string, Entry>()
  #timer: ReturnType<typeof setTimeout> | undefined
  #timerAtMs = Number.POSITIVE_INFINITY
  #republishing = false
  #stopped = false
  readonly #stats = { sent: 0, republished: 0, unacknowledged: 0 }

  constructor(init: OutgoingBufferInit) {
    this.#init = init
    this.#maxAttempts = init.maxAttempts ?? MAX_REPUBLISH_ATTEMPTS
    this.#maxMessages = init.maxMessages ?? MAX_OUTGOING_MESSAGES
  }

  get stats(): OutgoingStats {
    return { ...this.#stats, pending: this.#entries.size }
  }

  /** Keeps a message just published until `members` (peer ids; this device excluded) acknowledge it. */
  add(id: string, bytes: Uint8Array, members: Iterable<string>): void {
    if (this.#stopped) return
    this.#stats.sent += 1
    const awaiting = new Set(members)
    const nowMs = Date.now()
    if (awaiting.size === 0) {
      // Nobody else present: members that return read it from the stores, once one holds it.
      if (this.#init.stored === undefined) return
      awaiting.add(A_STORE)
    }
    const entry = { id, bytes, awaiting, attempts: 0, dueAtMs: 0, republishAtMs: nowMs + this.#init.firstDelayMs }
    entry.dueAtMs = dueAt(entry, nowMs)
    this.#entries.set(id, entry)
    if (this.#entries.size > this.#maxMessages) {
      const oldest = this.#entries.values().next().value!
      this.#giveUp(oldest, 'buffer-full')
    }
    this.#arm(entry.dueAtMs)
  }

  /** `from` named these ids in a record's `deps`. */
  acknowledgeIds(from: string, ids: readonly string[]): void {
    for (const id of ids) {
      const entry = this.#entries.get(id)
      if (entry !== undefined) this.#acknowledged(entry, from)
    }
  }

  /** `from`'s presence carried this filter of what it received lately. */
  acknowledgeFilter(from: string, filter: AckFilter): void {
    for (const entry of this.#entries.values()) {
      if (entry.awaiting.has(from) && filter.has(entry.id)) this.#acknowledged(entry, from)
    }
  }

  /** A member said it goes, or is gone for good: it is not waited for any more. */
  forget(member: string): void {
    for (const entry of this.#entries.values()) this.#acknowledged(entry, member)
  }

  stop(): void {
    this.#stopped = true
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#entries.clear()
  }

  #acknowledged(entry: Entry, member: string): void {
    entry.awaiting.delete(member)
    if (entry.awaiting.size === 0) this.#entries.delete(entry.id)
  }

  #giveUp(entry: Entry, reason: UnacknowledgedMessage['reason']): void {
    this.#entries.delete(entry.id)
    this.#stats.unacknowledged += 1
    this.#init.onUnacknowledged({
      roomId: this.#init.roomId,
      id: entry.id,
      members: [...entry.awaiting].filter((member) => member !== A_STORE),
      attempts: entry.attempts,
      reason,
    })
  }

  /** Drops what a store now holds of the due messages that wait for one (all of them at once: one ask per page of ids). */
  async #askStores(nowMs: number): Promise<void> {
    const stored = this.#init.stored
    if (stored === undefined) return
    const ids = [...this.#entries.values()]
      .filter((entry) => entry.dueAtMs <= nowMs && entry.awaiting.has(A_STORE))
      .map((entry) => entry.id)
    if (ids.length === 0) return
    let held: ReadonlySet<string> | undefined
    try {
      held = await stored(ids)
    } catch (err) {
      this.#init.log.debug('stores not asked', { room: this.#init.roomId, error: String(err) })
    }
    for (const id of held ?? []) {
      const entry = this.#entries.get(id)
      if (entry !== undefined) this.#acknowledged(entry, A_STORE)
    }
  }

  #arm(atMs: number): void {
    if (this.#stopped || atMs >= this.#timerAtMs) return
    clearTimeout(this.#timer)
    this.#timerAtMs = atMs
    this.#timer = setTimeout(() => void this.#tick(), Math.max(0, atMs - Date.now()))
  }

  async #tick(): Promise<void> {
    this.#timer = undefined
    this.#timerAtMs = Number.POSITIVE_INFINITY
    if (this.#republishing) return
    this.#republishing = true
    let more = false
    try {
      const nowMs = Date.now()
      await this.#askStores(nowMs)
      const due: Entry[] = []
      for (const entry of this.#entries.values()) {
        if (entry.dueAtMs > nowMs) continue
        if (entry.republishAtMs <= nowMs) due.push(entry)
        // In no store yet, but its relay may still be validating or writing it: ask again later.
        else entry.dueAtMs = dueAt(entry, nowMs)
      }
      more = due.length > REPUBLISH_BATCH
      for (const entry of due.slice(0, REPUBLISH_BATCH)) {
        if (this.#stopped) return
        // Acknowledged while earlier ones were re-published.
        if (!this.#entries.has(entry.id)) continue
        if (entry.attempts >= this.#maxAttempts) {
          this.#giveUp(entry, 'unacknowledged')
          continue
        }
        entry.attempts += 1
        entry.republishAtMs = Date.now() + this.#init.firstDelayMs * 2 ** entry.attempts
        entry.dueAtMs = dueAt(entry, Date.now())
        try {
          await this.#init.republish(entry.bytes)
          this.#stats.republished += 1
        } catch (err) {
          this.#init.log.debug('re-publish failed', { room: this.#init.roomId, id: entry.id, error: String(err) })
        }
      }
    } finally {
      this.#republishing = false
    }
    if (this.#stopped) return
    let next = more ? Date.now() + REPUBLISH_BATCH_INTERVAL_MS : Number.POSITIVE_INFINITY
    if (!more) for (const entry of this.#entries.values()) next = Math.min(next, entry.dueAtMs)
    if (Number.isFinite(next)) this.#arm(next)
  }
}
