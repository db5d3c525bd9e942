import {
  MAX_OUTGOING_MESSAGES,
  MAX_REPUBLISH_ATTEMPTS,
  MAX_SENT_KEPT,
  MAX_SENT_KEPT_BYTES,
  REPUBLISH_BATCH,
  REPUBLISH_BATCH_INTERVAL_MS,
  RETURNED_REPUBLISH_GAP_MS,
  STORE_CHECK_AFTER_MS,
} from '../constants.ts'
import type { Logger } from '../logger.ts'
import type { OutgoingStats, UnacknowledgedMessage } from '../types.ts'
import type { AckFilter } from './ack-filter.ts'

export interface OutgoingBufferInit {
  roomId: string
  /**
   * Publishes the record's bytes again (gossip gives it a new sequence number, its id stays); resolves to how many
   * neighbours it went to. One that reached none is not counted among the attempts.
   */
  republish: (bytes: Uint8Array) => Promise<number>
  /** A message given up: some member never acknowledged it. */
  onUnacknowledged: (detail: UnacknowledgedMessage) => void
  /** Member `member` (a peer id) acknowledged message `id` it was waited for: what "delivered" counts. */
  onAcknowledged?: (id: string, member: string) => void
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
  /** Own messages kept for members that come back ({@link OutgoingBuffer.returned}); default {@link MAX_SENT_KEPT}. */
  maxKept?: number
  log: Logger
}

interface Entry {
  id: string
  bytes: Uint8Array
  /** Members present when it was sent that have not acknowledged it yet, or {@link A_STORE}. */
  awaiting: Set<string>
  /** Re-publishes that reached a neighbour. */
  attempts: number
  /** When it was last published (sent or re-published). */
  publishedAtMs: number
  /** When the stores are asked next, or it is re-published. */
  dueAtMs: number
  /** Not re-published before this. */
  republishAtMs: number
  /**
   * Not a message (a sender-key distribution, {@link OutgoingBuffer.untilStored}): re-published only once a store
   * answered without it, dropped when none answers for long, never counted nor reported.
   */
  keyRecord?: { sinceMs: number; storesLack: boolean }
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
 *
 * A member that comes back after it was counted away (its presence timed out, or it went offline) waits for what
 * was sent since it was last heard and its presence does not acknowledge ({@link returned}): sent while it was not
 * counted, nothing waited for it, and when those were the room's last messages no later one names them for its gap
 * repair, and a member whose relay connection survived runs no catch-up (found by the 20-peer loss test: a
 * partitioned peer missed the messages sent around the heal). So the last {@link MAX_SENT_KEPT} messages sent are
 * kept, acknowledged or not, in memory. One still waiting goes again at once for a member that comes back lacking
 * it: its backoff may have grown while nobody could be reached.
 *
 * Only re-publishes that reached a neighbour are attempts: a device cut off from everyone keeps its messages.
 */
export class OutgoingBuffer {
  readonly #init: OutgoingBufferInit
  readonly #maxAttempts: number
  readonly #maxMessages: number
  /** In order of sending (a Map iterates in insertion order). */
  readonly #entries = new Map<string, Entry>()
  /** The last messages sent, oldest first, acknowledged or not: for members that come back ({@link returned}). */
  readonly #kept = new Map<string, { bytes: Uint8Array; sentAtMs: number }>()
  #keptBytes = 0
  readonly #maxKept: number
  #timer: ReturnType<typeof setTimeout> | undefined
  #timerAtMs = Number.POSITIVE_INFINITY
  #republishing = false
  #stopped = false
  readonly #stats = { sent: 0, republished: 0, unacknowledged: 0 }

  constructor(init: OutgoingBufferInit) {
    this.#init = init
    this.#maxAttempts = init.maxAttempts ?? MAX_REPUBLISH_ATTEMPTS
    this.#maxMessages = init.maxMessages ?? MAX_OUTGOING_MESSAGES
    this.#maxKept = init.maxKept ?? MAX_SENT_KEPT
  }

  get stats(): OutgoingStats {
    let pending = 0
    for (const entry of this.#entries.values()) if (entry.keyRecord === undefined) pending += 1
    return { ...this.#stats, pending }
  }

  /** Keeps a message just published until `members` (peer ids; this device excluded) acknowledge it. */
  add(id: string, bytes: Uint8Array, members: Iterable<string>): void {
    if (this.#stopped) return
    this.#stats.sent += 1
    const awaiting = new Set(members)
    const nowMs = Date.now()
    this.#keep(id, bytes, nowMs)
    if (awaiting.size === 0) {
      // Nobody else present: members that return read it from the stores, once one holds it.
      if (this.#init.stored === undefined) return
      awaiting.add(A_STORE)
    }
    const entry = this.#enter(id, bytes, awaiting, nowMs)
    this.#bound()
    this.#arm(entry.dueAtMs)
  }

  /**
   * A sender-key distribution just published, kept until a relay's store holds it and re-published meanwhile (a
   * connection aborted with it queued loses it, as a message). Members that lack our key ask for it (`want`), and
   * the answer starts where this record did (`RoomKeys.resend`), but only while we run and our epoch lasts: after
   * that, what we sent in between only this record opens, and only a store keeps it for them (found by the 20-peer
   * loss test: a restarted sender's first distribution went down with its relay connection, and the messages it sent
   * next stayed unreadable to seven members). Without a store to ask, nothing is kept.
   */
  untilStored(id: string, bytes: Uint8Array): void {
    if (this.#stopped || this.#init.stored === undefined || this.#entries.has(id)) return
    const nowMs = Date.now()
    const entry = this.#enter(id, bytes, new Set([A_STORE]), nowMs, { sinceMs: nowMs, storesLack: false })
    this.#bound()
    this.#arm(entry.dueAtMs)
  }

  /**
   * `member` is present again, heard last at `sinceMs` (before it was counted away): what was sent since then and
   * `acks` (its presence's) does not cover waits for it too, re-published for it like any other. What it received
   * some other way (its catch-up, gossip) its next presences acknowledge.
   */
  returned(member: string, sinceMs: number, acks: AckFilter | undefined): void {
    if (this.#stopped) return
    const nowMs = Date.now()
    let next = Number.POSITIVE_INFINITY
    for (const [id, { bytes, sentAtMs }] of this.#kept) {
      if (sentAtMs < sinceMs || acks?.has(id) === true) continue
      const waiting = this.#entries.get(id)
      if (waiting !== undefined) {
        waiting.awaiting.add(member)
        // Its backoff may have grown while nobody could be reached (a partition): the member is back now, and its
        // presence says it lacks the message, so it goes again soon — once for every member that comes back
        // together, not once each.
        const soonMs = Math.max(nowMs, waiting.publishedAtMs + RETURNED_REPUBLISH_GAP_MS)
        if (soonMs < waiting.republishAtMs) {
          // One more round for a member that was away: never given up when it falls due for it.
          waiting.attempts = Math.min(waiting.attempts, this.#maxAttempts - 1)
          waiting.republishAtMs = soonMs
          waiting.dueAtMs = dueAt(waiting, nowMs)
        }
        next = Math.min(next, waiting.dueAtMs)
        continue
      }
      next = Math.min(next, this.#enter(id, bytes, new Set([member]), nowMs).dueAtMs)
    }
    this.#bound()
    if (Number.isFinite(next)) this.#arm(next)
  }

  /** `from` named these ids in a record's `deps`. */
  acknowledgeIds(from: string, ids: readonly string[]): void {
    for (const id of ids) {
      const entry = this.#entries.get(id)
      if (entry?.awaiting.has(from) === true) this.#delivered(entry, from)
    }
  }

  /** `from`'s presence carried this filter of what it received lately. */
  acknowledgeFilter(from: string, filter: AckFilter): void {
    for (const entry of this.#entries.values()) {
      if (entry.awaiting.has(from) && filter.has(entry.id)) this.#delivered(entry, from)
    }
  }

  /** `member` holds the entry's message (unlike {@link forget}, which only stops waiting). */
  #delivered(entry: Entry, member: string): void {
    this.#acknowledged(entry, member)
    if (entry.keyRecord === undefined) this.#init.onAcknowledged?.(entry.id, member)
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
    this.#kept.clear()
    this.#keptBytes = 0
  }

  /** A new entry waiting for `awaiting`, first re-published {@link OutgoingBufferInit.firstDelayMs} from now. */
  #enter(id: string, bytes: Uint8Array, awaiting: Set<string>, nowMs: number, keyRecord?: Entry['keyRecord']): Entry {
    const entry: Entry = {
      id,
      bytes,
      awaiting,
      attempts: 0,
      publishedAtMs: nowMs,
      dueAtMs: 0,
      republishAtMs: nowMs + this.#init.firstDelayMs,
      ...(keyRecord === undefined ? {} : { keyRecord }),
    }
    entry.dueAtMs = dueAt(entry, nowMs)
    this.#entries.set(id, entry)
    return entry
  }

  #keep(id: string, bytes: Uint8Array, nowMs: number): void {
    this.#kept.set(id, { bytes, sentAtMs: nowMs })
    this.#keptBytes += bytes.byteLength
    for (const [oldest, { bytes: dropped }] of this.#kept) {
      if (this.#kept.size <= this.#maxKept && this.#keptBytes <= MAX_SENT_KEPT_BYTES) break
      this.#kept.delete(oldest)
      this.#keptBytes -= dropped.byteLength
    }
  }

  /** Past {@link OutgoingBufferInit.maxMessages}, the oldest waiting is given up. */
  #bound(): void {
    while (this.#entries.size > this.#maxMessages) this.#giveUp(this.#entries.values().next().value!, 'buffer-full')
  }

  #acknowledged(entry: Entry, member: string): void {
    entry.awaiting.delete(member)
    if (entry.awaiting.size === 0) this.#entries.delete(entry.id)
  }

  #giveUp(entry: Entry, reason: UnacknowledgedMessage['reason']): void {
    this.#entries.delete(entry.id)
    if (entry.keyRecord !== undefined) {
      this.#init.log.debug('sender key record never reached a store', { room: this.#init.roomId, id: entry.id })
      return
    }
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
    if (held === undefined) return
    for (const id of ids) {
      const entry = this.#entries.get(id)
      if (entry === undefined) continue
      if (held.has(id)) this.#acknowledged(entry, A_STORE)
      else if (entry.keyRecord !== undefined) entry.keyRecord.storesLack = true
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
        if (entry.keyRecord !== undefined && !entry.keyRecord.storesLack) {
          // No store said it lacks it (none answered: cut off, or the relays keep no history): ask again, for a while.
          if (nowMs - entry.keyRecord.sinceMs > this.#init.firstDelayMs * 2 ** this.#maxAttempts)
            this.#giveUp(entry, 'unacknowledged')
          else entry.dueAtMs = dueAt(entry, nowMs)
          continue
        }
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
        // Backs off as if this one counts; it counts only if it reached a neighbour.
        entry.republishAtMs = Date.now() + this.#init.firstDelayMs * 2 ** (entry.attempts + 1)
        entry.dueAtMs = dueAt(entry, Date.now())
        entry.publishedAtMs = Date.now()
        let reached = 0
        try {
          reached = await this.#init.republish(entry.bytes)
        } catch (err) {
          this.#init.log.debug('re-publish failed', { room: this.#init.roomId, id: entry.id, error: String(err) })
        }
        if (reached > 0) {
          entry.attempts += 1
          if (entry.keyRecord === undefined) this.#stats.republished += 1
        }
        this.#init.log.debug('re-published', {
          room: this.#init.roomId,
          id: entry.id,
          attempt: entry.attempts,
          neighbours: reached,
          awaiting: entry.awaiting.size,
        })
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
