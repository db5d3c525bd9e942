/**
 * Each block of a download asked of one holder at a time (issue 16, bandwidth): @helia/bitswap 4 sends every want to
 * every connected peer, and every peer holding the block sends it, so a download from two holders received the file
 * twice. `createFilesHelia` asks one peer, the next on `DONT_HAVE` or silence, and everyone only when none asked has
 * it. Real libp2p nodes on loopback; bytes counted as bitswap hands each arriving block on.
 */
import { addFile, catFile, FILES_BITSWAP_PROTOCOL, type FileManifest, pinFile } from '@securechat/sdk/files'
import { describe, expect, it } from 'vitest'
import { drain, generatedFile } from './helpers/files.ts'
import { bitswapOf, type FilesPeer, filesPeersStoppedAfterAll } from './helpers/files-peer.ts'

const MiB = 1024 * 1024
const FILE_BYTES = 8 * MiB

const startPeer = filesPeersStoppedAfterAll()

/** Bytes of every block `peer` receives from now on, copies included. */
function countReceived(peer: FilesPeer): { bytes: number } {
  const received = { bytes: 0 }
  bitswapOf(peer).wantList.addEventListener('block', (event) => {
    received.bytes += event.detail.block.byteLength
  })
  return received
}

async function share(holder: FilesPeer, name: string): Promise<FileManifest> {
  return addFile(holder.helia, generatedFile(FILE_BYTES).stream, { name, type: 'application/octet-stream' })
}

async function connect(from: FilesPeer, ...to: FilesPeer[]): Promise<void> {
  for (const peer of to) await from.libp2p.dial(peer.libp2p.getMultiaddrs()[0]!)
  // Each speaks files' bitswap (identified): wants can go to all of them.
  await expect.poll(() => bitswapOf(from).wantList.peers.size, { timeout: 10_000 }).toBe(to.length)
}

describe('files: one holder at a time', () => {
  it('behavior: a file two peers hold, and a third does not, arrives once, not once per holder', async () => {
    const [first, second, bystander, fetcher] = [
      await startPeer(),
      await startPeer(),
      await startPeer(),
      await startPeer(),
    ]
    const manifest = await share(first, 'twice-held.bin')
    await connect(second, first)
    await pinFile(second.helia, manifest)
    await connect(fetcher, bystander, first, second)

    const received = countReceived(fetcher)
    const result = await drain(catFile(fetcher.helia, manifest))
    expect(result.error).toBeUndefined()
    expect(result.bytes).toBe(FILE_BYTES)
    // The ciphertext is the file and a tag per 1 MiB segment; each block asked of every holder came twice.
    expect(received.bytes).toBeGreaterThanOrEqual(FILE_BYTES)
    expect(received.bytes).toBeLessThan(FILE_BYTES * 1.05)
  }, 60_000)

  it('behavior: a peer that speaks bitswap but never answers is passed over, and the file still arrives once', async () => {
    const [holder, fetcher] = [await startPeer(), await startPeer()]
    // Takes every want and says nothing: neither the block nor that it has none.
    const silent = await startPeer()
    await silent.helia.stop()
    await silent.libp2p.unhandle(FILES_BITSWAP_PROTOCOL)
    await silent.libp2p.handle(FILES_BITSWAP_PROTOCOL, async (stream) => {
      for await (const _ of stream) {
        // read and ignored
      }
    })
    const manifest = await share(holder, 'past-the-silent.bin')
    // The silent peer first: the fetcher knows neither, and asks in the order it met them.
    await connect(fetcher, silent, holder)

    const received = countReceived(fetcher)
    const result = await drain(catFile(fetcher.helia, manifest))
    expect(result.error).toBeUndefined()
    expect(result.bytes).toBe(FILE_BYTES)
    expect(received.bytes).toBeLessThan(FILE_BYTES * 1.05)
  }, 60_000)
})
