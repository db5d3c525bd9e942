/**
 * Anchoring on a relay, as a service of the relay component (`createRelay`, node/src/relay/create-relay.ts): every
 * message record the relay accepts becomes an audit leaf, and so does every moderation event its room's log keeps
 * (a moderation leaf: the event, its author and the log's count, `moderationLeaf`), and the anchorer batches and
 * anchors them, publishing each batch's leaf list on the relay's IPFS node and its proofs in the relay's proof index.
 *
 *   createRelay({ ..., dataDir, services: { anchoring: anchoring({ wallet, rpcUrl, auditLog }) } })
 */
import { join } from 'node:path'
import { leafOfAccepted, MAX_BATCH_LEAVES, moderationLeaf } from '@securechat/sdk/audit'
import { ConfigError } from '../errors.ts'
import type { AnchoringService, RelayComponents } from '../relay/create-relay.ts'
import { anchorerMetrics } from '../relay/metrics.ts'
import type { RelayEvents } from '../relay/relay.ts'
import { loadWallet } from '../wallet.ts'
import { type Anchorer, type AnchorerInit, createAnchorer } from './anchorer.ts'
import { AUDIT_DIR } from './constants.ts'

/** The anchorer's settings; its journal, batches and proofs live in the relay's data dir and proof index. */
export type AnchoringInit = Omit<AnchorerInit, 'dir' | 'proofs' | 'logger'>

export interface RelayAnchoring extends AnchoringService {
  readonly anchorer: Anchorer
}

/** The anchoring service: anchors what the relay accepts, under `<dataDir>/audit/anchorer`. */
export function anchoring(init: AnchoringInit): (components: RelayComponents) => RelayAnchoring {
  return (components) => {
    const log = components.logger('securechat:node:anchorer')
    const anchorer = createAnchorer({
      ...init,
      dir: join(components.dataDir('anchoring'), AUDIT_DIR, 'anchorer'),
      proofs: components.proofs,
      logger: components.logger,
    })
    const onAccepted = (event: RelayEvents['record:accepted']): void => {
      const { record, message } = event.detail
      if (record.type === 'moderation') {
        // Each event kept, in the next batch: the log's head and every branch of a fork get anchored, at no
        // transaction of their own. A copy of an event kept already (a store's, a neighbour's) adds nothing.
        if (record.verdict.status === 'duplicate') return
        const count = components.node.moderationLog(message.topic)?.entries().length ?? 1
        anchorer.add(
          moderationLeaf({
            roomId: record.record.room,
            hash: record.verdict.hash,
            author: record.record.author,
            count,
          }),
        )
        return
      }
      if (record.type !== 'message') return
      try {
        anchorer.add(leafOfAccepted({ id: record.id, record: record.record, sender: record.certificate.address }))
      } catch (err) {
        // A ciphertext that is not base64url cannot be hashed; the message is relayed but not anchored.
        log.warn('message not anchored', { room: record.record.room, id: record.id, error: String(err) })
      }
    }
    return {
      anchorer,
      address: anchorer.address,
      async start() {
        // Listening first: a record the node forwards while the IPFS node starts is anchored too.
        components.node.addEventListener('record:accepted', onAccepted)
        anchorer.start({ ipfs: await components.ipfs() })
      },
      async stop() {
        components.node.removeEventListener('record:accepted', onAccepted)
        await anchorer.stop()
      },
      metrics: () => anchorerMetrics(anchorer.stats()),
      stats: () => anchorer.stats(),
    }
  }
}

/** What `securechat relay` needs from its configuration to anchor. */
export interface RelayAnchoringConfig {
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
export async function anchoringFromConfig(
  config: RelayAnchoringConfig,
  env: NodeJS.ProcessEnv,
): Promise<ReturnType<typeof anchoring> | undefined> {
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
  return anchoring({
    rpcUrl: config.rpc,
    auditLog: config.auditLog,
    wallet,
    intervalMs: config.anchorIntervalMs,
    maxBatch: config.anchorMaxBatch,
    ...(config.chainId === undefined ? {} : { chainId: config.chainId }),
    ...(config.anchorGasLimit === undefined ? {} : { gasLimit: BigInt(config.anchorGasLimit) }),
  })
}
