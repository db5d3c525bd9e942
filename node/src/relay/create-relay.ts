/**
 * The relay as one component, in libp2p's manner: `createRelay(init)` builds the relay node and the services
 * `init.services` plugs in; `start()` starts the node, then the services in {@link RELAY_SERVICE_ORDER};
 * `stop()` stops them in the reverse order, then the relay's IPFS node, then the relay node. `securechat relay`
 * and `npm start` are callers of this, nothing more.
 *
 *   const relay = createRelay({
 *     privateKey, listen, dataDir, provider, logger,
 *     services: { anchoring: anchoring({ wallet, rpcUrl, auditLog }), leafLists: leafLists({ provider, auditLog }),
 *                 http: httpServer({ port, app }) },
 *   })
 *   await relay.start(); …; await relay.stop()
 *
 * A service is `(components) => service`: it gets the relay node (whose `record:accepted` events carry every
 * record the relay forwards), the relay's one proof index, its IPFS node, the services before it, and the one
 * metrics surface. Every service is optional; a new one (the message store) takes a name and a place in the order.
 */
import { join } from 'node:path'
import type { AuditIpfs } from '@securechat/sdk/audit'
import { type LoggerFactory, silentLoggerFactory } from '@securechat/sdk/logger'
import { AUDIT_DIR } from '../audit/constants.ts'
import { AnchoredProofIndex } from '../audit/proof-index.ts'
import { ConfigError } from '../errors.ts'
import type { LeafListTaker } from './http/audit.ts'
import { type Metric, relayMetrics } from './metrics.ts'
import { type RelayInit, RelayNode, type RelayStats } from './relay.ts'
import type { TlsCredentials } from './tls.ts'

/** What every service may have; all of it optional. */
export interface RelayService {
  /** Called after the relay node and every service before this one started. */
  start?(): void | Promise<void>
  /** Called before any service before this one stops, and before the relay node stops. Idempotent. */
  stop?(): void | Promise<void>
  /** This service's part of the relay's `/metrics`. */
  metrics?(): Metric[]
  /** This service's part of {@link Relay.stats}. */
  stats?(): object
}

/** Anchoring: messages the relay forwards, batched and anchored on chain (`node/src/audit/relay-anchoring.ts`). */
export interface AnchoringService extends RelayService {
  /** The anchoring account's address. */
  readonly address: string
}

/** Members' leaf lists, checked against the chain and pinned (`node/src/audit/leaf-list-intake.ts`). */
export interface LeafListsService extends RelayService {
  readonly intake: LeafListTaker
}

/** The web app and the relay's HTTP API (`node/src/relay/http/`). */
export interface HttpService extends RelayService {
  start(): Promise<void>
  stop(): Promise<void>
  /** `http://host:port/` once started. */
  readonly url: string
  readonly webRoot: string
  hasWebApp(): Promise<boolean>
}

/** The services a relay may have, by name. */
export interface RelayServices {
  anchoring?: AnchoringService
  leafLists?: LeafListsService
  /** Issue 12's message store plugs in here. */
  store?: RelayService
  /** The files of its rooms the relay keeps (issue 16, `file-pins.ts`). */
  files?: RelayService
  /** The forwarding unit for larger calls (issue 17, `sfu/sfu-service.ts`): Janus as a child, off unless `--sfu`. */
  sfu?: RelayService
  http?: HttpService
}

/**
 * The one order: services start in it and stop in its reverse. Anchoring first, so it sees every record the node
 * forwards; the HTTP server last, so it answers only once what it serves is there.
 */
export const RELAY_SERVICE_ORDER = [
  'anchoring',
  'leafLists',
  'store',
  'files',
  'sfu',
  'http',
] as const satisfies ReadonlyArray<keyof RelayServices>

export interface RelayComponents {
  /** The relay node; running whenever a service is. */
  readonly node: RelayNode
  readonly logger: LoggerFactory
  /** The relay's data dir; services keep their files under it. Throws when the relay has none. */
  dataDir(service: string): string
  /** Whether the relay has a data dir (services that can also run in memory ask). */
  readonly hasDataDir: boolean
  /**
   * The relay's one index of anchored proofs: its anchorer's batches and the members' it took go here, `/audit/proof`
   * answers from it, and its bound (`ANCHOR_PROOF_INDEX_LEAVES`) holds for all of them together.
   */
  readonly proofs: AnchoredProofIndex
  /** The relay's IPFS node, on the relay's libp2p node: made at the first call, stopped after every service. */
  ipfs(): Promise<AuditIpfs>
  /** The services built before this one. */
  readonly services: Readonly<RelayServices>
  /** The relay's one metrics surface (see {@link Relay.metrics}). */
  metrics(): Metric[]
  /** The relay's TLS pair (`--tls-cert`), which its `wss://` listeners serve; the HTTP server serves HTTPS with it. */
  readonly tls: TlsCredentials | undefined
}

export type RelayServiceFactories = {
  [K in keyof RelayServices]?: (components: RelayComponents) => NonNullable<RelayServices[K]>
}

export interface CreateRelayInit extends RelayInit {
  /** Where services keep their files (anchoring, leaf lists, the IPFS blocks); needed by those services only. */
  dataDir?: string
  services?: RelayServiceFactories
}

export interface RelayComponentStats {
  node: RelayStats
  /** Leaves the proof index holds, and at most. */
  proofs: { leaves: number; maxLeaves: number }
  services: { [K in keyof RelayServices]?: object }
}

export class Relay {
  readonly node: RelayNode
  readonly services: Readonly<RelayServices>
  readonly #components: RelayComponents
  readonly #log
  #ipfs: Promise<AuditIpfs> | undefined
  /** Services started, in order. */
  #started: RelayService[] = []
  #running: Promise<void> | undefined
  #stopping: Promise<void> | undefined

  constructor(init: CreateRelayInit) {
    const { dataDir, services: factories = {}, ...nodeInit } = init
    const logger = init.logger ?? silentLoggerFactory
    this.#log = logger('securechat:node:relay')
    this.node = new RelayNode(nodeInit)
    const services: RelayServices = {}
    this.services = services
    const proofs = new AnchoredProofIndex()
    this.#components = {
      node: this.node,
      logger,
      dataDir: (service) => {
        if (dataDir === undefined) {
          throw new ConfigError(`the relay's ${service} needs a data dir`, { hint: 'pass --data-dir <dir>' })
        }
        return dataDir
      },
      hasDataDir: dataDir !== undefined,
      proofs,
      ipfs: () => (this.#ipfs ??= this.#startIpfs(this.#components.dataDir('IPFS node'))),
      services,
      metrics: () => this.metrics(),
      tls: init.tls,
    }
    for (const name of RELAY_SERVICE_ORDER) {
      const factory = factories[name] as ((components: RelayComponents) => RelayService) | undefined
      if (factory !== undefined) (services as Record<string, RelayService>)[name] = factory(this.#components)
    }
  }

  get peerId(): string {
    return this.node.peerId
  }

  get multiaddrs(): string[] {
    return this.node.multiaddrs
  }

  /**
   * Starts the relay node, then each service in {@link RELAY_SERVICE_ORDER}. When one fails, what started stops
   * again (in reverse) and the error is thrown.
   */
  start(): Promise<void> {
    this.#running ??= this.#start()
    return this.#running
  }

  /** Stops the services in reverse order, then the IPFS node, then the relay node. Idempotent. */
  stop(): Promise<void> {
    if (this.#running === undefined) return this.#stopping ?? Promise.resolve()
    const running = this.#running
    this.#running = undefined
    this.#stopping = running.catch(() => undefined).then(() => this.#stop())
    return this.#stopping
  }

  /** Everything the relay counts: the node's figures, the proof index's, and each service's. */
  stats(): RelayComponentStats {
    const services: RelayComponentStats['services'] = {}
    for (const name of RELAY_SERVICE_ORDER) {
      const stats = this.services[name]?.stats?.()
      if (stats !== undefined) services[name] = stats
    }
    const { proofs } = this.#components
    return { node: this.node.stats(), proofs: { leaves: proofs.size, maxLeaves: proofs.maxLeaves }, services }
  }

  /** The relay's one metrics surface, `/metrics`: the node's, its certificate's, then each service's. */
  metrics(): Metric[] {
    return [
      ...relayMetrics(this.node.stats()),
      ...(this.#components.tls?.metrics() ?? []),
      ...RELAY_SERVICE_ORDER.flatMap((name) => this.services[name]?.metrics?.() ?? []),
    ]
  }

  async #start(): Promise<void> {
    await this.node.start()
    try {
      for (const name of RELAY_SERVICE_ORDER) {
        const service = this.services[name]
        if (service === undefined) continue
        this.#started.push(service)
        await service.start?.()
        this.#log.debug('relay service started', { event: 'service:started', service: name })
      }
    } catch (err) {
      await this.#stop()
      throw err
    }
  }

  async #stop(): Promise<void> {
    const failures: unknown[] = []
    for (const service of this.#started.splice(0).reverse()) {
      try {
        await service.stop?.()
      } catch (err) {
        failures.push(err)
      }
    }
    const ipfs = this.#ipfs
    this.#ipfs = undefined
    await ipfs?.then((node) => node.stop()).catch((err: unknown) => failures.push(err))
    await this.node.stop()
    if (failures.length > 0) {
      throw new AggregateError(failures, `${failures.length} relay service(s) failed to stop`)
    }
  }

  async #startIpfs(dataDir: string): Promise<AuditIpfs> {
    // Helia loads only for a relay that uses it.
    const { createRelayAuditIpfs } = await import('../audit/ipfs.ts')
    return createRelayAuditIpfs({ libp2p: this.node.libp2p, dir: join(dataDir, AUDIT_DIR, 'ipfs') })
  }
}

/** A relay with the services `init.services` plugs in; nothing runs until {@link Relay.start}. */
export function createRelay(init: CreateRelayInit): Relay {
  return new Relay(init)
}
