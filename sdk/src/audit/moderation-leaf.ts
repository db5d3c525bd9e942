/**
 * Moderation leaves (docs/architecture.md, Audit anchoring, and Moderation): a room's moderation log is anchored in
 * the same batches as its messages, as leaves of the same five fields, so the tree, the leaf lists, the relays'
 * intake of members' lists and the contract need nothing new:
 *
 *   (roomId, event hash, the event's author, the number of events in the anchoring log, MODERATION_LEAF_TAG)
 *
 * A leaf says "this event was in a log of `count` events by this block". The event's hash commits to every event
 * before it on its chain (each names its `prev`); a log with concurrent events is a tree, which one event does not
 * commit to, so a relay anchors every event it keeps (each in its next batch) and a moderator anchors every tip
 * of its log — either way every branch is committed.
 */
import { getAddress, isAddress } from 'ethers'
import { InvalidInputError } from '../errors.ts'
import type { ModerationEntry } from '../rooms/moderation-log.ts'
import type { AbortOptions } from '../types.ts'
import { type AuditBatch, buildBatch, encodeLeafList } from './batch.ts'
import { type AnchorResult, type AnchorRootParams, anchorRoot } from './chain.ts'
import { leafListCid } from './cid.ts'
import { MODERATION_LEAF_TAG } from './constants.ts'
import { type AuditLeaf, fromBytes32, toBytes32 } from './leaf.ts'

/** One position of a room's moderation log, as a leaf carries it. */
export interface ModerationPosition {
  roomId: string
  /** The event's hash (`moderationEventHash`), 64 hex digits. */
  hash: string
  /** The event's author. */
  author: string
  /** Events in the anchoring log when it held this one (applied and void alike). */
  count: number
}

/** What a moderation anchor reads of a log: `Room.moderation` or any `ModerationLog`. */
export interface ModerationLogView {
  readonly roomId: string
  entries(): readonly ModerationEntry[]
}

/** The leaf of a moderation log position. Throws {@link InvalidInputError} naming a malformed field. */
export function moderationLeaf(position: ModerationPosition): AuditLeaf {
  if (!isAddress(position.author)) {
    throw new InvalidInputError(`author: expected an address, got ${JSON.stringify(position.author)}`)
  }
  if (!Number.isSafeInteger(position.count) || position.count < 1) {
    throw new InvalidInputError(`count: expected a positive integer, got ${position.count}`)
  }
  return {
    roomId: toBytes32(position.roomId),
    messageId: toBytes32(position.hash),
    sender: getAddress(position.author) as AuditLeaf['sender'],
    timestampMs: position.count,
    ciphertextHash: MODERATION_LEAF_TAG,
  }
}

/** Whether a leaf is a moderation log position rather than a message. */
export function isModerationLeaf(leaf: AuditLeaf): boolean {
  return leaf.ciphertextHash === MODERATION_LEAF_TAG
}

/** The position a moderation leaf names; undefined for a message's leaf. */
export function moderationPositionOf(leaf: AuditLeaf): ModerationPosition | undefined {
  if (!isModerationLeaf(leaf)) return undefined
  return {
    roomId: fromBytes32(leaf.roomId),
    hash: fromBytes32(leaf.messageId),
    author: leaf.sender,
    count: leaf.timestampMs,
  }
}

/**
 * The leaves that commit to the whole log: one per tip (an event no other names as `prev`), each with the log's
 * count. Every other event is on a tip's chain, so nothing of the log can be removed without changing a tip's hash.
 */
export function moderationTipLeaves(log: ModerationLogView): AuditLeaf[] {
  const entries = log.entries()
  const named = new Set(entries.map((entry) => entry.event.prev))
  return entries
    .filter((entry) => !named.has(entry.hash))
    .map((entry) =>
      moderationLeaf({ roomId: log.roomId, hash: entry.hash, author: entry.event.author, count: entries.length }),
    )
}

/** A moderator's anchor ready to send: the batch of the log's tips, its leaf list as relays take it, its CID. */
export interface ModerationBatch {
  batch: AuditBatch
  /** The leaf list as published: hand it to a relay (`POST /audit/leaf-lists`) so verifiers find it. */
  bytes: Uint8Array
  cid: string
}

/** The batch of a log's tips. Throws {@link InvalidInputError} when the log holds no event. */
export async function moderationBatch(log: ModerationLogView, options: AbortOptions = {}): Promise<ModerationBatch> {
  const leaves = moderationTipLeaves(log)
  if (leaves.length === 0) {
    throw new InvalidInputError('the moderation log holds no event to anchor', {
      hint: 'anchor after the first moderation action',
    })
  }
  const batch = await buildBatch(leaves, options)
  const bytes = encodeLeafList(batch)
  // One IPFS block (the lists relays take from members): a log forked into some 2,000 tips would not fit.
  return { batch, bytes, cid: leafListCid(bytes) }
}

/** `anchorRoot`'s signer or wallet and contract; the root, count and CID are the log's. */
export type AnchorModerationLogParams = { log: ModerationLogView } & DistributiveOmit<
  AnchorRootParams,
  'root' | 'count' | 'cid'
>
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never

/**
 * A moderator (or anyone holding the log) anchors the room's moderation log: one `AuditLog.anchor` of the batch of
 * its tips, from an ethers signer or an EIP-1193 wallet, as `anchorRoot` sends any batch. Hand the returned `bytes`
 * to a relay (`relayApi(…).submitLeafList(bytes)`, as the web app does for a member's messages) so `securechat
 * verify --moderation` finds the list. Throws what `anchorRoot` throws, and {@link InvalidInputError} for an
 * empty log.
 */
export async function anchorModerationLog(
  params: AnchorModerationLogParams,
  options: AbortOptions = {},
): Promise<ModerationBatch & { result: AnchorResult }> {
  const { log, ...anchor } = params
  const prepared = await moderationBatch(log, options)
  const result = await anchorRoot(
    { ...anchor, root: prepared.batch.root, count: prepared.batch.count, cid: prepared.cid } as AnchorRootParams,
    options,
  )
  return { ...prepared, result }
}
