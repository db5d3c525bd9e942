import { StandardMerkleTree } from '@openzeppelin/merkle-tree'
import { getAddress } from 'ethers'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { LEAF_ENCODING } from './constants.ts'
import { InvalidLeafListError } from './errors.ts'
import { type LeafValue, MerkleTree, verifyLeafProof } from './tree.ts'

const bytes32 = fc.stringMatching(/^[0-9a-f]{64}$/).map((hex) => `0x${hex}`)
const leafArb: fc.Arbitrary<LeafValue> = fc.tuple(
  bytes32,
  bytes32,
  fc.stringMatching(/^[0-9a-f]{40}$/).map((hex) => getAddress(`0x${hex}`)),
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map(String),
  bytes32,
)
const encoding = [...LEAF_ENCODING]

describe('MerkleTree: the same tree as OpenZeppelin StandardMerkleTree', () => {
  it('behavior: dump, root and proofs equal the library’s for random batches', () => {
    fc.assert(
      fc.property(fc.array(leafArb, { minLength: 1, maxLength: 40 }), (values) => {
        const ours = MerkleTree.of(values)
        const theirs = StandardMerkleTree.of(values, encoding)
        expect(ours.root).toBe(theirs.root)
        expect(ours.dump()).toEqual(theirs.dump())
        for (let i = 0; i < values.length; i++) {
          expect(ours.proof(i)).toEqual(theirs.getProof(i))
          expect(StandardMerkleTree.verify(ours.root, encoding, values[i]!, ours.proof(i))).toBe(true)
          expect(verifyLeafProof({ root: ours.root, value: values[i]!, proof: theirs.getProof(i) })).toBe(true)
        }
      }),
      { numRuns: 60 },
    )
  })

  it('behavior: our dump loads in the library, and the library’s dump loads here', () => {
    fc.assert(
      fc.property(fc.array(leafArb, { minLength: 1, maxLength: 20 }), (values) => {
        const ours = MerkleTree.of(values)
        expect(StandardMerkleTree.load(ours.dump()).root).toBe(ours.root)
        expect(MerkleTree.load(StandardMerkleTree.of(values, encoding).dump()).root).toBe(ours.root)
      }),
      { numRuns: 30 },
    )
  })

  it('behavior: the sliced build gives the same tree as the synchronous one', async () => {
    const values = fc.sample(leafArb, 5_000)
    const sliced = await MerkleTree.build(values)
    expect(sliced.root).toBe(MerkleTree.of(values).root)
  })

  it('error: a dump with a changed value, node or index does not load', () => {
    const values = fc.sample(leafArb, 8)
    const dump = MerkleTree.of(values).dump()
    const changedValue = structuredClone(dump)
    changedValue.values[3]!.value[3] = String(BigInt(changedValue.values[3]!.value[3]) ^ 1n)
    expect(() => MerkleTree.load(changedValue)).toThrow(InvalidLeafListError)
    const changedNode = structuredClone(dump)
    changedNode.tree[1] = `0x${'00'.repeat(32)}`
    expect(() => MerkleTree.load(changedNode)).toThrow(InvalidLeafListError)
    const badIndex = structuredClone(dump)
    badIndex.values[0]!.treeIndex = 0
    expect(() => MerkleTree.load(badIndex)).toThrow(InvalidLeafListError)
    const otherEncoding = { ...structuredClone(dump), leafEncoding: ['bytes32'] }
    expect(() => MerkleTree.load(otherEncoding)).toThrow(InvalidLeafListError)
  })

  it('error: a proof for another value, or a shortened proof, does not verify', () => {
    const values = fc.sample(leafArb, 16)
    const tree = MerkleTree.of(values)
    expect(verifyLeafProof({ root: tree.root, value: values[1]!, proof: tree.proof(2) })).toBe(false)
    expect(verifyLeafProof({ root: tree.root, value: values[1]!, proof: tree.proof(1).slice(1) })).toBe(false)
  })
})
