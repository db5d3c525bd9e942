import type { SignedMessage } from '@libp2p/gossipsub'
import type { Libp2p } from '@libp2p/interface'
import { type Logger, silentLoggerFactory } from '@securechat/sdk/logger'
import { STORE_MAX_PENDING_WRITES, STORE_PRUNE_INTERVAL_MS, STORE_STATS_INTERVAL_MS } from './constants.ts'
import { type StoreFacts, storeInputOf } from './gossip.ts'
import { HistoryServer, type HistoryServerInit, type HistoryServerStats } from './history-server.ts'
import type { MessageStore, StoreInput, StoreStats } from './types.ts'

export interface StoreServiceInit {
  libp2p: Libp2p
  /** Opened by the caller (`openStore`); the service closes it on `stop()`. */
  store: MessageStore
  log?: Logger
  /** Default `STORE_PRUNE_INTERVAL_MS`. */
  pruneIntervalMs?: number
  /** Default `STORE_MAX_PENDING_WRITES`. */
  maxPendingWrites?: number
  /** Default `STORE_MAX_CONCURRENT_REQUESTS`. */
  maxConcurrentRequests?: number
  /** The relay's per-peer and per-IP store-query limits, and who counts the relay-wide refusals (`HistoryServerInit`). */
  admit?: HistoryServerInit['admit']
  onBusy?: HistoryServerInit['onBusy']
  /** Default `STORE_STATS_INTERVAL_MS`. */
  statsIntervalMs?: number
}

export interface StoreServiceStats {
  /** The database's figures as last read (`statsIntervalMs`); undefined until the first read. */
  store: StoreStats | undefined
  history: HistoryServerStats
  /** Records waiting for the next write. */
  pendingWrites: number
  /** Records not kept because writes fell behind (`maxPendingWrites`) or failed. */
  droppedWrites: number
  failedWrites: number
}

/**
 * The relay's store as one service: it keeps what the relay accepted (`keep`, called from
 * gossipsub's event, so it only queues; writes go in batches), applies retention on a timer,
 * and answers `/securechat/store/1.0.0`.
 */
export class StoreService {
  readonly #init: StoreServiceInit
  readonly #log: Logger
  readonly #history: HistoryServer
  #pending: StoreInput[] = []
  /** Key bundles waiting for the next write, by PeerId. */
  #pendingBundles = new Map<string, string>()
  #writing: Promise<void> | undefined
  #pruneTimer: ReturnType<typeof setInterval> | undefined
  #statsTimer: ReturnType<typeof setInterval> | undefined
  #storeStats: StoreStats | undefined
  #started = false
  #dropped = 0
  #failed = 0

  constructor(init: StoreServiceInit) {
    this.#init = init
    this.#log = init.log ?? silentLoggerFactory('securechat:node:store')
    this.#history = new HistoryServer({
      libp2p: init.libp2p,
      store: init.store,
      log: this.#log,
      ...(init.maxConcurrentRequests === undefined ? {} : { maxConcurrent: init.maxConcurrentRequests }),
      ...(init.admit === undefined ? {} : { admit: init.admit }),
      ...(init.onBusy === undefined ? {} : { onBusy: init.onBusy }),
    })
  }

  get store(): MessageStore {
    return this.#init.store
  }

  async start(): Promise<void> {
    if (this.#started) return
    this.#started = true
    await this.#history.start()
    this.#pruneTimer = setInterval(() => void this.#prune(), this.#init.pruneIntervalMs ?? STORE_PRUNE_INTERVAL_MS)
    this.#statsTimer = setInterval(
      () => void this.refreshStats(),
      this.#init.statsIntervalMs ?? STORE_STATS_INTERVAL_MS,
    )
    await this.#prune()
    await this.refreshStats()
  }

  /** Stops answering, writes what is queued, closes the store. Idempotent. */
  async stop(): Promise<void> {
    if (!this.#started) return
    this.#started = false
    clearInterval(this.#pruneTimer)
    clearInterval(this.#statsTimer)
    this.#pruneTimer = undefined
    this.#statsTimer = undefined
    await this.#history.stop()
    await this.flush()
    await this.#init.store.close()
  }

  /** Queues an accepted gossip message for the store. Cheap and synchronous. */
  keep(message: SignedMessage, facts: StoreFacts): void {
    if (!this.#started) return
    if (this.#pending.length >= (this.#init.maxPendingWrites ?? STORE_MAX_PENDING_WRITES)) {
      this.#dropped += 1
      return
    }
    this.#pending.push(storeInputOf(message, facts))
    this.#writing ??= this.#write()
  }

  /**
   * Queues a member's key bundle, verified by the relay, for the store (`MessageStore.putBundles`).
   * Cheap and synchronous; the caller decides how often (the relay: on a change, else at most every
   * `STORE_BUNDLE_REFRESH_MS` per member).
   */
  keepBundle(peer: string, bundle: string): void {
    if (!this.#started) return
    if (this.#pendingBundles.size >= (this.#init.maxPendingWrites ?? STORE_MAX_PENDING_WRITES)) {
      this.#dropped += 1
      return
    }
    this.#pendingBundles.set(peer, bundle)
    this.#writing ??= this.#write()
  }

  /** Resolves once everything queued so far is written (or failed). */
  async flush(): Promise<void> {
    while (this.#writing !== undefined) await this.#writing
  }

  /** Reads the database's figures now (records, bytes, topics) for the next `stats()`. */
  async refreshStats(): Promise<void> {
    try {
      this.#storeStats = await this.#init.store.stats()
    } catch (err) {
      this.#log.debug('store figures unavailable', { error: String(err) })
    }
  }

  /** Synchronous, for `/metrics`: the database's figures as last read, and this process's counters. */
  stats(): StoreServiceStats {
    return {
      store: this.#storeStats,
      history: this.#history.stats(),
      pendingWrites: this.#pending.length,
      droppedWrites: this.#dropped,
      failedWrites: this.#failed,
    }
  }

  async #write(): Promise<void> {
    // Let the records of this event-loop turn gather into one transaction.
    await new Promise((resolve) => setImmediate(resolve))
    while (this.#pending.length > 0 || this.#pendingBundles.size > 0) {
      const batch = this.#pending
      const bundles = [...this.#pendingBundles].map(([peer, bundle]) => ({ peer, bundle }))
      this.#pending = []
      this.#pendingBundles = new Map()
      try {
        await this.#init.store.put(batch)
        await this.#init.store.putBundles(bundles)
      } catch (err) {
        this.#failed += batch.length + bundles.length
        this.#log.warn('the store failed to keep records', {
          records: batch.length,
          bundles: bundles.length,
          error: String(err),
          hint: 'check the store (database reachable, disk not full); live delivery is not affected',
        })
      }
    }
    this.#writing = undefined
  }

  async #prune(): Promise<void> {
    try {
      const removed = await this.#init.store.prune()
      if (removed > 0) this.#log.info('store retention applied', { removed })
    } catch (err) {
      this.#log.warn('store retention failed', { error: String(err) })
    }
  }
}
