import { z } from 'zod'
import { MAX_BUNDLE_BYTES, MAX_MESSAGE_BYTES, MAX_RECORD_TIME_MS } from './constants.ts'
import { utf8 } from './encoding.ts'
import { InvalidInputError } from './errors.ts'

/** A time a record states (ms since the epoch), bounded so that every peer can show it (room and DM records alike). */
export const recordTimeSchema = z.number().int().nonnegative().max(MAX_RECORD_TIME_MS)

/** A SHA-256 hash in lowercase hex, as records name rooms, messages and inboxes. */
export const sha256HexSchema = z.string().regex(/^[0-9a-f]{64}$/)

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
