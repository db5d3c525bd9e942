/**
 * DM topic names (docs/architecture.md, Direct messages; docs/direct-messages.md).
 *
 * - Inbox of a wallet: `DM_INBOX_TOPIC_PREFIX + hex(SHA-256("SecureChat/dm-inbox/v1" || address (20 bytes)))`.
 *   Anyone who knows the address can compute it — a first contact has to start somewhere — so
 *   the inbox carries only what must be public: device announcements (certificate and key
 *   bundle), queries, and PQXDH initial messages.
 * - Pair of devices X, Y: `DM_TOPIC_PREFIX + hex(HKDF-SHA-256(IKM = X25519(IK_X, IK_Y),
 *   info = "SecureChat/dm-topic/v1" || u16-prefixed sorted PeerIds, 32 bytes))`. Only X and Y
 *   hold a secret identity key of the pair, so nobody else can link the name to them.
 */

import { getAddress } from 'ethers'
import {
  bytesToHex,
  concatBytes,
  hexToBytes,
  hkdfSha256,
  type KeyPair,
  sha256,
  wipe,
  x25519SharedSecret,
} from '../crypto/primitives.ts'
import { utf8 } from '../encoding.ts'
import { InvalidInputError } from '../errors.ts'
import { SHA256_HEX_PATTERN } from '../json-records.ts'
import type { Address } from '../types.ts'
import { DM_INBOX_TOPIC_PREFIX, DM_TOPIC_PREFIX } from './constants.ts'

const INBOX_LABEL = utf8.encode('SecureChat/dm-inbox/v1')
const PAIR_LABEL = utf8.encode('SecureChat/dm-topic/v1')

/** The inbox id of a wallet (hex); the same for any spelling of the address. */
export function inboxId(address: string): string {
  const bytes = hexToBytes(getAddress(address).slice(2).toLowerCase())
  const input = new Uint8Array(INBOX_LABEL.length + bytes.length)
  input.set(INBOX_LABEL)
  input.set(bytes, INBOX_LABEL.length)
  return bytesToHex(sha256(input))
}

/** The EIP-55 form of an address; throws {@link InvalidInputError} for what is not one. */
export function checksumAddress(address: string): Address {
  try {
    return getAddress(address) as Address
  } catch (cause) {
    throw new InvalidInputError('not an Ethereum address', { details: { address }, cause })
  }
}

export function inboxTopic(address: string): string {
  return `${DM_INBOX_TOPIC_PREFIX}${inboxId(address)}`
}

/** The topic of the device pair (self, remote): the same on both sides. */
export async function pairTopic(params: {
  selfIdentityKey: KeyPair
  selfPeerId: string
  remoteIdentityKey: Uint8Array
  remotePeerId: string
}): Promise<string> {
  const dh = await x25519SharedSecret({
    secretKey: params.selfIdentityKey.secretKey,
    publicKey: params.remoteIdentityKey,
  })
  const [first, second] = [params.selfPeerId, params.remotePeerId].sort()
  const info = [PAIR_LABEL, lengthPrefixed(first!), lengthPrefixed(second!)]
  const id = hkdfSha256({ ikm: dh, info: concatBytes(...info), length: 32 })
  wipe(dh)
  return `${DM_TOPIC_PREFIX}${bytesToHex(id)}`
}

function lengthPrefixed(text: string): Uint8Array {
  const bytes = utf8.encode(text)
  const out = new Uint8Array(2 + bytes.length)
  new DataView(out.buffer).setUint16(0, bytes.length)
  out.set(bytes, 2)
  return out
}

/** What a topic is, for the DM layer: a wallet's inbox, a device pair, or neither. */
export type DmTopicKind = { kind: 'inbox'; inbox: string } | { kind: 'pair'; pair: string } | undefined

export function parseDmTopic(topic: string): DmTopicKind {
  if (topic.startsWith(DM_INBOX_TOPIC_PREFIX)) {
    const inbox = topic.slice(DM_INBOX_TOPIC_PREFIX.length)
    return SHA256_HEX_PATTERN.test(inbox) ? { kind: 'inbox', inbox } : undefined
  }
  if (topic.startsWith(DM_TOPIC_PREFIX)) {
    const pair = topic.slice(DM_TOPIC_PREFIX.length)
    return SHA256_HEX_PATTERN.test(pair) ? { kind: 'pair', pair } : undefined
  }
  return undefined
}

/** True for every topic the DM layer uses (relays join these). */
export function isDmTopic(topic: string): boolean {
  return parseDmTopic(topic) !== undefined
}
