/** Defaults of the relay's message store (issue 12). Docs point here instead of repeating values. */

/** File of the embedded SQLite store, under the relay's `--data-dir`. */
export const STORE_FILE_NAME = 'store.sqlite'

/** A topic's records are kept this long after the relay accepted them. */
export const STORE_RETENTION_MS = 30 * 24 * 60 * 60 * 1000

/** Records kept per topic (room or DM topic); the oldest go first. */
export const STORE_MAX_RECORDS_PER_TOPIC = 100_000

/** Bytes (data + signature + seqno) kept per topic; the oldest go first. */
export const STORE_MAX_BYTES_PER_TOPIC = 256 * 1024 * 1024

/** Records one sender may have stored in one topic; further records are refused until older ones age out. */
export const STORE_MAX_RECORDS_PER_SENDER = 20_000

/** Bytes one sender may have stored in one topic; further records are refused until older ones age out. */
export const STORE_MAX_BYTES_PER_SENDER = 64 * 1024 * 1024

/**
 * A member's key bundle is written to the store when the relay first verifies it and then at most
 * this often while its presence keeps passing, so that it ages out with the member's presence
 * (`STORE_RETENTION_MS` after it was last written), not while the member is still around.
 */
export const STORE_BUNDLE_REFRESH_MS = 24 * 60 * 60 * 1000

/** Members whose bundle's last write a relay remembers (to write it again only every `STORE_BUNDLE_REFRESH_MS`). */
export const STORE_MAX_REMEMBERED_BUNDLES = 10_000

/** How often age and per-topic limits are applied (a topic may pass its limits by what arrives meanwhile). */
export const STORE_PRUNE_INTERVAL_MS = 60_000

/** Connections of the PostgreSQL pool of one relay. */
export const STORE_POSTGRES_POOL_SIZE = 4

/** SQLite waits this long for another connection's write lock (several processes on one file). */
export const STORE_SQLITE_BUSY_TIMEOUT_MS = 5_000

/**
 * History requests one relay answers at once; more get a `busy` error. Twice what one address may have under way
 * (`RELAY_STORE_QUERIES_AT_ONCE_PER_IP`, a query for each of its 64 clients), so one address never takes more than half.
 */
export const STORE_MAX_CONCURRENT_REQUESTS = 128

/** Records accepted but not yet written that a relay queues at most; beyond, records are not kept (live delivery is unaffected). */
export const STORE_MAX_PENDING_WRITES = 10_000

/** How often the store's figures for `/metrics` (records, bytes) are read from the database. */
export const STORE_STATS_INTERVAL_MS = 15_000
