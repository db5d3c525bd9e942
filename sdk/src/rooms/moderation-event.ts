import { getAddress } from 'ethers'
import { z } from 'zod'
import { WIRE_VERSION } from '../constants.ts'
import { sha256Hex } from '../crypto/primitives.ts'
import { canonicalJson, utf8 } from '../encoding.ts'
import { isEoaSignature } from '../identity/certificate.ts'
import type { WalletSigner } from '../identity/signer.ts'
import { recordTimeSchema, sha256HexSchema } from '../json-records.ts'
import type { AbortOptions, Address } from '../types.ts'

/**
 * One event of a room's moderation log (docs/architecture.md, Moderation): an action, signed by its author's
 * wallet, naming the room and the hash of the event before it (the room id for the first). It travels as the
 * `moderation` record on the room topic, the record being the event itself. The wallet signs it (not the
 * device's session key, as presence and keys are) because the log must stay verifiable after every session
 * certificate has expired: a member joining a year later checks the whole log from the signatures alone.
 */
export const MODERATION_ACTIONS = ['mod-add', 'mod-remove', 'owner-transfer', 'kick', 'ban', 'unban'] as const
export type ModerationAction = (typeof MODERATION_ACTIONS)[number]

const addressSchema = z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'an 0x-prefixed 20-byte address')

export const moderationEventSchema = z
  .object({
    v: z.literal(WIRE_VERSION),
    type: z.literal('moderation'),
    room: sha256HexSchema,
    /** The hash of the previous event ({@link moderationEventHash}); the room id for the first. */
    prev: sha256HexSchema,
    action: z.enum(MODERATION_ACTIONS),
    /** The wallet the action is about: the new moderator or owner, the member kicked, banned or unbanned. */
    target: addressSchema,
    author: addressSchema,
    atMs: recordTimeSchema,
    /** The author's wallet signature (EIP-191) over {@link moderationSigningText}. */
    sig: z.string().regex(/^0x(?:[0-9a-fA-F]{2}){65}$/, 'a 65-byte signature'),
  })
  .strict()
export type ModerationEvent = z.infer<typeof moderationEventSchema>
export type UnsignedModerationEvent = Omit<ModerationEvent, 'sig'>

/** An event's hash: sha256 of its canonical JSON, signature included; what the next event's `prev` names. */
export function moderationEventHash(event: ModerationEvent): string {
  return sha256Hex(utf8.encode(canonicalJson(event)))
}

/** What the author's wallet shows and signs: readable, and bound to every field by the digest of the event. */
export function moderationSigningText(event: UnsignedModerationEvent): string {
  const digest = sha256Hex(utf8.encode(canonicalJson(event)))
  return [
    'SecureChat moderation',
    `room: ${event.room}`,
    `action: ${event.action} ${event.target}`,
    `after: ${event.prev}`,
    `event: ${digest}`,
  ].join('\n')
}

export interface CreateModerationEventParams {
  signer: WalletSigner
  room: string
  prev: string
  action: ModerationAction
  target: string
  now?: number
}

/** Signs a new event with the author's wallet. Whether the author may act is the log's to judge. */
export async function createModerationEvent(
  params: CreateModerationEventParams,
  options: AbortOptions = {},
): Promise<ModerationEvent> {
  const author = await params.signer.getAddress(options)
  const unsigned = moderationEventSchema.omit({ sig: true }).parse({
    v: WIRE_VERSION,
    type: 'moderation',
    room: params.room,
    prev: params.prev,
    action: params.action,
    target: getAddress(params.target),
    author,
    atMs: params.now ?? Date.now(),
  })
  const sig = await params.signer.signMessage(moderationSigningText(unsigned), options)
  return { ...unsigned, sig }
}

/**
 * Whether `event` is signed by its author. Offline, so externally owned accounts only (as a manifest in gossip
 * validation): a contract wallet cannot moderate yet (docs/architecture.md, Not built yet).
 */
export function isSignedByAuthor(event: ModerationEvent): boolean {
  const { sig, ...unsigned } = event
  return isEoaSignature(moderationSigningText(unsigned), sig, event.author)
}

/** An address in the one form the log compares: checksummed. */
export function normalAddress(address: string): Address {
  return getAddress(address) as Address
}
