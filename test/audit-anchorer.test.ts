/**
 * The relay's anchorer under faults, on Hardhat's network: an RPC outage (connections refused, then
 * stalled), a restart of the anchorer in the middle of it, and a restart of the chain. No batch is lost and
 * every leaf ends up under an anchored root. Also: proofs verify with OpenZeppelin's MerkleProof on chain.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import {
  type AuditIpfs,
  type AuditLeaf,
  auditLogReader,
  batchFromValues,
  buildBatchSync,
  createAuditIpfs,
  type LeafValue,
  leafHashOf,
  leafToValue,
  leafValueHash,
  proveInclusion,
  verifyInclusion,
  verifyLeafProof,
} from '@securechat/sdk/audit'
import { createSecureChatLibp2p, type SecureChatLibp2p } from '@securechat/sdk/client'
import { bytesToHex, randomBytes } from '@securechat/sdk/crypto'
import type { Address } from '@securechat/sdk/types'
import { ContractFactory, getAddress, hexlify, type InterfaceAbi, JsonRpcProvider, Wallet } from 'ethers'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Anchorer, createAnchorer } from '../node/src/audit/anchorer.ts'
import { type Chain, hardhatDevPrivateKeys, startChain } from '../node/src/devnet/chain.ts'
import { deployContracts } from '../node/src/devnet/deploy.ts'
import { tempDir } from './helpers/cli.ts'
import { type RpcProxy, startRpcProxy } from './helpers/rpc-proxy.ts'

const keys = hardhatDevPrivateKeys()
let chain: Chain
let port: number
let provider: JsonRpcProvider
let auditLog: string
let proxy: RpcProxy
let libp2p: SecureChatLibp2p
let ipfs: AuditIpfs

async function startDevChain(at = 0): Promise<void> {
  chain = await startChain({ port: at })
  port = Number(new URL(chain.rpcUrl).port)
  provider = new JsonRpcProvider(chain.rpcUrl, chain.chainId, {
    staticNetwork: true,
    cacheTimeout: -1,
    pollingInterval: 50,
  })
  ;({ auditLog } = await deployContracts({ signer: new Wallet(keys[0]!, provider) }))
}

beforeAll(async () => {
  await startDevChain()
  proxy = await startRpcProxy(chain.rpcUrl)
  libp2p = await createSecureChatLibp2p({ privateKey: await generateKeyPair('Ed25519') })
  ipfs = await createAuditIpfs({ libp2p })
}, 60_000)

afterAll(async () => {
  await ipfs?.stop()
  await libp2p?.stop()
  await proxy?.close()
  provider?.destroy()
  await chain?.stop()
})

function randomLeaf(i: number): AuditLeaf {
  return {
    roomId: `0x${'a1'.repeat(32)}`,
    messageId: `0x${bytesToHex(randomBytes(32))}`,
    sender: getAddress(hexlify(randomBytes(20))) as Address,
    timestampMs: 1_700_000_000_000 + i,
    ciphertextHash: `0x${bytesToHex(randomBytes(32))}`,
  }
}

async function newAnchorer(dir: string): Promise<Anchorer> {
  return createAnchorer({
    dir,
    rpcUrl: proxy.url,
    chainId: chain.chainId,
    auditLog,
    wallet: new Wallet(keys[3]!),
    // Rounds are driven with flush(); the interval never fires during a test.
    intervalMs: 600_000,
    rpcTimeoutMs: 1_000,
    receiptPollIntervalMs: 50,
    receiptTimeoutMs: 5_000,
  })
}

/** Every leaf anchored: each anchored batch on disk is on chain, and each leaf proves into one of them. */
async function expectAllAnchored(dir: string, leaves: AuditLeaf[]): Promise<void> {
  const reader = auditLogReader({ runner: provider, address: auditLog })
  const anchoredDir = join(dir, 'anchored')
  const batches = await Promise.all(
    readdirSync(anchoredDir)
      .filter((name) => name.endsWith('.json'))
      .map(async (name) => {
        const file = JSON.parse(readFileSync(join(anchoredDir, name), 'utf8')) as { root: string; leaves: LeafValue[] }
        return batchFromValues(file.leaves, { expectedRoot: file.root })
      }),
  )
  expect(readdirSync(join(dir, 'queue')).filter((name) => name.endsWith('.json'))).toEqual([])
  for (const leaf of leaves) {
    const batch = batches.find((b) => proveInclusion(b, { messageId: leaf.messageId }) !== undefined)
    expect(batch, `leaf ${leaf.messageId} is in no anchored batch`).toBeDefined()
    const verdict = await verifyInclusion({
      claim: { roomId: leaf.roomId, messageId: leaf.messageId, sender: leaf.sender, timestampMs: leaf.timestampMs },
      evidence: proveInclusion(batch!, { messageId: leaf.messageId }),
      reader,
    })
    expect(verdict.failures).toEqual([])
  }
}

describe('anchorer faults', () => {
  it('behavior: proofs verify with OpenZeppelin MerkleProof on chain, and leaves hash as Solidity abi.encode does', async () => {
    const { abi, bytecode } = compileHarness()
    const deployer = new Wallet(keys[0]!, provider)
    const harness = await (await new ContractFactory(abi, bytecode, deployer).deploy()).waitForDeployment()
    // 33 leaves: an unbalanced tree, proofs of different lengths.
    const leaves = Array.from({ length: 33 }, (_, i) => randomLeaf(i))
    const batch = buildBatchSync(leaves)
    for (const index of [0, 1, 16, 31, 32]) {
      const { leaf, proof, root } = proveInclusion(batch, { messageId: leaves[index]!.messageId })!
      const value = leafToValue(leaf)
      const leafHash = `0x${bytesToHex(leafValueHash(value))}`
      expect(await harness.getFunction('leafOf')(...value)).toBe(leafHash)
      expect(await harness.getFunction('verify')(proof, root, leafHash)).toBe(true)
      const other = `0x${bytesToHex(leafValueHash(leafToValue(randomLeaf(99))))}`
      expect(await harness.getFunction('verify')(proof, root, other)).toBe(false)
    }
  })

  it('behavior: an RPC outage (refused, then stalled) and an anchorer restart lose no batch', async () => {
    const dir = await tempDir('anchorer-outage-')
    const leaves = Array.from({ length: 15 }, (_, i) => randomLeaf(i))
    let anchorer = await newAnchorer(dir)
    anchorer.start({ ipfs })
    for (const leaf of leaves.slice(0, 10)) anchorer.add(leaf)

    proxy.cut()
    await anchorer.flush()
    expect(anchorer.stats()).toMatchObject({ queuedBatches: 1, queuedLeaves: 10, batchesAnchored: 0 })
    expect(anchorer.stats().failures).toBeGreaterThanOrEqual(1)

    proxy.stall()
    for (const leaf of leaves.slice(10)) anchorer.add(leaf)
    await anchorer.flush()
    expect(anchorer.stats()).toMatchObject({ queuedBatches: 2, queuedLeaves: 15, pendingLeaves: 0, batchesAnchored: 0 })
    expect(anchorer.stats().lastError).toBeDefined()

    // The relay restarts while the chain is still unreachable: the queue comes back from disk.
    await anchorer.stop()
    anchorer = await newAnchorer(dir)
    expect(anchorer.stats()).toMatchObject({ queuedBatches: 2, queuedLeaves: 15, pendingLeaves: 0 })
    // A message seen again after the restart is not anchored twice.
    anchorer.add(leaves[0]!)
    expect(anchorer.stats().pendingLeaves).toBe(0)

    proxy.restore()
    anchorer.start({ ipfs })
    await anchorer.flush()
    expect(anchorer.stats(), anchorer.stats().lastError).toMatchObject({
      queuedBatches: 0,
      batchesAnchored: 2,
      leavesAnchored: 15,
    })
    await anchorer.stop()
    await expectAllAnchored(dir, leaves)
  })

  it('behavior: the anchorer hands out the proof of every leaf it anchored (GET /audit/proof), also after a restart', async () => {
    const dir = await tempDir('anchorer-proofs-')
    const reader = auditLogReader({ runner: provider, address: auditLog })
    const leaves = Array.from({ length: 6 }, (_, i) => randomLeaf(200 + i))
    let anchorer = await newAnchorer(dir)
    anchorer.start({ ipfs })
    for (const leaf of leaves.slice(0, 2)) anchorer.add(leaf)
    // Not anchored yet: no proof.
    expect(anchorer.proofOf(leafHashOf(leaves[0]!))).toBeUndefined()
    await anchorer.flush()
    for (const leaf of leaves.slice(2)) anchorer.add(leaf)
    await anchorer.flush()
    expect(anchorer.stats()).toMatchObject({ batchesAnchored: 2, leavesAnchored: 6 })
    const expectProofs = async (of: Anchorer): Promise<void> => {
      for (const leaf of leaves) {
        const found = of.proofOf(leafHashOf(leaf))
        expect(found, `no proof of ${leaf.messageId}`).toBeDefined()
        expect(verifyLeafProof({ root: found!.root, value: leafToValue(leaf), proof: found!.proof })).toBe(true)
        const anchor = await reader.anchorOf(found!.root)
        expect(found!.batch).toMatchObject({ root: found!.root, blockNumber: anchor?.blockNumber })
        expect(found!.batch.cid).toMatch(/^b/)
      }
    }
    await expectProofs(anchorer)
    await anchorer.stop()

    // After a restart the anchored batches are read back from disk (in the background).
    anchorer = await newAnchorer(dir)
    anchorer.start({ ipfs })
    const deadline = Date.now() + 10_000
    while (leaves.some((leaf) => anchorer.proofOf(leafHashOf(leaf)) === undefined) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    await expectProofs(anchorer)
    await anchorer.stop()
  })

  it('behavior: a batch cut while the chain restarts is anchored on the restarted chain; a replay counts as anchored', async () => {
    const dir = await tempDir('anchorer-restart-')
    const anchorer = await newAnchorer(dir)
    anchorer.start({ ipfs })
    const leaves = Array.from({ length: 7 }, (_, i) => randomLeaf(100 + i))
    for (const leaf of leaves) anchorer.add(leaf)

    await chain.stop()
    provider.destroy()
    await anchorer.flush()
    expect(anchorer.stats()).toMatchObject({ queuedBatches: 1, batchesAnchored: 0 })

    // Same port, contracts deployed again at the same addresses (the deployer's nonces start over).
    const before = auditLog
    await startDevChain(port)
    expect(auditLog).toBe(before)
    await anchorer.flush()
    expect(anchorer.stats()).toMatchObject({ queuedBatches: 0, batchesAnchored: 1, leavesAnchored: 7 })
    await expectAllAnchored(dir, leaves)

    // Someone anchors the same root again (a second relay with the same batch): AlreadyAnchored is success.
    const root = buildBatchSync(leaves).root
    const again = await newAnchorer(await tempDir('anchorer-replay-'))
    again.start({ ipfs })
    for (const leaf of leaves) again.add(leaf)
    await again.flush()
    expect(again.stats()).toMatchObject({ queuedBatches: 0, batchesAnchored: 0, batchesAlreadyAnchored: 1 })
    expect(again.stats().lastAnchor?.root).toBe(root)
    await again.stop()
    await anchorer.stop()
  })
})

/** A contract that exposes OpenZeppelin's MerkleProof and our leaf encoding, compiled with the repo's solc. */
function compileHarness(): { abi: InterfaceAbi; bytecode: string } {
  const require = createRequire(import.meta.url)
  const solc = require('solc') as { compile(input: string, callbacks: object): string }
  const source = `// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
contract AuditProofHarness {
    function verify(bytes32[] calldata proof, bytes32 root, bytes32 leaf) external pure returns (bool) {
        return MerkleProof.verifyCalldata(proof, root, leaf);
    }
    function leafOf(bytes32 roomId, bytes32 messageId, address sender, uint64 timestampMs, bytes32 ciphertextHash)
        external pure returns (bytes32)
    {
        return keccak256(bytes.concat(keccak256(abi.encode(roomId, messageId, sender, timestampMs, ciphertextHash))));
    }
}`
  const input = {
    language: 'Solidity',
    sources: { 'AuditProofHarness.sol': { content: source } },
    settings: {
      optimizer: { enabled: true, runs: 200 },
      evmVersion: 'cancun',
      outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } },
    },
  }
  const findImports = (path: string) => {
    try {
      return { contents: readFileSync(require.resolve(path), 'utf8') }
    } catch (err) {
      return { error: String(err) }
    }
  }
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports })) as {
    errors?: Array<{ severity: string; formattedMessage: string }>
    contracts: Record<string, Record<string, { abi: InterfaceAbi; evm: { bytecode: { object: string } } }>>
  }
  const errors = (output.errors ?? []).filter((e) => e.severity === 'error')
  if (errors.length > 0) throw new Error(errors.map((e) => e.formattedMessage).join('\n'))
  const contract = output.contracts['AuditProofHarness.sol']!.AuditProofHarness!
  return { abi: contract.abi, bytecode: `0x${contract.evm.bytecode.object}` }
}
