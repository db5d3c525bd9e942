/**
 * Call signalling (issue 17; docs/architecture.md, Calls: signalling): what devices say to set up, key and end a call,
 * carried like typing indicators — a room's `call` record under the sender's sender key (`rooms/room-signals.ts`), a
 * DM's `call` kind inside an ephemeral `signal` record (`dm/dm-signals.ts`). Never history: relays forward them on
 * their signals budget and store none.
 *
 * This module is the boundary: the schema every received signal is checked with (strict objects, bounded strings; a
 * malformed one is dropped), the check of what this device sends, and the receive budget per sender.
 */
import { z } from 'zod'
import { bytesToHex, randomBytes } from '../crypto/primitives.ts'
import { base64urlDecode, base64urlEncode, utf8 } from '../encoding.ts'
import { InvalidInputError } from '../errors.ts'
import { firstIssue, peerIdTextSchema, recordTimeSchema } from '../json-records.ts'
import { SignalGuard } from '../signals.ts'
import type { CallSignal, CallSignalInput } from '../types.ts'
import {
  CALL_KEY_BYTES,
  CALL_MAX_KID,
  CALL_MAX_SDP_BYTES,
  CALL_SIGNAL_RECEIVE_BURST,
  CALL_SIGNALS_RECEIVED_PER_SECOND,
} from './constants.ts'

/** A call's id: 16 random bytes, lowercase hex. */
export const callIdSchema = z.string().regex(/^[0-9a-f]{32}$/, 'a call id is 32 lowercase hex characters')

/**
 * {@link CALL_KEY_BYTES} bytes in the base64url every record uses (`encoding.ts`, unpadded): 22 characters, the last
 * one leaving no bit set past the 16th byte (one canonical text per key).
 */
const CALL_KEY_PATTERN = /^[A-Za-z0-9_-]{21}[AQgw]$/

const callKeySchema = z
  .object({
    kid: z.number().int().min(0).max(CALL_MAX_KID),
    key: z.string().regex(CALL_KEY_PATTERN, `a call key is base64url of ${CALL_KEY_BYTES} bytes`),
  })
  .strict()

const mediaSchema = z.object({ audio: z.boolean(), video: z.boolean(), screen: z.boolean() }).strict()

/** An SDP: text of at most `maxBytes` UTF-8 bytes (checked on characters first: cheap). */
export function sdpSchemaOf(maxBytes: number) {
  return z
    .string()
    .min(1)
    .max(maxBytes)
    .refine((sdp) => utf8.encode(sdp).byteLength <= maxBytes, { message: `an SDP is at most ${maxBytes} bytes` })
}

const sdpSchema = sdpSchemaOf(CALL_MAX_SDP_BYTES)

const common = { v: z.literal(1), kind: z.literal('call'), call: callIdSchema }
const described = { ...common, to: peerIdTextSchema, sdp: sdpSchema }

/** A call signal as decrypted: checked before anything else looks at it; anything else (an extra field too) is refused. */
export const callSignalSchema = z.discriminatedUnion('op', [
  z
    .object({
      ...common,
      op: z.literal('here'),
      media: mediaSchema,
      muted: z.boolean(),
      key: callKeySchema,
      startedAtMs: recordTimeSchema,
      sfu: peerIdTextSchema.optional(),
    })
    .strict(),
  z.object({ ...common, op: z.literal('leave') }).strict(),
  z.object({ ...described, op: z.literal('offer') }).strict(),
  z.object({ ...described, op: z.literal('answer') }).strict(),
])

// The schema and the hand-written type (`types.ts`, values-free) must say the same: each is assignable to the other.
type Parsed = z.infer<typeof callSignalSchema>
const _sameShape: [Parsed, CallSignal] extends [CallSignal, Parsed] ? true : never = true
void _sameShape

export type { CallSignal, CallSignalEvent, CallSignalInput } from '../types.ts'

/** What a received signal's content is: a call signal, or why not (for a debug line). */
export function parseCallSignal(value: unknown): { ok: true; signal: CallSignal } | { ok: false; reason: string } {
  const parsed = callSignalSchema.safeParse(value)
  return parsed.success
    ? { ok: true, signal: parsed.data as CallSignal }
    : { ok: false, reason: firstIssue(parsed.error, 'call signal') }
}

/** The full signal this device sends for `input`, checked as receivers check it; a clear error when it would not pass. */
export function callSignalOf(input: CallSignalInput): CallSignal {
  const parsed = callSignalSchema.safeParse({ ...input, v: 1, kind: 'call' })
  if (!parsed.success) {
    throw new InvalidInputError(`not a call signal (${firstIssue(parsed.error, 'signal')})`, {
      hint: 'see CallSignalInput: a call id of 32 hex characters, and per op its fields',
    })
  }
  return parsed.data as CallSignal
}

/**
 * Whether a signal this device received is for it: not one of its own (gossip or a wallet's own copy coming back),
 * and, when it names a device (`to`), naming this one. Checked before any event.
 */
export function isCallSignalFor(signal: CallSignal, from: string, selfPeerId: string): boolean {
  if (from === selfPeerId) return false
  return !('to' in signal) || signal.to === selfPeerId
}

/**
 * The receive budget of call signals: {@link CALL_SIGNALS_RECEIVED_PER_SECOND} per sender (burst
 * {@link CALL_SIGNAL_RECEIVE_BURST}), a bucket per sender apart from typing's and read receipts', so that neither
 * starves the other. A record past it is dropped before it is decrypted.
 */
export function createCallSignalGuard(init: { now?: () => number } = {}): SignalGuard {
  return new SignalGuard({
    rate: { perSecond: CALL_SIGNALS_RECEIVED_PER_SECOND, burst: CALL_SIGNAL_RECEIVE_BURST },
    ...(init.now === undefined ? {} : { now: init.now }),
  })
}

/** A new call's id: 16 random bytes, hex. */
export function newCallId(): string {
  return bytesToHex(randomBytes(16))
}

/** A call key as a `here` signal carries it (base64url, as every record's bytes). */
export function encodeCallKey(key: Uint8Array): string {
  if (key.byteLength !== CALL_KEY_BYTES) {
    throw new InvalidInputError(`a call key is ${CALL_KEY_BYTES} bytes`, { details: { bytes: key.byteLength } })
  }
  return base64urlEncode(key)
}

/** The bytes of a call key a `here` signal carried (already checked by {@link callSignalSchema}). */
export function decodeCallKey(text: string): Uint8Array {
  if (!CALL_KEY_PATTERN.test(text)) throw new InvalidInputError(`a call key is base64url of ${CALL_KEY_BYTES} bytes`)
  return base64urlDecode(text)
}
