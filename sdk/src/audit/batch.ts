/**
 * Batches: many rooms' leaves under one Merkle root, anchored in one transaction. The batch's leaf list is
 * `StandardMerkleTree.dump()`'s JSON, published on IPFS, so anyone can rebuild the tree and its proofs.
 */
import { z } from 'zod'
import { utf8 } from '../encoding.ts'
import { InvalidInputError } from '../errors.ts'
import type { AbortOptions, Bytes32 } from '../types.ts'
import { MAX_BATCH_LEAVES, MAX_LEAF_LIST_BYTES } from './constants.ts'
import { InvalidLeafListError } from './errors.ts'
import { type AuditLeaf, leafFromValue, leafKey, leafToValue } from './leaf.ts'
import { type LeafList, type LeafValue, MerkleTree } from './tree.ts'

/** A built batch: its tree, root, and leaves in the order given (duplicates removed). */
export interface AuditBatch {
  readonly root: Bytes32
  readonly count: number
  readonly leaves: readonly AuditLeaf[]
  readonly tree: MerkleTree
}

/** Where a message sits in a batch: the proof from its leaf to the batch's root. */
export interface InclusionProof {
  root: Bytes32
  leaf: AuditLeaf
  proof: Bytes32[]
}

/**
 * Builds the batch of `leaves` (any rooms, any order; a message given twice counts once). The root does not
 * depend on the order: leaves are sorted by hash, as `StandardMerkleTree.of` sorts them.
 */
export async function buildBatch(leaves: Iterable<AuditLeaf>, options: AbortOptions = {}): Promise<AuditBatch> {
  const unique = dedupe(leaves)
  if (unique.length === 0) throw new InvalidInputError('a batch needs at least one leaf')
  if (unique.length > MAX_BATCH_LEAVES) {
    throw new InvalidInputError(`a batch holds at most ${MAX_BATCH_LEAVES} leaves, got ${unique.length}`, {
      hint: 'split the leaves into several batches',
    })
  }
  const tree = await MerkleTree.build(unique.map(leafToValue), options)
  return { root: tree.root, count: unique.length, leaves: unique, tree }
}

/** {@link buildBatch} without pauses, for small batches and tests. */
export function buildBatchSync(leaves: Iterable<AuditLeaf>): AuditBatch {
  const unique = dedupe(leaves)
  if (unique.length === 0) throw new InvalidInputError('a batch needs at least one leaf')
  const tree = MerkleTree.of(unique.map(leafToValue))
  return { root: tree.root, count: unique.length, leaves: unique, tree }
}

function dedupe(leaves: Iterable<AuditLeaf>): AuditLeaf[] {
  const seen = new Set<string>()
  const unique: AuditLeaf[] = []
  for (const leaf of leaves) {
    const key = leafKey(leaf)
    if (seen.has(key)) continue
    seen.add(key)
    unique.push(leaf)
  }
  return unique
}

/** Leaf positions by message id (then room), built once per batch on first lookup. */
const indexes = new WeakMap<AuditBatch, Map<string, number[]>>()

function indexOf(batch: AuditBatch): Map<string, number[]> {
  let index = indexes.get(batch)
  if (index === undefined) {
    index = new Map()
    for (const [i, leaf] of batch.leaves.entries()) {
      const at = index.get(leaf.messageId)
      if (at === undefined) index.set(leaf.messageId, [i])
      else at.push(i)
    }
    indexes.set(batch, index)
  }
  return index
}

/** The proof of the message `messageId` (in room `roomId`, if given), or undefined when the batch lacks it. */
export function proveInclusion(
  batch: AuditBatch,
  find: { messageId: string; roomId?: string },
): InclusionProof | undefined {
  const messageId = `0x${find.messageId.toLowerCase().replace(/^0x/, '')}`
  const roomId = find.roomId === undefined ? undefined : `0x${find.roomId.toLowerCase().replace(/^0x/, '')}`
  const index = indexOf(batch)
    .get(messageId)
    ?.find((i) => roomId === undefined || batch.leaves[i]!.roomId === roomId)
  if (index === undefined) return undefined
  return { root: batch.root, leaf: batch.leaves[index]!, proof: batch.tree.proof(index) as Bytes32[] }
}

/** The leaves of one room in a batch. */
export function roomLeaves(batch: AuditBatch, roomId: string): AuditLeaf[] {
  const room = `0x${roomId.toLowerCase().replace(/^0x/, '')}`
  return batch.leaves.filter((leaf) => leaf.roomId === room)
}

/** The batch's leaf list: `StandardMerkleTree.dump()` of its tree. */
export function leafListOf(batch: AuditBatch): LeafList {
  return batch.tree.dump()
}

/** The leaf list as published: compact JSON in UTF-8. The same batch always gives the same bytes (and CID). */
export function encodeLeafList(batch: AuditBatch): Uint8Array {
  return utf8.encode(JSON.stringify(leafListOf(batch)))
}

const leafListSchema = z.object({
  format: z.literal('standard-v1'),
  leafEncoding: z.array(z.string()),
  tree: z.array(z.string().regex(/^0x[0-9a-fA-F]{64}$/)),
  values: z
    .array(
      z.object({
        value: z.tuple([z.string(), z.string(), z.string(), z.string(), z.string()]),
        treeIndex: z.number().int().nonnegative(),
      }),
    )
    .min(1)
    .max(MAX_BATCH_LEAVES),
})

/**
 * Parses a leaf list (bytes from IPFS or its parsed JSON), checks that every value hashes into the tree and the
 * tree into its root, and — when `expectedRoot` is given — that the root is the one anchored. Throws
 * {@link InvalidLeafListError}.
 */
export async function decodeLeafList(
  input: Uint8Array | unknown,
  options: AbortOptions & { expectedRoot?: string } = {},
): Promise<AuditBatch> {
  let json: unknown = input
  if (input instanceof Uint8Array) {
    if (input.byteLength > MAX_LEAF_LIST_BYTES) {
      throw new InvalidLeafListError(`the leaf list is larger than ${MAX_LEAF_LIST_BYTES} bytes`)
    }
    try {
      json = JSON.parse(utf8.decode(input))
    } catch (cause) {
      throw new InvalidLeafListError('the leaf list is not UTF-8 JSON', { cause })
    }
  }
  const parsed = leafListSchema.safeParse(json)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new InvalidLeafListError(`malformed leaf list: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`)
  }
  let leaves: AuditLeaf[]
  try {
    leaves = parsed.data.values.map(({ value }) => leafFromValue(value))
  } catch (cause) {
    throw new InvalidLeafListError('the leaf list holds a malformed leaf', { cause })
  }
  // Values as we write them (checksummed sender, lowercase hex), so the rebuilt hashes compare equal.
  const list: LeafList = {
    format: 'standard-v1',
    leafEncoding: parsed.data.leafEncoding,
    tree: parsed.data.tree,
    values: parsed.data.values.map(({ treeIndex }, i) => ({ value: leafToValue(leaves[i]!), treeIndex })),
  }
  const tree = await MerkleTree.loadSliced(list, options)
  if (options.expectedRoot !== undefined && tree.root !== options.expectedRoot.toLowerCase()) {
    throw new InvalidLeafListError('the leaf list rebuilds another root than the one anchored', {
      details: { root: tree.root, expected: options.expectedRoot },
    })
  }
  return { root: tree.root, count: leaves.length, leaves, tree }
}

/** Rebuilds a batch from its leaf values alone (as a transcript carries them) and checks the root. */
export async function batchFromValues(
  values: readonly LeafValue[],
  options: AbortOptions & { expectedRoot?: string } = {},
): Promise<AuditBatch> {
  const leaves = values.map((value) => leafFromValue(value))
  const batch = await buildBatch(leaves, options)
  if (batch.count !== leaves.length) throw new InvalidLeafListError('the leaf list names a message twice')
  if (options.expectedRoot !== undefined && batch.root !== options.expectedRoot.toLowerCase()) {
    throw new InvalidLeafListError('the leaves rebuild another root than the one anchored', {
      details: { root: batch.root, expected: options.expectedRoot },
    })
  }
  return batch
}
