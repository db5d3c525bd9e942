import { describe, expect, it } from 'vitest'
import { answerSignal, hereSignal, leaveSignal, offerSignal, signalInput } from '../../../test/helpers/call-signals.ts'
import { InvalidInputError } from '../errors.ts'
import { SignalGuard } from '../signals.ts'
import {
  CALL_KEY_BYTES,
  CALL_MAX_KID,
  CALL_MAX_SDP_BYTES,
  CALL_SIGNAL_RECEIVE_BURST,
  CALL_SIGNALS_RECEIVED_PER_SECOND,
} from './constants.ts'
import {
  callSignalOf,
  callSignalSchema,
  createCallSignalGuard,
  decodeCallKey,
  encodeCallKey,
  isCallSignalFor,
  newCallId,
  parseCallSignal,
} from './signals.ts'

const here = hereSignal()
const KEY = here.key.key
const offer = offerSignal('bob-peer')

const refused = (value: unknown): boolean => !callSignalSchema.safeParse(value).success

describe('callSignalSchema', () => {
  it('behavior: accepts each op with exactly its fields', () => {
    expect(callSignalSchema.parse(here)).toEqual(here)
    expect(callSignalSchema.parse(offer)).toEqual(offer)
    expect(callSignalSchema.parse(answerSignal('bob-peer'))).toEqual(answerSignal('bob-peer'))
    expect(callSignalSchema.parse(leaveSignal())).toEqual(leaveSignal())
  })

  it('behavior: refuses unknown ops, versions and kinds, and a field of another op or none known', () => {
    expect(refused({ ...here, op: 'ring' })).toBe(true)
    expect(refused({ ...here, v: 2 })).toBe(true)
    expect(refused({ ...here, kind: 'typing' })).toBe(true)
    expect(refused({ ...here, extra: 1 })).toBe(true)
    expect(refused({ ...here, sdp: 'v=0' })).toBe(true)
    expect(refused({ ...offer, key: here.key })).toBe(true)
    expect(refused({ ...leaveSignal(), to: 'bob-peer' })).toBe(true)
    expect(refused({ ...here, media: { ...here.media, hologram: true } })).toBe(true)
    expect(refused({ ...here, key: { ...here.key, suite: 4 } })).toBe(true)
    const { muted: _, ...noMuted } = here
    expect(refused(noMuted)).toBe(true)
    const { to: __, ...noTo } = offer
    expect(refused(noTo)).toBe(true)
  })

  it('behavior: a call id is 32 lowercase hex characters', () => {
    expect(refused({ ...here, call: here.call.toUpperCase() })).toBe(true)
    expect(refused({ ...here, call: `${here.call}00` })).toBe(true)
    expect(refused({ ...here, call: here.call.slice(2) })).toBe(true)
    expect(newCallId()).toMatch(/^[0-9a-f]{32}$/)
    expect(newCallId()).not.toBe(newCallId())
  })

  it('behavior: a KID is an integer from 0 to 2^48, a key standard base64 of exactly 16 bytes', () => {
    for (const kid of [0, CALL_MAX_KID]) expect(refused({ ...here, key: { kid, key: KEY } })).toBe(false)
    for (const kid of [-1, 1.5, CALL_MAX_KID + 1, Number.NaN, '3']) {
      expect(refused({ ...here, key: { kid, key: KEY } })).toBe(true)
    }
    const base64url = (bytes: number): string => Buffer.alloc(bytes, 255).toString('base64url')
    expect(refused({ ...here, key: { kid: 1, key: base64url(16) } })).toBe(false)
    for (const key of [
      base64url(15),
      base64url(17),
      base64url(32),
      // The other alphabet, and padding.
      Buffer.alloc(16, 255).toString('base64'),
      `${base64url(16)}==`,
      base64url(16).slice(0, -1),
      '',
      // 22 characters whose last leaves bits set past the 16th byte: not a canonical encoding of 16 bytes.
      `${'A'.repeat(21)}B`,
    ]) {
      expect(refused({ ...here, key: { kid: 1, key } }), key).toBe(true)
    }
  })

  it('behavior: an SDP is 1 to 32 KiB of UTF-8, counted in bytes', () => {
    expect(refused({ ...offer, sdp: 'x'.repeat(CALL_MAX_SDP_BYTES) })).toBe(false)
    expect(refused({ ...offer, sdp: 'x'.repeat(CALL_MAX_SDP_BYTES + 1) })).toBe(true)
    // Half as many characters, each of two bytes, fit; one more byte does not.
    expect(refused({ ...offer, sdp: `${'é'.repeat(CALL_MAX_SDP_BYTES / 2)}` })).toBe(false)
    expect(refused({ ...offer, sdp: `${'é'.repeat(CALL_MAX_SDP_BYTES / 2)}x` })).toBe(true)
    expect(refused({ ...offer, sdp: '' })).toBe(true)
    expect(refused({ ...offer, to: '' })).toBe(true)
    expect(refused({ ...offer, to: 'p'.repeat(129) })).toBe(true)
  })

  it('behavior: parseCallSignal says why in a few words; callSignalOf refuses with a hint', () => {
    expect(parseCallSignal({ ...here, op: 'ring' })).toMatchObject({ ok: false, reason: expect.stringMatching(/op/) })
    expect(parseCallSignal(here)).toEqual({ ok: true, signal: here })
    expect(callSignalOf(signalInput(here))).toEqual(here)
    expect(() => callSignalOf({ ...offer, sdp: 'x'.repeat(CALL_MAX_SDP_BYTES + 1) } as never)).toThrow(
      InvalidInputError,
    )
  })

  it('behavior: a key goes to base64url and back, and only a 16-byte one', () => {
    const key = crypto.getRandomValues(new Uint8Array(CALL_KEY_BYTES))
    const text = encodeCallKey(key)
    expect(text).toBe(Buffer.from(key).toString('base64url'))
    expect(decodeCallKey(text)).toEqual(key)
    expect(() => encodeCallKey(new Uint8Array(32))).toThrow(InvalidInputError)
    expect(() => decodeCallKey(Buffer.alloc(32).toString('base64url'))).toThrow(InvalidInputError)
  })

  it('behavior: a signal is for this device unless it came from it or names another device', () => {
    const parsed = callSignalSchema.parse(offer)
    const broadcast = callSignalSchema.parse(here)
    expect(isCallSignalFor(parsed, 'alice-peer', 'bob-peer')).toBe(true)
    expect(isCallSignalFor(parsed, 'alice-peer', 'carol-peer')).toBe(false)
    expect(isCallSignalFor(broadcast, 'alice-peer', 'carol-peer')).toBe(true)
    expect(isCallSignalFor(broadcast, 'carol-peer', 'carol-peer')).toBe(false)
  })
})

describe('the call signals receive budget', () => {
  it('behavior: holds a join into a six-person mesh at once, drops a flood, refills at its rate, per sender', () => {
    let nowMs = 0
    const guard = createCallSignalGuard({ now: () => nowMs })
    // A here and five offers from one device joining, twice over: the burst.
    for (let i = 0; i < CALL_SIGNAL_RECEIVE_BURST; i++) expect(guard.admit('alice')).toBe(true)
    expect(CALL_SIGNAL_RECEIVE_BURST).toBeGreaterThanOrEqual(6)
    expect(guard.admit('alice')).toBe(false)
    expect(guard.dropped).toBe(1)
    // Another sender has a bucket of its own.
    expect(guard.admit('bob')).toBe(true)
    nowMs += 1_000
    for (let i = 0; i < CALL_SIGNALS_RECEIVED_PER_SECOND; i++) expect(guard.admit('alice')).toBe(true)
    expect(guard.admit('alice')).toBe(false)
  })

  it('behavior: is apart from typing’s budget: exhausting one leaves the other', () => {
    const typing = new SignalGuard({ now: () => 0 })
    const calls = createCallSignalGuard({ now: () => 0 })
    while (typing.admit('alice'));
    expect(calls.admit('alice')).toBe(true)
  })
})
