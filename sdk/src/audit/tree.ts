/**
 * A Merkle tree laid out exactly as OpenZeppelin's `StandardMerkleTree` (`@openzeppelin/merkle-tree`) lays it
 * out — leaves hashed as `keccak256(keccak256(abi.encode(leaf)))`, sorted, stored in one array with the root at
 * index 0, parents hashing their children in sorted order — so its dump loads with `StandardMerkleTree.load` and
 * its proofs verify with `StandardMerkleTree.verify` and Solidity's `MerkleProof.verify`.
 *
 * Why not use the library's class directly: it hex-encodes and BigInt-compares at every step and encodes leaves
 * with a generic ABI coder, which costs ~0.25 ms per leaf (25 s for 100,000 leaves on our machines, on the relay's
 * event loop). Our leaves are five static 32-byte words, so this module encodes them by hand and works on bytes:
 * the same tree in a small fraction of the time. `tree.test.ts` checks it against the library on random batches.
 */
import { bytesToHex, hexToBytes, keccak256 } from '../crypto/primitives.ts'
import { LEAF_ENCODING } from './constants.ts'
import { InvalidLeafListError } from './errors.ts'

/** A leaf as OpenZeppelin's tree stores it: `[roomId, messageId, sender, timestampMs, ciphertextHash]`. */
export type LeafValue = [roomId: string, messageId: string, sender: string, timestampMs: string, ciphertextHash: string]

/** `StandardMerkleTree.dump()`'s format (`StandardMerkleTreeData`). */
export interface LeafList {
  format: 'standard-v1'
  leafEncoding: string[]
  tree: string[]
  values: Array<{ value: LeafValue; treeIndex: number }>
}

const WORD = 32

/** The 160-byte `abi.encode(bytes32, bytes32, address, uint64, bytes32)` of a leaf. */
export function encodeLeafValue(value: LeafValue): Uint8Array {
  const out = new Uint8Array(WORD * 5)
  out.set(hexToBytes(strip(value[0])), 0)
  out.set(hexToBytes(strip(value[1])), WORD)
  out.set(hexToBytes(strip(value[2])), WORD * 2 + 12)
  let t = BigInt(value[3])
  for (let i = WORD * 4 - 1; t > 0n; i--) {
    out[i] = Number(t & 0xffn)
    t >>= 8n
  }
  out.set(hexToBytes(strip(value[4])), WORD * 4)
  return out
}

/** `keccak256(keccak256(abi.encode(leaf)))`: OpenZeppelin's standard leaf hash. */
export function leafValueHash(value: LeafValue): Uint8Array {
  return keccak256(keccak256(encodeLeafValue(value)))
}

/** `keccak256(sorted(a, b))`: OpenZeppelin's `Hashes.commutativeKeccak256`. */
function nodeHash(a: Uint8Array, b: Uint8Array): Uint8Array {
  const pair = new Uint8Array(WORD * 2)
  if (compareBytes(a, b) <= 0) {
    pair.set(a, 0)
    pair.set(b, WORD)
  } else {
    pair.set(b, 0)
    pair.set(a, WORD)
  }
  return keccak256(pair)
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!
    if (d !== 0) return d
  }
  return a.length - b.length
}

/** Hashes between two pauses of an asynchronous build or load, so a relay's event loop keeps moving. */
const HASHES_PER_SLICE = 2_048

/** A built tree: nodes as bytes (root at 0), and where each value's leaf sits. */
export class MerkleTree {
  readonly #nodes: Uint8Array[]
  readonly values: ReadonlyArray<{ value: LeafValue; treeIndex: number }>

  private constructor(nodes: Uint8Array[], values: Array<{ value: LeafValue; treeIndex: number }>) {
    this.#nodes = nodes
    this.values = values
  }

  /** Builds the tree of `values`, in the order and layout `StandardMerkleTree.of(values, LEAF_ENCODING)` uses. */
  static of(values: readonly LeafValue[]): MerkleTree {
    return runSync(buildSteps(values))
  }

  /** {@link of}, pausing every few thousand hashes so the event loop keeps running. */
  static build(values: readonly LeafValue[], options: { signal?: AbortSignal } = {}): Promise<MerkleTree> {
    return runSliced(buildSteps(values), options.signal)
  }

  /**
   * Loads a dump (`StandardMerkleTree.dump()` format) and checks it as `StandardMerkleTree.load` does: the
   * encoding is ours, every value hashes to its leaf, every parent to its children.
   */
  static load(list: LeafList): MerkleTree {
    return runSync(loadSteps(list))
  }

  /** {@link load}, pausing every few thousand hashes so the event loop keeps running. */
  static loadSliced(list: LeafList, options: { signal?: AbortSignal } = {}): Promise<MerkleTree> {
    return runSliced(loadSteps(list), options.signal)
  }

  /** @internal */
  static fromParts(nodes: Uint8Array[], values: Array<{ value: LeafValue; treeIndex: number }>): MerkleTree {
    return new MerkleTree(nodes, values)
  }

  get root(): `0x${string}` {
    return `0x${bytesToHex(this.#nodes[0]!)}`
  }

  get length(): number {
    return this.values.length
  }

  /** The sibling hashes from the leaf of `values[valueIndex]` up to the root. */
  proof(valueIndex: number): `0x${string}`[] {
    const entry = this.values[valueIndex]
    if (entry === undefined) throw new RangeError(`valueIndex: no value ${valueIndex} (the tree has ${this.length})`)
    const proof: `0x${string}`[] = []
    for (let i = entry.treeIndex; i > 0; i = Math.floor((i - 1) / 2)) {
      proof.push(`0x${bytesToHex(this.#nodes[i - (-1) ** (i % 2)]!)}`)
    }
    return proof
  }

  /** `StandardMerkleTree.dump()` of the same tree. */
  dump(): LeafList {
    return {
      format: 'standard-v1',
      leafEncoding: [...LEAF_ENCODING],
      tree: this.#nodes.map((node) => `0x${bytesToHex(node)}`),
      values: this.values.map(({ value, treeIndex }) => ({ value, treeIndex })),
    }
  }
}

function* buildSteps(values: readonly LeafValue[]): Generator<void, MerkleTree> {
  if (values.length === 0) throw new InvalidLeafListError('a batch needs at least one leaf')
  const hashed: Array<{ valueIndex: number; hash: Uint8Array }> = []
  for (const [valueIndex, value] of values.entries()) {
    hashed.push({ valueIndex, hash: leafValueHash(value) })
    if (valueIndex % HASHES_PER_SLICE === HASHES_PER_SLICE - 1) yield
  }
  // Array.prototype.sort is stable, like the library's; equal hashes keep their input order.
  hashed.sort((a, b) => compareBytes(a.hash, b.hash))
  const nodes = new Array<Uint8Array>(2 * values.length - 1)
  for (const [i, { hash }] of hashed.entries()) nodes[nodes.length - 1 - i] = hash
  for (let i = nodes.length - 1 - values.length; i >= 0; i--) {
    nodes[i] = nodeHash(nodes[2 * i + 1]!, nodes[2 * i + 2]!)
    if (i % HASHES_PER_SLICE === 0) yield
  }
  const indexed = values.map((value) => ({ value, treeIndex: 0 }))
  for (const [leafIndex, { valueIndex }] of hashed.entries())
    indexed[valueIndex]!.treeIndex = nodes.length - 1 - leafIndex
  return MerkleTree.fromParts(nodes, indexed)
}

function* loadSteps(list: LeafList): Generator<void, MerkleTree> {
  if (list.format !== 'standard-v1') throw new InvalidLeafListError(`unknown leaf list format ${String(list.format)}`)
  if (list.leafEncoding.join(',') !== LEAF_ENCODING.join(',')) {
    throw new InvalidLeafListError('the leaf list uses another leaf encoding', {
      details: { leafEncoding: list.leafEncoding, expected: LEAF_ENCODING },
    })
  }
  const count = list.values.length
  if (count === 0 || list.tree.length !== 2 * count - 1) {
    throw new InvalidLeafListError('the leaf list has a tree of the wrong size', {
      details: { values: count, nodes: list.tree.length },
    })
  }
  const nodes = list.tree.map((hex) => hexToBytes(strip(hex)))
  if (nodes.some((node) => node.length !== WORD)) throw new InvalidLeafListError('a tree node is not 32 bytes')
  const seen = new Set<number>()
  for (const [i, { value, treeIndex }] of list.values.entries()) {
    if (!Number.isInteger(treeIndex) || treeIndex < count - 1 || treeIndex >= nodes.length || seen.has(treeIndex)) {
      throw new InvalidLeafListError('a value names an invalid leaf index', { details: { treeIndex } })
    }
    seen.add(treeIndex)
    if (compareBytes(leafValueHash(value), nodes[treeIndex]!) !== 0) {
      throw new InvalidLeafListError('a value does not hash to its leaf', { details: { value, treeIndex } })
    }
    if (i % HASHES_PER_SLICE === HASHES_PER_SLICE - 1) yield
  }
  for (let i = count - 2; i >= 0; i--) {
    if (compareBytes(nodeHash(nodes[2 * i + 1]!, nodes[2 * i + 2]!), nodes[i]!) !== 0) {
      throw new InvalidLeafListError('the tree does not hash to its root', { details: { node: i } })
    }
    if (i % HASHES_PER_SLICE === 0) yield
  }
  return MerkleTree.fromParts(
    nodes,
    list.values.map(({ value, treeIndex }) => ({ value, treeIndex })),
  )
}

function runSync<T>(steps: Generator<void, T>): T {
  for (;;) {
    const next = steps.next()
    if (next.done === true) return next.value
  }
}

async function runSliced<T>(steps: Generator<void, T>, signal: AbortSignal | undefined): Promise<T> {
  for (;;) {
    signal?.throwIfAborted()
    const next = steps.next()
    if (next.done === true) return next.value
    await new Promise((resolve) => setTimeout(resolve, 0))
  }
}

/** Whether `proof` leads from `value`'s leaf to `root` (OpenZeppelin's `MerkleProof.verify`). */
export function verifyLeafProof(params: { root: string; value: LeafValue; proof: readonly string[] }): boolean {
  let node = leafValueHash(params.value)
  for (const sibling of params.proof) {
    const bytes = hexToBytes(strip(sibling))
    if (bytes.length !== WORD) return false
    node = nodeHash(node, bytes)
  }
  return `0x${bytesToHex(node)}` === params.root.toLowerCase()
}

function strip(hex: string): string {
  return hex.startsWith('0x') || hex.startsWith('0X') ? hex.slice(2) : hex
}
