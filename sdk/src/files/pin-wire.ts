/**
 * Frames of the pin protocol (`/securechat/files/pin/1.0.0`), each length-prefixed JSON:
 *
 *   request   { v: 1, topic, cid, bytes }          the member, once
 *   progress  { pinned: bytes }                    the relay, while blocks arrive (any number)
 *   answer    { ok: true }                         the relay, last: the file is kept
 *             { ok: false, reason, message, hint } the relay, last: it is not (why, and what to do)
 *
 * `topic` is the room's gossip topic or a DM pair's; `cid` the file's UnixFS root (of its ciphertext); `bytes` the
 * ciphertext's size as the member claims it, which the relay checks against what it fetches. Decoders never throw.
 */
import { z } from 'zod'
import { ciphertextSize } from '../crypto/file-stream.ts'
import { utf8 } from '../encoding.ts'
import { firstIssue } from '../json-records.ts'
import {
  FILE_PIN_WIRE_VERSION,
  MAX_FILE_BYTES,
  MAX_FILE_PIN_ANSWER_BYTES,
  MAX_FILE_PIN_MESSAGE_CHARS,
  MAX_FILE_PIN_REQUEST_BYTES,
  MAX_FILE_PIN_TOPIC_CHARS,
} from './constants.ts'
import { FILE_PIN_REFUSAL_REASONS, type FilePinRefusalReason } from './errors.ts'
import { fileCidSchema } from './manifest.ts'

export interface FilePinRequest {
  topic: string
  cid: string
  /** The ciphertext's size, as claimed. */
  bytes: number
}

export type FilePinFrame =
  | { type: 'progress'; pinned: number }
  | { type: 'ok' }
  | { type: 'refused'; reason: FilePinRefusalReason; message: string; hint: string }

/** The most ciphertext a file can have: that of the largest file a manifest may name. */
export const MAX_FILE_PIN_BYTES = ciphertextSize(MAX_FILE_BYTES)

const requestSchema = z
  .object({
    v: z.literal(FILE_PIN_WIRE_VERSION),
    // Printable ASCII: every topic we make is; the relay decides what kind it is.
    topic: z
      .string()
      .min(1)
      .max(MAX_FILE_PIN_TOPIC_CHARS)
      .regex(/^[\x21-\x7e]+$/),
    cid: fileCidSchema,
    bytes: z.number().int().positive().max(MAX_FILE_PIN_BYTES),
  })
  .strict()

const message = z.string().max(MAX_FILE_PIN_MESSAGE_CHARS)
const frameSchema = z.union([
  z.object({ pinned: z.number().int().nonnegative().max(MAX_FILE_PIN_BYTES) }).strict(),
  z.object({ ok: z.literal(true) }).strict(),
  z
    .object({
      ok: z.literal(false),
      reason: z.enum(FILE_PIN_REFUSAL_REASONS),
      message,
      hint: message,
    })
    .strict(),
])

export type Decoded<T> = { ok: true; value: T } | { ok: false; reason: string }

/** A request frame, checked; never throws (the reason goes back to the asker as `malformed`). */
export function decodeFilePinRequest(bytes: Uint8Array): Decoded<FilePinRequest> {
  const json = parseJson(bytes, MAX_FILE_PIN_REQUEST_BYTES)
  if (!json.ok) return json
  const parsed = requestSchema.safeParse(json.value)
  if (!parsed.success) return { ok: false, reason: firstIssue(parsed.error, 'request') }
  const { topic, cid, bytes: size } = parsed.data
  return { ok: true, value: { topic, cid, bytes: size } }
}

/** A request frame; a `RangeError` for one out of bounds (the caller checks what it got from users first). */
export function encodeFilePinRequest(request: FilePinRequest): Uint8Array {
  const bytes = utf8.encode(
    JSON.stringify({ v: FILE_PIN_WIRE_VERSION, topic: request.topic, cid: request.cid, bytes: request.bytes }),
  )
  const check = decodeFilePinRequest(bytes)
  if (!check.ok) throw new RangeError(`pin request out of bounds: ${check.reason}`)
  return bytes
}

/** An answer frame, checked; never throws. */
export function decodeFilePinFrame(bytes: Uint8Array): Decoded<FilePinFrame> {
  const json = parseJson(bytes, MAX_FILE_PIN_ANSWER_BYTES)
  if (!json.ok) return json
  const parsed = frameSchema.safeParse(json.value)
  if (!parsed.success) return { ok: false, reason: firstIssue(parsed.error) }
  const frame = parsed.data
  if ('pinned' in frame) return { ok: true, value: { type: 'progress', pinned: frame.pinned } }
  if (frame.ok) return { ok: true, value: { type: 'ok' } }
  return { ok: true, value: { type: 'refused', reason: frame.reason, message: frame.message, hint: frame.hint } }
}

/** An answer frame as the relay sends it; message and hint are cut to their bound. */
export function encodeFilePinFrame(frame: FilePinFrame): Uint8Array {
  const json =
    frame.type === 'progress'
      ? { pinned: frame.pinned }
      : frame.type === 'ok'
        ? { ok: true }
        : {
            ok: false,
            reason: frame.reason,
            message: frame.message.slice(0, MAX_FILE_PIN_MESSAGE_CHARS),
            hint: frame.hint.slice(0, MAX_FILE_PIN_MESSAGE_CHARS),
          }
  return utf8.encode(JSON.stringify(json))
}

function parseJson(bytes: Uint8Array, maxBytes: number): Decoded<unknown> {
  if (bytes.byteLength > maxBytes) return { ok: false, reason: `frame of ${bytes.byteLength} bytes (max ${maxBytes})` }
  try {
    return { ok: true, value: JSON.parse(utf8.decode(bytes)) }
  } catch {
    return { ok: false, reason: 'not UTF-8 JSON' }
  }
}
