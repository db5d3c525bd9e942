/**
 * Wants met are cancelled (issue 16, the browser's memory): @helia/bitswap 4 never sends a cancel, so every peer a want
 * reached kept it, and sent the block the moment it got it — a page that downloaded a file the relay had pinned sent
 * the relay the whole file again. `createFilesHelia` cancels a want at every peer it reached once its block arrives.
 */
import type { PeerId } from '@libp2p/interface'
import { addFile, catFile } from '@securechat/sdk/files'
import { describe, expect, it } from 'vitest'
import { drain, generatedFile } from './helpers/files.ts'
import { bitswapOf, type FilesPeer, filesPeersStoppedAfterAll } from './helpers/files-peer.ts'

const MiB = 1024 * 1024
const FILE_BYTES = 4 * MiB

const startPeer = filesPeersStoppedAfterAll()

/** The wants `peer` holds for `from` in its bitswap ledger. */
function wantsHeldFor(peer: FilesPeer, from: PeerId): number {
  return bitswapOf(peer).peerWantLists.wantListForPeer(from)?.length ?? 0
}

describe('files: bitswap wants once met', () => {
  it('behavior: a node that fetched a file leaves no want behind at the peers it asked, the holder or not', async () => {
    const [holder, fetcher, bystander] = [await startPeer(), await startPeer(), await startPeer()]
    const manifest = await addFile(holder.helia, generatedFile(FILE_BYTES).stream, {
      name: 'a.bin',
      type: 'application/octet-stream',
    })
    await fetcher.libp2p.dial(bystander.libp2p.getMultiaddrs()[0]!)
    await fetcher.libp2p.dial(holder.libp2p.getMultiaddrs()[0]!)
    // Both speak bitswap (identified): the fetcher's wants go to both.
    await expect.poll(() => bitswapOf(fetcher).wantList.peers.size, { timeout: 10_000 }).toBe(2)

    const result = await drain(catFile(fetcher.helia, manifest))
    expect(result.error).toBeUndefined()
    expect(result.bytes).toBe(FILE_BYTES)
    // Each block was wanted from both; the bystander never had one. Without cancels it would keep every want, and
    // send each block to the fetcher as soon as it got it (as a page did to the relay, the whole file again).
    await expect
      .poll(() => [wantsHeldFor(bystander, fetcher.libp2p.peerId), wantsHeldFor(holder, fetcher.libp2p.peerId)], {
        timeout: 10_000,
      })
      .toEqual([0, 0])
  }, 60_000)
})
