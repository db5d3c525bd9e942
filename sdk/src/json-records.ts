import { z } from 'zod'
import { MAX_BUNDLE_BYTES, MAX_MESSAGE_BYTES, MAX_RECORD_TIME_MS } from './constants.ts'
import { utf8 } from './encoding.ts'
import { InvalidInputError } from './errors.ts'

/** A time a record states (ms since the epoch), bounded so that every peer can show it (room and DM records alike). */
export const recordTimeSchema = z.number().int().nonnegative().max(MAX_RECORD_TIME_MS)

/** A SHA-256 hash in lowercase hex, as records name rooms, messages and inboxes. */
export const SHA256_HEX_PATTERN = /^[0-9a-f]{64}$/

/** {@link SHA256_HEX_PATTERN} as a schema. */
export const sha256HexSchema = z.string().regex(SHA256_HEX_PATTERN)

/** Bytes as records carry them: base64url without padding, at least one character. */
export const base64urlSchema = z.string().regex(/^[A-Za-z0-9_-]+$/)

/** A device's key bundle as records and the certificate protocol carry it (base64url), committed to by its certificate. */
export const keyBundleTextSchema = z
  .string()
  .max(MAX_BUNDLE_BYTES * 2)
  .regex(/^[A-Za-z0-9_-]+$/)

/** A PeerId as records name one (its string form). */
export const peerIdTextSchema = z.string().min(1).max(128)

export type DecodeResult<T> =
  | { status: 'ok'; record: T }
  /** A later protocol version or record type: not ours to judge, never a crash. */
  | { status: 'unknown' }
  | { status: 'malformed'; reason: string }

/**
 * Decodes a JSON record from the network (room and DM topics alike): size first, then UTF-8
 * JSON, then `{ v, type }`, and only a known version and type reach the schema. Never throws.
 */
export function decodeJsonRecord<T>(
  bytes: Uint8Array,
  params: { version: number; types: readonly string[]; schema: z.ZodType<T> },
): DecodeResult<T> {
  if (bytes.byteLength > MAX_MESSAGE_BYTES) return { status: 'malformed', reason: 'too large' }
  let json: unknown
  try {
    json = JSON.parse(utf8.decode(bytes))
  } catch {
    return { status: 'malformed', reason: 'not UTF-8 JSON' }
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return { status: 'malformed', reason: 'not an object' }
  }
  const { v, type } = json as { v?: unknown; type?: unknown }
  if (typeof v !== 'number' || typeof type !== 'string') return { status: 'malformed', reason: 'no version or type' }
  if (v !== params.version || !params.types.includes(type)) return { status: 'unknown' }
  const parsed = params.schema.safeParse(json)
  if (!parsed.success) return { status: 'malformed', reason: parsed.error.issues[0]?.message ?? 'schema' }
  return { status: 'ok', record: parsed.data }
}

/** A zod failure in a few words for a log or a refusal: where (`whole`, when at the top) and what. */
export function firstIssue(error: z.ZodError, whole = 'frame'): string {
  const issue = error.issues[0]
  return issue === undefined ? 'schema' : `${issue.path.join('.') || whole}: ${issue.message}`
}

/** How far into a record {@link recordTypeHint} looks for its type: past `{"v":1,` whatever the version. */
const TYPE_HINT_BYTES = 48

/** `"type":"` in UTF-8, as `JSON.stringify` writes it. */
const TYPE_KEY = utf8.encode('"type":"')
/** The longest type a hint reads; no record type of ours is longer. */
const MAX_TYPE_HINT_LENGTH = 16
const QUOTE = 0x22

/**
 * The type `bytes` names, from its first bytes alone — the sdk writes `{"v":…,"type":"…"` first — without parsing it:
 * for deciding which record to validate first, never for judging one (a record that lies here is validated like any
 * other, only sooner). Undefined when none is named there in plain ASCII letters. Never throws.
 */
export function recordTypeHint(bytes: Uint8Array): string | undefined {
  const head = bytes.subarray(0, TYPE_HINT_BYTES)
  for (let at = 0; at + TYPE_KEY.byteLength <= head.byteLength; at++) {
    if (!matchesAt(head, TYPE_KEY, at)) continue
    const start = at + TYPE_KEY.byteLength
    const end = head.indexOf(QUOTE, start)
    if (end === -1 || end === start || end - start > MAX_TYPE_HINT_LENGTH) return undefined
    const type = head.subarray(start, end)
    return type.every(isAsciiLetter) ? String.fromCharCode(...type) : undefined
  }
  return undefined
}

function isAsciiLetter(byte: number): boolean {
  return (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
}

function matchesAt(haystack: Uint8Array, needle: Uint8Array, at: number): boolean {
  if (at + needle.byteLength > haystack.byteLength) return false
  for (let i = 0; i < needle.byteLength; i++) if (haystack[at + i] !== needle[i]) return false
  return true
}

/** Encodes a record, refusing one larger than {@link MAX_MESSAGE_BYTES}; `what` names it in the error. */
export function encodeJsonRecord(record: unknown, what: string): Uint8Array {
  const bytes = utf8.encode(JSON.stringify(record))
  if (bytes.byteLength > MAX_MESSAGE_BYTES) {
    throw new InvalidInputError(`record is larger than ${what} may be`, {
      details: { bytes: bytes.byteLength, max: MAX_MESSAGE_BYTES },
      hint: 'send a shorter message',
    })
  }
  return bytes
}
