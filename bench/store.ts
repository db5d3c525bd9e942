/**
 * The relay's message store (issue 12) on SQLite and PostgreSQL side by side, for `npm run bench`.
 *
 * Each backend gets the same `BENCH_STORE_RECORDS` records of one room topic from
 * `STORE_SENDERS` senders (600 bytes of data each, about a room message) and is timed on:
 *
 * - **insert**, in batches of `STORE_BATCH_RECORDS` (what the relay's store service writes per
 *   event-loop turn under load) and one record per `put` (a quiet relay: one message at a time);
 * - **query**, reading the topic back in Lamport pages of `MAX_HISTORY_PAGE_RECORDS` with their
 *   cursors, as catch-up does, and by time;
 * - **fetch**, `MAX_HISTORY_FETCH_IDS` ids at a time, as gap repair asks.
 *
 * SQLite is a file in a temporary directory (WAL, as a relay runs it); PostgreSQL is
 * `BENCH_POSTGRES_URL` (default the test database of `.ci/run`) in a schema of its own, dropped
 * afterwards. When no PostgreSQL answers, its column is skipped and the suite says so. Besides
 * the table rows the suite prints one line, `store: {…}`, with both columns as JSON.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { MAX_HISTORY_FETCH_IDS, MAX_HISTORY_PAGE_RECORDS } from '@securechat/sdk/history'
import { messageIdOf } from '@securechat/sdk/rooms'
import pg from 'pg'
import { createPostgresStore } from '../node/src/store/postgres.ts'
import { createSqliteStore } from '../node/src/store/sqlite.ts'
import type { MessageStore, RetentionInit, StoreInput } from '../node/src/store/types.ts'
import type { BenchRecord } from './types.ts'

const DEFAULT_RECORDS = 10_000
const STORE_SENDERS = 4
const STORE_BATCH_RECORDS = 100
/** Records inserted one per `put` (a round trip each): fewer, it is the slow path. */
const SINGLE_RECORDS = 1_000
const DATA_BYTES = 600
const DEFAULT_POSTGRES_URL = 'postgres://postgres:postgres@127.0.0.1:5432/securechat_test'
/** No limit gets in the way of the figures. */
const RETENTION: RetentionInit = {
  maxRecordsPerTopic: 10_000_000,
  maxRecordsPerSender: 10_000_000,
  maxBytesPerTopic: 1e12,
  maxBytesPerSender: 1e12,
}

interface Figures {
  /** Records per second, batches of `STORE_BATCH_RECORDS`. */
  insertBatched: number
  /** Records per second, one per `put`. */
  insertSingle: number
  /** Records per second read back in Lamport pages. */
  queryLamport: number
  /** Records per second read back in time pages. */
  queryTime: number
  /** Records per second fetched by id. */
  fetchById: number
  /** Mean milliseconds per page of `MAX_HISTORY_PAGE_RECORDS`. */
  pageMs: number
}

export async function run(): Promise<BenchRecord[]> {
  const count = Number(process.env.BENCH_STORE_RECORDS ?? DEFAULT_RECORDS)
  const records = await makeRecords(count)
  const results: Record<string, Figures | string> = {}

  const dir = await mkdtemp(join(tmpdir(), 'securechat-bench-store-'))
  try {
    results.sqlite = await measure(records, () =>
      createSqliteStore({ path: join(dir, 'store.sqlite'), retention: RETENTION }),
    )
  } finally {
    await rm(dir, { recursive: true, force: true })
  }

  const url = process.env.BENCH_POSTGRES_URL ?? DEFAULT_POSTGRES_URL
  const admin = new pg.Client({ connectionString: url })
  admin.on('error', () => undefined)
  const reachable = await admin.connect().then(
    () => true,
    (err: unknown) => {
      results.postgres = `skipped: no PostgreSQL at ${redact(url)} (${err instanceof Error ? err.message : String(err)}); set BENCH_POSTGRES_URL`
      console.log(`store: PostgreSQL ${results.postgres}`)
      return false
    },
  )
  if (reachable) {
    const schema = `bench_store_${process.pid}_${Date.now()}`
    await admin.query(`CREATE SCHEMA ${schema}`)
    try {
      results.postgres = await measure(records, () => createPostgresStore({ url, schema, retention: RETENTION }))
    } finally {
      await admin.query(`DROP SCHEMA ${schema} CASCADE`)
      await admin.end()
    }
  }

  console.log(`store: ${JSON.stringify({ records: count, batch: STORE_BATCH_RECORDS, ...results })}`)
  return Object.entries(results).flatMap(([backend, figures]) =>
    typeof figures === 'string'
      ? []
      : [
          { name: `store.${backend}.insert.batched`, unit: 'rec/s', value: figures.insertBatched },
          { name: `store.${backend}.insert.single`, unit: 'rec/s', value: figures.insertSingle },
          { name: `store.${backend}.query.lamport`, unit: 'rec/s', value: figures.queryLamport },
          { name: `store.${backend}.query.time`, unit: 'rec/s', value: figures.queryTime },
          { name: `store.${backend}.fetch`, unit: 'rec/s', value: figures.fetchById },
          { name: `store.${backend}.page`, unit: 'ms', value: figures.pageMs },
        ],
  )
}

async function measure(records: StoreInput[], open: () => Promise<MessageStore>): Promise<Figures> {
  const store = await open()
  try {
    const topic = records[0]!.topic
    const rate = (n: number, ms: number): number => Math.round((n / ms) * 1000)

    let started = performance.now()
    for (let i = 0; i < records.length; i += STORE_BATCH_RECORDS) {
      expectStored(await store.put(records.slice(i, i + STORE_BATCH_RECORDS)))
    }
    const insertBatched = rate(records.length, performance.now() - started)

    const singles = records.slice(0, SINGLE_RECORDS).map((r) => ({ ...r, topic: `${r.topic}-single` }))
    started = performance.now()
    for (const record of singles) expectStored(await store.put([record]))
    const insertSingle = rate(singles.length, performance.now() - started)

    const readAll = async (by: 'lamport' | 'time'): Promise<{ ms: number; pages: number }> => {
      const query = { topic, range: { by }, limit: MAX_HISTORY_PAGE_RECORDS } as const
      let cursor: string | undefined
      let read = 0
      let pages = 0
      const t0 = performance.now()
      for (;;) {
        const page = await store.query(cursor === undefined ? query : { ...query, cursor })
        read += page.records.length
        pages += 1
        if (!page.more) break
        cursor = store.cursorAfter(query, page.records.at(-1)!)
      }
      const ms = performance.now() - t0
      if (read !== records.length) throw new Error(`read ${read} of ${records.length} records by ${by}`)
      return { ms, pages }
    }
    const lamport = await readAll('lamport')
    const time = await readAll('time')

    const ids = records.map((r) => messageIdOf(r.data))
    started = performance.now()
    let fetched = 0
    for (let i = 0; i < ids.length; i += MAX_HISTORY_FETCH_IDS) {
      fetched += (await store.get(topic, ids.slice(i, i + MAX_HISTORY_FETCH_IDS))).length
    }
    const fetchMs = performance.now() - started
    if (fetched !== records.length) throw new Error(`fetched ${fetched} of ${records.length} records by id`)

    return {
      insertBatched,
      insertSingle,
      queryLamport: rate(records.length, lamport.ms),
      queryTime: rate(records.length, time.ms),
      fetchById: rate(records.length, fetchMs),
      pageMs: Number((lamport.ms / lamport.pages).toFixed(2)),
    }
  } finally {
    await store.close()
  }
}

function expectStored(outcomes: readonly string[]): void {
  const other = outcomes.find((outcome) => outcome !== 'stored')
  if (other !== undefined) throw new Error(`a record was not stored: ${other}`)
}

/** Room messages as the relay keeps them: real PeerIds, 8-byte seqnos, Ed25519-sized signatures. */
async function makeRecords(count: number): Promise<StoreInput[]> {
  const senders = await Promise.all(
    Array.from({ length: STORE_SENDERS }, async () =>
      peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString(),
    ),
  )
  const topic = `securechat/room/${'0'.repeat(64)}`
  return Array.from({ length: count }, (_, i) => {
    const seqno = new Uint8Array(8)
    new DataView(seqno.buffer).setBigUint64(0, BigInt(i + 1))
    const data = new Uint8Array(DATA_BYTES)
    crypto.getRandomValues(data)
    return {
      topic,
      from: senders[i % STORE_SENDERS]!,
      seqno,
      signature: crypto.getRandomValues(new Uint8Array(64)),
      data,
      type: 'message',
      lamport: i + 1,
    }
  })
}

function redact(url: string): string {
  return url.replace(/\/\/[^@]*@/, '//***@')
}
