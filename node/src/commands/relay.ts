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
  // Handlers go in before the first line is printed: whoever reads that line may signal at once.
  const signalled = new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'))
    process.once('SIGTERM', () => resolve('SIGTERM'))
  })
  await relay.start()
  const multiaddrs = relay.multiaddrs
  root.info({ event: 'relay:started', peerId: relay.libp2p.peerId.toString(), multiaddrs }, 'relay started')
  if (!config.json) {
    process.stdout.write(`SecureChat relay ${relay.libp2p.peerId.toString()} listening on:\n`)
    for (const address of multiaddrs) process.stdout.write(`  ${address}\n`)
  }
  const signal = await signalled
  root.info({ event: 'relay:stopping', signal }, 'relay stopping')
  try {
    await relay.stop()
  } catch (err) {
    root.error({ error: String(err) }, 'error while stopping')
  }
  root.info({ event: 'relay:stopped' }, 'relay stopped')
}
