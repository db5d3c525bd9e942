import type { SignedMessage } from '@libp2p/gossipsub'
import { RPC } from '@libp2p/gossipsub/message'
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
  const signed = RPC.Message.encode({
    from: from.toMultihash().bytes,
    data: record.data,
    seqno: record.seqno,
    topic: record.topic,
  })
  const bytes = new Uint8Array(SIGN_PREFIX.byteLength + signed.byteLength)
  bytes.set(SIGN_PREFIX)
  bytes.set(signed, SIGN_PREFIX.byteLength)
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
