import { JsonRpcProvider } from 'ethers'
import type { RelayConfig } from '../config.ts'
import { createNodeLogger } from '../log.ts'
import { loadOrCreatePeerKey } from '../relay/peer-key.ts'
import { RelayNode } from '../relay/relay.ts'

/** `securechat relay`: runs until SIGINT/SIGTERM, then stops gracefully. */
export async function runRelay(config: RelayConfig): Promise<void> {
  const { root, factory } = createNodeLogger({ json: config.json })
  const privateKey = await loadOrCreatePeerKey(config.dataDir)
  const relay = new RelayNode({
    privateKey,
    listen: config.listen,
    announce: config.announce,
    peers: config.peers,
    maxReservations: config.maxReservations,
    logger: factory,
    ...(config.rpc === undefined ? {} : { provider: new JsonRpcProvider(config.rpc) }),
  })
  await relay.start()
  const multiaddrs = relay.multiaddrs
  root.info({ event: 'relay:started', peerId: relay.libp2p.peerId.toString(), multiaddrs }, 'relay started')
  if (!config.json) {
    process.stdout.write(`SecureChat relay ${relay.libp2p.peerId.toString()} listening on:\n`)
    for (const address of multiaddrs) process.stdout.write(`  ${address}\n`)
  }
  await new Promise<void>((resolve) => {
    let stopping = false
    const shutdown = (signal: string): void => {
      if (stopping) return
      stopping = true
      root.info({ event: 'relay:stopping', signal }, 'relay stopping')
      relay
        .stop()
        .catch((err: unknown) => root.error({ error: String(err) }, 'error while stopping'))
        .finally(() => {
          root.info({ event: 'relay:stopped' }, 'relay stopped')
          resolve()
        })
    }
    process.once('SIGINT', () => shutdown('SIGINT'))
    process.once('SIGTERM', () => shutdown('SIGTERM'))
  })
}
