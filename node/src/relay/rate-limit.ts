import { type BucketRate, type TokenBucket, tokensAt } from '@securechat/sdk/token-bucket'
import { HTTP_RATE_LIMIT_BURST, HTTP_RATE_LIMIT_MAX_CLIENTS, HTTP_RATE_LIMIT_PER_SECOND } from '../constants.ts'

export interface RateLimiterInit {
  /** Tokens added per second to each client's bucket; default {@link HTTP_RATE_LIMIT_PER_SECOND}. */
  perSecond?: number
  /** Bucket size: requests a client may make at once; default {@link HTTP_RATE_LIMIT_BURST}. */
  burst?: number
  /** Clients tracked at most; default {@link HTTP_RATE_LIMIT_MAX_CLIENTS}. */
  maxClients?: number
  /** Clock, in milliseconds (tests pass a fake one). */
  now?: () => number
}

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number }

/**
 * A token bucket per client key (an IP address): each request takes a token, tokens come back at
 * `perSecond` up to `burst`. No timers: buckets refill lazily when their client asks, and memory
 * stays bounded by forgetting full (idle) buckets first, then the least recently used.
 */
export class RateLimiter {
  readonly #perSecond: number
  readonly #burst: number
  readonly #maxClients: number
  readonly #now: () => number
  /** `perSecond` and `burst` together, as `tokensAt` takes them. */
  readonly #rate: BucketRate
  /** In order of last use: a Map iterates in insertion order, and every use re-inserts. */
  readonly #buckets = new Map<string, TokenBucket>()

  constructor(init: RateLimiterInit = {}) {
    this.#perSecond = init.perSecond ?? HTTP_RATE_LIMIT_PER_SECOND
    this.#burst = init.burst ?? HTTP_RATE_LIMIT_BURST
    this.#maxClients = init.maxClients ?? HTTP_RATE_LIMIT_MAX_CLIENTS
    this.#now = init.now ?? Date.now
    this.#rate = { perSecond: this.#perSecond, burst: this.#burst }
    for (const [field, value] of [
      ['perSecond', this.#perSecond],
      ['burst', this.#burst],
      ['maxClients', this.#maxClients],
    ] as const) {
      if (!(value > 0) || !Number.isFinite(value)) {
        throw new RangeError(`RateLimiter ${field} must be a positive number, got ${value}`)
      }
    }
  }

  /** Clients currently tracked. */
  get size(): number {
    return this.#buckets.size
  }

  /**
   * Takes one token from `key`'s bucket, or says how long until one is back. `rate` replaces the limiter's own rate
   * and burst for this key (a token-tiered sender, `record-rates.ts`); idle buckets are still forgotten by the
   * limiter's own rate.
   */
  take(key: string, rate?: { perSecond: number; burst: number }): RateDecision {
    const perSecond = rate?.perSecond ?? this.#perSecond
    const nowMs = this.#now()
    const tokens = this.#refilled(key, nowMs, rate)
    const bucket = this.#buckets.get(key) ?? { tokens, atMs: nowMs }
    this.#buckets.delete(key)
    bucket.tokens = tokens
    bucket.atMs = nowMs
    let decision: RateDecision
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1
      decision = { allowed: true }
    } else {
      decision = { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / perSecond)) }
    }
    this.#buckets.set(key, bucket)
    if (this.#buckets.size > this.#maxClients) this.#evict(nowMs)
    return decision
  }

  /**
   * The tokens `key` has now, at `rate` (as {@link take}'s), without taking one or touching the bucket's place in the
   * eviction order: a cheap look before deciding whether a request is worth more work (`record-rates.ts`).
   */
  available(key: string, rate?: { perSecond: number; burst: number }): number {
    return this.#refilled(key, this.#now(), rate)
  }

  #refilled(key: string, nowMs: number, rate: { perSecond: number; burst: number } | undefined): number {
    return tokensAt(this.#buckets.get(key), rate ?? this.#rate, nowMs)
  }

  #evict(nowMs: number): void {
    for (const [key, bucket] of this.#buckets) {
      if (tokensAt(bucket, this.#rate, nowMs) >= this.#burst) this.#buckets.delete(key)
    }
    // Still too many clients, all of them busy: forget the least recently seen ones, down to 90 % so
    // that the next new client does not scan every bucket again.
    const target = Math.floor(this.#maxClients * 0.9)
    for (const key of this.#buckets.keys()) {
      if (this.#buckets.size <= target) break
      this.#buckets.delete(key)
    }
  }
}
