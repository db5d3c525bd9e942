/**
 * Records on DM topics, JSON in UTF-8, like room records (`rooms/wire.ts`). Every record is
 * signed by its sender's PeerId key (gossipsub StrictSign) and carries the sender's session
 * certificate, so peers and relays attribute it to a wallet without asking anyone.
 *
 * On a wallet's inbox (`topics.ts`):
 * - `device`: a device of that wallet announces its key bundle (the certificate commits to it);
 * - `query`: "devices of this wallet, announce yourselves" (a sender discovering them);
 * - `init`: a PQXDH initial message for one device (`to`), whose payload is a Double Ratchet
 *   message — the first of a session, or a later one while the responder has not answered (the
 *   header is repeated, as Signal's PreKeySignalMessage); it carries the initiator's bundle so the
 *   recipient can check its identity key against the initiator's certificate.
 *
 * On a device pair's topic:
 * - `msg`: one Double Ratchet message of session `sid` (the first 16 bytes of SHA-256 of the
 *   session's PQXDH header — the initial message without its payload — hex).
 *
 * What a relay sees: inbox ids, certificates and public bundles, the recipient device of an
 * `init`, session ids, ciphertext sizes. Everything the sender says is in the ciphertext
 * ({@link DmEnvelope}), authenticated by the session (whose associated data binds both identity
 * keys and both PeerIds).
 */
import { z } from 'zod'
import { CAUSAL_HISTORY_LENGTH, MAX_MESSAGE_BYTES, MAX_TEXT_BYTES } from '../constants.ts'
import { sha256Hex } from '../crypto/primitives.ts'
import { timerSecondsSchema } from '../disappearing.ts'
import { receivedFileManifestSchema } from '../files/manifest.ts'
import { certificateSchema } from '../identity/certificate.ts'
import {
  base64urlSchema,
  type DecodeResult,
  decodeJsonRecord,
  encodeJsonRecord,
  keyBundleTextSchema,
  peerIdTextSchema,
  recordTimeSchema,
  sha256HexSchema,
} from '../json-records.ts'
import { mentionListSchema } from '../mentions.ts'
import { reactionSchema } from '../message-state.ts'
import { DM_MAX_RECEIPT_IDS, DM_WIRE_VERSION } from './constants.ts'

/** A session id: 16 bytes, hex. */
export const sessionIdSchema = z.string().regex(/^[0-9a-f]{32}$/)

export const deviceRecordSchema = z
  .object({
    v: z.literal(DM_WIRE_VERSION),
    type: z.literal('device'),
    inbox: sha256HexSchema,
    cert: certificateSchema,
    bundle: keyBundleTextSchema,
    atMs: recordTimeSchema,
  })
  .strict()
export type DeviceRecord = z.infer<typeof deviceRecordSchema>

export const queryRecordSchema = z
  .object({
    v: z.literal(DM_WIRE_VERSION),
    type: z.literal('query'),
    inbox: sha256HexSchema,
    cert: certificateSchema,
    atMs: recordTimeSchema,
  })
  .strict()
export type QueryRecord = z.infer<typeof queryRecordSchema>

export const initRecordSchema = z
  .object({
    v: z.literal(DM_WIRE_VERSION),
    type: z.literal('init'),
    inbox: sha256HexSchema,
    /** The recipient device (PeerId); the wallet's other devices ignore the record. */
    to: peerIdTextSchema,
    cert: certificateSchema,
    bundle: keyBundleTextSchema,
    /** The PQXDH initial message (base64url). */
    msg: base64urlSchema.max(MAX_MESSAGE_BYTES),
  })
  .strict()
export type InitRecord = z.infer<typeof initRecordSchema>

export const msgRecordSchema = z
  .object({
    v: z.literal(DM_WIRE_VERSION),
    type: z.literal('msg'),
    sid: sessionIdSchema,
    cert: certificateSchema,
    /** The Double Ratchet message (base64url): header || ciphertext || tag. */
    ct: base64urlSchema.max(MAX_MESSAGE_BYTES),
  })
  .strict()
export type MsgRecord = z.infer<typeof msgRecordSchema>

/**
 * A Double Ratchet message like `msg`, on the pair topic, that a relay forwards on its signals budget and never stores:
 * a typing indicator or a call signal (`dm-signals.ts`). Sent only on an established session — never a session's first message.
 */
export const signalRecordSchema = msgRecordSchema.extend({ type: z.literal('signal') }).strict()
export type SignalRecord = z.infer<typeof signalRecordSchema>

const recordSchema = z.discriminatedUnion('type', [
  deviceRecordSchema,
  queryRecordSchema,
  initRecordSchema,
  msgRecordSchema,
  signalRecordSchema,
])
export type DmRecord = z.infer<typeof recordSchema>

/**
 * What every message kind a sender writes carries, inside the ciphertext: the id it chose (16 random bytes, hex: the
 * same on every device that receives it), its clock, and for gap repair and its own devices `to` and `deps`.
 */
const dmMessageFields = {
  v: z.literal(1),
  id: sessionIdSchema,
  sentAtMs: recordTimeSchema,
  /** Only in the copy a device sends its wallet's other devices: the wallet it was sent to. */
  to: z
    .string()
    .regex(/^0x[0-9a-fA-F]{40}$/)
    .optional(),
  /**
   * Causal history for gap repair: the record ids (sha256 of the records, as the stores know them) of the
   * last messages this device sent the recipient device before this one, oldest first. Absent when none.
   */
  deps: z.array(sha256HexSchema).min(1).max(CAUSAL_HISTORY_LENGTH).optional(),
}

/** What the sender says, inside the ciphertext. */
export const dmTextSchema = z
  .object({
    ...dmMessageFields,
    kind: z.literal('text'),
    body: z.string().max(MAX_TEXT_BYTES),
    parent: sessionIdSchema.optional(),
    /** The members its text mentions (`@0x…`, `mentions.ts`). */
    mentions: mentionListSchema.optional(),
    /** A file it shares, as in rooms (`rooms/wire.ts`). */
    file: receivedFileManifestSchema.optional(),
  })
  .strict()
export type DmText = z.infer<typeof dmTextSchema>

/** A reaction, edit or delete of message `target` (its id), as in rooms (`rooms/wire.ts`, `message-state.ts`). */
export const dmChangeSchemas = [
  z
    .object({
      ...dmMessageFields,
      kind: z.literal('react'),
      target: sessionIdSchema,
      emoji: reactionSchema,
      remove: z.literal(true).optional(),
    })
    .strict(),
  z
    .object({
      ...dmMessageFields,
      kind: z.literal('edit'),
      target: sessionIdSchema,
      body: z.string().max(MAX_TEXT_BYTES),
      mentions: mentionListSchema.optional(),
    })
    .strict(),
  z.object({ ...dmMessageFields, kind: z.literal('delete'), target: sessionIdSchema }).strict(),
] as const
/** The conversation's disappearing-messages timer, in seconds (0: off): either wallet may set it (`disappearing.ts`). */
export const dmTimerSchema = z
  .object({ ...dmMessageFields, kind: z.literal('timer'), seconds: timerSecondsSchema })
  .strict()

/** Every kind a person writes: what goes to each device, re-sent until its receipt, and names `deps`. */
export type DmWritten = DmText | z.infer<(typeof dmChangeSchemas)[number]> | z.infer<typeof dmTimerSchema>

/**
 * A responder's answer to a session's initial message: it tells the initiator the session is
 * established, so that it stops repeating the PQXDH header on the inbox and uses the pair topic.
 */
export const dmAckSchema = z.object({ v: z.literal(1), kind: z.literal('ack') }).strict()

/**
 * "These messages reached me": sent back to the device they came from (inside the same session, so only
 * it can read it), once they were delivered — live or from a relay's store after being offline.
 */
export const dmReceiptSchema = z
  .object({
    v: z.literal(1),
    kind: z.literal('receipt'),
    ids: z.array(sessionIdSchema).min(1).max(DM_MAX_RECEIPT_IDS),
  })
  .strict()
export type DmReceipt = z.infer<typeof dmReceiptSchema>

/** The other wallet is typing or stopped (in a `signal` record, `dm-signals.ts`). */
export const dmTypingSchema = z
  .object({ v: z.literal(1), kind: z.literal('typing'), typing: z.boolean(), sentAtMs: recordTimeSchema })
  .strict()

/**
 * "I have read the conversation up to message `upTo`": to the other wallet's devices (unless receipts are off) and,
 * naming the conversation (`to`), to this wallet's other devices, which mark it read. A `msg` record: relays keep it
 * like a message, so a device that was offline learns it on its return.
 */
export const dmReadSchema = z
  .object({
    v: z.literal(1),
    kind: z.literal('read'),
    upTo: sessionIdSchema,
    sentAtMs: recordTimeSchema,
    /** Only to this wallet's own devices: the wallet whose conversation was read. */
    to: z
      .string()
      .regex(/^0x[0-9a-fA-F]{40}$/)
      .optional(),
  })
  .strict()
export type DmRead = z.infer<typeof dmReadSchema>

/**
 * A call signal (`calls/signals.ts`) in a `signal` record: the signal's own fields (`op`, `call`, …) beside the DM's
 * `sentAtMs` and, only in the copy to this wallet's other devices, `peer` (the wallet whose conversation it is, as a
 * read's `to`). Only the frame is checked here; `dm-signals.ts` checks the signal with `callSignalSchema` and drops
 * (logged at debug) one that fails, rather than report it undecryptable as a malformed message.
 */
export const dmCallSchema = z
  .object({
    v: z.literal(1),
    kind: z.literal('call'),
    sentAtMs: recordTimeSchema,
    peer: z
      .string()
      .regex(/^0x[0-9a-fA-F]{40}$/)
      .optional(),
  })
  .passthrough()
export type DmCall = z.infer<typeof dmCallSchema>

export const dmEnvelopeSchema = z.discriminatedUnion('kind', [
  dmTextSchema,
  ...dmChangeSchemas,
  dmTimerSchema,
  dmAckSchema,
  dmReceiptSchema,
  dmTypingSchema,
  dmReadSchema,
  dmCallSchema,
])
export type DmEnvelope = z.infer<typeof dmEnvelopeSchema>

export type DmDecodeResult = DecodeResult<DmRecord>

export function decodeDmRecord(bytes: Uint8Array): DmDecodeResult {
  return decodeJsonRecord(bytes, {
    version: DM_WIRE_VERSION,
    types: ['device', 'query', 'init', 'msg', 'signal'],
    schema: recordSchema,
  })
}

export function encodeDmRecord(record: DmRecord): Uint8Array {
  return encodeJsonRecord(record, 'a DM record')
}

/** The id of a record as received: sha256 of its bytes, hex (for reports of what failed). */
export function dmRecordId(bytes: Uint8Array): string {
  return sha256Hex(bytes)
}

/** A session's id from its PQXDH header (the initial message without payload): first 16 bytes of SHA-256, hex. */
export function sessionIdOf(initialMessage: Uint8Array): string {
  return sha256Hex(initialMessage).slice(0, 32)
}
