/**
 * Store queries (`/securechat/store/1.0.0`) per peer and per IP, within the relay-wide bound the history server keeps
 * (`STORE_MAX_CONCURRENT_REQUESTS`, answered `busy`): queries per second with a burst (token buckets), and queries
 * under way at once. A query over a limit is answered `limited` with the wait before asking again — the sdk waits and
 * asks again a few times, then asks another relay; it never takes a refusal for "no history". Every refusal is
 * counted by reason and logged once per offender per interval (`refusals.ts`).
 *
 * A peer is the connection's remote PeerId; an IP is its address as the connection limits count it
 * (`RelayLimits.clientAddress`): addresses that carry many clients (loopback, the operator's proxies and NATs) are
 * not limited as one client, only each peer behind them is.
 */
import type { Connection } from '@libp2p/interface'
import {
  RELAY_STORE_QUERIES_AT_ONCE_PER_IP,
  RELAY_STORE_QUERIES_AT_ONCE_PER_PEER,
  RELAY_STORE_QUERIES_PER_SECOND,
  RELAY_STORE_QUERIES_PER_SECOND_PER_IP,
  RELAY_STORE_QUERY_BURST,
  RELAY_STORE_QUERY_BURST_PER_IP,
  RELAY_STORE_QUERY_RATE_MAX_CLIENTS,
  RELAY_STORE_QUERY_RETRY_AFTER_MS,
} from '../constants.ts'
import type { HistoryAdmission } from '../store/history-server.ts'
import type { RelayLimits } from './limits.ts'
import { RateLimiter } from './rate-limit.ts'
import type { RefusalReason } from './refusals.ts'

/** Every field optional; defaults in constants.ts. */
export interface StoreQueryLimitsInit {
  /** Queries per peer per second, on average, and at once. */
  queriesPerSecond?: number
  queryBurst?: number
  /** Queries per IP per second, on average, and at once. */
  queriesPerSecondPerIp?: number
  queryBurstPerIp?: number
  /** Queries under way at once, per peer and per IP. */
  queriesAtOncePerPeer?: number
  queriesAtOncePerIp?: number
}

export class StoreQueryLimits {
  readonly #limits: RelayLimits
  readonly #atOncePerPeer: number
  readonly #atOncePerIp: number
  readonly #perPeer: RateLimiter
  readonly #perIp: RateLimiter
  /** Queries under way, by peer and by IP key. */
  readonly #activePeers = new Map<string, number>()
  readonly #activeIps = new Map<string, number>()

  constructor(init: StoreQueryLimitsInit & { limits: RelayLimits }) {
    this.#limits = init.limits
    this.#atOncePerPeer = init.queriesAtOncePerPeer ?? RELAY_STORE_QUERIES_AT_ONCE_PER_PEER
    this.#atOncePerIp = init.queriesAtOncePerIp ?? RELAY_STORE_QUERIES_AT_ONCE_PER_IP
    for (const [field, value] of [
      ['queriesAtOncePerPeer', this.#atOncePerPeer],
      ['queriesAtOncePerIp', this.#atOncePerIp],
    ] as const) {
      if (!Number.isInteger(value) || value < 1) {
        throw new RangeError(`relay limit ${field} must be a positive integer, got ${value}`)
      }
    }
    this.#perPeer = new RateLimiter({
      perSecond: init.queriesPerSecond ?? RELAY_STORE_QUERIES_PER_SECOND,
      burst: init.queryBurst ?? RELAY_STORE_QUERY_BURST,
      maxClients: RELAY_STORE_QUERY_RATE_MAX_CLIENTS,
    })
    this.#perIp = new RateLimiter({
      perSecond: init.queriesPerSecondPerIp ?? RELAY_STORE_QUERIES_PER_SECOND_PER_IP,
      burst: init.queryBurstPerIp ?? RELAY_STORE_QUERY_BURST_PER_IP,
      maxClients: RELAY_STORE_QUERY_RATE_MAX_CLIENTS,
    })
  }

  /** Whether the query that just opened a stream over `connection` is answered (the history server's `admit`). */
  readonly admit = (connection: Connection): HistoryAdmission => {
    const peer = connection.remotePeer.toString()
    const source = this.#limits.clientAddress(connection.remoteAddr)
    // An address that carries many clients is not limited as one.
    const ip = source === undefined || source.manyClients ? undefined : source.key
    const fields = ip === undefined ? {} : { ip }
    if ((this.#activePeers.get(peer) ?? 0) >= this.#atOncePerPeer) {
      return this.#refuse('store-queries-at-once-per-peer', peer, RELAY_STORE_QUERY_RETRY_AFTER_MS, fields)
    }
    if (ip !== undefined && (this.#activeIps.get(ip) ?? 0) >= this.#atOncePerIp) {
      return this.#refuse('store-queries-at-once-per-ip', ip, RELAY_STORE_QUERY_RETRY_AFTER_MS, { peer })
    }
    // Per peer first: a peer over its own rate takes nothing from its neighbours behind the same address.
    const byPeer = this.#perPeer.take(peer)
    if (!byPeer.allowed) return this.#refuse('store-query-rate-per-peer', peer, byPeer.retryAfterSeconds * 1000, fields)
    if (ip !== undefined) {
      const byIp = this.#perIp.take(ip)
      if (!byIp.allowed) return this.#refuse('store-query-rate-per-ip', ip, byIp.retryAfterSeconds * 1000, { peer })
    }
    add(this.#activePeers, peer, 1)
    if (ip !== undefined) add(this.#activeIps, ip, 1)
    let released = false
    return {
      admitted: true,
      release: () => {
        if (released) return
        released = true
        add(this.#activePeers, peer, -1)
        if (ip !== undefined) add(this.#activeIps, ip, -1)
      },
    }
  }

  /** Counts a query refused by the relay-wide bound (the history server's `onBusy`). */
  readonly onBusy = (connection: Connection): void => {
    this.#limits.refusals.refuse('store-queries-total', connection.remotePeer.toString())
  }

  #refuse(
    reason: RefusalReason,
    offender: string,
    retryAfterMs: number,
    fields: Record<string, unknown>,
  ): HistoryAdmission {
    this.#limits.refusals.refuse(reason, offender, fields)
    return {
      admitted: false,
      message: `${reason}: this device asks this relay's store too much too fast; wait, or ask another relay`,
      retryAfterMs,
    }
  }
}

/** Adds `delta` to `key`'s count, forgetting counts that reach zero (the maps hold only what is under way). */
function add(counts: Map<string, number>, key: string, delta: number): void {
  const count = (counts.get(key) ?? 0) + delta
  if (count > 0) counts.set(key, count)
  else counts.delete(key)
}
