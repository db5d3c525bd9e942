/**
 * `POST /audit/leaf-lists` against a real relay, IPFS node and Hardhat chain: a member's leaf list is kept (pinned,
 * served over bitswap, proofs answered) only when its root is anchored on chain with exactly its bytes' CID;
 * everything else is refused and leaves nothing behind.
 */
import { existsSync, readdirSync } from 'node:fs'
import { request } from 'node:http'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import {
  type AuditBatch,
  type AuditIpfs,
  type AuditLeaf,
  anchorRoot,
  buildBatchSync,
  createAuditIpfs,
  encodeLeafList,
  LEAF_LIST_CHUNK_BYTES,
  leafHashOf,
  leafListCid,
  leafToValue,
  verifyLeafProof,
} from '@securechat/sdk/audit'
import { createSecureChatLibp2p, type SecureChatLibp2p } from '@securechat/sdk/client'
import type { Address } from '@securechat/sdk/types'
import { getAddress, hexlify, randomBytes } from 'ethers'
import { CID } from 'multiformats/cid'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { leafLists, type RelayLeafLists } from '../node/src/audit/leaf-list-intake.ts'
import { createRelay, type Relay } from '../node/src/relay/create-relay.ts'
import { RelayHttpServer } from '../node/src/relay/http/server.ts'
import { httpServer } from '../node/src/relay/http/service.ts'
import { startTestChain, type TestChain } from './helpers/chain.ts'
import { tempDir } from './helpers/cli.ts'

let chain: TestChain
let relay: Relay
let dataDir: string
let intake: RelayLeafLists['intake']
let http: RelayHttpServer
let bare: RelayHttpServer
let fetcher: SecureChatLibp2p
let fetcherIpfs: AuditIpfs

beforeAll(async () => {
  chain = await startTestChain()
  dataDir = await tempDir('leaf-lists-')
  relay = await startLeafListsRelay()
  // The same relay node, with an HTTP server of its own that has no intake.
  bare = new RelayHttpServer({ relay: relay.node, port: 0, webRoot: dataDir })
  await bare.start()
  // Someone else on the network: fetches leaf lists from the relay over bitswap, as `securechat verify` does.
  fetcher = await createSecureChatLibp2p({ privateKey: await generateKeyPair('Ed25519') })
  await fetcher.dial(relay.node.libp2p.getMultiaddrs()[0]!)
  fetcherIpfs = await createAuditIpfs({ libp2p: fetcher })
}, 120_000)

/** The relay component with the leaf-lists service and its HTTP server, on `dataDir` and the test chain. */
async function startLeafListsRelay(): Promise<Relay> {
  const started = createRelay({
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    dataDir,
    services: {
      leafLists: leafLists({ provider: chain.provider, auditLog: chain.addresses.auditLog }),
      http: httpServer({ port: 0, webRoot: dataDir, rateLimit: { burst: 10_000 } }),
    },
  })
  await started.start()
  intake = (started.services.leafLists as RelayLeafLists).intake
  http = started.services.http as RelayHttpServer
  return started
}

afterAll(async () => {
  await fetcherIpfs?.stop()
  await fetcher?.stop()
  await bare?.stop()
  await relay?.stop()
  await chain?.stop()
})

function leaves(count: number): AuditLeaf[] {
  return Array.from({ length: count }, (_, i) => ({
    roomId: `0x${'a1'.repeat(32)}`,
    messageId: hexlify(randomBytes(32)) as `0x${string}`,
    sender: getAddress(hexlify(randomBytes(20))) as Address,
    timestampMs: 1_700_000_000_000 + i,
    ciphertextHash: hexlify(randomBytes(32)) as `0x${string}`,
  }))
}

/** A member's batch: its leaves, tree and leaf list bytes. */
function memberBatch(count = 5): { batch: AuditBatch; bytes: Uint8Array } {
  const batch = buildBatchSync(leaves(count))
  return { batch, bytes: encodeLeafList(batch) }
}

/** Anchors `root` on chain as a member would, naming `cid` as its leaf list. */
async function anchor(root: string, count: number, cid: string): Promise<number> {
  const result = await anchorRoot({
    signer: chain.accounts[3]!,
    address: chain.addresses.auditLog,
    root,
    count,
    cid,
    receiptPollIntervalMs: 50,
  })
  return result.anchor.blockNumber
}

interface Reply {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

/** POSTs `body` with the headers given (Content-Length from the body unless `chunked`). */
function post(
  base: string,
  body: Uint8Array | string,
  options: { contentType?: string; chunked?: boolean; method?: string; path?: string } = {},
): Promise<Reply> {
  const url = new URL(base)
  const bytes = typeof body === 'string' ? Buffer.from(body) : Buffer.from(body)
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: options.path ?? '/audit/leaf-lists',
        method: options.method ?? 'POST',
        agent: false,
        headers: {
          'Content-Type': options.contentType ?? 'application/json',
          ...(options.chunked === true ? { 'Transfer-Encoding': 'chunked' } : { 'Content-Length': bytes.byteLength }),
        },
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
        )
        res.on('error', reject)
      },
    )
    // The server may answer and close before the whole body is sent (413): that is not the test's failure.
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE' && err.code !== 'ECONNRESET') reject(err)
    })
    if (options.method === 'GET') req.end()
    else req.end(bytes)
  })
}

/** Nothing of `bytes` was kept: no record of the root, no block under their CID. */
async function expectNothingStored(root: string, bytes: Uint8Array): Promise<void> {
  expect(existsSync(join(dataDir, 'audit', 'member-batches', `${root}.json`))).toBe(false)
  const ipfs = await createStoreProbe()
  expect(await ipfs.has(CID.parse(leafListCid(bytes)))).toBe(false)
}

/** The relay's blockstore, read directly. */
async function createStoreProbe(): Promise<{ has(cid: CID): Promise<boolean> }> {
  const { FsBlockstore } = await import('blockstore-fs')
  const store = new FsBlockstore(join(dataDir, 'audit', 'ipfs', 'blocks'))
  await store.open()
  return {
    async has(cid) {
      try {
        return await store.has(cid)
      } finally {
        await store.close()
      }
    },
  }
}

describe('POST /audit/leaf-lists: members hand in the leaf lists of their own anchors', () => {
  it('behavior: a list anchored with its CID is stored, pinned, served over bitswap, and its leaves get proofs', async () => {
    const { batch, bytes } = memberBatch(7)
    const cid = leafListCid(bytes)
    const block = await anchor(batch.root, batch.count, cid)

    const reply = await post(http.url, bytes)
    expect(reply.status, reply.body).toBe(201)
    expect(JSON.parse(reply.body)).toMatchObject({
      status: 'stored',
      root: batch.root,
      count: 7,
      cid,
      blockNumber: block,
      transactionHash: expect.stringMatching(/^0x[0-9a-f]{64}$/),
    })
    expect(readdirSync(join(dataDir, 'audit', 'member-batches'))).toContain(`${batch.root}.json`)
    expect(await (await createStoreProbe()).has(CID.parse(cid))).toBe(true)

    // Another node fetches the exact bytes from the relay by the CID on chain.
    expect(Buffer.from(await fetcherIpfs.fetch(cid, { timeoutMs: 10_000 }))).toEqual(Buffer.from(bytes))

    for (const leaf of batch.leaves) {
      const proof = await fetch(`${http.url}audit/proof?leaf=${leafHashOf(leaf)}`)
      expect(proof.status).toBe(200)
      const body = (await proof.json()) as { root: string; proof: string[]; batch: { cid: string } }
      expect(body.root).toBe(batch.root)
      expect(body.batch.cid).toBe(cid)
      expect(verifyLeafProof({ root: body.root, value: leafToValue(leaf), proof: body.proof })).toBe(true)
    }

    // Handed in again (a retry): held already, nothing new.
    const again = await post(http.url, bytes)
    expect(again.status).toBe(200)
    expect(JSON.parse(again.body)).toMatchObject({ status: 'held', root: batch.root, cid })
  })

  it('error: malformed lists are 400 and leave nothing behind', async () => {
    const { batch, bytes } = memberBatch(3)
    const list = JSON.parse(Buffer.from(bytes).toString('utf8')) as {
      tree: string[]
      values: Array<{ value: string[]; treeIndex: number }>
    }
    const forgedTree = structuredClone(list)
    forgedTree.tree[0] = `0x${'00'.repeat(32)}`
    const forgedValue = structuredClone(list)
    forgedValue.values[0]!.value[3] = '1'
    const cases: Record<string, string> = {
      'not JSON': 'not json {',
      'not a leaf list': JSON.stringify({ hello: 'world' }),
      'no leaves': JSON.stringify({ ...list, values: [] }),
      'a tree that does not hash to its root': JSON.stringify(forgedTree),
      'a value that does not hash to its leaf': JSON.stringify(forgedValue),
    }
    for (const [what, body] of Object.entries(cases)) {
      const reply = await post(http.url, body)
      expect({ what, status: reply.status }).toEqual({ what, status: 400 })
      expect(JSON.parse(reply.body)).toMatchObject({ reason: 'malformed', error: expect.any(String) })
      await expectNothingStored(batch.root, Buffer.from(body))
    }
  })

  it('error: a list larger than one IPFS block is 413, announced or streamed', async () => {
    const big = new Uint8Array(LEAF_LIST_CHUNK_BYTES + 1).fill(0x20)
    const announced = await post(http.url, big)
    expect(announced.status).toBe(413)
    expect(announced.headers.connection).toBe('close')
    const streamed = await post(http.url, big, { chunked: true })
    expect(streamed.status).toBe(413)
  })

  it('error: a root nobody anchored is 422, and nothing is stored', async () => {
    const { batch, bytes } = memberBatch(4)
    const reply = await post(http.url, bytes)
    expect(reply.status).toBe(422)
    expect(JSON.parse(reply.body)).toMatchObject({ reason: 'not-anchored' })
    await expectNothingStored(batch.root, bytes)
    expect((await fetch(`${http.url}audit/proof?leaf=${leafHashOf(batch.leaves[0]!)}`)).status).toBe(404)
  })

  it('error: a root anchored with another CID is 409, and nothing is stored', async () => {
    const { batch, bytes } = memberBatch(4)
    // The same leaves, reformatted: the same root, other bytes, so another CID than the one anchored.
    const spaced = Buffer.from(JSON.stringify(JSON.parse(Buffer.from(bytes).toString('utf8')), null, 1))
    await anchor(batch.root, batch.count, leafListCid(bytes))
    const reply = await post(http.url, spaced)
    expect(reply.status).toBe(409)
    expect(JSON.parse(reply.body)).toMatchObject({ reason: 'cid-mismatch' })
    await expectNothingStored(batch.root, spaced)
  })

  it('error: only POST of application/json, no query; a relay without the intake answers 501', async () => {
    const { bytes } = memberBatch(2)
    expect((await post(http.url, bytes, { contentType: 'text/plain' })).status).toBe(415)
    expect((await post(http.url, bytes, { contentType: 'application/x-www-form-urlencoded' })).status).toBe(415)
    const get = await post(http.url, '', { method: 'GET' })
    expect(get.status).toBe(405)
    expect(get.headers.allow).toBe('POST')
    expect((await post(http.url, bytes, { path: '/audit/leaf-lists?x=1' })).status).toBe(400)
    expect((await post(bare.url, bytes)).status).toBe(501)
    // Every other path stays GET and HEAD only.
    expect((await post(http.url, bytes, { path: '/audit/proof' })).status).toBe(405)
  })

  it('behavior: after a restart the relay still serves the stored lists and their proofs', async () => {
    const { batch, bytes } = memberBatch(3)
    const cid = leafListCid(bytes)
    await anchor(batch.root, batch.count, cid)
    expect((await post(http.url, bytes)).status).toBe(201)
    // A new relay process on the same data dir (the old one's blockstore must be closed first).
    await relay.stop()
    relay = await startLeafListsRelay()
    const leafHash = leafHashOf(batch.leaves[1]!)
    await expect.poll(() => intake.proofOf(leafHash)?.root, { timeout: 10_000 }).toBe(batch.root)
    expect((await intake.submit(bytes)).status).toBe('accepted')
  })
})
