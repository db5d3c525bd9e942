import { generateKeyPair } from '@libp2p/crypto/keys'
import { RPC } from '@libp2p/gossipsub/message'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { MAX_LAMPORT_CLOCK, MAX_RECORD_TIME_MS } from '../constants.ts'
import { sha256Hex } from '../crypto/primitives.ts'
import { utf8 } from '../encoding.ts'
import {
  MAX_HISTORY_FETCH_IDS,
  MAX_HISTORY_PAGE_RECORDS,
  MAX_HISTORY_REQUEST_BYTES,
  MAX_HISTORY_RESPONSE_BYTES,
} from './constants.ts'
import { verifyHistoryRecord } from './verify.ts'
import {
  decodeHistoryRequest,
  decodeHistoryResponse,
  encodeHistoryError,
  encodeHistoryRequest,
  encodeRecordsResponse,
  type HistoryRecord,
  type HistoryRequest,
} from './wire.ts'

/** Cases per property; `SECURECHAT_FUZZ_RUNS=100000 npm run fuzz` runs more. */
const RUNS = Number(process.env.SECURECHAT_FUZZ_RUNS ?? 0) || 2_000

const hex64 = fc.stringMatching(/^[0-9a-f]{64}$/)
const topic = fc.string({ minLength: 1, maxLength: 256 })
/** Times and clocks within the bounds every record has (sdk constants). */
const time = fc.nat({ max: MAX_RECORD_TIME_MS })
const clock = fc.nat({ max: MAX_LAMPORT_CLOCK })
const type = fc.stringMatching(/^[a-z-]{1,16}$/)
const base58 = fc.stringMatching(/^[1-9A-HJ-NP-Za-km-z]{1,128}$/)
const cursor = fc.stringMatching(/^[A-Za-z0-9:_-]{1,256}$/)

const request: fc.Arbitrary<HistoryRequest> = fc.oneof(
  fc.record(
    {
      type: fc.constant('query' as const),
      topic,
      range: fc.oneof(
        fc.record({ by: fc.constant('time' as const), fromMs: time, toMs: time }, { requiredKeys: ['by'] }),
        fc.record({ by: fc.constant('lamport' as const), from: clock, to: clock }, { requiredKeys: ['by'] }),
      ),
      types: fc.array(type, { minLength: 1, maxLength: 8 }),
      cursor,
      limit: fc.integer({ min: 1, max: MAX_HISTORY_PAGE_RECORDS }),
    },
    { requiredKeys: ['type', 'topic', 'range'] },
  ),
  fc.record({
    type: fc.constant('fetch' as const),
    topic,
    ids: fc.array(hex64, { minLength: 1, maxLength: MAX_HISTORY_FETCH_IDS }),
  }),
)

const record: fc.Arbitrary<HistoryRecord> = fc
  .record(
    {
      topic,
      from: base58,
      seqno: fc.uint8Array({ minLength: 8, maxLength: 8 }),
      signature: fc.uint8Array({ minLength: 0, maxLength: 128 }),
      data: fc.uint8Array({ maxLength: 2_048 }),
      type,
      lamport: clock,
      receivedAtMs: time,
    },
    { requiredKeys: ['topic', 'from', 'seqno', 'signature', 'data', 'type', 'receivedAtMs'] },
  )
  .map((r) => ({ ...r, id: sha256Hex(r.data) }))

/** Arbitrary JSON, and JSON shaped almost like a frame, so the schema and not only the parser is fuzzed. */
const nearFrame = fc.oneof(
  fc.jsonValue(),
  fc.record({
    v: fc.oneof(fc.constant(1), fc.jsonValue()),
    type: fc.constantFrom('query', 'fetch', 'records', 'error'),
  }),
  fc.dictionary(
    fc.constantFrom('v', 'type', 'topic', 'range', 'ids', 'types', 'cursor', 'limit', 'records', 'code', 'message'),
    fc.jsonValue(),
  ),
  request.map((r) => ({ v: 1, ...r })).chain((r) => mutate(r)),
)

/** One field of a valid frame replaced with anything. */
function mutate(frame: Record<string, unknown>): fc.Arbitrary<unknown> {
  return fc
    .record({ key: fc.constantFrom(...Object.keys(frame), 'extra'), value: fc.jsonValue() })
    .map(({ key, value }) => ({
      ...frame,
      [key]: value,
    }))
}

describe('history wire (fuzz)', () => {
  it('behavior: any bytes decode as a request or a reason, never a throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4_096 }), (bytes) => {
        const decoded = decodeHistoryRequest(bytes)
        expect(typeof decoded.ok).toBe('boolean')
      }),
      { numRuns: RUNS },
    )
  })

  it('behavior: JSON near a request frame decodes or is refused with a reason, and what decodes re-encodes in bounds', () => {
    fc.assert(
      fc.property(nearFrame, (json) => {
        const decoded = decodeHistoryRequest(utf8.encode(JSON.stringify(json) ?? 'null'))
        if (!decoded.ok) {
          expect(decoded.reason.length).toBeGreaterThan(0)
          return
        }
        expect(encodeHistoryRequest(decoded.request).byteLength).toBeLessThanOrEqual(MAX_HISTORY_REQUEST_BYTES)
      }),
      { numRuns: RUNS },
    )
  })

  it('behavior: every valid request round-trips through its frame', () => {
    fc.assert(
      fc.property(request, (req) => {
        const decoded = decodeHistoryRequest(encodeHistoryRequest(req))
        expect(decoded).toEqual({ ok: true, request: req })
      }),
      { numRuns: RUNS },
    )
  })

  it('error: an oversized request frame is refused before parsing', () => {
    const decoded = decodeHistoryRequest(new Uint8Array(MAX_HISTORY_REQUEST_BYTES + 1).fill(0x20))
    expect(decoded).toMatchObject({ ok: false })
    expect(() => encodeHistoryRequest({ type: 'fetch', topic: 't', ids: [] })).toThrow(RangeError)
  })

  it('behavior: any bytes or near-frame JSON decode as a response or a reason, never a throw', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 4_096 }),
          nearFrame.map((j) => utf8.encode(JSON.stringify(j) ?? 'null')),
        ),
        (bytes) => {
          const decoded = decodeHistoryResponse(bytes)
          if (decoded.ok && decoded.response.type === 'records') {
            expect(decoded.response.records.length).toBeLessThanOrEqual(MAX_HISTORY_PAGE_RECORDS)
          }
        },
      ),
      { numRuns: RUNS },
    )
  })

  it('behavior: records round-trip through a response, in order, within the frame budget, with a cursor when some were left out', () => {
    fc.assert(
      fc.property(
        fc.array(record, { maxLength: 20 }),
        fc.boolean(),
        fc.integer({ min: 1_024, max: 64 * 1_024 }),
        (records, more, maxBytes) => {
          const { bytes, sent } = encodeRecordsResponse({
            records,
            more,
            cursorAfter: (r) => `t:${r.receivedAtMs}:${r.id}`,
            maxBytes,
          })
          expect(sent === 0 || bytes.byteLength <= maxBytes || sent === 1).toBe(true)
          const decoded = decodeHistoryResponse(bytes)
          expect(decoded).toMatchObject({ ok: true, malformed: 0 })
          if (!decoded.ok || decoded.response.type !== 'records') throw new Error('not records')
          expect(decoded.response.records).toEqual(records.slice(0, sent))
          const last = records[sent - 1]
          const expected = (more || sent < records.length) && last !== undefined
          expect(decoded.response.cursor).toBe(expected ? `t:${last?.receivedAtMs}:${last?.id}` : undefined)
        },
      ),
      { numRuns: RUNS / 4 },
    )
  })

  it('behavior: a malformed record costs only itself; an error frame decodes with its code', () => {
    fc.assert(
      fc.property(fc.array(record, { minLength: 1, maxLength: 5 }), fc.jsonValue(), (records, junk) => {
        const good = JSON.parse(utf8.decode(encodeRecordsResponse({ records, more: false }).bytes))
        good.records.splice(1, 0, junk, { ...good.records[0], seqno: 'zz' })
        const decoded = decodeHistoryResponse(utf8.encode(JSON.stringify(good)))
        expect(decoded).toMatchObject({ ok: true, malformed: 2, response: { records } })
      }),
      { numRuns: RUNS / 4 },
    )
    expect(decodeHistoryResponse(encodeHistoryError('busy', 'x'.repeat(10_000)))).toMatchObject({
      ok: true,
      response: { type: 'error', code: 'busy' },
    })
    expect(decodeHistoryResponse(new Uint8Array(MAX_HISTORY_RESPONSE_BYTES + 1))).toMatchObject({ ok: false })
  })
})

describe('history records (verification)', () => {
  let key: PrivateKey
  let from: string
  beforeAll(async () => {
    key = await generateKeyPair('Ed25519')
    from = peerIdFromPrivateKey(key).toString()
  })

  /** Signs like gossipsub under StrictSign. */
  async function signed(data: Uint8Array, onTopic = '/securechat/1/room/x'): Promise<HistoryRecord> {
    const seqno = new Uint8Array(8)
    new DataView(seqno.buffer).setBigUint64(0, 42n, false)
    const body = RPC.Message.encode({
      from: peerIdFromPrivateKey(key).toMultihash().bytes,
      data,
      seqno,
      topic: onTopic,
    })
    const signature = await key.sign(new Uint8Array([...utf8.encode('libp2p-pubsub:'), ...body]))
    return { id: sha256Hex(data), topic: onTopic, from, seqno, signature, data, type: 'message', receivedAtMs: 1 }
  }

  it('behavior: a record as signed verifies, and comes back as the SignedMessage a topic validator sees', async () => {
    const rec = await signed(utf8.encode('{"v":1}'))
    const verified = await verifyHistoryRecord(rec, { topic: rec.topic })
    expect(verified.ok).toBe(true)
    if (!verified.ok) return
    expect(verified.message).toMatchObject({ type: 'signed', topic: rec.topic, data: rec.data, sequenceNumber: 42n })
    expect(verified.message.from.toString()).toBe(from)
  })

  it('behavior: any change to data, signature, seqno, topic, sender or id is caught', async () => {
    const rec = await signed(utf8.encode('{"v":1,"type":"message","body":"hello"}'))
    const other = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('data', 'signature', 'seqno', 'topic', 'from', 'id'),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        async (field, at, xor) => {
          const flip = (bytes: Uint8Array) => {
            const copy = new Uint8Array(bytes)
            copy[at % copy.length] = (copy[at % copy.length] as number) ^ xor
            return copy
          }
          let altered: HistoryRecord
          if (field === 'data') altered = { ...rec, data: flip(rec.data), id: sha256Hex(flip(rec.data)) }
          else if (field === 'signature') altered = { ...rec, signature: flip(rec.signature) }
          else if (field === 'seqno') altered = { ...rec, seqno: flip(rec.seqno) }
          else if (field === 'topic') altered = { ...rec, topic: `${rec.topic}${at}` }
          else if (field === 'from') altered = { ...rec, from: other }
          else altered = { ...rec, id: sha256Hex(flip(rec.data)) }
          const verified = await verifyHistoryRecord(altered, { topic: altered.topic })
          expect(verified.ok).toBe(false)
        },
      ),
      { numRuns: Math.max(200, RUNS / 10) },
    )
    expect(await verifyHistoryRecord(rec, { topic: '/securechat/1/room/y' })).toMatchObject({
      ok: false,
      reason: 'wrong-topic',
    })
    expect(await verifyHistoryRecord({ ...rec, from: 'QmNotAnEd25519Key' }, { topic: rec.topic })).toMatchObject({
      ok: false,
      reason: 'bad-sender',
    })
  })
})
