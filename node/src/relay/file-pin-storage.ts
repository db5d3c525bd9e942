/**
 * Where the relay's file pins live: a Helia of files' own (its bitswap on the relay's libp2p node, `createFilesHelia`)
 * over a blockstore and a datastore — on disk under `<data-dir>/files/` (blocks, and the pin records with their
 * topic, size and time), or in memory for a relay without a data dir. Apart from the audit leaf lists' IPFS node:
 * its own quota, retention and garbage collection.
 */
import { statfs } from 'node:fs/promises'
import { join } from 'node:path'
import type { Libp2p } from '@libp2p/interface'
import { createFilesHelia } from '@securechat/sdk/files'
import { FsBlockstore } from 'blockstore-fs'
import { FsDatastore } from 'datastore-fs'
import type { Helia } from 'helia'

export interface FilePinStorage {
  helia: Helia
  /** The folder on disk, if any. */
  dir: string | undefined
  /** Bytes free for the relay on the disk of `dir`; undefined in memory. */
  freeBytes(): Promise<number | undefined>
  close(): Promise<void>
}

/** Opens the storage (`dir`: on disk; none: in memory) and starts its Helia on `libp2p`. */
export async function openFilePinStorage(params: { libp2p: Libp2p; dir: string | undefined }): Promise<FilePinStorage> {
  const { dir } = params
  if (dir === undefined) {
    const helia = await createFilesHelia({ libp2p: params.libp2p })
    return {
      helia,
      dir,
      freeBytes: async () => undefined,
      async close() {
        await helia.stop()
      },
    }
  }
  const blockstore = new FsBlockstore(join(dir, 'blocks'))
  const datastore = new FsDatastore(join(dir, 'pins'))
  await blockstore.open()
  await datastore.open()
  const helia = await createFilesHelia({ libp2p: params.libp2p, blockstore, datastore })
  return {
    helia,
    dir,
    async freeBytes() {
      const stats = await statfs(dir)
      return stats.bavail * stats.bsize
    },
    async close() {
      await helia.stop()
      await blockstore.close()
      await datastore.close()
    },
  }
}
