/**
 * Audit leaves (docs/architecture.md, Audit anchoring): what a batch commits to for one message — room, message id,
 * sender wallet, sender's timestamp and a hash of the ciphertext — and nothing of its content.
 */
import { getAddress, isAddress } from 'ethers'
import { bytesToHex, sha256Hex } from '../crypto/primitives.ts'
import { utf8 } from '../encoding.ts'
import { InvalidInputError } from '../errors.ts'
import { SHA256_HEX_PATTERN } from '../json-records.ts'
import { ciphertextHashOf, decodeRecord, type MessageRecord } from '../rooms/wire.ts'
import type { Address, Bytes32 } from '../types.ts'
import { type LeafValue, leafValueHash } from './tree.ts'

/** One message as a batch commits to it. */
export interface AuditLeaf {
  /** The room's id (sha256 of its manifest), as bytes32. */
  roomId: Bytes32
  /** The message id (sha256 of the record bytes as published), as bytes32. */
  messageId: Bytes32
  /** The wallet whose session certificate vouched for the sending device (EIP-55). */
  sender: Address
  /** The sender's clock when it sent (`sentAtMs` of the record), ms since the epoch. Not trusted for ordering. */
  timestampMs: number
  /** sha256 of the payload's ciphertext bytes: binds the content without revealing it. */
  ciphertextHash: Bytes32
}

const UINT64_MAX = (1n << 64n) - 1n

/** `0x`-prefixed bytes32 of a 64-hex-digit id as the app writes them (room and message ids). */
export function toBytes32(id: string): Bytes32 {
  const hex = id.startsWith('0x') ? id.slice(2).toLowerCase() : id.toLowerCase()
  if (!SHA256_HEX_PATTERN.test(hex)) throw new InvalidInputError(`expected 32 bytes of hex, got ${JSON.stringify(id)}`)
  return `0x${hex}`
}

/** The app's form of a bytes32 id: 64 lowercase hex digits, no prefix. */
export function fromBytes32(value: string): string {
  return toBytes32(value).slice(2)
}

/**
 * The leaf of a message as a room delivered it (`RoomMessage`, `UndecryptableMessage` with its `roomId`) or as
 * `Room.send` resolved it: nothing to decode. Throws {@link InvalidInputError} naming a malformed field.
 */
export function leafOfMessage(message: {
  roomId: string
  id: string
  sender: string
  sentAtMs: number
  ciphertextHash: string
}): AuditLeaf {
  return {
    roomId: toBytes32(message.roomId),
    messageId: toBytes32(message.id),
    sender: checksum(message.sender, 'sender'),
    timestampMs: message.sentAtMs,
    ciphertextHash: toBytes32(message.ciphertextHash),
  }
}

/** The leaf of a message a gatekeeper accepted: its parsed record, id and the certificate's wallet. */
export function leafOfAccepted(params: { id: string; record: MessageRecord; sender: string }): AuditLeaf {
  return leafOfMessage({
    roomId: params.record.room,
    id: params.id,
    sender: params.sender,
    sentAtMs: params.record.sentAtMs,
    ciphertextHash: ciphertextHashOf(params.record.payload.ct),
  })
}

/**
 * The leaf of a message record as published (its exact bytes, or their UTF-8 text) and the wallet that sent it.
 * Throws {@link InvalidInputError} when the bytes are not a message record.
 */
export function leafOfRecord(params: { record: Uint8Array | string; sender: string }): AuditLeaf {
  const bytes = typeof params.record === 'string' ? utf8.encode(params.record) : params.record
  const decoded = decodeRecord(bytes)
  if (decoded.status !== 'ok' || decoded.record.type !== 'message') {
    throw new InvalidInputError('not a message record', {
      details: { status: decoded.status, ...(decoded.status === 'malformed' ? { reason: decoded.reason } : {}) },
    })
  }
  return leafOfAccepted({ id: sha256Hex(bytes), record: decoded.record, sender: params.sender })
}

/** The leaf as the tree stores it (`[roomId, messageId, sender, timestampMs, ciphertextHash]`). */
export function leafToValue(leaf: AuditLeaf): LeafValue {
  return [leaf.roomId, leaf.messageId, leaf.sender, String(leaf.timestampMs), leaf.ciphertextHash]
}

/**
 * The leaf's hash as the Merkle tree holds it (`keccak256(keccak256(abi.encode(leaf)))`, OpenZeppelin's
 * standard leaf): what a relay is asked for a proof by (`GET /audit/proof?leaf=`), revealing nothing new.
 */
export function leafHashOf(leaf: AuditLeaf): Bytes32 {
  return `0x${bytesToHex(leafValueHash(leafToValue(leaf)))}`
}

/** Parses a tree value (from a leaf list or a transcript). Throws {@link InvalidInputError} naming the bad field. */
export function leafFromValue(value: unknown): AuditLeaf {
  if (!Array.isArray(value) || value.length !== 5 || !value.every((v) => typeof v === 'string')) {
    throw new InvalidInputError('a leaf value must be five strings', { details: { value } })
  }
  const [roomId, messageId, sender, timestamp, ciphertextHash] = value as string[]
  if (!/^(0|[1-9][0-9]*)$/.test(timestamp!) || BigInt(timestamp!) > UINT64_MAX) {
    throw new InvalidInputError(`leaf timestampMs: expected a uint64 in decimal, got ${JSON.stringify(timestamp)}`)
  }
  const timestampMs = Number(timestamp)
  if (!Number.isSafeInteger(timestampMs)) {
    throw new InvalidInputError(`leaf timestampMs: ${timestamp} is beyond what a message record can carry`)
  }
  return {
    roomId: toBytes32(roomId!),
    messageId: toBytes32(messageId!),
    sender: checksum(sender!, 'sender'),
    timestampMs,
    ciphertextHash: toBytes32(ciphertextHash!),
  }
}

/** A stable key for a leaf's identity in a batch: room and message. */
export function leafKey(leaf: Pick<AuditLeaf, 'roomId' | 'messageId'>): string {
  return `${leaf.roomId}:${leaf.messageId}`
}

function checksum(address: string, field: string): Address {
  if (!isAddress(address)) throw new InvalidInputError(`${field}: expected an address, got ${JSON.stringify(address)}`)
  return getAddress(address) as Address
}
