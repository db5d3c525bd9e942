/**
 * The history protocol between real libp2p nodes: a relay-side store fed by live gossip serves
 * it over `/securechat/store/1.0.0`, a client gets the very messages that were published and
 * re-verifies them; whatever a store alters or invents is caught, and whatever a peer sends
 * gets an answer, never a crash.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { SignedMessage } from '@libp2p/gossipsub'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { tcp } from '@libp2p/tcp'
import { lpStream } from '@libp2p/utils'
import { createSecureChatLibp2p, type SecureChatLibp2p } from '@securechat/sdk/client'
import { HistoryRequestError } from '@securechat/sdk/errors'
import {
  decodeHistoryResponse,
  fetchHistory,
  type HistoryQuery,
  type HistoryResult,
  MAX_HISTORY_REQUEST_BYTES,
  queryHistory,
  STORE_PROTOCOL,
} from '@securechat/sdk/history'
import { messageIdOf } from '@securechat/sdk/rooms'
import fc from 'fast-check'
import { beforeEach, describe, expect, it } from 'vitest'
import { storeInputOf } from '../node/src/store/gossip.ts'
import { HistoryServer } from '../node/src/store/history-server.ts'
import { StoreService } from '../node/src/store/service.ts'
import { createSqliteStore } from '../node/src/store/sqlite.ts'
import type { MessageStore } from '../node/src/store/types.ts'
import { type Stoppers, stopAfterEach } from './helpers/stoppers.ts'

/** Frames per run of the network fuzz (each is a real stream); `SECURECHAT_FUZZ_RUNS` raises it. */
const NETWORK_RUNS = Math.max(300, Math.floor((Number(process.env.SECURECHAT_FUZZ_RUNS ?? 0) || 0) / 10))

const TOPIC = `/securechat/1/room/${'ab'.repeat(32)}`

async function node(stoppers: Stoppers): Promise<SecureChatLibp2p> {
  const libp2p = await createSecureChatLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    transports: [tcp()],
  })
  stoppers.push(async () => {
    await libp2p.stop()
  })
  return libp2p
}

/** Resolves once `a` has seen `b` subscribe to TOPIC. */
async function subscribedTo(a: SecureChatLibp2p, b: SecureChatLibp2p): Promise<void> {
  const seen = () => a.services.pubsub.getSubscribers(TOPIC).some((peer) => peer.equals(b.peerId))
  if (seen()) return
  await new Promise<void>((resolve) => {
    const check = () => {
      if (!seen()) return
      a.services.pubsub.removeEventListener('subscription-change', check)
      resolve()
    }
    a.services.pubsub.addEventListener('subscription-change', check)
  })
}

describe('history protocol over libp2p', () => {
  const stoppers = stopAfterEach()
  let server: SecureChatLibp2p
  let store: MessageStore
  let history: HistoryServer
  let client: SecureChatLibp2p
  /** What the publisher sent, as the server's gossipsub delivered it live. */
  let live: SignedMessage[]

  beforeEach(async () => {
    const dir = await mkdtemp(join(tmpdir(), 'securechat-history-'))
    stoppers.push(() => rm(dir, { recursive: true, force: true }))
    store = await createSqliteStore({ path: join(dir, 'store.sqlite') })
    stoppers.push(() => store.close())
    server = await node(stoppers)
    history = new HistoryServer({ libp2p: server, store })
    await history.start()
    stoppers.push(() => history.stop())

    // Live gossip into the store, the way a relay keeps what it accepted.
    live = []
    const publisher = await node(stoppers)
    const count = 30
    const stored = Promise.withResolvers<void>()
    server.services.pubsub.addEventListener('message', (event) => {
      const message = event.detail
      if (message.type !== 'signed' || message.topic !== TOPIC) return
      live.push(message)
      const { lamport } = JSON.parse(new TextDecoder().decode(message.data)) as { lamport: number }
      void store.put([storeInputOf(message, { type: 'message', lamport })]).then(() => {
        if (live.length === count) stored.resolve()
      })
    })
    server.services.pubsub.subscribe(TOPIC)
    publisher.services.pubsub.subscribe(TOPIC)
    await publisher.dial(server.getMultiaddrs()[0] ?? '')
    // Each side must know the other is on the topic before a record can travel.
    await Promise.all([subscribedTo(server, publisher), subscribedTo(publisher, server)])
    // Lamport clocks out of time order, so the two orderings differ.
    for (let i = 0; i < count; i++) {
      const lamport = (i * 7) % count
      await publisher.services.pubsub.publish(
        TOPIC,
        new TextEncoder().encode(JSON.stringify({ v: 1, type: 'message', lamport, i })),
      )
    }
    await stored.promise

    client = await node(stoppers)
    await client.dial(server.getMultiaddrs()[0] ?? '')
  }, 20_000)

  async function allPages(query: HistoryQuery): Promise<HistoryResult['records']> {
    const out: HistoryResult['records'] = []
    let cursor: string | undefined
    do {
      const page = await queryHistory(client, server.peerId, cursor === undefined ? query : { ...query, cursor })
      expect(page.rejected).toEqual([])
      out.push(...page.records)
      cursor = page.cursor
    } while (cursor !== undefined)
    return out
  }

  it('behavior: a client pages through a topic and gets the very messages published, verified, in both orderings', async () => {
    const byTime = await allPages({ topic: TOPIC, range: { by: 'time' }, limit: 7 })
    expect(byTime).toHaveLength(live.length)
    const key = (m: SignedMessage) => `${m.from.toString()}/${m.sequenceNumber}`
    const liveByKey = new Map(live.map((m) => [key(m), m]))
    for (const { message } of byTime) {
      const original = liveByKey.get(key(message))
      expect(original).toBeDefined()
      expect(message.data).toEqual(new Uint8Array(original?.data ?? []))
      expect(message.signature).toEqual(new Uint8Array(original?.signature ?? []))
      expect(message.key.equals(original?.key)).toBe(true)
    }
    const byLamport = await allPages({ topic: TOPIC, range: { by: 'lamport', from: 10, to: 20 }, limit: 4 })
    expect(byLamport.map(({ record }) => record.lamport)).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19])
    expect(history.stats()).toMatchObject({ answered: 5 + 3, broken: 0 })
  })

  it('behavior: a fetch by message id returns those records only; unknown ids are absent', async () => {
    const ids = live.slice(0, 3).map((m) => messageIdOf(m.data))
    const result = await fetchHistory(client, server.peerId, { topic: TOPIC, ids: [...ids, 'f'.repeat(64)] })
    expect(result.records.map(({ record }) => record.id).sort()).toEqual([...ids].sort())
    expect(result.cursor).toBeUndefined()
  })

  it('behavior: records a store altered or invented fail verification and are reported; the genuine ones pass', async () => {
    const genuine = live[0] as SignedMessage
    const input = storeInputOf(genuine, { type: 'message', lamport: 1_000 })
    const alteredData = new TextEncoder().encode('{"v":1,"type":"message","lamport":1000,"i":"forged"}')
    const otherKey = await generateKeyPair('Ed25519')
    await store.put([
      // Altered: new data under the original signature (the store recomputes the id).
      { ...input, data: alteredData },
      // Invented: a record in the name of someone else, with a made-up signature.
      {
        ...input,
        from: peerIdFromPrivateKey(otherKey).toString(),
        data: alteredData,
        signature: new Uint8Array(64).fill(7),
      },
    ])
    const result = await queryHistory(client, server.peerId, { topic: TOPIC, range: { by: 'lamport', from: 1_000 } })
    expect(result.records).toEqual([])
    expect(result.rejected.map((r) => r.reason)).toEqual(['bad-signature', 'bad-signature'])
    const all = await queryHistory(client, server.peerId, { topic: TOPIC, range: { by: 'time' } })
    expect(all.records).toHaveLength(live.length)
    expect(all.rejected).toHaveLength(2)
  })

  it('error: a bad cursor or a failing store comes back as a HistoryRequestError with its code', async () => {
    const bad = queryHistory(client, server.peerId, {
      topic: TOPIC,
      range: { by: 'time' },
      cursor: `l:1:${'a'.repeat(64)}:abc`,
    })
    await expect(bad).rejects.toMatchObject({ name: 'HistoryRequestError', details: { code: 'bad-request' } })
    await store.close()
    const failing = queryHistory(client, server.peerId, { topic: TOPIC, range: { by: 'time' } })
    await expect(failing).rejects.toBeInstanceOf(HistoryRequestError)
    await expect(failing).rejects.toMatchObject({ details: { code: 'unavailable' } })
  })

  /** Sends one raw frame (or raw bytes) and returns the decoded answer. */
  async function raw(frame: Uint8Array, options: { unframed?: boolean } = {}) {
    const stream = await client.dialProtocol(server.peerId, STORE_PROTOCOL, { signal: AbortSignal.timeout(5_000) })
    const lp = lpStream(stream, { maxDataLength: 8 * 1024 * 1024 })
    if (options.unframed === true) stream.send(frame)
    else await lp.write(frame)
    const answer = decodeHistoryResponse((await lp.read({ signal: AbortSignal.timeout(5_000) })).subarray())
    await stream.close()
    return answer
  }

  it('error: oversized, non-JSON and out-of-bounds frames get an error response, and the relay keeps answering', async () => {
    expect(await raw(new TextEncoder().encode('not json'))).toMatchObject({
      ok: true,
      response: { type: 'error', code: 'bad-request' },
    })
    expect(await raw(new Uint8Array(MAX_HISTORY_REQUEST_BYTES + 1).fill(0x7b))).toMatchObject({
      ok: true,
      response: { type: 'error', code: 'bad-request' },
    })
    // A length prefix that claims far more than the bound, with nothing behind it.
    expect(await raw(new Uint8Array([0xff, 0xff, 0xff, 0x7f]), { unframed: true })).toMatchObject({
      ok: true,
      response: { type: 'error', code: 'bad-request' },
    })
    const tooMany = { v: 1, type: 'fetch', topic: TOPIC, ids: Array(1_000).fill('a'.repeat(64)) }
    expect(await raw(new TextEncoder().encode(JSON.stringify(tooMany)))).toMatchObject({
      response: { type: 'error', code: 'bad-request' },
    })
    const page = await queryHistory(client, server.peerId, { topic: TOPIC, range: { by: 'time' } })
    expect(page.records).toHaveLength(live.length)
  })

  it('behavior: fuzzed frames over real streams each get a well-formed answer; none reaches a crash', async () => {
    const frame = fc.oneof(
      fc.uint8Array({ maxLength: 512 }),
      fc.jsonValue().map((j) => new TextEncoder().encode(JSON.stringify(j) ?? 'null')),
      fc
        .record(
          {
            type: fc.constantFrom('query', 'fetch', 'x'),
            topic: fc.oneof(fc.constant(TOPIC), fc.string()),
            range: fc.oneof(fc.record({ by: fc.constantFrom('time', 'lamport') }), fc.jsonValue()),
            cursor: fc.string(),
            ids: fc.array(fc.stringMatching(/^[0-9a-f]{64}$/), { maxLength: 3 }),
            limit: fc.integer(),
          },
          { requiredKeys: ['type'] },
        )
        .map((r) => new TextEncoder().encode(JSON.stringify({ v: 1, ...r }))),
    )
    await fc.assert(
      fc.asyncProperty(frame, async (bytes) => {
        const answer = await raw(bytes)
        expect(answer.ok).toBe(true)
      }),
      { numRuns: NETWORK_RUNS },
    )
    expect(history.stats().broken).toBe(0)
  })
})

describe('store service', () => {
  const stoppers = stopAfterEach()

  it('behavior: what a relay kept survives its restart and is served, verified, to a client after it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'securechat-store-service-'))
    stoppers.push(() => rm(dir, { recursive: true, force: true }))
    const path = join(dir, 'store.sqlite')
    const first = await node(stoppers)
    const service = new StoreService({ libp2p: first, store: await createSqliteStore({ path }) })
    await service.start()
    stoppers.push(() => service.stop())

    const publisher = await node(stoppers)
    const published: SignedMessage[] = []
    const count = 12
    const all = Promise.withResolvers<void>()
    first.services.pubsub.addEventListener('message', (event) => {
      if (event.detail.type !== 'signed') return
      published.push(event.detail)
      service.keep(event.detail, { type: 'message', lamport: published.length })
      if (published.length === count) all.resolve()
    })
    first.services.pubsub.subscribe(TOPIC)
    publisher.services.pubsub.subscribe(TOPIC)
    await publisher.dial(first.getMultiaddrs()[0] ?? '')
    await Promise.all([subscribedTo(first, publisher), subscribedTo(publisher, first)])
    for (let i = 0; i < count; i++) {
      await publisher.services.pubsub.publish(TOPIC, new TextEncoder().encode(JSON.stringify({ v: 1, i })))
    }
    await all.promise
    await service.flush()
    await service.refreshStats()
    expect(service.stats()).toMatchObject({ store: { records: count, stored: count }, droppedWrites: 0 })
    await service.stop()
    await first.stop()

    const second = await node(stoppers)
    const restarted = new StoreService({ libp2p: second, store: await createSqliteStore({ path }) })
    await restarted.start()
    stoppers.push(() => restarted.stop())
    const client = await node(stoppers)
    await client.dial(second.getMultiaddrs()[0] ?? '')
    const page = await queryHistory(client, second.peerId, { topic: TOPIC, range: { by: 'lamport' } })
    expect(page.rejected).toEqual([])
    expect(page.records.map(({ message }) => new TextDecoder().decode(message.data))).toEqual(
      published.map((m) => new TextDecoder().decode(m.data)),
    )
    expect(page.records.map(({ message }) => message.from.toString())).toEqual(published.map((m) => m.from.toString()))
  })
})
