/**
 * Audit anchoring figures for `npm run bench` (issue #6): gas per anchored message at batches of 10, 1,000
 * and 100,000 messages on Hardhat's network (the contract's cost per batch is flat: the per-message figure
 * is the transaction's gas divided by the batch size), the time to build a batch's tree and a proof, and
 * the time to verify a message (the Merkle proof alone, and with the `anchorOf` call on chain).
 *
 * The tree-build baseline is OpenZeppelin's `StandardMerkleTree.of` on the same leaves (skipped at 100,000,
 * where it takes tens of seconds): ratio < 1 means ours is faster.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { StandardMerkleTree } from '@openzeppelin/merkle-tree'
import {
  type AuditLeaf,
  anchorRoot,
  auditLogReader,
  buildBatch,
  createAuditIpfs,
  encodeLeafList,
  LEAF_ENCODING,
  leafToValue,
  proveInclusion,
  publishLeafList,
  verifyInclusion,
  verifyLeafProof,
} from '@securechat/sdk/audit'
import { createSecureChatLibp2p } from '@securechat/sdk/client'
import { bytesToHex, randomBytes } from '@securechat/sdk/crypto'
import type { Address } from '@securechat/sdk/types'
import { getAddress, hexlify, JsonRpcProvider, Wallet } from 'ethers'
import { hardhatDevPrivateKeys, startChain } from '../node/src/devnet/chain.ts'
import { deployContracts } from '../node/src/devnet/deploy.ts'
import type { BenchRecord } from './types.ts'

const BATCH_SIZES = [10, 1_000, 100_000] as const
/** OpenZeppelin's tree is measured up to this size only (it takes ~0.25 ms per leaf). */
const BASELINE_MAX_LEAVES = 1_000
const PROOFS = 1_000
const CHAIN_VERIFIES = 50

export async function run(): Promise<BenchRecord[]> {
  const records: BenchRecord[] = []
  const chain = await startChain()
  const provider = new JsonRpcProvider(chain.rpcUrl, chain.chainId, { staticNetwork: true, cacheTimeout: -1 })
  const libp2p = await createSecureChatLibp2p({ privateKey: await generateKeyPair('Ed25519') })
  const ipfs = await createAuditIpfs({ libp2p })
  try {
    const keys = hardhatDevPrivateKeys()
    const { auditLog } = await deployContracts({ signer: new Wallet(keys[0]!, provider) })
    const signer = new Wallet(keys[1]!, provider)
    const reader = auditLogReader({ runner: provider, address: auditLog })
    for (const size of BATCH_SIZES) {
      const leaves = Array.from({ length: size }, (_, i) => randomLeaf(i))
      const label = size.toLocaleString('en-US')

      let started = performance.now()
      const batch = await buildBatch(leaves)
      const buildMs = performance.now() - started
      let baseline: number | undefined
      if (size <= BASELINE_MAX_LEAVES) {
        started = performance.now()
        StandardMerkleTree.of(leaves.map(leafToValue), [...LEAF_ENCODING])
        baseline = performance.now() - started
      }
      records.push(
        baseline === undefined
          ? { name: `audit: build tree, batch of ${label}`, unit: 'ms', value: round(buildMs) }
          : {
              name: `audit: build tree, batch of ${label} (baseline: OpenZeppelin StandardMerkleTree.of)`,
              unit: 'ms',
              value: round(buildMs),
              baseline: round(baseline),
              ratio: buildMs / baseline,
            },
      )

      const cid = await publishLeafList(ipfs, batch)
      const result = await anchorRoot({ signer, address: auditLog, root: batch.root, count: batch.count, cid })
      if (result.status !== 'anchored') throw new Error(`batch of ${size} was already anchored`)
      records.push({
        name: `audit: gas per anchor transaction, batch of ${label}`,
        unit: 'gas',
        value: Number(result.gasUsed),
      })
      records.push({
        name: `audit: gas per anchored message, batch of ${label} (goal ≤ 30 at 1,000)`,
        unit: 'gas',
        value: round(Number(result.gasUsed) / size, 2),
      })
      records.push({
        name: `audit: leaf list size, batch of ${label}`,
        unit: 'bytes',
        value: encodeLeafList(batch).byteLength,
      })

      const picks = Array.from({ length: PROOFS }, (_, i) => leaves[(i * 7919) % size]!)
      started = performance.now()
      const proofs = picks.map((leaf) => proveInclusion(batch, { messageId: leaf.messageId })!)
      records.push({
        name: `audit: find and prove a message, batch of ${label}`,
        unit: 'µs',
        value: round(((performance.now() - started) / PROOFS) * 1000),
      })
      started = performance.now()
      for (const proof of proofs) {
        if (!verifyLeafProof({ root: proof.root, value: leafToValue(proof.leaf), proof: proof.proof })) {
          throw new Error('a proof did not verify')
        }
      }
      records.push({
        name: `audit: verify a proof (offline), batch of ${label}`,
        unit: 'µs',
        value: round(((performance.now() - started) / PROOFS) * 1000),
      })
      started = performance.now()
      for (const proof of proofs.slice(0, CHAIN_VERIFIES)) {
        const leaf = proof.leaf
        const verdict = await verifyInclusion({
          claim: { roomId: leaf.roomId, messageId: leaf.messageId, sender: leaf.sender },
          evidence: proof,
          reader,
        })
        if (!verdict.ok) throw new Error(`verify failed: ${JSON.stringify(verdict.failures)}`)
      }
      records.push({
        name: `audit: verify a message with anchorOf on chain, batch of ${label}`,
        unit: 'ms',
        value: round((performance.now() - started) / CHAIN_VERIFIES, 2),
      })
    }
  } finally {
    await ipfs.stop()
    await libp2p.stop()
    provider.destroy()
    await chain.stop()
  }
  return records
}

function randomLeaf(i: number): AuditLeaf {
  return {
    roomId: `0x${bytesToHex(randomBytes(32))}`,
    messageId: `0x${bytesToHex(randomBytes(32))}`,
    sender: getAddress(hexlify(randomBytes(20))) as Address,
    timestampMs: 1_700_000_000_000 + i,
    ciphertextHash: `0x${bytesToHex(randomBytes(32))}`,
  }
}

function round(value: number, digits = 1): number {
  return Number(value.toFixed(digits))
}
