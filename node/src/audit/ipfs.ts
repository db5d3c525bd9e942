import { join } from 'node:path'
import type { Libp2p } from '@libp2p/interface'
import { type AuditIpfs, createAuditIpfs } from '@securechat/sdk/audit'
import { FsBlockstore } from 'blockstore-fs'
import { FsDatastore } from 'datastore-fs'

/**
 * The relay's IPFS node for leaf lists: Helia with bitswap on the relay's own libp2p node (so every client
 * connected to the relay can fetch them), blocks kept in `<dir>/blocks` across restarts.
 */
export async function createRelayAuditIpfs(params: { libp2p: Libp2p; dir: string }): Promise<AuditIpfs> {
  const blockstore = new FsBlockstore(join(params.dir, 'blocks'))
  const datastore = new FsDatastore(join(params.dir, 'datastore'))
  await blockstore.open()
  await datastore.open()
  const ipfs = await createAuditIpfs({ libp2p: params.libp2p, blockstore, datastore })
  let stopped: Promise<void> | undefined
  return {
    helia: ipfs.helia,
    publish: (bytes, options) => ipfs.publish(bytes, options),
    fetch: (cid, options) => ipfs.fetch(cid, options),
    stop() {
      stopped ??= (async () => {
        await ipfs.stop()
        await blockstore.close()
        await datastore.close()
      })()
      return stopped
    },
  }
}
