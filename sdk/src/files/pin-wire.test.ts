/**
 * The pin protocol's frames (`pin-wire.ts`): what a member and a relay write reads back as written, and whatever
 * else arrives — any bytes, any JSON, a valid frame with its bytes changed — decodes to a reason, never a throw.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { utf8 } from '../encoding.ts'
import { MAX_FILE_PIN_REQUEST_BYTES } from './constants.ts'
import { FILE_PIN_REFUSAL_REASONS } from './errors.ts'
import {
  decodeFilePinFrame,
  decodeFilePinRequest,
  encodeFilePinFrame,
  encodeFilePinRequest,
  type FilePinFrame,
  MAX_FILE_PIN_BYTES,
} from './pin-wire.ts'

/** Cases per property; `SECURECHAT_FUZZ_RUNS=100000` runs more. */
const RUNS = Number(process.env.SECURECHAT_FUZZ_RUNS ?? 0) || 5_000

const CID = 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi'
const TOPIC = `/securechat/1/room/${'ab'.repeat(32)}`

describe('file pin frames', () => {
  it('behavior: a request and every answer read back as written', () => {
    const request = { topic: TOPIC, cid: CID, bytes: 33_555_000 }
    expect(decodeFilePinRequest(encodeFilePinRequest(request))).toEqual({ ok: true, value: request })
    const frames: FilePinFrame[] = [
      { type: 'progress', pinned: 1_048_576 },
      { type: 'ok' },
      ...FILE_PIN_REFUSAL_REASONS.map((reason) => ({ type: 'refused' as const, reason, message: 'why', hint: 'do' })),
    ]
    for (const frame of frames)
      expect(decodeFilePinFrame(encodeFilePinFrame(frame))).toEqual({ ok: true, value: frame })
  })

  it('error: a request out of bounds is not encoded, and decodes to a reason', () => {
    for (const bad of [
      { topic: TOPIC, cid: CID, bytes: 0 },
      { topic: TOPIC, cid: CID, bytes: MAX_FILE_PIN_BYTES + 1 },
      { topic: TOPIC, cid: CID, bytes: 1.5 },
      { topic: '', cid: CID, bytes: 1 },
      { topic: 'a b', cid: CID, bytes: 1 },
      { topic: TOPIC, cid: 'QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG', bytes: 1 },
      { topic: TOPIC, cid: CID.toUpperCase(), bytes: 1 },
    ]) {
      expect(() => encodeFilePinRequest(bad)).toThrow(RangeError)
      expect(decodeFilePinRequest(utf8.encode(JSON.stringify({ v: 1, ...bad }))).ok).toBe(false)
    }
    const extra = utf8.encode(JSON.stringify({ v: 1, topic: TOPIC, cid: CID, bytes: 1, more: true }))
    expect(decodeFilePinRequest(extra).ok).toBe(false)
    const oversized = new Uint8Array(MAX_FILE_PIN_REQUEST_BYTES + 1).fill(0x20)
    expect(decodeFilePinRequest(oversized)).toMatchObject({ ok: false, reason: expect.stringMatching(/bytes/) })
  })

  it('property: any bytes or JSON decode to a frame or a reason, never a throw', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 2048 }),
          fc.json().map((text) => utf8.encode(text)),
        ),
        (bytes) => {
          const request = decodeFilePinRequest(bytes)
          const frame = decodeFilePinFrame(bytes)
          expect(typeof request.ok).toBe('boolean')
          expect(typeof frame.ok).toBe('boolean')
        },
      ),
      { numRuns: RUNS },
    )
  })

  it('property: a valid request with bytes changed decodes to a valid request or a reason', () => {
    const frame = encodeFilePinRequest({ topic: TOPIC, cid: CID, bytes: 123_456 })
    fc.assert(
      fc.property(
        fc.array(fc.record({ at: fc.nat({ max: frame.length - 1 }), byte: fc.integer({ min: 0, max: 255 }) }), {
          minLength: 1,
          maxLength: 4,
        }),
        (edits) => {
          const copy = frame.slice()
          for (const { at, byte } of edits) copy[at] = byte
          const decoded = decodeFilePinRequest(copy)
          if (decoded.ok) expect(decodeFilePinRequest(encodeFilePinRequest(decoded.value))).toEqual(decoded)
        },
      ),
      { numRuns: RUNS },
    )
  })
})
