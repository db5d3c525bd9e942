/**
 * Anchoring on a relay: the hook that turns every message the relay accepted into an audit leaf, the relay's
 * IPFS node for leaf lists (on the relay's own libp2p node), and the anchorer that batches and anchors them.
 *
 *   const anchoring = relayAnchoring({ dataDir, wallet, rpcUrl, auditLog, logger })
 *   const relay = new RelayNode({ ..., onMessageAccepted: anchoring.onMessageAccepted })
 *   await relay.start(); await anchoring.start(relay.libp2p)
 *   …; await anchoring.stop(); await relay.stop()
 */
import { join } from 'node:path'
import type { Libp2p } from '@libp2p/interface'
import { type AuditIpfs, leafOfAccepted, MAX_BATCH_LEAVES } from '@securechat/sdk/audit'
import { type LoggerFactory, silentLoggerFactory } from '@securechat/sdk/logger'
import type { AcceptedRecord } from '@securechat/sdk/rooms'
import { ConfigError } from '../errors.ts'
import { loadWallet } from '../wallet.ts'
import { type Anchorer, type AnchorerInit, createAnchorer } from './anchorer.ts'
import { AUDIT_DIR } from './constants.ts'
import { createRelayAuditIpfs } from './ipfs.ts'

export interface RelayAnchoringInit extends Omit<AnchorerInit, 'dir'> {
  /** The relay's data dir; anchoring keeps its journal, batches and IPFS blocks under `<dataDir>/audit`. */
  dataDir: string
  logger?: LoggerFactory
}

export interface RelayAnchoring {
  readonly anchorer: Anchorer
  /** Pass to `RelayInit.onMessageAccepted`. */
  onMessageAccepted(message: Extract<AcceptedRecord, { type: 'message' }>): void
  /** Starts the IPFS node on the relay's libp2p node, then the anchorer. */
  start(libp2p: Libp2p): Promise<void>
  stop(): Promise<void>
  readonly ipfs: AuditIpfs | undefined
}

export function relayAnchoring(init: RelayAnchoringInit): RelayAnchoring {
  const dir = join(init.dataDir, AUDIT_DIR)
  const log = (init.logger ?? silentLoggerFactory)('securechat:node:anchorer')
  const anchorer = createAnchorer({ ...init, dir: join(dir, 'anchorer') })
  let ipfs: AuditIpfs | undefined
  return {
    anchorer,
    get ipfs() {
      return ipfs
    },
    onMessageAccepted(message) {
      try {
        anchorer.add(leafOfAccepted({ id: message.id, record: message.record, sender: message.certificate.address }))
      } catch (err) {
        // A ciphertext that is not base64url cannot be hashed; the message is relayed but not anchored.
        log.warn('message not anchored', { room: message.record.room, id: message.id, error: String(err) })
      }
    },
    async start(libp2p) {
      ipfs ??= await createRelayAuditIpfs({ libp2p, dir: join(dir, 'ipfs') })
      anchorer.start({ ipfs })
    },
    async stop() {
      await anchorer.stop()
      await ipfs?.stop()
      ipfs = undefined
    },
  }
}

/** What `securechat relay` needs from its configuration to anchor. */
export interface RelayAnchoringConfig {
  dataDir: string
  rpc?: string | undefined
  chainId?: number | undefined
  auditLog?: string | undefined
  anchorKey?: string | undefined
  anchorIntervalMs: number
  anchorMaxBatch: number
  anchorGasLimit?: number | undefined
}

/**
 * Anchoring as configured: undefined unless an anchoring key is given (`--anchor-key <file>`, or
 * `SECURECHAT_ANCHOR_PRIVATE_KEY`); then `--rpc` and `--audit-log` are required.
 */
export async function relayAnchoringFromConfig(
  config: RelayAnchoringConfig,
  env: NodeJS.ProcessEnv,
  logger: LoggerFactory,
): Promise<RelayAnchoring | undefined> {
  const hexKey = env.SECURECHAT_ANCHOR_PRIVATE_KEY
  if (config.anchorKey === undefined && (hexKey === undefined || hexKey === '')) return undefined
  if (config.rpc === undefined || config.auditLog === undefined) {
    throw new ConfigError('anchoring needs --rpc <url> and --audit-log <address>', {
      details: { rpc: config.rpc, auditLog: config.auditLog },
      hint: 'name the chain endpoint and the AuditLog contract (`npm start` prints its address), or drop --anchor-key',
    })
  }
  if (config.anchorMaxBatch > MAX_BATCH_LEAVES) {
    throw new ConfigError(`--anchor-max-batch must be at most ${MAX_BATCH_LEAVES}, got ${config.anchorMaxBatch}`)
  }
  const wallet = await loadWallet({
    keyFile: config.anchorKey,
    env: {
      ...(hexKey === undefined ? {} : { SECURECHAT_PRIVATE_KEY: hexKey }),
      ...(env.SECURECHAT_KEY_PASSWORD === undefined ? {} : { SECURECHAT_KEY_PASSWORD: env.SECURECHAT_KEY_PASSWORD }),
    },
  })
  return relayAnchoring({
    dataDir: config.dataDir,
    rpcUrl: config.rpc,
    auditLog: config.auditLog,
    wallet,
    intervalMs: config.anchorIntervalMs,
    maxBatch: config.anchorMaxBatch,
    ...(config.chainId === undefined ? {} : { chainId: config.chainId }),
    ...(config.anchorGasLimit === undefined ? {} : { gasLimit: BigInt(config.anchorGasLimit) }),
    logger,
  })
}
