import { join } from 'node:path'
import { releasePidLock, takePidLock } from '@securechat/sdk/pid-lock'
import type { Logger } from 'pino'
import type { RelayConfig } from '../config.ts'
import { RELAY_LOCK_FILE_NAME } from '../constants.ts'
import { ConfigError, type TlsError } from '../errors.ts'
import { createNodeLogger } from '../log.ts'
import { createRelay, type Relay, type RelayServiceFactories } from '../relay/create-relay.ts'
import { FILES_DIR } from '../relay/file-pin-constants.ts'
import { filePins } from '../relay/file-pins.ts'
import { isPrivateMultiaddr, isSecureWebSocketAddress, webSocketAddresses } from '../relay/http/addresses.ts'
import { httpServer } from '../relay/http/service.ts'
import { WEB_APP_NOT_BUILT } from '../relay/http/web-app.ts'
import { loadOrCreatePeerKey } from '../relay/peer-key.ts'
import type { SfuService } from '../relay/sfu/sfu-service.ts'
import { sfu } from '../relay/sfu/sfu-service.ts'
import { messageStore } from '../relay/store-service.ts'
import { certificateCovers, loadTlsCredentials, type TlsCertificateInfo, type TlsCredentials } from '../relay/tls.ts'
import { createRpcProvider, probeChainId } from '../rpc.ts'
import { STORE_FILE_NAME } from '../store/constants.ts'

/**
 * `securechat relay`: runs until SIGINT/SIGTERM, then stops gracefully. On SIGHUP it reads its TLS files again and
 * its settings (`reread`: the config file, mostly) for a changed `--peer` list.
 */
export async function runRelay(config: RelayConfig, reread: () => RelayConfig = () => config): Promise<void> {
  // One relay per data dir: two would share its PeerId, its store and its files, each unaware of the other.
  const lock = join(config.dataDir, RELAY_LOCK_FILE_NAME)
  await takePidLock(lock, (pid) =>
    Number.isNaN(pid)
      ? new ConfigError(`could not lock the relay's data dir ${config.dataDir}`, { details: { lock } })
      : new ConfigError(`another relay (process ${pid}) is using the data dir ${config.dataDir}`, {
          details: { pid, lock },
          hint: `stop it first (kill ${pid}), or give this relay its own --data-dir`,
        }),
  )
  try {
    await serveRelay(config, reread)
  } finally {
    await releasePidLock(lock)
  }
}

async function serveRelay(config: RelayConfig, reread: () => RelayConfig): Promise<void> {
  const { root, factory } = createNodeLogger({ json: config.json })
  const privateKey = await loadOrCreatePeerKey(config.dataDir)
  const chainId =
    config.rpc === undefined
      ? config.chainId
      : (config.chainId ??
        (await probeChainId(config.rpc, undefined, {
          hint: 'start the chain (or fix --rpc), or pass --chain-id so the relay starts while the endpoint is down',
        })))
  // A pair that cannot be used stops the start here, with which file is wrong and what to do (TlsError).
  const tls =
    config.tlsCert === undefined || config.tlsKey === undefined
      ? undefined
      : await loadTlsCredentials({ certFile: config.tlsCert, keyFile: config.tlsKey })
  const provider =
    config.rpc === undefined || chainId === undefined ? undefined : createRpcProvider({ url: config.rpc, chainId })
  let relay: Relay
  try {
    relay = createRelay({
      privateKey,
      listen: config.listen,
      ...(tls === undefined ? {} : { tls }),
      announce: config.announce,
      peers: config.peers,
      limits: {
        maxConnections: config.maxConnections,
        maxConnectionsPerIp: config.maxConnectionsPerIp,
        maxConnectionsPerPeer: config.maxConnectionsPerPeer,
        maxUnreadBytesPerPeer: config.maxUnreadBytesPerPeer,
        maxPendingConnections: config.maxPendingConnections,
        connectionRatePerIp: config.connectionRatePerIp,
        maxReservations: config.maxReservations,
        maxReservationsPerIp: config.maxReservationsPerIp,
        reservationTtlMs: config.reservationTtlMs,
        floodBansPerIp: config.recordFloodBansPerIp,
        // Each carries many clients: a proxy in front of the relay, a NAT the operator knows.
        manyClientAddresses: [...config.httpTrustedProxies, ...config.colocationWhitelist],
      },
      recordRates: {
        recordsPerSecond: config.recordsPerSecond,
        recordBurst: config.recordBurst,
        controlRecordsPerSecond: config.controlRecordsPerSecond,
        controlRecordBurst: config.controlRecordBurst,
        floodBanAfterMs: config.recordFloodBanAfterMs,
        floodBanMs: config.recordFloodBanMs,
        maxTierRecordsPerSecond: config.maxTierRecordsPerSecond,
      },
      gateEvaluator: { headReadIntervalMs: config.gateHeadReadIntervalMs },
      readRecordsInFlight: config.readRecordsInFlight,
      scoring: { colocationThreshold: config.colocationThreshold, colocationWhitelist: config.colocationWhitelist },
      dataDir: config.dataDir,
      logger: factory,
      ...(provider === undefined ? {} : { provider }),
      services: await services(config, chainId, provider),
    })
  } catch (err) {
    provider?.destroy()
    throw err
  }
  // Handlers go in before the first line is printed: whoever reads that line may signal at once.
  const signalled = new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'))
    process.once('SIGTERM', () => resolve('SIGTERM'))
  })
  // SIGHUP reads the TLS files again (as nginx does), and the linked relays.
  const reload = (): void => {
    if (tls !== undefined) void reloadCertificate(root, tls)
    void reloadPeers(root, relay, reread)
  }
  process.on('SIGHUP', reload)
  try {
    await relay.start()
  } catch (err) {
    provider?.destroy()
    throw err
  }
  const { http, anchoring } = relay.services
  const multiaddrs = relay.multiaddrs
  const chain = {
    ...(config.rpc === undefined ? {} : { rpc: config.rpc }),
    ...(chainId === undefined ? {} : { chainId }),
    ...(config.auditLog === undefined ? {} : { auditLog: config.auditLog }),
    ...(anchoring === undefined ? {} : { anchorer: anchoring.address }),
  }
  const web = http === undefined ? {} : { web: http.url }
  root.info({ event: 'relay:started', peerId: relay.peerId, multiaddrs, ...web, ...chain }, 'relay started')
  if (!config.json) {
    process.stdout.write(`SecureChat relay ${relay.peerId} listening on:\n`)
    for (const address of multiaddrs) process.stdout.write(`  ${address}\n`)
    process.stdout.write(
      http === undefined
        ? 'No --http: no web app, /metrics or /healthz (add --http <port>).\n'
        : `Web app: ${http.url} (also /metrics and /healthz)\n`,
    )
    process.stdout.write(
      config.rpc === undefined
        ? 'No --rpc: token-gated rooms are not forwarded, contract wallets are not accepted.\n'
        : `Reading chain ${chainId} at ${config.rpc} (token gates, contract wallets).\n`,
    )
    process.stdout.write(`${describeStore(config)}\n`)
    process.stdout.write(`${describeFiles(config)}\n`)
    if (config.sfu) process.stdout.write(`${describeSfu(config, relay.services.sfu as SfuService | undefined)}\n`)
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
  if (tls !== undefined) {
    logCertificate(root, 'tls:loaded', tls.info)
    warnIfCertificateMisnamed(root, relay, tls)
  }
  const signal = await signalled
  process.off('SIGHUP', reload)
  root.info({ event: 'relay:stopping', signal }, 'relay stopping')
  try {
    await relay.stop()
  } catch (err) {
    root.error({ error: String(err) }, 'error while stopping')
  }
  provider?.destroy()
  root.info({ event: 'relay:stopped' }, 'relay stopped')
}

/**
 * The services the configuration asks for: anchoring with an anchoring key (issue #6; its module, with Helia,
 * loads only then), members' leaf lists on a relay that serves the app and reads the audit log, the message
 * store unless `--store none` (issue 12), the web app with `--http` (issue #5).
 */
async function services(
  config: RelayConfig,
  chainId: number | undefined,
  provider: ReturnType<typeof createRpcProvider> | undefined,
): Promise<RelayServiceFactories> {
  const anchoring = anchoringWanted(config, process.env)
    ? await (await import('../audit/relay-anchoring.ts')).anchoringFromConfig(
        { ...config, ...(chainId === undefined ? {} : { chainId }) },
        process.env,
      )
    : undefined
  const leafLists =
    config.httpPort === undefined || provider === undefined || config.auditLog === undefined
      ? undefined
      : (await import('../audit/leaf-list-intake.ts')).leafLists({ provider, auditLog: config.auditLog })
  const rpcUrl = config.webRpc ?? config.rpc
  const http =
    config.httpPort === undefined
      ? undefined
      : httpServer({
          port: config.httpPort,
          host: config.httpHost,
          webRoot: config.webRoot,
          trustedProxies: config.httpTrustedProxies,
          app: {
            ...(chainId === undefined ? {} : { chainId }),
            ...(rpcUrl === undefined ? {} : { rpcUrl }),
            contracts: config.auditLog === undefined ? {} : { auditLog: config.auditLog },
            allowPrivateAddresses: config.webAllowPrivate,
            ...(config.webEnsRpc === undefined ? {} : { ensRpcUrl: config.webEnsRpc }),
            ...(config.webIceServers === undefined ? {} : { iceServers: config.webIceServers }),
            relays: config.peers,
          },
        })
  const store =
    config.store === 'none'
      ? undefined
      : messageStore({
          ...(config.store === 'sqlite' ? {} : { store: config.store }),
          retention: {
            maxAgeMs: config.storeMaxAgeMs,
            maxRecordsPerTopic: config.storeMaxRecords,
            maxBytesPerTopic: config.storeMaxBytes,
            maxRecordsPerSender: config.storeSenderMaxRecords,
            maxBytesPerSender: config.storeSenderMaxBytes,
          },
          queryLimits: {
            queriesPerSecond: config.storeQueriesPerSecond,
            queryBurst: config.storeQueryBurst,
            queriesPerSecondPerIp: config.storeQueriesPerSecondPerIp,
            queryBurstPerIp: config.storeQueryBurstPerIp,
            queriesAtOncePerPeer: config.storeQueriesAtOncePerPeer,
            queriesAtOncePerIp: config.storeQueriesAtOncePerIp,
          },
          queriesAtOnce: config.storeQueriesAtOnce,
        })
  const files = filePins({
    retentionMs: config.fileRetentionMs,
    maxFileBytes: config.fileMaxBytes,
    roomQuotaBytes: config.fileRoomQuota,
    totalQuotaBytes: config.fileTotalQuota,
  })
  // The forwarding unit only when asked for: it runs a child process and takes a UDP port range.
  const forwarding = config.sfu
    ? sfu({
        janusBin: config.sfuJanusBin,
        rtpPorts: config.sfuRtpPorts,
        ...(config.sfuInterface === undefined ? {} : { interface: config.sfuInterface }),
        ...(config.sfuPublicIp === undefined ? {} : { publicIp: config.sfuPublicIp }),
        maxPublishers: config.sfuMaxPublishers,
        maxCalls: config.sfuMaxCalls,
      })
    : undefined
  return {
    ...(anchoring === undefined ? {} : { anchoring }),
    ...(leafLists === undefined ? {} : { leafLists }),
    ...(store === undefined ? {} : { store }),
    files,
    ...(forwarding === undefined ? {} : { sfu: forwarding }),
    ...(http === undefined ? {} : { http }),
  }
}

/** SIGHUP: the files are read again; a pair that cannot be used leaves the one in use, and the log says why. */
async function reloadCertificate(log: Logger, tls: TlsCredentials): Promise<void> {
  try {
    logCertificate(log, 'tls:reloaded', await tls.reload())
  } catch (err) {
    const { message, hint } = err as TlsError
    log.error(
      { event: 'tls:reload-failed', error: message, hint, fingerprint256: tls.info.fingerprint256 },
      `TLS certificate not reloaded, still serving the previous one: ${message}`,
    )
  }
}

/** SIGHUP: the `--peer` list again; settings that no longer parse leave the links as they are, and the log says why. */
async function reloadPeers(log: Logger, relay: Relay, reread: () => RelayConfig): Promise<void> {
  let peers: string[]
  try {
    peers = reread().peers
  } catch (err) {
    const { message, hint } = err as ConfigError
    log.error({ event: 'peers:reload-failed', error: message, hint }, `linked relays not reloaded: ${message}`)
    return
  }
  try {
    const { added, removed } = await relay.node.setPeers(peers)
    log.info({ event: 'peers:reloaded', peers, added, removed }, 'linked relays reloaded')
  } catch (err) {
    // A reload never takes the relay down: what its links became is logged, and the next SIGHUP tries again.
    log.error({ event: 'peers:reload-failed', error: String(err) }, `linked relays not reloaded: ${String(err)}`)
  }
}

function logCertificate(log: Logger, event: 'tls:loaded' | 'tls:reloaded', info: TlsCertificateInfo): void {
  const fields = {
    event,
    subject: info.subject,
    altNames: info.altNames,
    validTo: info.validTo,
    fingerprint256: info.fingerprint256,
  }
  if (info.expired) {
    log.warn(
      { ...fields, hint: 'renew it and send the relay SIGHUP' },
      `the TLS certificate expired on ${info.validTo}: browsers refuse it`,
    )
  } else {
    log.info(fields, event === 'tls:loaded' ? 'serving TLS' : 'TLS certificate reloaded: new connections get it')
  }
}

/** The app is served, but will browsers reach the relay? Say so at startup rather than let users find out. */
function warnIfBrowsersCannotDial(log: Logger, relay: Relay, allowPrivate: boolean): void {
  const addresses = webSocketAddresses(relay.multiaddrs, relay.peerId)
  if (addresses.length === 0) {
    log.warn(
      {
        event: 'http:unreachable',
        hint: 'add a WebSocket listener: --listen /ip4/0.0.0.0/tcp/443/tls/ws with --tls-cert and --tls-key, or /ws behind a TLS proxy',
      },
      'the relay has no WebSocket address: the web app cannot connect to it',
    )
  } else if (!allowPrivate && addresses.every(isPrivateMultiaddr)) {
    log.warn(
      {
        event: 'http:unreachable',
        hint: '--announce the public wss:// address of the relay (its own /tls/ws listener or its proxy), or pass --web-allow-private on a LAN',
      },
      'every WebSocket address of the relay is loopback or private, which browsers refuse to dial',
    )
  }
}

/** Browsers dial a `wss://` address only when the certificate names its host: a listener on 0.0.0.0 has IP addresses. */
function warnIfCertificateMisnamed(log: Logger, relay: Relay, tls: TlsCredentials): void {
  for (const address of relay.multiaddrs.filter(isSecureWebSocketAddress)) {
    const [, host = '', port = ''] = /^\/(?:ip4|ip6|dns|dns4|dns6)\/([^/]+)\/tcp\/(\d+)/.exec(address) ?? []
    if (host === '' || certificateCovers(tls.certificate, host)) continue
    log.warn(
      {
        event: 'tls:misnamed',
        address,
        altNames: tls.info.altNames,
        hint: `--announce /dns4/<a name the certificate has>/tcp/${port}/tls/ws (the announced addresses replace the listened ones)`,
      },
      `browsers will refuse wss://${host}:${port}: the certificate does not name ${host}`,
    )
  }
}

/** What an operator meets first: where the history is kept and for how long (never a database password). */
export function describeStore(config: Pick<RelayConfig, 'store' | 'storeMaxAgeMs' | 'dataDir'>): string {
  if (config.store === 'none') return 'Keeping no history (--store none): devices that were away cannot catch up here.'
  const where =
    config.store === 'sqlite'
      ? join(config.dataDir, STORE_FILE_NAME)
      : config.store.startsWith('sqlite:')
        ? config.store.slice('sqlite:'.length)
        : `PostgreSQL ${config.store.replace(/\/\/[^@]*@/, '//')}`
  const days = Math.round((config.storeMaxAgeMs / DAY_MS) * 10) / 10
  return `Keeping rooms' and DMs' encrypted history for ${days} days in ${where} (--store, --store-max-age-ms).`
}

/** What an operator meets first about files: where, how long, how much. */
export function describeFiles(
  config: Pick<RelayConfig, 'fileTotalQuota' | 'fileRoomQuota' | 'fileRetentionMs' | 'fileMaxBytes' | 'dataDir'>,
): string {
  if (config.fileTotalQuota === 0) {
    return 'Keeping no shared files (--file-total-quota 0): a file is there only while its sender is online.'
  }
  const days = Math.round((config.fileRetentionMs / DAY_MS) * 10) / 10
  return `Keeping files members share (ciphertext) for ${days} days in ${join(config.dataDir, FILES_DIR)}, up to ${gib(config.fileTotalQuota)} in all, ${gib(config.fileRoomQuota)} per room and ${gib(config.fileMaxBytes)} per file (--file-total-quota, --file-room-quota, --file-retention-ms, --file-max-bytes).`
}

/** What an operator who passed --sfu meets first: whether the forwarding unit runs, and if not why (Janus missing). */
export function describeSfu(
  config: Pick<RelayConfig, 'sfuRtpPorts' | 'sfuMaxPublishers' | 'sfuMaxCalls'>,
  service: SfuService | undefined,
): string {
  const disabled = service?.stats().disabled
  if (service === undefined || disabled !== undefined) {
    return `No forwarding unit despite --sfu: ${disabled ?? 'not started'}. Install Janus (apt-get install janus) or fix --sfu-janus-bin, then restart; calls through this relay stay meshes until then.`
  }
  return `Forwarding larger calls with Janus: media on UDP ${config.sfuRtpPorts}, up to ${config.sfuMaxPublishers} devices per call and ${config.sfuMaxCalls} calls (--sfu-rtp-ports, --sfu-max-publishers, --sfu-max-calls).`
}

function gib(bytes: number): string {
  return `${Math.round((bytes / 1024 ** 3) * 10) / 10} GiB`
}

const DAY_MS = 24 * 60 * 60 * 1000

/** Anchoring is on when an anchoring key is configured (`--anchor-key <file>`, or `SECURECHAT_ANCHOR_PRIVATE_KEY`). */
function anchoringWanted(config: RelayConfig, env: NodeJS.ProcessEnv): boolean {
  return config.anchorKey !== undefined || (env.SECURECHAT_ANCHOR_PRIVATE_KEY ?? '') !== ''
}
