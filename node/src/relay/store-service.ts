/** The message store (issue 12) as a service of the relay component: node/src/store/ does the work. */

import { MAX_MODERATION_EVENTS, MAX_PENDING_MODERATION_EVENTS } from '@securechat/sdk/constants'
import type { AcceptedDmRecord } from '@securechat/sdk/dm'
import type { HistoryQuery } from '@securechat/sdk/history'
import { RELAY_STORED_LOG_PAGE_EVENTS } from '../constants.ts'
import { STORE_BUNDLE_REFRESH_MS, STORE_MAX_REMEMBERED_BUNDLES } from '../store/constants.ts'
import { roomStoreFacts, type StoreFacts } from '../store/gossip.ts'
import { openStore } from '../store/open.ts'
import { StoreService, type StoreServiceStats } from '../store/service.ts'
import type { MessageStore, RetentionInit } from '../store/types.ts'
import type { RelayComponents, RelayService } from './create-relay.ts'
import { byLabel, counter, gauge, type Metric } from './metrics.ts'
import type { AcceptedDmGossip, AcceptedGossip } from './relay.ts'
import { StoreQueryLimits, type StoreQueryLimitsInit } from './store-query-limits.ts'
import type { StoredRoomLog } from './stored-room-log.ts'

export interface MessageStoreInit {
  /** `--store`: absent for SQLite under the data dir, `sqlite:<file>`, or `postgres://…` (`openStore`). */
  store?: string
  retention?: RetentionInit
  /** Store queries per peer and per IP (`store-query-limits.ts`); defaults in constants.ts. */
  queryLimits?: StoreQueryLimitsInit
  /** Store queries the relay answers at once in all; default `STORE_MAX_CONCURRENT_REQUESTS`. */
  queriesAtOnce?: number
}

export interface MessageStoreService extends RelayService {
  start(): Promise<void>
  stop(): Promise<void>
  /** Resolves once every record accepted so far is written (or failed). */
  flush(): Promise<void>
  stats(): StoreServiceStats | Record<string, never>
  metrics(): Metric[]
}

/**
 * Keeps every room and DM record the relay accepted (`record:accepted`, `dm-record:accepted`:
 * the gossip message as signed) and serves them over `/securechat/store/1.0.0`. Beside the
 * presence it keeps, it keeps the key bundle of each member the relay verified (`bundle:verified`)
 * and answers bundle requests the relay's memory cannot with it, so a device that never met a
 * member away can still seal its key to it (docs/architecture.md, History).
 */
export function messageStore(init: MessageStoreInit = {}): (components: RelayComponents) => MessageStoreService {
  return (components) => {
    let service: StoreService | undefined
    /** Members whose presence passed, with the bundle last written for each and when (oldest first out). */
    const written = new Map<string, { bundle: string | undefined; atMs: number }>()
    const keepBundleOf = (peer: string, bundle: string | undefined): void => {
      const last = written.get(peer)
      const fresh =
        bundle === undefined
          ? last !== undefined
          : last?.bundle === bundle && Date.now() - last.atMs < STORE_BUNDLE_REFRESH_MS
      if (fresh) return
      written.delete(peer)
      written.set(peer, { bundle, atMs: Date.now() })
      if (written.size > STORE_MAX_REMEMBERED_BUNDLES) written.delete(written.keys().next().value!)
      if (bundle !== undefined) service?.keepBundle(peer, bundle)
    }
    const onAccepted = (event: CustomEvent<AcceptedGossip>): void => {
      const { message, record } = event.detail
      const facts = roomStoreFacts(record)
      if (message.type === 'signed' && facts !== undefined) service?.keep(message, facts)
      if (record.type === 'presence') keepBundleOf(record.from, components.node.heldBundle(record.from))
    }
    // Fetched after the presence that named it (the relay asks its client then, or a member asks the relay).
    const onBundle = (event: CustomEvent<{ peerId: string; bundle: string }>): void => {
      if (written.has(event.detail.peerId)) keepBundleOf(event.detail.peerId, event.detail.bundle)
    }
    const onDmAccepted = (event: CustomEvent<AcceptedDmGossip>): void => {
      const { message, record } = event.detail
      const facts = dmStoreFacts(record)
      if (message.type === 'signed' && facts !== undefined) service?.keep(message, facts)
    }
    return {
      async start() {
        const store = await openStore({
          dataDir: components.dataDir('message store'),
          ...(init.store === undefined ? {} : { store: init.store }),
          ...(init.retention === undefined ? {} : { retention: init.retention }),
        })
        const limits = new StoreQueryLimits({ ...init.queryLimits, limits: components.node.limits })
        service = new StoreService({
          libp2p: components.node.libp2p,
          store,
          log: components.logger('securechat:node:store'),
          admit: limits.admit,
          onBusy: limits.onBusy,
          ...(init.queriesAtOnce === undefined ? {} : { maxConcurrentRequests: init.queriesAtOnce }),
        })
        await service.start()
        components.node.addEventListener('record:accepted', onAccepted)
        components.node.addEventListener('dm-record:accepted', onDmAccepted)
        components.node.addEventListener('bundle:verified', onBundle)
        components.node.serveStoredBundles((peer, options) => store.getBundle(peer, options))
        components.node.serveStoredRoomLog(storedRoomLog(store))
      },
      async stop() {
        components.node.serveStoredBundles(undefined)
        components.node.serveStoredRoomLog(undefined)
        components.node.removeEventListener('record:accepted', onAccepted)
        components.node.removeEventListener('dm-record:accepted', onDmAccepted)
        components.node.removeEventListener('bundle:verified', onBundle)
        await service?.stop()
        service = undefined
      },
      flush: async () => await service?.flush(),
      stats: () => service?.stats() ?? {},
      metrics: () => (service === undefined ? [] : storeMetrics(service.stats())),
    }
  }
}

/** A room's manifest (in a presence) and moderation log as the store keeps them (`stored-room-log.ts`). */
export function storedRoomLog(store: MessageStore): StoredRoomLog {
  return {
    async presence(topic, options) {
      const page = await store.query({ topic, range: { by: 'time' }, types: ['presence'], limit: 1 }, options)
      return page.records[0]?.data
    },
    async *moderation(topic, options) {
      const query: HistoryQuery = {
        topic,
        range: { by: 'time' },
        types: ['moderation'],
        limit: RELAY_STORED_LOG_PAGE_EVENTS,
      }
      for (let seen = 0; seen < MAX_MODERATION_EVENTS + MAX_PENDING_MODERATION_EVENTS; ) {
        const page = await store.query(query, options)
        if (page.records.length > 0) yield page.records.map((record) => record.data)
        const last = page.records.at(-1)
        if (!page.more || last === undefined) return
        seen += page.records.length
        query.cursor = store.cursorAfter(query, last)
      }
    },
  }
}

/**
 * What a DM record is to the store: session inits and messages are history (a device that was
 * offline fetches them), device announcements are state (each device's latest), inbox queries
 * ask who is there now and typing indicators and call signals (`signal`) are of the moment: neither is kept.
 */
export function dmStoreFacts(accepted: AcceptedDmRecord): StoreFacts | undefined {
  if (accepted.type === 'query' || accepted.type === 'signal') return undefined
  if (accepted.type === 'device') return { type: 'device', supersedes: true }
  return { type: accepted.type }
}

function storeMetrics(stats: StoreServiceStats): Metric[] {
  const { store, history } = stats
  return [
    ...(store === undefined
      ? []
      : [
          gauge('securechat_store_records', 'Records the message store holds (as last read).', store.records),
          gauge(
            'securechat_store_bytes',
            'Bytes the message store holds: data, signature, seqno (as last read).',
            store.bytes,
          ),
          gauge('securechat_store_topics', 'Topics with records in the store (as last read).', store.topics),
          counter('securechat_store_records_stored_total', 'Records this relay stored.', store.stored),
          counter(
            'securechat_store_records_refused_total',
            'Records refused by a sender quota or bounds.',
            store.refused,
          ),
          counter('securechat_store_records_pruned_total', 'Records removed by retention.', store.pruned),
          counter('securechat_store_queries_total', 'Store queries answered.', store.queryLatency.count),
          counter(
            'securechat_store_query_seconds_total',
            'Time spent answering store queries (divide by securechat_store_queries_total for the mean).',
            store.queryLatency.sumMs / 1000,
          ),
          gauge(
            'securechat_store_query_max_seconds',
            'Slowest store query since start.',
            store.queryLatency.maxMs / 1000,
          ),
        ]),
    counter('securechat_store_history_answered_total', 'History requests answered with records.', history.answered),
    byLabel(
      'counter',
      'securechat_store_history_errors_total',
      'History requests answered with an error, by code.',
      'code',
      history.errors,
    ),
    counter(
      'securechat_store_writes_dropped_total',
      'Accepted records not kept (queue full or write failed).',
      stats.droppedWrites + stats.failedWrites,
    ),
  ]
}
