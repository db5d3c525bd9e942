import {
  MAX_OUTGOING_MESSAGES,
  MAX_REPUBLISH_ATTEMPTS,
  REPUBLISH_BATCH,
  REPUBLISH_BATCH_INTERVAL_MS,
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
  maxAttempts?: number
  maxMessages?: number
  log: Logger
}

interface Entry {
  id: string
  bytes: Uint8Array
  /** Members present when it was sent that have not acknowledged it yet. */
  awaiting: Set<string>
  attempts: number
  dueAtMs: number
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
    // Nobody else present: nobody to deliver to now; members that return read it from the stores.
    if (awaiting.size === 0) return
    const entry = { id, bytes, awaiting, attempts: 0, dueAtMs: Date.now() + this.#init.firstDelayMs }
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
      members: [...entry.awaiting],
      attempts: entry.attempts,
      reason,
    })
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
      const due = [...this.#entries.values()].filter((entry) => entry.dueAtMs <= nowMs)
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
        entry.dueAtMs = Date.now() + this.#init.firstDelayMs * 2 ** entry.attempts
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
    let next = more ? Date.now() + REPUBLISH_BATCH_INTERVAL_MS : Number.POSITIVE_INFINITY
    if (!more) for (const entry of this.#entries.values()) next = Math.min(next, entry.dueAtMs)
    if (Number.isFinite(next)) this.#arm(next)
  }
}
