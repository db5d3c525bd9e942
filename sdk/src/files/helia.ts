/**
 * The Helia node files move through: blocks over bitswap on a libp2p node the caller already runs (a relay's or a
 * client's), so a file travels over the connections a device already has, with no second identity, port or
 * discovery, over a bitswap protocol of files' own (`FILES_BITSWAP_PROTOCOL`). Bitswap asks only connected peers; content is addressed by CID and every block is checked against
 * its hash on arrival, so no peer it comes from needs trust (and what they hold is ciphertext).
 */
import { withBitswap } from '@helia/bitswap'
import type { Libp2p } from '@libp2p/interface'
import type { Helia, HeliaInit } from 'helia'
import { toString as uint8ArrayToString } from 'uint8arrays/to-string'
import { bitswapInternalsOf, sendCancel } from './bitswap-internals.ts'
import { FILES_BITSWAP_PROTOCOL } from './constants.ts'
import { createHeliaLight } from './helia-light.node.ts'
import { askOneHolderAtATime } from './one-holder.ts'

export interface FilesHeliaInit {
  /** A started libp2p node; it stays the caller's (stopping Helia leaves it running). */
  libp2p: Libp2p
  /**
   * Where blocks live; in memory when absent. Every block a download fetches is kept here (Helia stores what
   * bitswap brings), so anything that moves large files passes a store on disk: a filesystem store on Node (a
   * relay's data dir), IndexedDB in browsers. In memory, a download holds the whole file.
   */
  blockstore?: HeliaInit['blockstore']
  datastore?: HeliaInit['datastore']
}

/** A started Helia with bitswap on `init.libp2p`. `helia.stop()` stops bitswap and Helia, not libp2p. */
export async function createFilesHelia(init: FilesHeliaInit): Promise<Helia> {
  const helia = createHeliaLight({
    ...(init.blockstore === undefined ? {} : { blockstore: init.blockstore }),
    ...(init.datastore === undefined ? {} : { datastore: init.datastore }),
  })
  // helia 7's libp2p mixin always creates its own node; bitswap only needs `helia.libp2p`, so we lend it ours.
  Object.defineProperty(helia, 'libp2p', { value: onFilesProtocol(init.libp2p), enumerable: true })
  withBitswap(
    helia as Parameters<typeof withBitswap>[0],
    {
      protocols: [FILES_BITSWAP_PROTOCOL],
    } as Parameters<typeof withBitswap>[1],
  )
  await helia.start()
  cancelWantsOnArrival(helia)
  askOneHolderAtATime(helia)
  return helia
}

/**
 * Tells the peers a want was sent to that it is met, as soon as its block arrives. @helia/bitswap 4 (4.0.19) never
 * sends a cancel: `WantList.sendMessages` skips every entry marked `cancel` and then forgets it. So each peer keeps the
 * want in its ledger (`PeerWantLists` → `Ledger.wants`, status `want`, no expiry) and sends the block to us the
 * moment it gets it — long after we stopped wanting it. A relay that pinned a file from its sender had wanted every
 * block from every page connected to it; a page that later downloaded the file sent the relay the whole file again,
 * a block at a time as each arrived, and those blocks waited in its send queue (`QueuedBitswapMessage.blocks`) behind
 * the slower upload: tens of MiB of array buffers a page held mid-download, growing with the file. A holder that has not
 * yet sent a block we got from another is spared sending it too. If bitswap's internals are not what this expects,
 * this does nothing (bitswap works as before); a want given up (aborted) is still not cancelled.
 */
function cancelWantsOnArrival(helia: Helia): void {
  const bitswap = bitswapInternalsOf(helia)
  if (bitswap === undefined) return
  const { wantList, network } = bitswap
  // Runs as the block is dispatched, before bitswap marks the want cancelled: a want met once is cancelled once.
  wantList.addEventListener('block', (event) => {
    const { cid } = event.detail
    const key = uint8ArrayToString(cid.multihash.bytes, 'base64')
    const want = wantList.wants.get(key)
    if (want === undefined || want.cancel) return
    for (const [peer, sent] of wantList.peers) {
      if (sent.has(key)) sendCancel(network, peer, cid)
    }
  })
}

/** The protocol @helia/bitswap 4 sends its messages on, whatever it was told to speak. */
const IPFS_BITSWAP_PROTOCOL = '/ipfs/bitswap/1.2.0'

/**
 * `libp2p` as files' bitswap should see it. @helia/bitswap 4 handles the protocols its init names (`protocols`; the
 * `protocol` its types offer is never read) but dials its peers on IPFS's, fixed: this turns that dial into one on
 * `FILES_BITSWAP_PROTOCOL`. Everything else is the node itself.
 */
function onFilesProtocol(libp2p: Libp2p): Libp2p {
  return new Proxy(libp2p, {
    get(target, property) {
      if (property === 'dialProtocol') {
        const dial: Libp2p['dialProtocol'] = (peer, protocols, options) =>
          target.dialProtocol(peer, protocols === IPFS_BITSWAP_PROTOCOL ? FILES_BITSWAP_PROTOCOL : protocols, options)
        return dial
      }
      const value: unknown = Reflect.get(target, property, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
}
