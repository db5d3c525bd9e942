/**
 * The proofs a relay hands out (`GET /audit/proof?leaf=`): the trees of its most recently anchored batches,
 * packed (32 bytes per node), indexed by leaf hash. A relay keeps one: its anchorer's batches and the members'
 * batches it took (`leaf-list-intake.ts`) share it, so {@link ANCHOR_PROOF_INDEX_LEAVES} bounds them together. Nothing here is trusted by the asker: a browser recomputes
 * the leaf, checks the proof against the root and reads the root's anchor from the chain itself.
 */
import type { AuditBatch } from '@securechat/sdk/audit'
import type { AnchoredBatchInfo, AnchoredProof } from '@securechat/sdk/relay-api'
import { ANCHOR_PROOF_INDEX_LEAVES } from './constants.ts'

/** What answers `/audit/proof`. */
export interface ProofSource {
  proofOf(leafHash: string): AnchoredProof | undefined
}

interface Entry {
  /** Its number in {@link AnchoredProofIndex}'s entries by id. */
  id: number
  info: AnchoredBatchInfo
  /** The tree's nodes, root first, as `StandardMerkleTree` lays them out. */
  nodes: Buffer
}

const WORD = 32
/**
 * Bytes of a leaf hash that key the index, as a latin1 string of this many characters (the 66-character hex would
 * cost some 60 bytes more per leaf): 128 bits, beyond any birthday search, and a lookup still compares the whole hash.
 */
const KEY_BYTES = 16
/** A tree index fits below this (a batch holds at most `MAX_BATCH_LEAVES` leaves, its tree twice as many nodes). */
const TREE_INDEX_SPAN = 2 ** 20

export class AnchoredProofIndex implements ProofSource {
  readonly #maxLeaves: number
  readonly #entries: Entry[] = []
  readonly #roots = new Set<string>()
  readonly #byId = new Map<number, Entry>()
  /** Leaf hash key → `entry.id * TREE_INDEX_SPAN + treeIndex`: a number, not an object per leaf. */
  readonly #byLeaf = new Map<string, number>()
  #leaves = 0
  #nextId = 0

  constructor(init: { maxLeaves?: number } = {}) {
    this.#maxLeaves = init.maxLeaves ?? ANCHOR_PROOF_INDEX_LEAVES
  }

  /** Leaves held at most (whole batches go, the earliest anchored first). */
  get maxLeaves(): number {
    return this.#maxLeaves
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
    const entry: Entry = { id: this.#nextId++, info, nodes }
    this.#byId.set(entry.id, entry)
    // Ordered by block, so a restart's reload (newest first) and new anchors interleave correctly.
    const at = this.#entries.findLastIndex((e) => e.info.blockNumber <= info.blockNumber)
    this.#entries.splice(at + 1, 0, entry)
    for (const { treeIndex } of batch.tree.values) {
      this.#byLeaf.set(keyAt(nodes, treeIndex), entry.id * TREE_INDEX_SPAN + treeIndex)
    }
    this.#leaves += batch.tree.length
    while (this.#leaves > this.#maxLeaves && this.#entries.length > 1) this.#evict(this.#entries.shift()!)
  }

  /** The proof of the leaf whose hash is `leafHash` (0x-prefixed hex), or undefined when no batch held has it. */
  proofOf(leafHash: string): AnchoredProof | undefined {
    if (!/^0x[0-9a-fA-F]{64}$/.test(leafHash)) return undefined
    const hash = Buffer.from(leafHash.slice(2), 'hex')
    const found = this.#byLeaf.get(hash.toString('latin1', 0, KEY_BYTES))
    if (found === undefined) return undefined
    const entry = this.#byId.get(Math.floor(found / TREE_INDEX_SPAN))
    const treeIndex = found % TREE_INDEX_SPAN
    if (entry === undefined || !hash.equals(entry.nodes.subarray(treeIndex * WORD, (treeIndex + 1) * WORD))) {
      return undefined
    }
    const proof: string[] = []
    for (let i = treeIndex; i > 0; i = Math.floor((i - 1) / 2)) {
      const sibling = i % 2 === 1 ? i + 1 : i - 1
      proof.push(`0x${entry.nodes.toString('hex', sibling * WORD, (sibling + 1) * WORD)}`)
    }
    return { root: entry.info.root, proof, batch: { ...entry.info } }
  }

  #evict(entry: Entry): void {
    this.#roots.delete(entry.info.root)
    this.#byId.delete(entry.id)
    const count = entry.nodes.length / WORD
    for (let i = Math.floor(count / 2); i < count; i++) {
      const key = keyAt(entry.nodes, i)
      const found = this.#byLeaf.get(key)
      if (found !== undefined && Math.floor(found / TREE_INDEX_SPAN) === entry.id) this.#byLeaf.delete(key)
    }
    this.#leaves -= (count + 1) / 2
  }
}

/** The index key of the node at `treeIndex` of a packed tree. */
function keyAt(nodes: Buffer, treeIndex: number): string {
  return nodes.toString('latin1', treeIndex * WORD, treeIndex * WORD + KEY_BYTES)
}
