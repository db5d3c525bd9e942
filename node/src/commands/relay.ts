import type { RelayConfig } from '../config.ts'
import { createNodeLogger } from '../log.ts'
import { loadOrCreatePeerKey } from '../relay/peer-key.ts'
import { RelayNode } from '../relay/relay.ts'
import { createRpcProvider, probeChainId } from '../rpc.ts'

/** `securechat relay`: runs until SIGINT/SIGTERM, then stops gracefully. */
export async function runRelay(config: RelayConfig): Promise<void> {
  const { root, factory } = createNodeLogger({ json: config.json })
  const privateKey = await loadOrCreatePeerKey(config.dataDir)
  const chainId = config.rpc === undefined ? config.chainId : (config.chainId ?? (await probeChainId(config.rpc)))
  const provider =
    config.rpc === undefined || chainId === undefined ? undefined : createRpcProvider({ url: config.rpc, chainId })
  // --- Anchoring (issue #6): with an anchoring key, accepted messages are batched and anchored (node/src/audit/).
  const anchoring = anchoringWanted(config, process.env)
    ? await (await import('../audit/relay-anchoring.ts')).relayAnchoringFromConfig(
        { ...config, ...(chainId === undefined ? {} : { chainId }) },
        process.env,
        factory,
      )
    : undefined
  const relay = new RelayNode({
    privateKey,
    listen: config.listen,
    announce: config.announce,
    peers: config.peers,
    maxReservations: config.maxReservations,
    logger: factory,
    ...(provider === undefined ? {} : { provider }),
    ...(anchoring === undefined ? {} : { onMessageAccepted: anchoring.onMessageAccepted }),
  })
  // Handlers go in before the first line is printed: whoever reads that line may signal at once.
  const signalled = new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'))
    process.once('SIGTERM', () => resolve('SIGTERM'))
  })
  await relay.start()
  await anchoring?.start(relay.libp2p)
  const multiaddrs = relay.multiaddrs
  const chain = {
    ...(config.rpc === undefined ? {} : { rpc: config.rpc }),
    ...(chainId === undefined ? {} : { chainId }),
    ...(config.auditLog === undefined ? {} : { auditLog: config.auditLog }),
    ...(anchoring === undefined ? {} : { anchorer: anchoring.anchorer.address }),
  }
  root.info({ event: 'relay:started', peerId: relay.libp2p.peerId.toString(), multiaddrs, ...chain }, 'relay started')
  if (!config.json) {
    process.stdout.write(`SecureChat relay ${relay.libp2p.peerId.toString()} listening on:\n`)
    for (const address of multiaddrs) process.stdout.write(`  ${address}\n`)
    process.stdout.write(
      config.rpc === undefined
        ? 'No --rpc: token-gated rooms are not forwarded, contract wallets are not accepted.\n'
        : `Reading chain ${chainId} at ${config.rpc} (token gates, contract wallets).\n`,
    )
  }
  const signal = await signalled
  root.info({ event: 'relay:stopping', signal }, 'relay stopping')
  try {
    await anchoring?.stop()
    await relay.stop()
  } catch (err) {
    root.error({ error: String(err) }, 'error while stopping')
  }
  provider?.destroy()
  root.info({ event: 'relay:stopped' }, 'relay stopped')
}

/** Anchoring is on when an anchoring key is configured; its module (Helia, IPFS) loads only then. */
function anchoringWanted(config: RelayConfig, env: NodeJS.ProcessEnv): boolean {
  return config.anchorKey !== undefined || (env.SECURECHAT_ANCHOR_PRIVATE_KEY ?? '') !== ''
}
