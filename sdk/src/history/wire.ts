import { z } from 'zod'
import { MAX_LAMPORT_CLOCK, MAX_RECORD_TIME_MS } from '../constants.ts'
import { bytesToHex, concatBytes, hexToBytes } from '../crypto/primitives.ts'
import { base64urlDecode, base64urlEncode, utf8 } from '../encoding.ts'
import { firstIssue, recordTimeSchema, SHA256_HEX_PATTERN, sha256HexSchema } from '../json-records.ts'
import {
  HISTORY_WIRE_VERSION,
  MAX_HISTORY_CURSOR_CHARS,
  MAX_HISTORY_DATA_BYTES,
  MAX_HISTORY_ERROR_CHARS,
  MAX_HISTORY_FETCH_IDS,
  MAX_HISTORY_PAGE_RECORDS,
  MAX_HISTORY_REQUEST_BYTES,
  MAX_HISTORY_RESPONSE_BYTES,
  MAX_HISTORY_RETRY_AFTER_MS,
  MAX_HISTORY_SIGNATURE_BYTES,
  MAX_HISTORY_TOPIC_CHARS,
  MAX_HISTORY_TYPE_CHARS,
  MAX_HISTORY_TYPES,
} from './constants.ts'

/**
 * Frames of the history protocol (`/securechat/store/1.0.0`): one length-prefixed JSON request,
 * one length-prefixed JSON response, then the stream closes.
 *
 *   request  { v: 1, type: 'query', topic, range, types?, cursor?, limit? }
 *            { v: 1, type: 'fetch', topic, ids }
 *   response { v: 1, type: 'records', records: WireRecord[], cursor? }   (cursor: more may follow)
 *            { v: 1, type: 'error', code, message, retryAfterMs? }   (retryAfterMs: when to ask again)
 *
 * A record is the signed gossip message as it travelled (from, seqno, signature, data, topic)
 * plus what the store noted (id, type, lamport, receivedAtMs). Those notes are hints only: the
 * reader recomputes the id from the data and checks the signature (`verify.ts`), so a store can
 * omit records but not alter or invent one. Every field is bounded by `constants.ts`.
 */

/** A stored record: the exact signed gossip message and what the store noted about it. */
export interface HistoryRecord {
  /** The message id: sha256 of `data`, hex (the id `deps` and `parent` refer to). */
  id: string
  topic: string
  /** The publisher's PeerId (base58btc). */
  from: string
  /** Gossipsub sequence number, 8 bytes big-endian. */
  seqno: Uint8Array
  signature: Uint8Array
  data: Uint8Array
  /** The record's `type` field (`message`, `keys`, `presence`, DM types). */
  type: string
  /** The record's Lamport clock, when it has one. */
  lamport?: number
  /** When the storing relay first accepted it (its clock, not the sender's). */
  receivedAtMs: number
}

/** A range of one ordering: `from` inclusive, `to` exclusive. */
export type HistoryRange =
  | { by: 'time'; fromMs?: number; toMs?: number }
  | { by: 'lamport'; from?: number; to?: number }

export interface HistoryQuery {
  topic: string
  range: HistoryRange
  /** Only these record types; all when absent. */
  types?: string[]
  /** Where the previous page ended (opaque, from that page's `cursor`). */
  cursor?: string
  /** Records wanted; the server may send fewer (page and frame bounds). */
  limit?: number
}

export interface HistoryFetch {
  topic: string
  ids: string[]
}

export type HistoryRequest = ({ type: 'query' } & HistoryQuery) | ({ type: 'fetch' } & HistoryFetch)

export const HistoryErrorCode = {
  /** The request is malformed or out of bounds. */
  badRequest: 'bad-request',
  /** The store failed (database down): try another relay. */
  unavailable: 'unavailable',
  /** The relay is answering too many requests: try later or elsewhere. */
  busy: 'busy',
  /**
   * This asker (its PeerId or its address) is over the relay's store-query limits: ask again after `retryAfterMs`, or
   * ask another relay. Not "no history".
   */
  limited: 'limited',
} as const
export type HistoryErrorCode = (typeof HistoryErrorCode)[keyof typeof HistoryErrorCode]

export type HistoryResponse =
  | { type: 'records'; records: HistoryRecord[]; cursor?: string }
  | { type: 'error'; code: HistoryErrorCode; message: string; retryAfterMs?: number }

/** A Lamport clock, bounded like the room records' (rooms/wire.ts). */
const lamportClock = z.number().int().nonnegative().max(MAX_LAMPORT_CLOCK)
const topic = z.string().min(1).max(MAX_HISTORY_TOPIC_CHARS)
/** A record type's characters (`message`, `dm-keys`); its length is bounded apart. */
const RECORD_TYPE_PATTERN = /^[a-z-]+$/
/** A PeerId's string form: base58btc, bounded. */
const PEER_ID_PATTERN = /^[1-9A-HJ-NP-Za-km-z]{1,128}$/
const recordType = z.string().min(1).max(MAX_HISTORY_TYPE_CHARS).regex(RECORD_TYPE_PATTERN)
const cursor = z
  .string()
  .min(1)
  .max(MAX_HISTORY_CURSOR_CHARS)
  .regex(/^[A-Za-z0-9:_-]+$/)
const peerId = z.string().regex(PEER_ID_PATTERN)

/** A gossipsub sequence number's size. */
const SEQNO_BYTES = 8
const SEQNO_HEX_PATTERN = new RegExp(`^[0-9a-f]{${SEQNO_BYTES * 2}}$`)

/**
 * Whether a record keeps the bounds a `records` response holds it to (`parseWireRecord`), on its
 * decoded fields: a store keeps nothing it could never serve.
 */
export function withinHistoryBounds(record: Omit<HistoryRecord, 'id' | 'receivedAtMs'>): boolean {
  return (
    record.seqno.byteLength === SEQNO_BYTES &&
    record.signature.byteLength > 0 &&
    record.signature.byteLength <= MAX_HISTORY_SIGNATURE_BYTES &&
    record.data.byteLength <= MAX_HISTORY_DATA_BYTES &&
    topic.safeParse(record.topic).success &&
    peerId.safeParse(record.from).success &&
    recordType.safeParse(record.type).success &&
    (record.lamport === undefined || lamportClock.safeParse(record.lamport).success)
  )
}

const rangeSchema = z.discriminatedUnion('by', [
  z.object({ by: z.literal('time'), fromMs: recordTimeSchema.optional(), toMs: recordTimeSchema.optional() }).strict(),
  z.object({ by: z.literal('lamport'), from: lamportClock.optional(), to: lamportClock.optional() }).strict(),
])

const requestSchema = z.discriminatedUnion('type', [
  z
    .object({
      v: z.literal(HISTORY_WIRE_VERSION),
      type: z.literal('query'),
      topic,
      range: rangeSchema,
      types: z.array(recordType).min(1).max(MAX_HISTORY_TYPES).optional(),
      cursor: cursor.optional(),
      limit: z.number().int().min(1).max(MAX_HISTORY_PAGE_RECORDS).optional(),
    })
    .strict(),
  z
    .object({
      v: z.literal(HISTORY_WIRE_VERSION),
      type: z.literal('fetch'),
      topic,
      ids: z.array(sha256HexSchema).min(1).max(MAX_HISTORY_FETCH_IDS),
    })
    .strict(),
])

/**
 * One record of a `records` response, checked field by field (the `WireRecord` fields and
 * bounds: id, topic, from, seqno, signature, data, type, lamport?, receivedAtMs, no other key)
 * and decoded; undefined when it is malformed. Written out rather than as a zod schema: a
 * catch-up reads every record of up to {@link MAX_HISTORY_PAGE_RECORDS} per page through here,
 * and zod's per-field machinery cost more than the JSON parse of the whole frame.
 */
function parseWireRecord(item: unknown): HistoryRecord | undefined {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) return undefined
  const fields = item as Record<string, unknown>
  for (const key in fields) if (!WIRE_RECORD_KEYS.has(key)) return undefined
  const { id, topic, from, seqno, signature, data, type, lamport, receivedAtMs } = fields
  if (typeof id !== 'string' || !SHA256_HEX_PATTERN.test(id)) return undefined
  if (typeof topic !== 'string' || topic.length < 1 || topic.length > MAX_HISTORY_TOPIC_CHARS) return undefined
  if (typeof from !== 'string' || !PEER_ID_PATTERN.test(from)) return undefined
  if (typeof seqno !== 'string' || !SEQNO_HEX_PATTERN.test(seqno)) return undefined
  if (typeof type !== 'string' || type.length < 1 || type.length > MAX_HISTORY_TYPE_CHARS) return undefined
  if (!RECORD_TYPE_PATTERN.test(type)) return undefined
  if (lamport !== undefined && !boundedInteger(lamport, MAX_LAMPORT_CLOCK)) return undefined
  if (!boundedInteger(receivedAtMs, MAX_RECORD_TIME_MS)) return undefined
  const signatureBytes = base64urlBytes(signature, MAX_HISTORY_SIGNATURE_BYTES)
  const dataBytes = base64urlBytes(data, MAX_HISTORY_DATA_BYTES)
  if (signatureBytes === undefined || dataBytes === undefined) return undefined
  return {
    id,
    topic,
    from,
    seqno: hexToBytes(seqno),
    signature: signatureBytes,
    data: dataBytes,
    type,
    ...(lamport === undefined ? {} : { lamport: lamport as number }),
    receivedAtMs: receivedAtMs as number,
  }
}

const WIRE_RECORD_KEYS = new Set([
  'id',
  'topic',
  'from',
  'seqno',
  'signature',
  'data',
  'type',
  'lamport',
  'receivedAtMs',
])

function boundedInteger(value: unknown, max: number): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= max
}

/** The bytes of unpadded base64url text of at most `max` bytes, or undefined. */
function base64urlBytes(text: unknown, max: number): Uint8Array | undefined {
  if (typeof text !== 'string' || text.length > Math.ceil((max * 4) / 3)) return undefined
  try {
    // Refuses any character outside the alphabet, and a length that leaves one character over.
    return base64urlDecode(text)
  } catch {
    return undefined
  }
}

const responseSchema = z.discriminatedUnion('type', [
  z
    .object({
      v: z.literal(HISTORY_WIRE_VERSION),
      type: z.literal('records'),
      // Each record is checked on its own, so one bad record costs only itself.
      records: z.array(z.unknown()).max(MAX_HISTORY_PAGE_RECORDS),
      cursor: cursor.optional(),
    })
    .strict(),
  z
    .object({
      v: z.literal(HISTORY_WIRE_VERSION),
      type: z.literal('error'),
      code: z.enum(Object.values(HistoryErrorCode) as [HistoryErrorCode, ...HistoryErrorCode[]]),
      message: z.string().max(MAX_HISTORY_ERROR_CHARS),
      // Bounded loosely: a longer wait than the asker takes is still a well-formed answer (it asks elsewhere).
      retryAfterMs: z
        .number()
        .int()
        .nonnegative()
        .max(100 * MAX_HISTORY_RETRY_AFTER_MS)
        .optional(),
    })
    .strict(),
])

export type DecodedRequest = { ok: true; request: HistoryRequest } | { ok: false; reason: string }

export type DecodedResponse =
  | {
      ok: true
      response: HistoryResponse
      /** Records of a `records` response that were not even well-formed (dropped). */
      malformed: number
    }
  | { ok: false; reason: string }

function parseJson(bytes: Uint8Array, maxBytes: number): { ok: true; json: unknown } | { ok: false; reason: string } {
  if (bytes.byteLength > maxBytes) return { ok: false, reason: `frame of ${bytes.byteLength} bytes (max ${maxBytes})` }
  try {
    return { ok: true, json: JSON.parse(utf8.decode(bytes)) }
  } catch {
    return { ok: false, reason: 'not UTF-8 JSON' }
  }
}

/** Parses a request frame. Never throws: the reason goes back to the asker in an error response. */
export function decodeHistoryRequest(bytes: Uint8Array): DecodedRequest {
  const parsed = parseJson(bytes, MAX_HISTORY_REQUEST_BYTES)
  if (!parsed.ok) return parsed
  const result = requestSchema.safeParse(parsed.json)
  if (!result.success) return { ok: false, reason: firstIssue(result.error) }
  const { v: _v, ...request } = result.data
  return { ok: true, request: stripUndefined(request) as HistoryRequest }
}

export function encodeHistoryRequest(request: HistoryRequest): Uint8Array {
  const bytes = utf8.encode(JSON.stringify({ v: HISTORY_WIRE_VERSION, ...request }))
  const check = decodeHistoryRequest(bytes)
  if (!check.ok) throw new RangeError(`history request out of bounds: ${check.reason}`)
  return bytes
}

/** Parses a response frame. Never throws; records are only well-formed here, not yet verified. */
export function decodeHistoryResponse(bytes: Uint8Array): DecodedResponse {
  const parsed = parseJson(bytes, MAX_HISTORY_RESPONSE_BYTES)
  if (!parsed.ok) return parsed
  const result = responseSchema.safeParse(parsed.json)
  if (!result.success) return { ok: false, reason: firstIssue(result.error) }
  const frame = result.data
  if (frame.type === 'error') {
    const { code, message, retryAfterMs } = frame
    const response: HistoryResponse =
      retryAfterMs === undefined ? { type: 'error', code, message } : { type: 'error', code, message, retryAfterMs }
    return { ok: true, response, malformed: 0 }
  }
  const records: HistoryRecord[] = []
  let malformed = 0
  for (const item of frame.records) {
    const record = parseWireRecord(item)
    if (record === undefined) malformed += 1
    else records.push(record)
  }
  const response: HistoryResponse =
    frame.cursor === undefined ? { type: 'records', records } : { type: 'records', records, cursor: frame.cursor }
  return { ok: true, response, malformed }
}

/** An error response; `retryAfterMs` tells the asker when to ask again (with `limited`, `busy`). */
export function encodeHistoryError(code: HistoryErrorCode, message: string, retryAfterMs?: number): Uint8Array {
  return utf8.encode(
    JSON.stringify({
      v: HISTORY_WIRE_VERSION,
      type: 'error',
      code,
      message: message.slice(0, MAX_HISTORY_ERROR_CHARS),
      ...(retryAfterMs === undefined
        ? {}
        : { retryAfterMs: Math.min(Math.max(0, Math.ceil(retryAfterMs)), 100 * MAX_HISTORY_RETRY_AFTER_MS) }),
    }),
  )
}

/**
 * Encodes a `records` response with as many of `records` as fit in `maxBytes`, in order. When
 * some did not fit, or `more` says the store holds further records, the response carries
 * `cursorAfter(last record sent)` so the asker can go on from there. A cursor longer than
 * `MAX_HISTORY_CURSOR_CHARS` is a programmer error (the asker would reject the frame).
 */
export function encodeRecordsResponse(params: {
  records: readonly HistoryRecord[]
  more: boolean
  /** Absent for answers that have no order to continue in (a fetch by id). */
  cursorAfter?: (record: HistoryRecord) => string
  maxBytes?: number
}): { bytes: Uint8Array; sent: number } {
  const maxBytes = params.maxBytes ?? MAX_HISTORY_RESPONSE_BYTES
  // Room for the frame around the records, including the longest cursor.
  let size = 64 + MAX_HISTORY_CURSOR_CHARS
  const parts: Uint8Array[] = []
  for (const record of params.records.slice(0, MAX_HISTORY_PAGE_RECORDS)) {
    const part = utf8.encode(JSON.stringify(toWire(record)))
    if (parts.length > 0 && size + part.byteLength + 1 > maxBytes) break
    size += part.byteLength + 1
    parts.push(part)
  }
  const last = params.records[parts.length - 1]
  const more = params.more || parts.length < params.records.length
  const cursorJson =
    more && last !== undefined && params.cursorAfter !== undefined
      ? `,"cursor":${JSON.stringify(params.cursorAfter(last))}`
      : ''
  const head = utf8.encode(`{"v":${HISTORY_WIRE_VERSION},"type":"records","records":[`)
  const tail = utf8.encode(`]${cursorJson}}`)
  const bytes = concatBytes(head, ...parts.flatMap((part, i) => (i === 0 ? [part] : [COMMA, part])), tail)
  return { bytes, sent: parts.length }
}

const COMMA = utf8.encode(',')

function toWire(record: HistoryRecord): Record<string, unknown> {
  return {
    id: record.id,
    topic: record.topic,
    from: record.from,
    seqno: bytesToHex(record.seqno),
    signature: base64urlEncode(record.signature),
    data: base64urlEncode(record.data),
    type: record.type,
    ...(record.lamport === undefined ? {} : { lamport: record.lamport }),
    receivedAtMs: record.receivedAtMs,
  }
}

/** zod keeps absent optional keys absent, but `exactOptionalPropertyTypes` wants proof. */
function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T
}
