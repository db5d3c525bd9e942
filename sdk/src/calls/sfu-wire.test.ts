import { describe, expect, it } from 'vitest'
import { utf8 } from '../encoding.ts'
import {
  decodeSfuEvent,
  decodeSfuRequest,
  encodeSfuEvent,
  encodeSfuRequest,
  MAX_SFU_FEEDS,
  MAX_SFU_FRAME_BYTES,
  MAX_SFU_MESSAGE_CHARS,
  MAX_SFU_SDP_BYTES,
  type SfuEvent,
  type SfuRequest,
} from './sfu-wire.ts'

const CALL = 'a'.repeat(32)
const PEER = '12D3KooWQjHc9V2qJcS7gP1vJq4b8b8w5xP3sQxK6bV7mT2h9dYz'
const json = (value: unknown) => utf8.encode(JSON.stringify(value))

describe('the SFU protocol’s frames', () => {
  it('behavior: every request and event comes back as it went', () => {
    const requests: SfuRequest[] = [
      { op: 'join', topic: 'securechat/room/abc', call: CALL },
      { op: 'publish', sdp: 'v=0\r\n' },
      { op: 'subscribe', feeds: [1, 2, 3] },
      { op: 'subscribe', feeds: [] },
      { op: 'answer', sdp: 'v=0\r\n' },
    ]
    for (const request of requests)
      expect(decodeSfuRequest(encodeSfuRequest(request))).toEqual({ ok: true, value: request })
    const events: SfuEvent[] = [
      { op: 'feeds', feeds: [{ feed: 1, peer: PEER }] },
      { op: 'published', sdp: 'v=0\r\n' },
      { op: 'offer', sdp: 'v=0\r\n', streams: [{ mid: '0', feed: 1 }] },
      { op: 'refused', reason: 'not-a-member', message: 'no', hint: 'join the room first' },
    ]
    for (const event of events) expect(decodeSfuEvent(encodeSfuEvent(event))).toEqual({ ok: true, value: event })
  })

  it('behavior: a join carries the wire version; one without it, or with another, is refused', () => {
    expect(JSON.parse(utf8.decode(encodeSfuRequest({ op: 'join', topic: 't', call: CALL })))).toMatchObject({ v: 1 })
    expect(decodeSfuRequest(json({ op: 'join', topic: 't', call: CALL })).ok).toBe(false)
    expect(decodeSfuRequest(json({ v: 2, op: 'join', topic: 't', call: CALL })).ok).toBe(false)
  })

  it('edge: what a malicious peer or relay can send is refused with a reason, never thrown', () => {
    const bad = [
      utf8.encode('not json'),
      new Uint8Array([0xff, 0xfe]),
      json(null),
      json({ op: 'hangup' }),
      json({ op: 'publish', sdp: '' }),
      json({ op: 'publish', sdp: 'x'.repeat(MAX_SFU_SDP_BYTES + 1) }),
      json({ op: 'publish', sdp: 'é'.repeat(MAX_SFU_SDP_BYTES / 2 + 1) }),
      json({ op: 'publish', sdp: 'v=0', extra: true }),
      json({ op: 'subscribe', feeds: [0] }),
      json({ op: 'subscribe', feeds: [1.5] }),
      json({ op: 'subscribe', feeds: [2 ** 31] }),
      json({ op: 'subscribe', feeds: Array.from({ length: MAX_SFU_FEEDS + 1 }, (_, i) => i + 1) }),
      json({ v: 1, op: 'join', topic: 'with space', call: CALL }),
      json({ v: 1, op: 'join', topic: 't', call: 'A'.repeat(32) }),
      new Uint8Array(MAX_SFU_FRAME_BYTES + 1),
    ]
    for (const frame of bad) {
      const decoded = decodeSfuRequest(frame)
      expect(decoded.ok).toBe(false)
      if (!decoded.ok) expect(decoded.reason.length).toBeGreaterThan(0)
    }
    const badEvents = [
      json({ op: 'feeds', feeds: [{ feed: 1, peer: '' }] }),
      json({ op: 'offer', sdp: 'v=0', streams: [{ mid: 'has space', feed: 1 }] }),
      json({ op: 'refused', reason: 'because', message: '', hint: '' }),
      json({ op: 'published' }),
    ]
    for (const frame of badEvents) expect(decodeSfuEvent(frame).ok).toBe(false)
  })

  it('edge: a request out of bounds is a RangeError before it is sent; a refusal’s long text is cut', () => {
    expect(() => encodeSfuRequest({ op: 'subscribe', feeds: [0] })).toThrow(RangeError)
    const long = 'x'.repeat(MAX_SFU_MESSAGE_CHARS * 2)
    const decoded = decodeSfuEvent(encodeSfuEvent({ op: 'refused', reason: 'full', message: long, hint: long }))
    expect(decoded.ok && decoded.value.op === 'refused' && decoded.value.message.length).toBe(MAX_SFU_MESSAGE_CHARS)
  })
})
