/**
 * The Helia node files move through: blocks over bitswap on a libp2p node the caller already runs (a relay's or a
 * client's), so a file travels over the connections a device already has, with no second identity, port or
 * discovery. Bitswap asks only connected peers; content is addressed by CID and every block is checked against
 * its hash on arrival, so no peer it comes from needs trust (and what they hold is ciphertext).
 */
import { withBitswap } from '@helia/bitswap'
import type { Libp2p } from '@libp2p/interface'
import { createHeliaLight, type Helia, type HeliaInit } from 'helia'

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
  Object.defineProperty(helia, 'libp2p', { value: init.libp2p, enumerable: true })
  withBitswap(helia as Parameters<typeof withBitswap>[0])
  await helia.start()
  return helia
}
