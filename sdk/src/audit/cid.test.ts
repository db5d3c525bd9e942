import { generateKeyPair } from '@libp2p/crypto/keys'
import { getAddress, hexlify, randomBytes } from 'ethers'
import fc from 'fast-check'
import { base58btc } from 'multiformats/bases/base58'
import { CID } from 'multiformats/cid'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSecureChatLibp2p, type SecureChatLibp2p } from '../client/libp2p.ts'
import { InvalidInputError } from '../errors.ts'
import type { Address } from '../types.ts'
import { buildBatchSync, encodeLeafList } from './batch.ts'
import { leafListCid, sameCid } from './cid.ts'
import { LEAF_LIST_CHUNK_BYTES } from './constants.ts'
import { type AuditIpfs, createAuditIpfs } from './ipfs.ts'
import type { AuditLeaf } from './leaf.ts'

let libp2p: SecureChatLibp2p
/** The relays' publishing path: Helia's unixfs `addBytes`, CIDv1, raw leaves. */
let ipfs: AuditIpfs

beforeAll(async () => {
  libp2p = await createSecureChatLibp2p({ privateKey: await generateKeyPair('Ed25519') })
  ipfs = await createAuditIpfs({ libp2p })
})

afterAll(async () => {
  await ipfs?.stop()
  await libp2p?.stop()
})

function leaves(count: number): AuditLeaf[] {
  return Array.from({ length: count }, (_, i) => ({
    roomId: hexlify(randomBytes(32)) as `0x${string}`,
    messageId: hexlify(randomBytes(32)) as `0x${string}`,
    sender: getAddress(hexlify(randomBytes(20))) as Address,
    timestampMs: 1_700_000_000_000 + i,
    ciphertextHash: hexlify(randomBytes(32)) as `0x${string}`,
  }))
}

describe('leafListCid: the CID Helia gives a leaf list, without Helia', () => {
  it('behavior: equals the CID the relays publish leaf lists under, from 1 to 2,000 leaves', async () => {
    for (const count of [1, 2, 7, 100, 2_000]) {
      const bytes = encodeLeafList(buildBatchSync(leaves(count)))
      expect(bytes.byteLength).toBeLessThanOrEqual(LEAF_LIST_CHUNK_BYTES)
      const published = await ipfs.publish(bytes)
      expect({ count, cid: leafListCid(bytes) }).toEqual({ count, cid: published })
      expect(CID.parse(published).code).toBe(0x55) // raw: the list is one block
    }
  })

  it('behavior: equals Helia for any bytes up to one chunk, the boundary included', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 4_096 }), async (bytes) => {
        expect(leafListCid(bytes)).toBe(await ipfs.publish(bytes))
      }),
      { numRuns: 25 },
    )
    const full = randomBytes(LEAF_LIST_CHUNK_BYTES)
    expect(leafListCid(full)).toBe(await ipfs.publish(full))
  })

  it('error: one byte more than a chunk is a DAG on IPFS, so it is refused rather than given a wrong CID', async () => {
    const over = randomBytes(LEAF_LIST_CHUNK_BYTES + 1)
    expect(CID.parse(await ipfs.publish(over)).code).toBe(0x70) // dag-pb
    expect(() => leafListCid(over)).toThrow(InvalidInputError)
    expect(() => leafListCid(new Uint8Array(0))).toThrow(InvalidInputError)
  })

  it('behavior: sameCid compares content addresses across bases, and refuses what does not parse', () => {
    const cid = CID.parse(leafListCid(new Uint8Array([1, 2, 3])))
    expect(sameCid(cid.toString(), cid.toString(base58btc))).toBe(true)
    expect(sameCid(cid.toString(), leafListCid(new Uint8Array([1, 2, 4])))).toBe(false)
    expect(sameCid(cid.toString(), 'not a cid')).toBe(false)
  })
})
