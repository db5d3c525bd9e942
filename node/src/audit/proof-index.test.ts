import { type AuditLeaf, buildBatchSync, leafHashOf, leafToValue, verifyLeafProof } from '@securechat/sdk/audit'
import type { Address } from '@securechat/sdk/types'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { AnchoredProofIndex } from './proof-index.ts'

function leaf(batch: number, i: number): AuditLeaf {
  return {
    roomId: `0x${'a1'.repeat(32)}`,
    messageId: `0x${batch.toString(16).padStart(8, '0')}${i.toString(16).padStart(56, '0')}`,
    sender: `0x${'Ab'.repeat(20)}` as Address,
    timestampMs: 1_700_000_000_000 + i,
    ciphertextHash: `0x${'c3'.repeat(32)}`,
  }
}

function batchOf(id: number, size: number) {
  const leaves = Array.from({ length: size }, (_, i) => leaf(id, i))
  const batch = buildBatchSync(leaves)
  return { leaves, batch, info: { root: batch.root, count: batch.count, cid: `cid-${id}`, blockNumber: 100 + id } }
}

describe('AnchoredProofIndex', () => {
  it('behavior: every leaf of every batch size proves into its root', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), (size) => {
        const { leaves, batch, info } = batchOf(1, size)
        const index = new AnchoredProofIndex()
        index.add(info, batch)
        for (const wanted of leaves) {
          const found = index.proofOf(leafHashOf(wanted))
          expect(found?.root).toBe(batch.root)
          expect(verifyLeafProof({ root: batch.root, value: leafToValue(wanted), proof: found!.proof })).toBe(true)
        }
      }),
      { numRuns: 40 },
    )
  })

  it('behavior: past maxLeaves the batches anchored earliest go, whatever order they were added in', () => {
    const index = new AnchoredProofIndex({ maxLeaves: 10 })
    const [a, b, c] = [batchOf(1, 4), batchOf(2, 4), batchOf(3, 4)]
    // A restart reloads newest first while a new batch is anchored: c, then a, then b.
    index.add(c.info, c.batch)
    index.add(a.info, a.batch)
    expect(index.size).toBe(8)
    index.add(b.info, b.batch)
    expect(index.size).toBe(8)
    expect(index.proofOf(leafHashOf(a.leaves[0]!))).toBeUndefined()
    expect(index.proofOf(leafHashOf(b.leaves[0]!))?.batch.cid).toBe('cid-2')
    expect(index.proofOf(leafHashOf(c.leaves[3]!))?.batch.cid).toBe('cid-3')
  })

  it('behavior: a root added twice is held once', () => {
    const index = new AnchoredProofIndex()
    const a = batchOf(1, 3)
    index.add(a.info, a.batch)
    index.add(a.info, a.batch)
    expect(index.size).toBe(3)
    expect(index.proofOf(`0x${'00'.repeat(32)}`)).toBeUndefined()
  })
})
