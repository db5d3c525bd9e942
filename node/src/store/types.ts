import type { HistoryQuery, HistoryRecord } from '@securechat/sdk/history'
import type { AbortOptions } from '@securechat/sdk/types'

/**
 * A record to keep: the exact signed gossip message (from, seqno, signature, data, topic) that
 * passed the relay's validation, and what that validation learned from it. The store computes
 * the message id from the data and notes the time itself.
 */
export interface StoreInput extends Omit<HistoryRecord, 'id' | 'receivedAtMs'> {
  /**
   * State rather than history (presence, device announcements): a newer record of the same type
   * from the same sender replaces it, and an older one arriving later is not kept.
   */
  supersedes?: boolean
}

export const PutOutcome = {
  stored: 'stored',
  /** Already held (same message id from the same sender): inserts are idempotent. */
  duplicate: 'duplicate',
  /** A newer record of the same type from the same sender is held (`supersedes`). */
  superseded: 'superseded',
  /** The sender holds its quota of records or bytes in this topic. */
  quota: 'quota',
  /** Out of the history protocol's bounds (oversized data, bad seqno): it could never be served. */
  invalid: 'invalid',
} as const
export type PutOutcome = (typeof PutOutcome)[keyof typeof PutOutcome]

export interface RetentionInit {
  /** Default `STORE_RETENTION_MS`. */
  maxAgeMs?: number
  /** Default `STORE_MAX_RECORDS_PER_TOPIC`. */
  maxRecordsPerTopic?: number
  /** Default `STORE_MAX_BYTES_PER_TOPIC`. */
  maxBytesPerTopic?: number
  /** Default `STORE_MAX_RECORDS_PER_SENDER`. State records count while held, but are never refused for it. */
  maxRecordsPerSender?: number
  /** Default `STORE_MAX_BYTES_PER_SENDER`. */
  maxBytesPerSender?: number
}

export interface StoreInit {
  retention?: RetentionInit
  /** The clock records are stamped and aged with (tests move it). Default `Date.now`. */
  now?: () => number
}

export interface HistoryPage {
  records: HistoryRecord[]
  /** The store holds more records after the last one: pass to `cursorAfter`. */
  more: boolean
}

export interface StoreStats {
  backend: 'sqlite' | 'postgres'
  /** Schema version of the database (`migrations.ts`). */
  schemaVersion: number
  /** Records held now (all relays, when several share one database). */
  records: number
  /** Bytes held now (data + signature + seqno). */
  bytes: number
  topics: number
  /** Counters since this store was opened, by this process. */
  stored: number
  duplicates: number
  superseded: number
  refused: number
  pruned: number
  queries: number
  /** Time spent answering `query` and `get`, for a mean (sum / count) and the worst case. */
  queryLatency: { count: number; sumMs: number; maxMs: number }
}

/**
 * Where a relay keeps what passes through its rooms and DM topics. One interface, two backends
 * (`sqlite.ts`, `postgres.ts`) that pass one compliance suite (`compliance.ts`).
 */
export interface MessageStore {
  readonly backend: 'sqlite' | 'postgres'
  /** Keeps records; one outcome per input, in order. Idempotent by (topic, message id, sender). */
  put(records: readonly StoreInput[], options?: AbortOptions): Promise<PutOutcome[]>
  /**
   * One page of a topic, ascending by (time, id, sender) or (Lamport, id, sender); records
   * without a Lamport clock are not in Lamport pages. `limit` is capped by
   * `MAX_HISTORY_PAGE_RECORDS`. Throws `InvalidInputError` on a cursor it did not make.
   */
  query(query: HistoryQuery, options?: AbortOptions): Promise<HistoryPage>
  /** The cursor that continues a `query` after `record` in the same ordering. */
  cursorAfter(query: HistoryQuery, record: HistoryRecord): string
  /** Records of a topic by message id (at most `MAX_HISTORY_FETCH_IDS` ids). */
  get(topic: string, ids: readonly string[], options?: AbortOptions): Promise<HistoryRecord[]>
  /**
   * Keeps members' key bundles (base64url, as the relay verified them against the members'
   * certificates), one per PeerId: a newer one replaces the older and restarts its age. Each goes
   * on prune once older than the retention age. Bundles longer than the certificate protocol carries
   * are not kept.
   */
  putBundles(bundles: ReadonlyArray<{ peer: string; bundle: string }>, options?: AbortOptions): Promise<void>
  /** The bundle kept for `peer`, if any: a hint, which whoever uses it checks against the member's certificate. */
  getBundle(peer: string, options?: AbortOptions): Promise<string | undefined>
  /** Applies age and per-topic limits now; returns how many records went (bundles past the age go too, uncounted). */
  prune(options?: AbortOptions): Promise<number>
  stats(options?: AbortOptions): Promise<StoreStats>
  /** Closes the database. Idempotent. */
  close(): Promise<void>
}
