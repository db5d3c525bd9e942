import type { LoggerFactory } from '@securechat/sdk/logger'
import type { Logger } from 'pino'
import type { Anchorer } from '../audit/anchorer.ts'
import type { RelayLeafLists } from '../audit/leaf-list-intake.ts'
import { anyProofSource } from '../audit/proof-index.ts'
import type { RelayConfig } from '../config.ts'
import { createNodeLogger } from '../log.ts'
import { isPrivateMultiaddr, RelayHttpServer, WEB_APP_NOT_BUILT, webSocketAddresses } from '../relay/http-server.ts'
import { anchorerMetrics } from '../relay/metrics.ts'
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
  // --- Members' own anchors (issue #6): a relay that serves the app and reads the audit log keeps their leaf lists.
  const leafLists =
    config.httpPort === undefined || provider === undefined || config.auditLog === undefined
      ? undefined
      : await (await import('../audit/leaf-list-intake.ts')).startRelayLeafLists({
          dataDir: config.dataDir,
          libp2p: relay.libp2p,
          provider,
          auditLog: config.auditLog,
          ipfs: anchoring?.ipfs,
          logger: factory,
        })
  // --- The web app over HTTP (issue #5).
  const http =
    config.httpPort === undefined ? undefined : relayHttpServer(config, relay, chainId, anchoring, leafLists, factory)
  try {
    await http?.start()
  } catch (err) {
    await leafLists?.stop()
    await anchoring?.stop()
    await relay.stop()
    provider?.destroy()
    throw err
  }
  const multiaddrs = relay.multiaddrs
  const chain = {
    ...(config.rpc === undefined ? {} : { rpc: config.rpc }),
    ...(chainId === undefined ? {} : { chainId }),
    ...(config.auditLog === undefined ? {} : { auditLog: config.auditLog }),
    ...(anchoring === undefined ? {} : { anchorer: anchoring.anchorer.address }),
  }
  const web = http === undefined ? {} : { web: http.url }
  root.info({ event: 'relay:started', peerId: relay.peerId, multiaddrs, ...web, ...chain }, 'relay started')
  if (!config.json) {
    process.stdout.write(`SecureChat relay ${relay.peerId} listening on:\n`)
    for (const address of multiaddrs) process.stdout.write(`  ${address}\n`)
    if (http !== undefined) process.stdout.write(`Web app: ${http.url}\n`)
    process.stdout.write(
      config.rpc === undefined
        ? 'No --rpc: token-gated rooms are not forwarded, contract wallets are not accepted.\n'
        : `Reading chain ${chainId} at ${config.rpc} (token gates, contract wallets).\n`,
    )
  }
  if (http !== undefined) {
    if (!(await http.hasWebApp())) {
      root.warn(
        { event: 'http:not-built', webRoot: http.webRoot },
        `no index.html in ${http.webRoot}: check --web-root (SECURECHAT_WEB_ROOT), or ${WEB_APP_NOT_BUILT.replace('the web app is not built: ', '')}; pages answer 503 until then`,
      )
    }
    if (chainId === undefined) {
      root.warn(
        { event: 'http:no-chain' },
        'the web app cannot start without a chain: pass --chain-id (and --rpc for token gates and anchors)',
      )
    }
    warnIfBrowsersCannotDial(root, relay, config.webAllowPrivate)
  }
  const signal = await signalled
  root.info({ event: 'relay:stopping', signal }, 'relay stopping')
  try {
    await http?.stop()
    await leafLists?.stop()
    await anchoring?.stop()
    await relay.stop()
  } catch (err) {
    root.error({ error: String(err) }, 'error while stopping')
  }
  provider?.destroy()
  root.info({ event: 'relay:stopped' }, 'relay stopped')
}

function relayHttpServer(
  config: RelayConfig,
  relay: RelayNode,
  chainId: number | undefined,
  anchoring: { anchorer: Pick<Anchorer, 'stats' | 'proofOf'> } | undefined,
  leafLists: RelayLeafLists | undefined,
  logger: LoggerFactory,
): RelayHttpServer {
  const rpcUrl = config.webRpc ?? config.rpc
  const proofSources = [anchoring?.anchorer, leafLists?.intake].filter((source) => source !== undefined)
  return new RelayHttpServer({
    relay,
    port: config.httpPort ?? 0,
    host: config.httpHost,
    webRoot: config.webRoot,
    trustProxy: config.httpTrustProxy,
    logger,
    app: {
      ...(chainId === undefined ? {} : { chainId }),
      ...(rpcUrl === undefined ? {} : { rpcUrl }),
      contracts: config.auditLog === undefined ? {} : { auditLog: config.auditLog },
      allowPrivateAddresses: config.webAllowPrivate,
      ...(config.webEnsRpc === undefined ? {} : { ensRpcUrl: config.webEnsRpc }),
      ...(config.webIceServers === undefined ? {} : { iceServers: config.webIceServers }),
    },
    ...(anchoring === undefined ? {} : { metrics: () => anchorerMetrics(anchoring.anchorer.stats()) }),
    ...(proofSources.length === 0 ? {} : { auditProofs: anyProofSource(proofSources) }),
    ...(leafLists === undefined ? {} : { leafLists: leafLists.intake }),
  })
}

/** The app is served, but will browsers reach the relay? Say so at startup rather than let users find out. */
function warnIfBrowsersCannotDial(log: Logger, relay: RelayNode, allowPrivate: boolean): void {
  const addresses = webSocketAddresses(relay.multiaddrs, relay.peerId)
  if (addresses.length === 0) {
    log.warn(
      { event: 'http:unreachable', hint: 'add a WebSocket listener, e.g. --listen /ip4/0.0.0.0/tcp/4002/ws' },
      'the relay has no WebSocket address: the web app cannot connect to it',
    )
  } else if (!allowPrivate && addresses.every(isPrivateMultiaddr)) {
    log.warn(
      {
        event: 'http:unreachable',
        hint: '--announce the public wss:// address of the relay, or pass --web-allow-private on a LAN',
      },
      'every WebSocket address of the relay is loopback or private, which browsers refuse to dial',
    )
  }
}

/** Anchoring is on when an anchoring key is configured; its module (Helia, IPFS) loads only then. */
function anchoringWanted(config: RelayConfig, env: NodeJS.ProcessEnv): boolean {
  return config.anchorKey !== undefined || (env.SECURECHAT_ANCHOR_PRIVATE_KEY ?? '') !== ''
}
