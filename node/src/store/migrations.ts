import { StoreError } from '../errors.ts'
import type { SqlDriver } from './sql.ts'

/**
 * Versioned schema migrations. `schema_version` holds one row per migration applied; a store
 * opens by applying, in one transaction, every migration above the highest row. Migrations are
 * append-only: a released one is never edited, a change is a new version.
 */
export interface Migration {
  version: number
  description: string
  sql: { sqlite: readonly string[]; postgres: readonly string[] }
}

/** The same table in both dialects but for the byte and text types. */
function recordsTable(bytes: string, text: string): string {
  return `CREATE TABLE records (
    topic ${text} NOT NULL,
    id ${text} NOT NULL,
    sender ${text} NOT NULL,
    seqno ${bytes} NOT NULL,
    signature ${bytes} NOT NULL,
    data ${bytes} NOT NULL,
    type ${text} NOT NULL,
    lamport BIGINT,
    received_at_ms BIGINT NOT NULL,
    bytes INTEGER NOT NULL,
    PRIMARY KEY (topic, id, sender)
  )`
}

function usageTable(text: string): string {
  return `CREATE TABLE usage (
    topic ${text} NOT NULL,
    sender ${text} NOT NULL,
    records BIGINT NOT NULL,
    bytes BIGINT NOT NULL,
    PRIMARY KEY (topic, sender)
  )`
}

/** Members' key bundles, served beside the presence the store keeps (a member away is sealed keys by whoever reads it). */
function bundlesTable(text: string): string {
  return `CREATE TABLE bundles (
    peer ${text} NOT NULL PRIMARY KEY,
    bundle ${text} NOT NULL,
    kept_at_ms BIGINT NOT NULL
  )`
}

const bundlesByAge = 'CREATE INDEX bundles_by_age ON bundles (kept_at_ms)'

const backfillUsage =
  'INSERT INTO usage (topic, sender, records, bytes) SELECT topic, sender, count(*), sum(bytes) FROM records GROUP BY topic, sender'

const indexes = [
  // Time pages and per-topic retention (newest first) walk this.
  'CREATE INDEX records_by_time ON records (topic, received_at_ms, id, sender)',
  // Lamport pages; records without a clock (keys, presence) stay out of it.
  'CREATE INDEX records_by_lamport ON records (topic, lamport, id, sender) WHERE lamport IS NOT NULL',
  // Per-sender quotas and `supersedes` (latest record of a type per sender).
  'CREATE INDEX records_by_sender ON records (topic, sender, type, seqno)',
  // Age retention across all topics.
  'CREATE INDEX records_by_age ON records (received_at_ms)',
]

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'records: signed gossip messages by topic, with time, Lamport and sender indexes',
    sql: {
      sqlite: [recordsTable('BLOB', 'TEXT'), ...indexes],
      // "C" collation: byte order, the same as SQLite's, and what the cursors compare by.
      postgres: [recordsTable('BYTEA', 'TEXT COLLATE "C"'), ...indexes],
    },
  },
  {
    version: 2,
    description: 'usage: records and bytes per (topic, sender), so quotas cost one row read instead of a scan',
    sql: {
      sqlite: [usageTable('TEXT'), backfillUsage],
      postgres: [usageTable('TEXT COLLATE "C"'), backfillUsage],
    },
  },
  {
    version: 3,
    description: 'bundles: the key bundle of each member whose presence passed, so a member away can be sealed keys',
    sql: {
      sqlite: [bundlesTable('TEXT'), bundlesByAge],
      postgres: [bundlesTable('TEXT COLLATE "C"'), bundlesByAge],
    },
  },
]

/** Any constant: serializes migrations of relays that share one PostgreSQL database. */
const MIGRATION_LOCK_KEY = 0x5ec0c4a7

/** Brings the schema up to the last of `migrations`; returns the version it is at. */
export async function migrate(driver: SqlDriver, migrations: readonly Migration[] = MIGRATIONS): Promise<number> {
  const latest = migrations.at(-1)?.version ?? 0
  return await driver.transaction(async (tx) => {
    if (driver.dialect === 'postgres') await tx.all('SELECT pg_advisory_xact_lock(?)', [MIGRATION_LOCK_KEY])
    await tx.run(
      'CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at_ms BIGINT NOT NULL)',
    )
    const [row] = await tx.all<{ version: number | string | null }>(
      'SELECT max(version) AS version FROM schema_version',
    )
    const current = Number(row?.version ?? 0)
    if (current > latest) {
      throw new StoreError(`the store's schema is at version ${current}, newer than this relay knows (${latest})`, {
        details: { current, latest },
        hint: 'upgrade this relay to the version the other relays sharing the database run',
      })
    }
    for (const migration of migrations) {
      if (migration.version <= current) continue
      for (const statement of migration.sql[driver.dialect]) await tx.run(statement)
      await tx.run('INSERT INTO schema_version (version, applied_at_ms) VALUES (?, ?)', [migration.version, Date.now()])
    }
    return Math.max(latest, current)
  })
}
