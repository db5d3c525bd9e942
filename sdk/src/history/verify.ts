import type { SignedMessage } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { ed25519VerifyGossip } from '../crypto/primitives.ts'
import { utf8 } from '../encoding.ts'
import { messageIdOf } from '../rooms/wire.ts'
import { HISTORY_SENDER_CACHE_ENTRIES } from './constants.ts'
import type { HistoryRecord } from './wire.ts'

/** Gossipsub signs `"libp2p-pubsub:" || protobuf(Message without signature and key)`. */
const SIGN_PREFIX = utf8.encode('libp2p-pubsub:')

export const HistoryRejection = {
  /** The data does not hash to the record's id. */
  idMismatch: 'id-mismatch',
  /** The record is not on the topic that was asked for. */
  wrongTopic: 'wrong-topic',
  /** `from` is not a PeerId with an inline public key. */
  badSender: 'bad-sender',
  /** The signature is not the sender's over (from, data, seqno, topic). */
  badSignature: 'bad-signature',
} as const
export type HistoryRejection = (typeof HistoryRejection)[keyof typeof HistoryRejection]

export type VerifiedRecord =
  | { ok: true; message: SignedMessage; record: HistoryRecord }
  | { ok: false; reason: HistoryRejection; record: HistoryRecord }

/**
 * Checks a fetched record the way gossipsub checks a live one under StrictSign (its
 * `validateToRawMessage`): the signature of `from` over (from, data, seqno, topic). Also checks
 * that the id the store gave is the hash of the data, so ids in `deps` point at what they
 * claim. A record that passes is the gossip message its sender published, returned as the
 * `SignedMessage` a topic validator sees, so it then goes through the same room or DM checks
 * (certificate, membership, gate) as live gossip. What the store noted besides (`type`,
 * `lamport`, `receivedAtMs`) is not covered by any signature: read those from the data.
 */
export async function verifyHistoryRecord(record: HistoryRecord, expected: { topic: string }): Promise<VerifiedRecord> {
  if (record.topic !== expected.topic) return { ok: false, reason: HistoryRejection.wrongTopic, record }
  if (messageIdOf(record.data) !== record.id) return { ok: false, reason: HistoryRejection.idMismatch, record }
  const from = senderOf(record.from)
  const key = from?.publicKey
  if (from === undefined || key === undefined || record.seqno.byteLength !== 8)
    return { ok: false, reason: HistoryRejection.badSender, record }
  const bytes = signedBytes(from.toMultihash().bytes, record.data, record.seqno, utf8.encode(record.topic))
  let valid = false
  try {
    // Ed25519 (every SecureChat peer) off the main thread on Node; other key types as libp2p does.
    valid =
      key.type === 'Ed25519'
        ? await ed25519VerifyGossip({ publicKey: key.raw, message: bytes, signature: record.signature })
        : await key.verify(bytes, record.signature)
  } catch {
    valid = false
  }
  if (!valid) return { ok: false, reason: HistoryRejection.badSignature, record }
  const sequenceNumber = new DataView(record.seqno.buffer, record.seqno.byteOffset, 8).getBigUint64(0, false)
  return {
    ok: true,
    record,
    message: {
      type: 'signed',
      from,
      topic: record.topic,
      data: record.data,
      sequenceNumber,
      signature: record.signature,
      key,
    },
  }
}

/**
 * `SIGN_PREFIX || RPC.Message.encode({ from, data, seqno, topic })`, written into one buffer:
 * the same bytes as gossipsub's protons encoding (fields 1 to 4 in order, each a tag, a varint
 * length and the bytes; an empty topic omitted), without an intermediate copy per record.
 */
function signedBytes(from: Uint8Array, data: Uint8Array, seqno: Uint8Array, topic: Uint8Array): Uint8Array {
  const fields: Array<[number, Uint8Array]> = [
    [FROM_TAG, from],
    [DATA_TAG, data],
    [SEQNO_TAG, seqno],
  ]
  if (topic.byteLength > 0) fields.push([TOPIC_TAG, topic])
  let size = SIGN_PREFIX.byteLength
  for (const [, value] of fields) size += 1 + varintBytes(value.byteLength) + value.byteLength
  const out = new Uint8Array(size)
  out.set(SIGN_PREFIX)
  let at = SIGN_PREFIX.byteLength
  for (const [tag, value] of fields) {
    out[at++] = tag
    for (let n = value.byteLength; ; n >>>= 7) {
      if (n < 0x80) {
        out[at++] = n
        break
      }
      out[at++] = (n & 0x7f) | 0x80
    }
    out.set(value, at)
    at += value.byteLength
  }
  return out
}

/** Protobuf tags (field number << 3 | wire type 2) of gossipsub's `Message` fields that are signed. */
const FROM_TAG = 0x0a
const DATA_TAG = 0x12
const SEQNO_TAG = 0x1a
const TOPIC_TAG = 0x22

function varintBytes(n: number): number {
  let bytes = 1
  while (n >= 0x80) {
    n >>>= 7
    bytes += 1
  }
  return bytes
}

/** Parsed senders, by PeerId string: a page holds few senders, each many times (parsing is base58 work). */
const senders = new Map<string, PeerId | null>()

/** The PeerId `from` names, or undefined when it is not one. */
function senderOf(from: string): PeerId | undefined {
  let peer = senders.get(from)
  if (peer === undefined) {
    try {
      peer = peerIdFromString(from)
    } catch {
      peer = null
    }
    if (senders.size >= HISTORY_SENDER_CACHE_ENTRIES) senders.delete(senders.keys().next().value!)
    senders.set(from, peer)
  }
  return peer ?? undefined
}
