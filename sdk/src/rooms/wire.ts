import { z } from 'zod'
import {
  CAUSAL_HISTORY_LENGTH,
  MAX_ACK_FILTER_BYTES,
  MAX_KEY_RECIPIENTS_PER_RECORD,
  MAX_KEY_REQUESTS_PER_PRESENCE,
  MAX_LAMPORT_CLOCK,
  MAX_MESSAGE_BYTES,
  MAX_PRESENCE_INTERVAL_MS,
  MAX_SENDER_KEY_EPOCH,
  MAX_TEXT_BYTES,
  MAX_WRAPPED_KEY_CHARS,
  WIRE_VERSION,
} from '../constants.ts'
import { sha256Bytes32, sha256Hex } from '../crypto/primitives.ts'
import { base64urlDecode } from '../encoding.ts'
import { receivedFileManifestSchema } from '../files/manifest.ts'
import { certificateSchema } from '../identity/certificate.ts'
import {
  base64urlSchema,
  decodeJsonRecord,
  encodeJsonRecord,
  type DecodeResult as JsonDecodeResult,
  keyBundleTextSchema,
  peerIdTextSchema,
  recordTimeSchema,
  sha256HexSchema,
} from '../json-records.ts'
import { mentionListSchema } from '../mentions.ts'
import { reactionSchema } from '../message-state.ts'
import type { Bytes32 } from '../types.ts'
import { signedManifestSchema } from './manifest.ts'
import { moderationEventShapeSchema } from './moderation-event.ts'

/**
 * Records on a room topic, JSON in UTF-8. Every record is signed by its sender's PeerId key
 * (gossipsub StrictSign); who the PeerId speaks for comes from its session certificate.
 */

/** Ciphertext or a sealed key, base64url; never longer than a whole record. */
const sealedSchema = base64urlSchema.max(MAX_MESSAGE_BYTES)

export const presenceRecordSchema = z
  .object({
    v: z.literal(WIRE_VERSION),
    type: z.literal('presence'),
    room: sha256HexSchema,
    cert: certificateSchema,
    /** The room's signed manifest, so relays and late joiners learn the room's rules. */
    manifest: signedManifestSchema.optional(),
    /** The device's encryption key bundle (base64url), committed to by the certificate. */
    bundle: keyBundleTextSchema.optional(),
    /** Members whose current sender key this device lacks: they send it again. */
    want: z.array(peerIdTextSchema).max(MAX_KEY_REQUESTS_PER_PRESENCE).optional(),
    leaving: z.boolean().optional(),
    /**
     * With `leaving`: the member left the room for good (`leaveRoom`), rather than went offline.
     * Members stop sealing sender keys to it at once; to one merely offline they go on sealing
     * them (`ABSENT_MEMBER_KEYS_MS`), so it reads what was sent meanwhile on return.
     */
    forever: z.literal(true).optional(),
    /**
     * What the member received lately: a Bloom filter of message ids (base64url, `ack-filter.ts`).
     * Senders stop re-publishing what it covers (`outgoing-buffer.ts`).
     */
    acks: base64urlSchema
      .min(1)
      .max(Math.ceil((MAX_ACK_FILTER_BYTES * 4) / 3))
      .optional(),
    atMs: recordTimeSchema,
    /** The member's next presence comes within this many ms (`presence-interval.ts`); absent: the default interval. */
    every: z.number().int().positive().max(MAX_PRESENCE_INTERVAL_MS).optional(),
  })
  .strict()
export type PresenceRecord = z.infer<typeof presenceRecordSchema>

/**
 * What the sender says, inside the payload (encrypted): a text (a reply names its `parent`), or a reaction, edit or
 * delete of the message `target` names (its id). Relays and anchorers see none of it: every kind is one more
 * `message` record, its ciphertext alike (`message-state.ts` folds them).
 */
const textEnvelopeSchema = z
  .object({
    v: z.literal(1),
    kind: z.literal('text'),
    body: z.string().max(MAX_TEXT_BYTES),
    parent: sha256HexSchema.optional(),
    /** The members its text mentions (`@0x…`, `mentions.ts`). */
    mentions: mentionListSchema.optional(),
    /** A file it shares (its text, the caption, may be empty): where its blocks are and the key that opens them. */
    file: receivedFileManifestSchema.optional(),
  })
  .strict()
export const envelopeSchema = z.discriminatedUnion('kind', [
  textEnvelopeSchema,
  z
    .object({
      v: z.literal(1),
      kind: z.literal('react'),
      target: sha256HexSchema,
      emoji: reactionSchema,
      /** Takes the sender's reaction with this emoji back. */
      remove: z.literal(true).optional(),
    })
    .strict(),
  /** A new text for the sender's own message; its mentions replace the message's. */
  z
    .object({
      v: z.literal(1),
      kind: z.literal('edit'),
      target: sha256HexSchema,
      body: z.string().max(MAX_TEXT_BYTES),
      mentions: mentionListSchema.optional(),
    })
    .strict(),
  /** The sender's own message is deleted: honest devices drop its text, from their vault too. */
  z.object({ v: z.literal(1), kind: z.literal('delete'), target: sha256HexSchema }).strict(),
])
export type Envelope = z.infer<typeof envelopeSchema>

/** The envelope, encrypted under the sender's current sender key (base64url). */
export const payloadSchema = z.discriminatedUnion('enc', [
  z
    .object({
      enc: z.literal('sender-key'),
      ct: sealedSchema,
    })
    .strict(),
])
export type Payload = z.infer<typeof payloadSchema>

/**
 * Client timestamp, Lamport clock and causal history ride outside the payload: relays need
 * them to store and serve history and anchorers to build audit leaves (docs/architecture.md, Records).
 */
export const messageRecordSchema = z
  .object({
    v: z.literal(WIRE_VERSION),
    type: z.literal('message'),
    room: sha256HexSchema,
    lamport: z.number().int().nonnegative().max(MAX_LAMPORT_CLOCK),
    deps: z.array(sha256HexSchema).max(CAUSAL_HISTORY_LENGTH),
    sentAtMs: recordTimeSchema,
    /**
     * On a message that shares a file: `sha256(salt ‖ sha256(file))` (`files/commitment.ts`), the salt inside the
     * encrypted manifest. In the record, so the message id — and its audit leaf — commits to the file.
     */
    fileCommitment: sha256HexSchema.optional(),
    payload: payloadSchema,
  })
  .strict()
export type MessageRecord = z.infer<typeof messageRecordSchema>

/**
 * One member's copy of the sender's chain key, over the pairwise channel from the sender to that
 * member (crypto/pairwise-channel.ts): `sealed` opens a new channel (a hybrid X-Wing opening,
 * ~1.2 KB), `wrapped` is the next step of the channel the member already holds (~270 characters).
 */
export const keyEntrySchema = z.union([
  z.object({ peer: peerIdTextSchema, sealed: sealedSchema }).strict(),
  z
    .object({
      peer: peerIdTextSchema,
      wrapped: base64urlSchema.min(1).max(MAX_WRAPPED_KEY_CHARS),
    })
    .strict(),
])
export type KeyEntry = z.infer<typeof keyEntrySchema>

/** A sender's chain key, to each listed member over its pairwise channel. */
export const keysRecordSchema = z
  .object({
    v: z.literal(WIRE_VERSION),
    type: z.literal('keys'),
    room: sha256HexSchema,
    epoch: z.number().int().nonnegative().max(MAX_SENDER_KEY_EPOCH),
    to: z.array(keyEntrySchema).min(1).max(MAX_KEY_RECIPIENTS_PER_RECORD),
  })
  .strict()
export type KeysRecord = z.infer<typeof keysRecordSchema>

/**
 * What a `typing` or `read` record says, inside its payload (encrypted under the sender key like a message): the
 * sender is typing (or stopped), or has read the room up to message `upTo` (its id). Never a `message` envelope, so
 * neither counts as history, anchors or unread messages.
 */
export const signalEnvelopeSchema = z.discriminatedUnion('kind', [
  z.object({ v: z.literal(1), kind: z.literal('typing'), typing: z.boolean() }).strict(),
  z.object({ v: z.literal(1), kind: z.literal('read'), upTo: sha256HexSchema }).strict(),
])
export type SignalEnvelope = z.infer<typeof signalEnvelopeSchema>

/**
 * Typing indicators and read positions (`signals.ts`): records of their own type, so that a relay forwards them on a
 * budget of their own (they never take a chat message's) and stores them as it should — a `read` record as state
 * (each device's latest, for the wallet's other devices and members that were away), a `typing` record not at all.
 * The type is all a relay learns: who is typing or reading what stays in the ciphertext.
 */
const signalFields = {
  v: z.literal(WIRE_VERSION),
  room: sha256HexSchema,
  sentAtMs: recordTimeSchema,
  payload: payloadSchema,
}
export const typingRecordSchema = z.object({ ...signalFields, type: z.literal('typing') }).strict()
export const readRecordSchema = z.object({ ...signalFields, type: z.literal('read') }).strict()
/**
 * A call signal (`calls/signals.ts`: `here`, `leave`, `offer`, `answer`), encrypted under the sender key like typing:
 * every member can read it, as every member may join the call. Relays forward it on their signals budget and never
 * store it; what they learn is that a member signalled a call, and when.
 */
export const callRecordSchema = z.object({ ...signalFields, type: z.literal('call') }).strict()
export type SignalRecord =
  | z.infer<typeof typingRecordSchema>
  | z.infer<typeof readRecordSchema>
  | z.infer<typeof callRecordSchema>

/**
 * Moderation events (the record is the event, `moderation-event.ts`) ride with the others; their per-action rules
 * are the log's to check (`ModerationLog.add`), as it judges each.
 */
const recordSchema = z.discriminatedUnion('type', [
  presenceRecordSchema,
  messageRecordSchema,
  keysRecordSchema,
  typingRecordSchema,
  readRecordSchema,
  callRecordSchema,
  moderationEventShapeSchema,
])
export type RoomRecord = z.infer<typeof recordSchema>

export type DecodeResult = JsonDecodeResult<RoomRecord>

export function decodeRecord(bytes: Uint8Array): DecodeResult {
  return decodeJsonRecord(bytes, {
    version: WIRE_VERSION,
    types: ['presence', 'message', 'keys', 'typing', 'read', 'call', 'moderation'],
    schema: recordSchema,
  })
}

export function encodeRecord(record: RoomRecord): Uint8Array {
  return encodeJsonRecord(record, 'a room message')
}

/** A message's id: sha256 of its record bytes as published, the same on every peer. */
export function messageIdOf(bytes: Uint8Array): string {
  return sha256Hex(bytes)
}

/** sha256 of the ciphertext bytes of a payload (`ct`, base64url): `RoomMessage.ciphertextHash`. */
export function ciphertextHashOf(ct: string): Bytes32 {
  return sha256Bytes32(base64urlDecode(ct))
}

/**
 * `value` with a `ciphertextHash` property (of the payload `ct`) computed on first read and kept: decoding and
 * hashing a ciphertext costs more than the rest of a message's delivery, and most receivers never read it.
 */
export function withCiphertextHash<T extends object>(value: T, ct: string): T & { readonly ciphertextHash: Bytes32 } {
  let hash: Bytes32 | undefined
  return Object.defineProperty(value, 'ciphertextHash', {
    enumerable: true,
    get: () => {
      hash ??= ciphertextHashOf(ct)
      return hash
    },
  }) as T & { readonly ciphertextHash: Bytes32 }
}
