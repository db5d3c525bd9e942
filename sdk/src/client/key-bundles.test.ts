import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Libp2p, PeerId } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { describe, expect, it } from 'vitest'
import { silentLoggerFactory } from '../logger.ts'
import type { VerifiedCertificate } from '../types.ts'
import { KeyBundleCache } from './key-bundles.ts'

async function somePeer(): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
}

/**
 * A cache on a node connected to nobody it is asked about, whose every dial for a bundle fails and is written down:
 * which neighbour it asks is what these tests look at.
 */
function cacheThatRecordsAsks(): { cache: KeyBundleCache; asked: string[] } {
  const asked: string[] = []
  const libp2p = {
    getConnections: () => [],
    dialProtocol: async (peer: PeerId) => {
      asked.push(peer.toString())
      throw new Error('no stream in this test')
    },
  } as unknown as Libp2p
  const certificate = { bundleHash: 'ab'.repeat(32) } as VerifiedCertificate
  const cache = new KeyBundleCache({
    libp2p,
    certificate: () => certificate,
    log: silentLoggerFactory('test'),
  })
  return { cache, asked }
}

describe('KeyBundleCache', () => {
  it("behavior: prefetching a member's bundle looks up that member's connections only, never every connection of the node", async () => {
    // A relay prefetches on every presence of a client whose bundle it does not hold; listing all of a node's
    // connections each time held a relay with 2,000 clients at a whole core (`connection-list.ts`).
    const [member, connected] = await Promise.all([somePeer(), somePeer()])
    const lookedUp: string[] = []
    let listedAll = 0
    const libp2p = {
      getConnections: (peer?: PeerId) => {
        if (peer === undefined) {
          listedAll += 1
          return []
        }
        lookedUp.push(peer.toString())
        return []
      },
      dialProtocol: async () => {
        throw new Error('no stream in this test')
      },
    } as unknown as Libp2p
    const cache = new KeyBundleCache({
      libp2p,
      certificate: (peerId) =>
        peerId === member.toString() ? ({ bundleHash: 'ab'.repeat(32) } as VerifiedCertificate) : undefined,
      log: silentLoggerFactory('test'),
    })
    cache.prefetch(member.toString())
    // No certificate naming a bundle: nothing to fetch, nothing looked up.
    cache.prefetch(connected.toString())
    expect(listedAll).toBe(0)
    expect(lookedUp).toEqual([member.toString()])
  })

  it('behavior: asked by the neighbour that forwarded a member last, a relay asks one that forwarded it before', async () => {
    // Relays in a ring hear a member's presence both ways round: here from D, then from B, which now asks.
    const [member, fromD, fromB] = await Promise.all([somePeer(), somePeer(), somePeer()])
    const { cache, asked } = cacheThatRecordsAsks()
    cache.noteSource(member.toString(), fromD)
    cache.noteSource(member.toString(), fromB)
    expect(await cache.lookup(member.toString(), fromB)).toBeUndefined()
    expect(asked).toEqual([fromD.toString()])
  })

  it('behavior: the neighbour that forwarded a member last is asked first, and never the asker', async () => {
    const [member, first, last, asker] = await Promise.all([somePeer(), somePeer(), somePeer(), somePeer()])
    const { cache, asked } = cacheThatRecordsAsks()
    cache.noteSource(member.toString(), first)
    cache.noteSource(member.toString(), last)
    await cache.lookup(member.toString(), asker)
    // Only the asker forwarded it: nobody to ask.
    cache.noteSource(asker.toString(), first)
    await cache.lookup(asker.toString(), first)
    expect(asked).toEqual([last.toString()])
  })
})
