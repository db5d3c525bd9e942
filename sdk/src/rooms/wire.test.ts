import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  CAUSAL_HISTORY_LENGTH,
  MAX_LAMPORT_CLOCK,
  MAX_MESSAGE_BYTES,
  MAX_PRESENCE_INTERVAL_MS,
  MAX_RECORD_TIME_MS,
  MAX_SENDER_KEY_EPOCH,
  MAX_WRAPPED_KEY_CHARS,
  WIRE_VERSION,
} from '../constants.ts'
import { sha256Hex } from '../crypto/primitives.ts'
import { base64urlEncode, utf8 } from '../encoding.ts'
import { InvalidInputError } from '../errors.ts'
import {
  decodeRecord,
  encodeRecord,
  type MessageRecord,
  messageIdOf,
  type PresenceRecord,
  type RoomRecord,
  withCiphertextHash,
} from './wire.ts'

const hex64 = fc.stringMatching(/^[0-9a-f]{64}$/)

const messageArb: fc.Arbitrary<MessageRecord> = fc.record({
  v: fc.constant(WIRE_VERSION),
  type: fc.constant('message'),
  room: hex64,
  lamport: fc.nat(),
  deps: fc.array(hex64, { maxLength: CAUSAL_HISTORY_LENGTH }),
  sentAtMs: fc.nat(),
  payload: fc.record({
    enc: fc.constant('sender-key'),
    ct: fc.stringMatching(/^[A-Za-z0-9_-]{1,400}$/),
  }),
}) as fc.Arbitrary<MessageRecord>

const presenceArb: fc.Arbitrary<PresenceRecord> = fc
  .record({
    v: fc.constant(WIRE_VERSION),
    type: fc.constant('presence'),
    room: hex64,
    cert: fc.record({
      message: fc.string({ minLength: 1, maxLength: 600 }),
      signature: fc.stringMatching(/^0x[0-9a-f]{130}$/),
    }),
    leaving: fc.option(fc.boolean(), { nil: undefined }),
    atMs: fc.nat(),
  })
  .map((record) => {
    const { leaving, ...rest } = record
    return (leaving === undefined ? rest : { ...rest, leaving }) as PresenceRecord
  })

const recordArb: fc.Arbitrary<RoomRecord> = fc.oneof(messageArb, presenceArb)

function jsonBytes(value: unknown): Uint8Array {
  return utf8.encode(JSON.stringify(value))
}

const sampleMessage: MessageRecord = {
  v: WIRE_VERSION,
  type: 'message',
  room: 'a'.repeat(64),
  lamport: 1,
  deps: [],
  sentAtMs: 1_700_000_000_000,
  payload: { enc: 'sender-key', ct: 'AQAAAAEAAAAAc2VhbGVk' },
}

describe('room wire records', () => {
  it('behavior: every valid record round-trips through encodeRecord and decodeRecord', () => {
    fc.assert(
      fc.property(recordArb, (record) => {
        const decoded = decodeRecord(encodeRecord(record))
        expect(decoded).toEqual({ status: 'ok', record })
      }),
    )
  })

  it('behavior: a message id is the sha256 of the record bytes as published', () => {
    const bytes = encodeRecord(sampleMessage)
    expect(messageIdOf(bytes)).toBe(sha256Hex(bytes))
    expect(messageIdOf(bytes)).toMatch(/^[0-9a-f]{64}$/)
  })

  it('error: random bytes never throw and decode as malformed', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
        expect(decodeRecord(bytes).status).toBe('malformed')
      }),
      { numRuns: 2000 },
    )
  })

  it('error: every truncation of a valid record never throws and decodes as malformed', () => {
    fc.assert(
      fc.property(
        recordArb.chain((record) => {
          const bytes = encodeRecord(record)
          return fc.tuple(fc.constant(bytes), fc.nat({ max: bytes.byteLength - 1 }))
        }),
        ([bytes, length]) => {
          expect(decodeRecord(bytes.subarray(0, length)).status).toBe('malformed')
        },
      ),
      { numRuns: 1000 },
    )
  })

  it('error: a valid record with one byte changed never throws', () => {
    fc.assert(
      fc.property(
        recordArb.chain((record) => {
          const bytes = encodeRecord(record)
          return fc.tuple(fc.constant(bytes), fc.nat({ max: bytes.byteLength - 1 }), fc.integer({ min: 1, max: 255 }))
        }),
        ([bytes, index, xor]) => {
          const damaged = bytes.slice()
          damaged[index]! ^= xor
          expect(['ok', 'unknown', 'malformed']).toContain(decodeRecord(damaged).status)
        },
      ),
      { numRuns: 1000 },
    )
  })

  it('error: arbitrary JSON never throws and is never accepted', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const status = decodeRecord(jsonBytes(value)).status
        expect(['unknown', 'malformed']).toContain(status)
      }),
      { numRuns: 1000 },
    )
  })

  it('error: deeply nested JSON never throws', () => {
    const depth = 10_000
    for (const text of [
      '['.repeat(depth) + ']'.repeat(depth),
      `{"v":1,"type":"message","payload":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`,
    ]) {
      const bytes = utf8.encode(text)
      expect(bytes.byteLength).toBeLessThanOrEqual(MAX_MESSAGE_BYTES)
      expect(decodeRecord(bytes).status).toBe('malformed')
    }
  })

  it('behavior: a record of another version or type is unknown, not malformed', () => {
    expect(decodeRecord(jsonBytes({ ...sampleMessage, v: WIRE_VERSION + 1 }))).toEqual({ status: 'unknown' })
    expect(decodeRecord(jsonBytes({ ...sampleMessage, v: 0 }))).toEqual({ status: 'unknown' })
    expect(decodeRecord(jsonBytes({ ...sampleMessage, type: 'reaction' }))).toEqual({ status: 'unknown' })
    expect(decodeRecord(jsonBytes({ v: WIRE_VERSION + 1, type: 'anything', future: [1, 2, 3] }))).toEqual({
      status: 'unknown',
    })
  })

  it('error: a record without version or type, or not an object, is malformed', () => {
    for (const value of [null, 1, 'text', [sampleMessage], {}, { v: '1', type: 'message' }, { v: 1 }, { type: 'x' }]) {
      expect(decodeRecord(jsonBytes(value)).status, JSON.stringify(value)).toBe('malformed')
    }
  })

  it('error: a record with a wrong, missing or extra field is malformed', () => {
    const broken: unknown[] = [
      { ...sampleMessage, room: 'A'.repeat(64) },
      { ...sampleMessage, room: 'a'.repeat(63) },
      { ...sampleMessage, lamport: -1 },
      { ...sampleMessage, lamport: 1.5 },
      { ...sampleMessage, deps: Array.from({ length: CAUSAL_HISTORY_LENGTH + 1 }, () => 'b'.repeat(64)) },
      { ...sampleMessage, deps: ['not an id'] },
      { ...sampleMessage, extra: true },
      { ...sampleMessage, payload: { enc: 'aes-256-gcm', ct: sampleMessage.payload.ct } },
      { ...sampleMessage, payload: { enc: 'sender-key', ct: 'not base64url!' } },
      { ...sampleMessage, payload: { enc: 'sender-key' } },
      { v: WIRE_VERSION, type: 'presence', room: 'a'.repeat(64), atMs: 1 },
      { v: WIRE_VERSION, type: 'presence', room: 'a'.repeat(64), atMs: 1, cert: { message: '', signature: '0x00' } },
    ]
    for (const value of broken) expect(decodeRecord(jsonBytes(value)).status).toBe('malformed')
  })

  it('behavior: a `call` record has exactly the fields of `typing`; a wrong, missing or extra one is malformed', () => {
    const call = {
      v: WIRE_VERSION,
      type: 'call',
      room: 'a'.repeat(64),
      sentAtMs: 1,
      payload: { enc: 'sender-key', ct: 'abc' },
    }
    expect(decodeRecord(encodeRecord(call as RoomRecord))).toEqual({ status: 'ok', record: call })
    const { sentAtMs: _, ...undated } = call
    for (const value of [
      { ...call, to: 'bob' },
      { ...call, lamport: 0 },
      undated,
      { ...call, payload: { ct: 'abc' } },
    ]) {
      expect(decodeRecord(jsonBytes(value)).status).toBe('malformed')
    }
  })

  it('error: a record larger than MAX_MESSAGE_BYTES is malformed, before parsing', () => {
    const padded = utf8.encode(JSON.stringify(sampleMessage).padEnd(MAX_MESSAGE_BYTES + 1, ' '))
    expect(decodeRecord(padded)).toEqual({ status: 'malformed', reason: 'too large' })
    const atLimit = utf8.encode(JSON.stringify(sampleMessage).padEnd(MAX_MESSAGE_BYTES, ' '))
    expect(decodeRecord(atLimit).status).toBe('ok')
  })

  it('error: encoding a record larger than MAX_MESSAGE_BYTES throws InvalidInputError', () => {
    const huge: MessageRecord = {
      ...sampleMessage,
      payload: { enc: 'sender-key', ct: 'x'.repeat(MAX_MESSAGE_BYTES) },
    }
    expect(() => encodeRecord(huge)).toThrow(InvalidInputError)
  })
})

describe('ciphertext hash', () => {
  it('behavior: withCiphertextHash adds the sha256 of the decoded ciphertext to the same object, as a field copies keep', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 2048 }), (ciphertext) => {
        const value = { id: 'm' }
        const withHash = withCiphertextHash(value, base64urlEncode(ciphertext))
        expect(withHash).toBe(value)
        expect(withHash.ciphertextHash).toBe(`0x${sha256Hex(ciphertext)}`)
        expect({ ...withHash }).toEqual({ id: 'm', ciphertextHash: `0x${sha256Hex(ciphertext)}` })
      }),
    )
  })
})

describe('bounds of the numbers a record carries', () => {
  const status = (record: unknown): string => decodeRecord(jsonBytes(record)).status

  it('behavior: times up to the end of year 9999 are accepted, and each is a valid Date', () => {
    expect(MAX_RECORD_TIME_MS).toBe(Date.UTC(9999, 11, 31, 23, 59, 59, 999))
    expect(new Date(MAX_RECORD_TIME_MS).toISOString()).toBe('9999-12-31T23:59:59.999Z')
    expect(status({ ...sampleMessage, sentAtMs: MAX_RECORD_TIME_MS, lamport: MAX_LAMPORT_CLOCK })).toBe('ok')
  })

  it('error: a time, clock or epoch beyond its bound is malformed (8.64e15 + 1 ms is no Date at all)', () => {
    expect(status({ ...sampleMessage, sentAtMs: 8.64e15 + 1 })).toBe('malformed')
    expect(status({ ...sampleMessage, sentAtMs: MAX_RECORD_TIME_MS + 1 })).toBe('malformed')
    expect(status({ ...sampleMessage, lamport: MAX_LAMPORT_CLOCK + 1 })).toBe('malformed')
    const presence = {
      v: WIRE_VERSION,
      type: 'presence',
      room: 'a'.repeat(64),
      cert: { message: 'm', signature: '0x00' },
    }
    expect(status({ ...presence, atMs: MAX_RECORD_TIME_MS })).toBe('ok')
    expect(status({ ...presence, atMs: MAX_RECORD_TIME_MS + 1 })).toBe('malformed')
    // A presence interval a large room stretched, up to its bound: a member cannot ask to be listed for ever.
    expect(status({ ...presence, atMs: 1, every: MAX_PRESENCE_INTERVAL_MS })).toBe('ok')
    for (const every of [MAX_PRESENCE_INTERVAL_MS + 1, 0, 1.5]) {
      expect(status({ ...presence, atMs: 1, every })).toBe('malformed')
    }
    const keys = { v: WIRE_VERSION, type: 'keys', room: 'a'.repeat(64), to: [{ peer: 'p', sealed: 'AA' }] }
    expect(status({ ...keys, epoch: MAX_SENDER_KEY_EPOCH })).toBe('ok')
    expect(status({ ...keys, epoch: MAX_SENDER_KEY_EPOCH + 1 })).toBe('malformed')
    const wrapped = (chars: number) => ({ ...keys, epoch: 1, to: [{ peer: 'p', wrapped: 'A'.repeat(chars) }] })
    expect(status(wrapped(MAX_WRAPPED_KEY_CHARS))).toBe('ok')
    expect(status(wrapped(MAX_WRAPPED_KEY_CHARS + 1))).toBe('malformed')
    expect(status({ ...keys, epoch: 1, to: [{ peer: 'p', sealed: 'AA', wrapped: 'AA' }] })).toBe('malformed')
  })
})
