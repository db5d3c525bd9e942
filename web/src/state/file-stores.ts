/**
 * Where a signed-in wallet's files live in this browser: an IndexedDB blockstore (the encrypted blocks of files it
 * shared or fetched) and datastore (Helia's pins), one pair per wallet. IndexedDB, not memory: Helia keeps every
 * block bitswap brings, so an in-memory store would hold a whole download; on disk a 1 GiB file costs the page a
 * few segments. The blocks are ciphertext — each file's key is only in the message that shared it, in the
 * encrypted vault — so these stores hold nothing readable without the vault.
 */
import { IDBBlockstore } from 'blockstore-idb'
import { IDBDatastore } from 'datastore-idb'

export interface FileStores {
  blockstore: IDBBlockstore
  datastore: IDBDatastore
  close(): Promise<void>
}

/** The database names of `address`'s stores (lower case: one wallet, one pair, however it is spelled). */
export function fileStoreNames(address: string): { blocks: string; data: string } {
  const id = address.toLowerCase()
  return { blocks: `securechat-file-blocks-${id}`, data: `securechat-file-data-${id}` }
}

export async function openFileStores(address: string): Promise<FileStores> {
  const names = fileStoreNames(address)
  const blockstore = new IDBBlockstore(names.blocks)
  const datastore = new IDBDatastore(names.data)
  await Promise.all([blockstore.open(), datastore.open()])
  return {
    blockstore,
    datastore,
    async close() {
      await Promise.all([blockstore.close(), datastore.close()])
    },
  }
}
