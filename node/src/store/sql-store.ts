import { MAX_BUNDLE_BYTES } from '@securechat/sdk/constants'
import { InvalidInputError } from '@securechat/sdk/errors'
import {
  HISTORY_PAGE_RECORDS,
  type HistoryQuery,
  type HistoryRecord,
  MAX_HISTORY_FETCH_IDS,
  MAX_HISTORY_PAGE_RECORDS,
  MAX_HISTORY_TYPES,
  withinHistoryBounds,
} from '@securechat/sdk/history'
import { messageIdOf } from '@securechat/sdk/rooms'
import {
  STORE_MAX_BYTES_PER_SENDER,
  STORE_MAX_BYTES_PER_TOPIC,
  STORE_MAX_RECORDS_PER_SENDER,
  STORE_MAX_RECORDS_PER_TOPIC,
  STORE_RETENTION_MS,
} from './constants.ts'
import { decodeCursor, encodeCursor } from './cursor.ts'
import { migrate } from './migrations.ts'
import type { SqlDriver, SqlExecutor } from './sql.ts'
import {
  type HistoryPage,
  type MessageStore,
  PutOutcome,
  type StoreInit,
  type StoreInput,
  type StoreStats,
} from './types.ts'

/** History records per insert statement: 10 parameters each stays far below SQLite's 32 766. */
const PUT_CHUNK_RECORDS = 200

/** A key bundle's text at its largest, as the certificate protocol carries it (the sdk's `keyBundleTextSchema`). */
const MAX_BUNDLE_TEXT_CHARS = MAX_BUNDLE_BYTES * 2

const COLUMNS = 'topic, id, sender, seqno, signature, data, type, lamport, received_at_ms'

interface Row {
  topic: string
  id: string
  sender: string
  seqno: Uint8Array
  signature: Uint8Array
  data: Uint8Array
  type: string
  lamport: number | string | null
  received_at_ms: number | string
}

/**
 * The store over any `SqlDriver`: the SQL below runs unchanged on SQLite (3.28+) and
 * PostgreSQL (row values, window functions, partial indexes, `ON CONFLICT DO NOTHING`).
 */
export class SqlStore implements MessageStore {
  readonly #driver: SqlDriver
  readonly #schemaVersion: number
  readonly #now: () => number
  readonly #limits: Required<NonNullable<StoreInit['retention']>>
  readonly #counters = { stored: 0, duplicates: 0, superseded: 0, refused: 0, pruned: 0, queries: 0 }
  readonly #latency = { count: 0, sumMs: 0, maxMs: 0 }
  #closed = false

  private constructor(driver: SqlDriver, schemaVersion: number, init: StoreInit) {
    this.#driver = driver
    this.#schemaVersion = schemaVersion
    this.#now = init.now ?? Date.now
    const r = init.retention ?? {}
    this.#limits = {
      maxAgeMs: r.maxAgeMs ?? STORE_RETENTION_MS,
      maxRecordsPerTopic: r.maxRecordsPerTopic ?? STORE_MAX_RECORDS_PER_TOPIC,
      maxBytesPerTopic: r.maxBytesPerTopic ?? STORE_MAX_BYTES_PER_TOPIC,
      maxRecordsPerSender: r.maxRecordsPerSender ?? STORE_MAX_RECORDS_PER_SENDER,
      maxBytesPerSender: r.maxBytesPerSender ?? STORE_MAX_BYTES_PER_SENDER,
    }
  }

  /** Migrates the schema, then opens. The driver is closed if migration fails. */
  static async open(driver: SqlDriver, init: StoreInit = {}): Promise<SqlStore> {
    let version: number
    try {
      version = await migrate(driver)
    } catch (err) {
      await driver.close()
      throw err
    }
    return new SqlStore(driver, version, init)
  }

  get backend(): 'sqlite' | 'postgres' {
    return this.#driver.dialect
  }

  async put(records: readonly StoreInput[]): Promise<PutOutcome[]> {
    if (records.length === 0) return []
    const receivedAtMs = this.#now()
    const outcomes = await this.#driver.transaction(async (tx) => {
      const out: PutOutcome[] = Array(records.length).fill(PutOutcome.invalid)
      const history: number[] = []
      for (const [i, record] of records.entries()) {
        // The history protocol could not serve a record outside its bounds: better not to keep it.
        if (!withinHistoryBounds(record)) continue
        if (record.supersedes === true) out[i] = await this.#putState(tx, record, receivedAtMs)
        else history.push(i)
      }
      for (let start = 0; start < history.length; start += PUT_CHUNK_RECORDS) {
        await this.#putHistory(tx, records, history.slice(start, start + PUT_CHUNK_RECORDS), out, receivedAtMs)
      }
      return out
    })
    for (const outcome of outcomes) {
      if (outcome === 'stored') this.#counters.stored += 1
      else if (outcome === 'duplicate') this.#counters.duplicates += 1
      else if (outcome === 'superseded') this.#counters.superseded += 1
      else this.#counters.refused += 1
    }
    return outcomes
  }

  /**
   * History records in a few statements whatever their number (one round trip per record made
   * PostgreSQL slow): read the senders' usage, decide quotas in order, insert the rest in one
   * statement that returns what was new, add that to usage.
   */
  async #putHistory(
    tx: SqlExecutor,
    records: readonly StoreInput[],
    indices: readonly number[],
    out: PutOutcome[],
    receivedAtMs: number,
  ): Promise<void> {
    const senderKey = (r: StoreInput) => `${r.topic}\n${r.from}`
    const rowKey = (topic: string, id: string, sender: string) => `${topic}\n${id}\n${sender}`
    const pairs = new Map(indices.map((i) => [senderKey(records[i] as StoreInput), records[i] as StoreInput]))
    const usageRows = await tx.all<{ topic: string; sender: string; records: number | string; bytes: number | string }>(
      `SELECT topic, sender, records, bytes FROM usage WHERE ${[...pairs.values()].map(() => '(topic = ? AND sender = ?)').join(' OR ')}`,
      [...pairs.values()].flatMap((r) => [r.topic, r.from]),
    )
    const usage = new Map(
      usageRows.map((row) => [
        `${row.topic}\n${row.sender}`,
        { records: Number(row.records), bytes: Number(row.bytes) },
      ]),
    )
    const candidates: Array<{ i: number; id: string; bytes: number }> = []
    const refused: Array<{ i: number; id: string }> = []
    for (const i of indices) {
      const record = records[i] as StoreInput
      const id = messageIdOf(record.data)
      const bytes = record.data.byteLength + record.signature.byteLength + record.seqno.byteLength
      const held = usage.get(senderKey(record)) ?? { records: 0, bytes: 0 }
      if (held.records + 1 > this.#limits.maxRecordsPerSender || held.bytes + bytes > this.#limits.maxBytesPerSender) {
        refused.push({ i, id })
        continue
      }
      usage.set(senderKey(record), { records: held.records + 1, bytes: held.bytes + bytes })
      candidates.push({ i, id, bytes })
    }
    if (candidates.length > 0) {
      const inserted = await tx.all<{ topic: string; id: string; sender: string }>(
        `INSERT INTO records (${COLUMNS}, bytes) VALUES ${candidates.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}
         ON CONFLICT DO NOTHING RETURNING topic, id, sender`,
        candidates.flatMap(({ i, id, bytes }) => {
          const r = records[i] as StoreInput
          return [r.topic, id, r.from, r.seqno, r.signature, r.data, r.type, r.lamport ?? null, receivedAtMs, bytes]
        }),
      )
      const fresh = new Set(inserted.map((row) => rowKey(row.topic, row.id, row.sender)))
      const added = new Map<string, { topic: string; sender: string; records: number; bytes: number }>()
      for (const { i, id, bytes } of candidates) {
        const r = records[i] as StoreInput
        // The same record twice in one batch: the first is stored, the second a duplicate.
        if (!fresh.delete(rowKey(r.topic, id, r.from))) {
          out[i] = PutOutcome.duplicate
          continue
        }
        out[i] = PutOutcome.stored
        const sum = added.get(senderKey(r)) ?? { topic: r.topic, sender: r.from, records: 0, bytes: 0 }
        added.set(senderKey(r), { ...sum, records: sum.records + 1, bytes: sum.bytes + bytes })
      }
      if (added.size > 0) await addUsage(tx, [...added.values()])
    }
    if (refused.length > 0) {
      // A duplicate of what is held is still a duplicate, not a refusal.
      const held = await tx.all<{ topic: string; id: string; sender: string }>(
        `SELECT topic, id, sender FROM records WHERE ${refused.map(() => '(topic = ? AND id = ? AND sender = ?)').join(' OR ')}`,
        refused.flatMap(({ i, id }) => [(records[i] as StoreInput).topic, id, (records[i] as StoreInput).from]),
      )
      const heldKeys = new Set(held.map((row) => rowKey(row.topic, row.id, row.sender)))
      for (const { i, id } of refused) {
        const r = records[i] as StoreInput
        out[i] = heldKeys.has(rowKey(r.topic, id, r.from)) ? PutOutcome.duplicate : PutOutcome.quota
      }
    }
  }

  /** A state record: kept only if no newer one of its type from its sender is, replacing older ones. */
  async #putState(tx: SqlExecutor, record: StoreInput, receivedAtMs: number): Promise<PutOutcome> {
    const bytes = record.data.byteLength + record.signature.byteLength + record.seqno.byteLength
    const latestOf = [record.topic, record.from, record.type, record.seqno] as const
    const newer = await tx.all(
      'SELECT 1 AS x FROM records WHERE topic = ? AND sender = ? AND type = ? AND seqno > ? LIMIT 1',
      latestOf,
    )
    if (newer.length > 0) return PutOutcome.superseded
    const inserted = await tx.run(
      `INSERT INTO records (${COLUMNS}, bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      [
        record.topic,
        messageIdOf(record.data),
        record.from,
        record.seqno,
        record.signature,
        record.data,
        record.type,
        record.lamport ?? null,
        receivedAtMs,
        bytes,
      ],
    )
    if (inserted === 0) return PutOutcome.duplicate
    const [replaced] = await tx.all<{ n: number | string; b: number | string | null }>(
      'SELECT count(*) AS n, sum(bytes) AS b FROM records WHERE topic = ? AND sender = ? AND type = ? AND seqno < ?',
      latestOf,
    )
    await tx.run('DELETE FROM records WHERE topic = ? AND sender = ? AND type = ? AND seqno < ?', latestOf)
    await addUsage(tx, [
      {
        topic: record.topic,
        sender: record.from,
        records: 1 - Number(replaced?.n ?? 0),
        bytes: bytes - Number(replaced?.b ?? 0),
      },
    ])
    return PutOutcome.stored
  }

  async query(query: HistoryQuery): Promise<HistoryPage> {
    return await this.#timed(async () => {
      const byTime = query.range.by === 'time'
      const key = byTime ? 'received_at_ms' : 'lamport'
      const where = ['topic = ?']
      const params: unknown[] = [query.topic]
      const start = query.range.by === 'time' ? query.range.fromMs : query.range.from
      const end = query.range.by === 'time' ? query.range.toMs : query.range.to
      if (!byTime) where.push('lamport IS NOT NULL')
      if (start !== undefined) {
        where.push(`${key} >= ?`)
        params.push(start)
      }
      if (end !== undefined) {
        where.push(`${key} < ?`)
        params.push(end)
      }
      if (query.types !== undefined) {
        if (query.types.length === 0 || query.types.length > MAX_HISTORY_TYPES) {
          throw new InvalidInputError('types: between 1 and MAX_HISTORY_TYPES', { details: { types: query.types } })
        }
        where.push(`type IN (${query.types.map(() => '?').join(', ')})`)
        params.push(...query.types)
      }
      if (query.cursor !== undefined) {
        const after = decodeCursor(query.cursor, query.range.by)
        where.push(`(${key}, id, sender) > (?, ?, ?)`)
        params.push(after.key, after.id, after.sender)
      }
      const limit = Math.min(Math.max(1, query.limit ?? HISTORY_PAGE_RECORDS), MAX_HISTORY_PAGE_RECORDS)
      params.push(limit + 1)
      const rows = await this.#driver.all<Row>(
        `SELECT ${COLUMNS} FROM records WHERE ${where.join(' AND ')} ORDER BY ${key}, id, sender LIMIT ?`,
        params,
      )
      return { records: rows.slice(0, limit).map(toRecord), more: rows.length > limit }
    })
  }

  cursorAfter(query: HistoryQuery, record: HistoryRecord): string {
    const key = query.range.by === 'time' ? record.receivedAtMs : record.lamport
    if (key === undefined)
      throw new InvalidInputError('a record without a Lamport clock has no place in a Lamport page')
    return encodeCursor({ by: query.range.by, key, id: record.id, sender: record.from })
  }

  async get(topic: string, ids: readonly string[]): Promise<HistoryRecord[]> {
    if (ids.length > MAX_HISTORY_FETCH_IDS) {
      throw new InvalidInputError('too many ids', { details: { ids: ids.length, max: MAX_HISTORY_FETCH_IDS } })
    }
    if (ids.length === 0) return []
    return await this.#timed(async () => {
      const rows = await this.#driver.all<Row>(
        `SELECT ${COLUMNS} FROM records WHERE topic = ? AND id IN (${ids.map(() => '?').join(', ')})
         ORDER BY received_at_ms, id, sender LIMIT ?`,
        [topic, ...ids, MAX_HISTORY_PAGE_RECORDS],
      )
      return rows.map(toRecord)
    })
  }

  async putBundles(bundles: ReadonlyArray<{ peer: string; bundle: string }>): Promise<void> {
    // One row per peer and statement (PostgreSQL refuses to update a row twice in one): the last one wins.
    const latest = new Map<string, string>()
    for (const { peer, bundle } of bundles) if (bundle.length <= MAX_BUNDLE_TEXT_CHARS) latest.set(peer, bundle)
    if (latest.size === 0) return
    const keptAtMs = this.#now()
    const rows = [...latest]
    for (let start = 0; start < rows.length; start += PUT_CHUNK_RECORDS) {
      const chunk = rows.slice(start, start + PUT_CHUNK_RECORDS)
      await this.#driver.run(
        `INSERT INTO bundles (peer, bundle, kept_at_ms) VALUES ${chunk.map(() => '(?, ?, ?)').join(', ')}
         ON CONFLICT (peer) DO UPDATE SET bundle = excluded.bundle, kept_at_ms = excluded.kept_at_ms`,
        chunk.flatMap(([peer, bundle]) => [peer, bundle, keptAtMs]),
      )
    }
  }

  async getBundle(peer: string): Promise<string | undefined> {
    const [row] = await this.#driver.all<{ bundle: string }>('SELECT bundle FROM bundles WHERE peer = ?', [peer])
    return row?.bundle
  }

  async prune(): Promise<number> {
    const limits = this.#limits
    await this.#driver.run('DELETE FROM bundles WHERE kept_at_ms < ?', [this.#now() - limits.maxAgeMs])
    let removed = await this.#driver.run('DELETE FROM records WHERE received_at_ms < ?', [
      this.#now() - limits.maxAgeMs,
    ])
    const over = await this.#driver.all<{ topic: string }>(
      'SELECT topic FROM records GROUP BY topic HAVING count(*) > ? OR sum(bytes) > ?',
      [limits.maxRecordsPerTopic, limits.maxBytesPerTopic],
    )
    for (const { topic } of over) {
      // Newest first: keep while both the count and the running byte total are within limits.
      removed += await this.#driver.run(
        `DELETE FROM records WHERE topic = ? AND (id, sender) IN (
           SELECT id, sender FROM (
             SELECT id, sender, row_number() OVER w AS n, sum(bytes) OVER w AS total FROM records WHERE topic = ?
             WINDOW w AS (ORDER BY received_at_ms DESC, id DESC, sender DESC)
           ) ranked WHERE n > ? OR total > ?
         )`,
        [topic, topic, limits.maxRecordsPerTopic, limits.maxBytesPerTopic],
      )
    }
    if (removed > 0) {
      // Bulk deletes do not say whose records went: count usage afresh (a write by another relay
      // meanwhile may be off by a few until the next prune; quotas are bounds, not accounts).
      await this.#driver.transaction(async (tx) => {
        await tx.run('DELETE FROM usage')
        await tx.run(
          'INSERT INTO usage (topic, sender, records, bytes) SELECT topic, sender, count(*), sum(bytes) FROM records GROUP BY topic, sender',
        )
      })
    }
    this.#counters.pruned += removed
    return removed
  }

  async stats(): Promise<StoreStats> {
    const [row] = await this.#driver.all<{ n: number | string; b: number | string | null; t: number | string }>(
      'SELECT count(*) AS n, sum(bytes) AS b, count(DISTINCT topic) AS t FROM records',
    )
    return {
      backend: this.backend,
      schemaVersion: this.#schemaVersion,
      records: Number(row?.n ?? 0),
      bytes: Number(row?.b ?? 0),
      topics: Number(row?.t ?? 0),
      ...this.#counters,
      queryLatency: { ...this.#latency },
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#driver.close()
  }

  async #timed<T>(fn: () => Promise<T>): Promise<T> {
    const started = performance.now()
    try {
      return await fn()
    } finally {
      const ms = performance.now() - started
      this.#counters.queries += 1
      this.#latency.count += 1
      this.#latency.sumMs += ms
      this.#latency.maxMs = Math.max(this.#latency.maxMs, ms)
    }
  }
}

/** Adds to the usage of each (topic, sender); each pair at most once per call. */
async function addUsage(
  tx: SqlExecutor,
  deltas: ReadonlyArray<{ topic: string; sender: string; records: number; bytes: number }>,
): Promise<void> {
  await tx.run(
    `INSERT INTO usage (topic, sender, records, bytes) VALUES ${deltas.map(() => '(?, ?, ?, ?)').join(', ')}
     ON CONFLICT (topic, sender) DO UPDATE SET records = usage.records + excluded.records, bytes = usage.bytes + excluded.bytes`,
    deltas.flatMap((d) => [d.topic, d.sender, d.records, d.bytes]),
  )
}

function toRecord(row: Row): HistoryRecord {
  const record: HistoryRecord = {
    id: row.id,
    topic: row.topic,
    from: row.sender,
    seqno: new Uint8Array(row.seqno),
    signature: new Uint8Array(row.signature),
    data: new Uint8Array(row.data),
    type: row.type,
    receivedAtMs: Number(row.received_at_ms),
  }
  if (row.lamport !== null) record.lamport = Number(row.lamport)
  return record
}
