/**
 * The one compliance suite every store backend passes (docs/development.md, Tests: pluggable parts share one
 * suite). A backend supplies a `StoreDatabase` factory: a fresh, empty database per test, on
 * which it opens stores (several at once, like relays sharing one PostgreSQL database) and
 * raw drivers (for the migration tests).
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { MAX_BUNDLE_BYTES } from '@securechat/sdk/constants'
import { InvalidInputError } from '@securechat/sdk/errors'
import { type HistoryQuery, type HistoryRecord, MAX_HISTORY_PAGE_RECORDS } from '@securechat/sdk/history'
import { messageIdOf } from '@securechat/sdk/rooms'
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { StoreError } from '../errors.ts'
import { MIGRATIONS, migrate } from './migrations.ts'
import type { SqlDriver } from './sql.ts'
import type { MessageStore, StoreInit, StoreInput } from './types.ts'

export interface StoreDatabase {
  open(init?: StoreInit): Promise<MessageStore>
  driver(): Promise<SqlDriver>
  /** Closes what it opened and removes the database. */
  destroy(): Promise<void>
}

const TOPIC = '/securechat/1/room/aa'
const OTHER_TOPIC = '/securechat/1/room/bb'

/** A clock the tests move by hand. */
function manualClock(startMs = 1_700_000_000_000) {
  let nowMs = startMs
  return {
    now: () => nowMs,
    advance: (ms: number) => {
      nowMs += ms
    },
  }
}

let seqnoCounter = 1n
function seqno(value?: bigint): Uint8Array {
  const bytes = new Uint8Array(8)
  new DataView(bytes.buffer).setBigUint64(0, value ?? seqnoCounter++, false)
  return bytes
}

export function storeCompliance(backend: string, createDatabase: () => Promise<StoreDatabase>): void {
  describe(`store compliance: ${backend}`, () => {
    let db: StoreDatabase
    let alice: string
    let bob: string

    beforeAll(async () => {
      alice = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
      bob = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    })
    beforeEach(async () => {
      db = await createDatabase()
    })
    afterEach(async () => {
      await db.destroy()
    })

    let n = 0
    function input(over: Partial<StoreInput> = {}): StoreInput {
      n += 1
      return {
        topic: TOPIC,
        from: alice,
        seqno: seqno(),
        signature: new Uint8Array(64).fill(n % 256),
        data: new TextEncoder().encode(JSON.stringify({ v: 1, type: over.type ?? 'message', n })),
        type: 'message',
        lamport: n,
        ...over,
      }
    }

    async function allPages(store: MessageStore, query: HistoryQuery): Promise<HistoryRecord[]> {
      const out: HistoryRecord[] = []
      let cursor: string | undefined
      for (let page = 0; page < 1_000; page++) {
        const result = await store.query(cursor === undefined ? query : { ...query, cursor })
        out.push(...result.records)
        const last = result.records.at(-1)
        if (!result.more || last === undefined) return out
        cursor = store.cursorAfter(query, last)
      }
      throw new Error('paging did not end')
    }

    it('behavior: a fresh database is migrated to the latest schema version, and reopening changes nothing', async () => {
      const store = await db.open()
      expect((await store.stats()).schemaVersion).toBe(MIGRATIONS.at(-1)?.version)
      await store.close()
      const again = await db.open()
      expect((await again.stats()).schemaVersion).toBe(MIGRATIONS.at(-1)?.version)
    })

    it('behavior: migrations upgrade step by step from empty, carrying the data, and a newer schema than known is refused', async () => {
      const driver = await db.driver()
      const latest = MIGRATIONS.at(-1)?.version ?? 0
      expect(await migrate(driver, [])).toBe(0)
      expect(await migrate(driver, MIGRATIONS.slice(0, 1))).toBe(1)
      // A version-1 database with records in it: version 2 counts their usage per sender.
      const record = input()
      await driver.run(
        'INSERT INTO records (topic, id, sender, seqno, signature, data, type, lamport, received_at_ms, bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
        [TOPIC, messageIdOf(record.data), alice, record.seqno, record.signature, record.data, 'message', 1, 1, 123],
      )
      expect(await migrate(driver)).toBe(latest)
      const usage = await driver.all<{ records: number | string; bytes: number | string }>(
        'SELECT records, bytes FROM usage WHERE sender = ?',
        [alice],
      )
      expect(usage.map((row) => [Number(row.records), Number(row.bytes)])).toEqual([[1, 123]])
      const later = {
        version: latest + 1,
        description: 'test: a later migration',
        sql: { sqlite: ['CREATE TABLE later (x INTEGER)'], postgres: ['CREATE TABLE later (x INTEGER)'] },
      }
      expect(await migrate(driver, [...MIGRATIONS, later])).toBe(latest + 1)
      expect(await migrate(driver, [...MIGRATIONS, later])).toBe(latest + 1)
      await driver.run('INSERT INTO later (x) VALUES (?)', [7])
      const versions = await driver.all<{ version: number | string }>(
        'SELECT version FROM schema_version ORDER BY version',
      )
      expect(versions.map((row) => Number(row.version))).toEqual([...MIGRATIONS.map((m) => m.version), latest + 1])
      await expect(migrate(driver)).rejects.toBeInstanceOf(StoreError)
      await driver.close()
    })

    it('behavior: a stored record comes back byte for byte, under the id of its data', async () => {
      const clock = manualClock()
      const store = await db.open({ now: clock.now })
      const record = input()
      expect(await store.put([record])).toEqual(['stored'])
      const id = messageIdOf(record.data)
      const [got] = await store.get(TOPIC, [id])
      expect(got).toEqual({
        id,
        topic: TOPIC,
        from: alice,
        seqno: record.seqno,
        signature: record.signature,
        data: record.data,
        type: 'message',
        lamport: record.lamport,
        receivedAtMs: clock.now(),
      })
      expect(await store.get(OTHER_TOPIC, [id])).toEqual([])
      expect(await store.get(TOPIC, ['0'.repeat(64)])).toEqual([])
    })

    it('behavior: inserts are idempotent by message id and sender; the same data from another sender is its own record', async () => {
      const store = await db.open()
      const record = input()
      expect(await store.put([record, record])).toEqual(['stored', 'duplicate'])
      expect(await store.put([{ ...record, seqno: seqno() }])).toEqual(['duplicate'])
      expect(await store.put([{ ...record, from: bob }])).toEqual(['stored'])
      const id = messageIdOf(record.data)
      expect((await store.get(TOPIC, [id])).map((r) => r.from).sort()).toEqual([alice, bob].sort())
    })

    it('behavior: two stores on one database (two relays) keep a record once and serve the same history', async () => {
      const a = await db.open()
      const b = await db.open()
      const records = Array.from({ length: 5 }, () => input())
      expect(await a.put(records.slice(0, 3))).toEqual(['stored', 'stored', 'stored'])
      const [first, second] = await Promise.all([a.put(records), b.put(records)])
      expect([...(first ?? []), ...(second ?? [])].filter((o) => o === 'stored')).toHaveLength(2)
      const query: HistoryQuery = { topic: TOPIC, range: { by: 'lamport' } }
      const fromA = await allPages(a, query)
      expect(fromA.map((r) => r.id)).toEqual(records.map((r) => messageIdOf(r.data)))
      expect(await allPages(b, query)).toEqual(fromA)
      expect((await b.stats()).records).toBe(5)
    })

    it('behavior: time pages walk a topic in (time, id, sender) order with cursors, within the range asked', async () => {
      const clock = manualClock()
      const store = await db.open({ now: clock.now })
      const times: number[] = []
      for (let i = 0; i < 25; i++) {
        // Two records per tick: ties on time are ordered by id.
        await store.put([input(), input(), input({ topic: OTHER_TOPIC })])
        times.push(clock.now())
        clock.advance(10)
      }
      const query: HistoryQuery = { topic: TOPIC, range: { by: 'time' }, limit: 7 }
      const first = await store.query(query)
      expect(first.records).toHaveLength(7)
      expect(first.more).toBe(true)
      const all = await allPages(store, query)
      expect(all).toHaveLength(50)
      const keys = all.map((r) => [r.receivedAtMs, r.id] as const)
      expect([...keys].sort((x, y) => x[0] - y[0] || (x[1] < y[1] ? -1 : 1))).toEqual(keys)
      expect(all.every((r) => r.topic === TOPIC)).toBe(true)
      const fromMs = times[5] as number
      const toMs = times[9] as number
      const ranged = await allPages(store, { topic: TOPIC, range: { by: 'time', fromMs, toMs }, limit: 3 })
      expect(ranged).toHaveLength(8)
      expect(ranged.every((r) => r.receivedAtMs >= fromMs && r.receivedAtMs < toMs)).toBe(true)
    })

    it('behavior: Lamport pages hold records with a clock only, ordered by (Lamport, id), within the range asked', async () => {
      const store = await db.open()
      const lamports = [5, 3, 9, 3, 1, 7, 12, 3]
      await store.put(lamports.map((lamport) => input({ lamport })))
      const { lamport: _omit, ...keysRecord } = input({ type: 'keys' })
      await store.put([keysRecord])
      const all = await allPages(store, { topic: TOPIC, range: { by: 'lamport' }, limit: 2 })
      expect(all.map((r) => r.lamport)).toEqual([...lamports].sort((a, b) => a - b))
      const threes = all.filter((r) => r.lamport === 3).map((r) => r.id)
      expect(threes).toEqual([...threes].sort())
      const ranged = await allPages(store, { topic: TOPIC, range: { by: 'lamport', from: 3, to: 9 } })
      expect(ranged.map((r) => r.lamport)).toEqual([3, 3, 3, 5, 7])
      const byTime = await allPages(store, { topic: TOPIC, range: { by: 'time' } })
      expect(byTime).toHaveLength(9)
    })

    it('behavior: a query keeps only the record types asked for', async () => {
      const store = await db.open()
      await store.put([input(), input({ type: 'keys' }), input({ type: 'presence', supersedes: true }), input()])
      const page = await store.query({ topic: TOPIC, range: { by: 'time' }, types: ['keys', 'presence'] })
      expect(page.records.map((r) => r.type).sort()).toEqual(['keys', 'presence'])
    })

    it('error: a cursor the store did not make, or made for the other ordering, is the asker’s error', async () => {
      const store = await db.open()
      await store.put([input(), input()])
      const query: HistoryQuery = { topic: TOPIC, range: { by: 'time' }, limit: 1 }
      const page = await store.query(query)
      const cursor = store.cursorAfter(query, page.records[0] as HistoryRecord)
      await expect(store.query({ topic: TOPIC, range: { by: 'lamport' }, cursor })).rejects.toBeInstanceOf(
        InvalidInputError,
      )
      for (const bad of [
        'x',
        't:1:zz:abc',
        `t:99999999999999999:${'a'.repeat(64)}:abc`,
        `t:1:${'a'.repeat(64)}:0OIl`,
      ]) {
        await expect(store.query({ ...query, cursor: bad })).rejects.toBeInstanceOf(InvalidInputError)
      }
    })

    it('behavior: a page never holds more than MAX_HISTORY_PAGE_RECORDS, whatever the limit asked', async () => {
      const store = await db.open()
      await store.put(Array.from({ length: MAX_HISTORY_PAGE_RECORDS + 5 }, () => input()))
      const page = await store.query({ topic: TOPIC, range: { by: 'time' }, limit: 1_000_000 })
      expect(page.records).toHaveLength(MAX_HISTORY_PAGE_RECORDS)
      expect(page.more).toBe(true)
      await expect(
        store.get(
          TOPIC,
          Array.from({ length: 10_000 }, () => 'a'.repeat(64)),
        ),
      ).rejects.toBeInstanceOf(InvalidInputError)
    })

    it('behavior: a state record (supersedes) replaces its sender’s older one of that type; an older one arriving late is not kept', async () => {
      const store = await db.open()
      const older = input({ type: 'presence', supersedes: true, seqno: seqno(1_000n) })
      const newer = input({ type: 'presence', supersedes: true, seqno: seqno(2_000n) })
      const bobs = input({ type: 'presence', supersedes: true, from: bob, seqno: seqno(500n) })
      expect(await store.put([older, bobs, newer])).toEqual(['stored', 'stored', 'stored'])
      expect(await store.put([older])).toEqual(['superseded'])
      const page = await store.query({ topic: TOPIC, range: { by: 'time' }, types: ['presence'] })
      expect(page.records.map((r) => r.id).sort()).toEqual([messageIdOf(newer.data), messageIdOf(bobs.data)].sort())
    })

    it('behavior: a sender over its record or byte quota in a topic is refused there; others and other topics are not', async () => {
      const store = await db.open({ retention: { maxRecordsPerSender: 3, maxBytesPerSender: 1_000_000 } })
      const mine = [input(), input(), input()]
      expect(await store.put([...mine, input()])).toEqual(['stored', 'stored', 'stored', 'quota'])
      expect(await store.put([mine[0] as StoreInput])).toEqual(['duplicate'])
      expect(await store.put([input({ from: bob }), input({ topic: OTHER_TOPIC })])).toEqual(['stored', 'stored'])
      // State records are bounded by replacing each other, not by the quota.
      expect(await store.put([input({ type: 'presence', supersedes: true })])).toEqual(['stored'])
      const bytes = await db.open({ retention: { maxBytesPerSender: 400 } })
      const big = (size: number) => input({ topic: '/t/bytes', data: new Uint8Array(size).fill(n % 256) })
      expect(await bytes.put([big(100), big(100), big(100)])).toEqual(['stored', 'stored', 'quota'])
      expect((await store.stats()).refused).toBe(1)
    })

    it('behavior: records older than the retention age go on prune; younger ones stay', async () => {
      const clock = manualClock()
      const maxAgeMs = 60_000
      const store = await db.open({ now: clock.now, retention: { maxAgeMs } })
      const old = input()
      await store.put([old])
      clock.advance(30_000)
      const young = input()
      await store.put([young])
      clock.advance(maxAgeMs - 29_000)
      expect(await store.prune()).toBe(1)
      const left = await allPages(store, { topic: TOPIC, range: { by: 'time' } })
      expect(left.map((r) => r.id)).toEqual([messageIdOf(young.data)])
      expect((await store.stats()).pruned).toBe(1)
    })

    it('behavior: a topic over its record or byte limit loses its oldest records on prune; other topics keep theirs', async () => {
      const clock = manualClock()
      const store = await db.open({ now: clock.now, retention: { maxRecordsPerTopic: 5, maxBytesPerTopic: 10_000 } })
      const records: StoreInput[] = []
      for (let i = 0; i < 8; i++) {
        const record = input()
        records.push(record)
        await store.put([record, input({ topic: OTHER_TOPIC, from: bob })])
        clock.advance(1)
      }
      expect(await store.prune()).toBe(6)
      const left = await allPages(store, { topic: TOPIC, range: { by: 'time' } })
      expect(left.map((r) => r.id)).toEqual(records.slice(3).map((r) => messageIdOf(r.data)))
      // Bytes: each record below is 1 000 data + 64 signature + 8 seqno bytes; 10 000 hold 9 of them.
      const heavy: StoreInput[] = []
      for (let i = 0; i < 12; i++) {
        const record = input({ topic: '/t/heavy', data: new Uint8Array(1_000).fill(i) })
        heavy.push(record)
        await store.put([record])
        clock.advance(1)
      }
      const byBytes = await db.open({ now: clock.now, retention: { maxBytesPerTopic: 10_000 } })
      expect(await byBytes.prune()).toBe(3)
      const kept = await allPages(byBytes, { topic: '/t/heavy', range: { by: 'time' } })
      expect(kept.map((r) => r.id)).toEqual(heavy.slice(3).map((r) => messageIdOf(r.data)))
    })

    it('behavior: a quota frees up as the sender’s records are pruned or replaced', async () => {
      const clock = manualClock()
      const store = await db.open({ now: clock.now, retention: { maxAgeMs: 1_000, maxRecordsPerSender: 2 } })
      expect(await store.put([input(), input(), input()])).toEqual(['stored', 'stored', 'quota'])
      clock.advance(2_000)
      expect(await store.prune()).toBe(2)
      expect(await store.put([input(), input(), input()])).toEqual(['stored', 'stored', 'quota'])
      const presence = (s: bigint) => input({ from: bob, type: 'presence', supersedes: true, seqno: seqno(s) })
      expect(await store.put([presence(1n), presence(2n), presence(3n)])).toEqual(['stored', 'stored', 'stored'])
      // The replaced ones no longer count: Bob holds one record, so one more fits his quota of two.
      expect(await store.put([input({ from: bob }), input({ from: bob })])).toEqual(['stored', 'quota'])
    })

    it('behavior: a member’s key bundle is kept per PeerId, the newest replacing the older, shared by stores on one database', async () => {
      const store = await db.open()
      expect(await store.getBundle(alice)).toBeUndefined()
      await store.putBundles([
        { peer: alice, bundle: 'first' },
        { peer: bob, bundle: 'bobs' },
        { peer: alice, bundle: 'second' },
      ])
      expect(await store.getBundle(alice)).toBe('second')
      await store.putBundles([{ peer: alice, bundle: 'third' }])
      const other = await db.open()
      expect([await other.getBundle(alice), await other.getBundle(bob)]).toEqual(['third', 'bobs'])
      // Longer than the certificate protocol carries: never served, so not kept.
      const carol = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
      await store.putBundles([{ peer: carol, bundle: 'A'.repeat(MAX_BUNDLE_BYTES * 2 + 1) }])
      expect(await store.getBundle(carol)).toBeUndefined()
      await other.close()
    })

    it('behavior: a key bundle goes on prune once older than the retention age since it was last kept', async () => {
      const clock = manualClock()
      const maxAgeMs = 60_000
      const store = await db.open({ now: clock.now, retention: { maxAgeMs } })
      await store.putBundles([
        { peer: alice, bundle: 'alices' },
        { peer: bob, bundle: 'bobs' },
      ])
      clock.advance(maxAgeMs - 1_000)
      await store.putBundles([{ peer: bob, bundle: 'bobs' }])
      clock.advance(2_000)
      await store.prune()
      expect([await store.getBundle(alice), await store.getBundle(bob)]).toEqual([undefined, 'bobs'])
    })

    it('behavior: records outside the protocol bounds are refused as invalid, never stored', async () => {
      const store = await db.open()
      const outcomes = await store.put([
        input({ seqno: new Uint8Array(7) }),
        input({ data: new Uint8Array(64 * 1024 + 1) }),
        input({ signature: new Uint8Array(0) }),
        input({ from: 'not a peer id' }),
        input({ type: 'Bad Type' }),
        input({ lamport: -1 }),
      ])
      expect(outcomes).toEqual(Array(6).fill('invalid'))
      expect((await store.stats()).records).toBe(0)
    })

    it('behavior: stats count records, bytes, topics and answered queries with their latency', async () => {
      const store = await db.open()
      await store.put([input({ data: new Uint8Array(100) }), input({ data: new Uint8Array(200), topic: OTHER_TOPIC })])
      await store.query({ topic: TOPIC, range: { by: 'time' } })
      await store.get(TOPIC, ['a'.repeat(64)])
      const stats = await store.stats()
      expect(stats).toMatchObject({ records: 2, bytes: 100 + 200 + 2 * (64 + 8), topics: 2, stored: 2, queries: 2 })
      expect(stats.queryLatency.count).toBe(2)
      expect(stats.queryLatency.sumMs).toBeGreaterThan(0)
      expect(stats.queryLatency.maxMs).toBeLessThanOrEqual(stats.queryLatency.sumMs)
    })

    it('behavior: records survive closing and reopening the store (a relay restart)', async () => {
      const store = await db.open()
      const record = input()
      await store.put([record])
      await store.close()
      await store.close()
      const reopened = await db.open()
      const [got] = await reopened.get(TOPIC, [messageIdOf(record.data)])
      expect(got?.data).toEqual(record.data)
    })
  })
}
