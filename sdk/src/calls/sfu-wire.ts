/**
 * The SFU protocol (`/securechat/calls/sfu/1.0.0`; docs/architecture.md, Calls: larger calls): how a device takes part
 * in a room call through its relay's forwarding unit instead of the mesh. One stream is one device in one call: it
 * opens with `join`, and closing it leaves. Frames are length-prefixed JSON, checked here on both ends; decoders never
 * throw.
 *
 *   device → relay   { v: 1, op: 'join', topic, call }      first and once: the room's topic and the call's id
 *                    { op: 'publish', sdp }                 an offer of this device's media (send only)
 *                    { op: 'subscribe', feeds: [feed…] }    every feed this device wants, all at once (the relay diffs)
 *                    { op: 'answer', sdp }                  its answer to the relay's last `offer`
 *   relay → device   { op: 'feeds', feeds: [{ feed, peer }] }   who publishes in the call now, whenever it changes
 *                    { op: 'published', sdp }               the SFU's answer to `publish`
 *                    { op: 'offer', sdp, streams: [{ mid, feed }] }  the SFU's offer of the subscribed feeds
 *                    { op: 'refused', reason, message, hint }   last: why the relay will not (or no longer) serve
 *
 * A feed is a small number the relay gives each publishing device of a call; `peer` is that device's PeerId as the
 * relay authenticated its connection (the relay, not the device, says who a feed is). Media stays SFrame-sealed end to
 * end: the SFU forwards frames it cannot open, and a relay that lied about `peer` gets frames nobody can open.
 */
import { z } from 'zod'
import { utf8 } from '../encoding.ts'
import { firstIssue, peerIdTextSchema } from '../json-records.ts'
import { callIdSchema, sdpSchemaOf } from './signals.ts'

/** The protocol a relay with a forwarding unit serves (identify lists it: how a device learns its relay has one). */
export const SFU_PROTOCOL = '/securechat/calls/sfu/1.0.0'

/** Largest frame either way: an SDP of a call at the relay's publisher cap fits well within it. */
export const MAX_SFU_FRAME_BYTES = 128 * 1024

/** An SDP's largest size in a frame. */
export const MAX_SFU_SDP_BYTES = 120 * 1024

/** Most feeds one call holds at once (the relay's `--sfu-max-publishers` may only lower it). */
export const MAX_SFU_FEEDS = 100

/** A feed's number: what the relay gave a publishing device in one call. */
export const MAX_SFU_FEED = 2 ** 31 - 1

/** A refusal's message and hint, at most. */
export const MAX_SFU_MESSAGE_CHARS = 300

export const SFU_REFUSAL_REASONS = [
  /** A frame that is not the protocol's. */
  'malformed',
  /** The device is not a member of the room on this relay (its presence has not reached it, or the gate refused). */
  'not-a-member',
  /** The call is at the relay's publisher cap, or the relay at its number of calls or participants. */
  'full',
  /** The forwarding unit is down or failed this request. */
  'unavailable',
] as const

export type SfuRefusalReason = (typeof SFU_REFUSAL_REASONS)[number]

export interface SfuFeed {
  feed: number
  peer: string
}

export type SfuRequest =
  | { op: 'join'; topic: string; call: string }
  | { op: 'publish'; sdp: string }
  | { op: 'subscribe'; feeds: number[] }
  | { op: 'answer'; sdp: string }

export type SfuEvent =
  | { op: 'feeds'; feeds: SfuFeed[] }
  | { op: 'published'; sdp: string }
  | { op: 'offer'; sdp: string; streams: { mid: string; feed: number }[] }
  | { op: 'refused'; reason: SfuRefusalReason; message: string; hint: string }

const sdp = sdpSchemaOf(MAX_SFU_SDP_BYTES)
const feed = z.number().int().min(1).max(MAX_SFU_FEED)
// Room topics are printable ASCII; the relay decides whether it serves the room.
const topic = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[\x21-\x7e]+$/)

const requestSchema = z.discriminatedUnion('op', [
  z.object({ v: z.literal(1), op: z.literal('join'), topic, call: callIdSchema }).strict(),
  z.object({ op: z.literal('publish'), sdp }).strict(),
  z.object({ op: z.literal('subscribe'), feeds: z.array(feed).max(MAX_SFU_FEEDS) }).strict(),
  z.object({ op: z.literal('answer'), sdp }).strict(),
])

const message = z.string().max(MAX_SFU_MESSAGE_CHARS)
const eventSchema = z.discriminatedUnion('op', [
  z
    .object({
      op: z.literal('feeds'),
      feeds: z.array(z.object({ feed, peer: peerIdTextSchema }).strict()).max(MAX_SFU_FEEDS),
    })
    .strict(),
  z.object({ op: z.literal('published'), sdp }).strict(),
  z
    .object({
      op: z.literal('offer'),
      sdp,
      streams: z
        .array(
          z
            .object({
              mid: z
                .string()
                .min(1)
                .max(32)
                .regex(/^[\x21-\x7e]+$/),
              feed,
            })
            .strict(),
        )
        .max(MAX_SFU_FEEDS * 2),
    })
    .strict(),
  z.object({ op: z.literal('refused'), reason: z.enum(SFU_REFUSAL_REASONS), message, hint: message }).strict(),
])

export type SfuDecoded<T> = { ok: true; value: T } | { ok: false; reason: string }

/** A device's frame, checked (the relay refuses the stream as `malformed` otherwise). */
export function decodeSfuRequest(bytes: Uint8Array): SfuDecoded<SfuRequest> {
  const json = parseJson(bytes)
  if (!json.ok) return json
  const parsed = requestSchema.safeParse(json.value)
  if (!parsed.success) return { ok: false, reason: firstIssue(parsed.error, 'request') }
  const value = parsed.data
  return { ok: true, value: value.op === 'join' ? { op: 'join', topic: value.topic, call: value.call } : value }
}

/** A device's frame; a `RangeError` for one the relay would refuse. */
export function encodeSfuRequest(request: SfuRequest): Uint8Array {
  const bytes = utf8.encode(JSON.stringify(request.op === 'join' ? { v: 1, ...request } : request))
  const check = decodeSfuRequest(bytes)
  if (!check.ok) throw new RangeError(`SFU request out of bounds: ${check.reason}`)
  return bytes
}

/** A relay's frame, checked (the device leaves the SFU call as failed otherwise). */
export function decodeSfuEvent(bytes: Uint8Array): SfuDecoded<SfuEvent> {
  const json = parseJson(bytes)
  if (!json.ok) return json
  const parsed = eventSchema.safeParse(json.value)
  if (!parsed.success) return { ok: false, reason: firstIssue(parsed.error, 'event') }
  return { ok: true, value: parsed.data as SfuEvent }
}

/** A relay's frame; a refusal's message and hint are cut to their bound. */
export function encodeSfuEvent(event: SfuEvent): Uint8Array {
  const value =
    event.op === 'refused'
      ? {
          ...event,
          message: event.message.slice(0, MAX_SFU_MESSAGE_CHARS),
          hint: event.hint.slice(0, MAX_SFU_MESSAGE_CHARS),
        }
      : event
  return utf8.encode(JSON.stringify(value))
}

function parseJson(bytes: Uint8Array): SfuDecoded<unknown> {
  if (bytes.byteLength > MAX_SFU_FRAME_BYTES) {
    return { ok: false, reason: `frame of ${bytes.byteLength} bytes (max ${MAX_SFU_FRAME_BYTES})` }
  }
  try {
    return { ok: true, value: JSON.parse(utf8.decode(bytes)) }
  } catch {
    return { ok: false, reason: 'not UTF-8 JSON' }
  }
}
