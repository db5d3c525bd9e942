/**
 * Types shared by the sdk's entry points and the apps (node/, web/). Types only: no values.
 */
import type { PeerId } from '@libp2p/interface'

export interface AbortOptions {
  signal?: AbortSignal
}

/** An EIP-55 checksummed Ethereum address. */
export type Address = `0x${string}`

/** A wallet's signed authorisation of one device's PeerId (DESIGN.md, Identity). */
export interface SessionCertificate {
  /** The EIP-4361 message text the wallet signed. */
  message: string
  /** The EIP-191 signature, 0x-prefixed hex. */
  signature: string
}

/** A certificate that passed every check, with the facts receivers act on. */
export interface VerifiedCertificate {
  address: Address
  peerId: string
  domain: string
  chainId: number
  issuedAtMs: number
  notBeforeMs: number | undefined
  expiresAtMs: number
  /** Hash of the device's encryption key bundle, when the certificate commits to one. */
  bundleHash: string | undefined
  /** sha256 of the certificate (message and signature), hex: its cache key. */
  hash: string
  /** How the signature was checked. */
  signatureType: 'eoa' | 'erc1271'
}

/** A message in a room, after its record and sender passed validation. */
export interface RoomMessage {
  roomId: string
  /** sha256 of the record bytes as received, hex: the same on every peer. */
  id: string
  /** Wallet that authorised the sending device. */
  sender: Address
  senderPeerId: string
  kind: 'text'
  text: string
  /** Message this one replies to, if any. */
  parentId: string | undefined
  /** Sender's clock when it sent, ms since the epoch (not trusted for ordering). */
  sentAtMs: number
  lamport: number
  /** Ids of the last messages the sender had seen (causal history). */
  deps: string[]
  receivedAtMs: number
}

export interface RoomMember {
  address: Address
  peerId: string
  lastSeenMs: number
}

/** Result of a fan-out: who got the record (gossip neighbours), never an exception. */
export interface PublishResult {
  id: string
  recipients: PeerId[]
}

export interface RoomEvents {
  'message:received': CustomEvent<RoomMessage>
  'member:joined': CustomEvent<RoomMember>
  'member:left': CustomEvent<RoomMember>
  'message:rejected': CustomEvent<{ from: string; reason: string }>
  /** A message from a verified sender that this device cannot read, and why. */
  'message:undecryptable': CustomEvent<UndecryptableMessage>
  'room:stopped': CustomEvent
}

export interface UndecryptableMessage {
  roomId: string
  id: string
  sender: Address
  senderPeerId: string
  sentAtMs: number
  reason: string
}
