/**
 * The proofs a relay hands out (`GET /audit/proof?leaf=`): the trees of its most recently anchored batches,
 * packed (32 bytes per node), indexed by leaf hash. Nothing here is trusted by the asker: a browser recomputes
 * the leaf, checks the proof against the root and reads the root's anchor from the chain itself.
 */
import type { AuditBatch } from '@securechat/sdk/audit'
import { ANCHOR_PROOF_INDEX_LEAVES } from './constants.ts'

/** An anchored batch as the relay reports it; the chain is what vouches for it. */
export interface AnchoredBatchInfo {
  root: string
  count: number
  cid: string
  blockNumber: number
  /** The anchor transaction, when this relay sent it (not when the root was already anchored). */
  transactionHash?: string
}

/** The answer to `GET /audit/proof`. */
export interface AnchoredProof {
  root: string
  /** Sibling hashes from the leaf up to the root (OpenZeppelin's `MerkleProof` order). */
  proof: string[]
  batch: AnchoredBatchInfo
}

/** What answers `/audit/proof`: an anchorer, a relay's intake of members' leaf lists. */
export interface ProofSource {
  proofOf(leafHash: string): AnchoredProof | undefined
}

/** One source answering from the first of `sources` that holds the leaf (the relay's own batches, then members'). */
export function anyProofSource(sources: readonly ProofSource[]): ProofSource {
  return {
    proofOf(leafHash) {
      for (const source of sources) {
        const proof = source.proofOf(leafHash)
        if (proof !== undefined) return proof
      }
      return undefined
    },
  }
}

interface Entry {
  info: AnchoredBatchInfo
  /** The tree's nodes, root first, as `StandardMerkleTree` lays them out. */
  nodes: Buffer
}

const WORD = 32

export class AnchoredProofIndex {
  readonly #maxLeaves: number
  readonly #entries: Entry[] = []
  readonly #roots = new Set<string>()
  readonly #byLeaf = new Map<string, { entry: Entry; treeIndex: number }>()
  #leaves = 0

  constructor(init: { maxLeaves?: number } = {}) {
    this.#maxLeaves = init.maxLeaves ?? ANCHOR_PROOF_INDEX_LEAVES
  }

  /** Leaf hashes held. */
  get size(): number {
    return this.#byLeaf.size
  }

  /**
   * Adds an anchored batch (once: a root already held is ignored); the batches anchored earliest go once more
   * than `maxLeaves` leaves are held.
   */
  add(info: AnchoredBatchInfo, batch: AuditBatch): void {
    if (this.#roots.has(info.root)) return
    this.#roots.add(info.root)
    const tree = batch.tree.dump().tree
    const nodes = Buffer.alloc(tree.length * WORD)
    for (const [i, hex] of tree.entries()) nodes.write(hex.slice(2), i * WORD, WORD, 'hex')
    const entry: Entry = { info, nodes }
    // Ordered by block, so a restart's reload (newest first) and new anchors interleave correctly.
    const at = this.#entries.findLastIndex((e) => e.info.blockNumber <= info.blockNumber)
    this.#entries.splice(at + 1, 0, entry)
    for (const { treeIndex } of batch.tree.values) this.#byLeaf.set(tree[treeIndex]!, { entry, treeIndex })
    this.#leaves += batch.tree.length
    while (this.#leaves > this.#maxLeaves && this.#entries.length > 1) this.#evict(this.#entries.shift()!)
  }

  /** The proof of the leaf whose hash is `leafHash` (0x-prefixed hex), or undefined when no batch held has it. */
  proofOf(leafHash: string): AnchoredProof | undefined {
    const found = this.#byLeaf.get(leafHash.toLowerCase())
    if (found === undefined) return undefined
    const { entry, treeIndex } = found
    const proof: string[] = []
    for (let i = treeIndex; i > 0; i = Math.floor((i - 1) / 2)) {
      const sibling = i % 2 === 1 ? i + 1 : i - 1
      proof.push(`0x${entry.nodes.toString('hex', sibling * WORD, (sibling + 1) * WORD)}`)
    }
    return { root: entry.info.root, proof, batch: { ...entry.info } }
  }

  #evict(entry: Entry): void {
    this.#roots.delete(entry.info.root)
    const count = entry.nodes.length / WORD
    for (let i = Math.floor(count / 2); i < count; i++) {
      const key = `0x${entry.nodes.toString('hex', i * WORD, (i + 1) * WORD)}`
      if (this.#byLeaf.get(key)?.entry === entry) this.#byLeaf.delete(key)
    }
    this.#leaves -= (count + 1) / 2
  }
}
