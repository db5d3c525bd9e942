/**
 * The token bucket, refilled one way across the sdk and its apps (`@securechat/sdk/token-bucket`): what a device
 * paces its own publications by (`client/publish-pacing.ts`) and what a relay limits others by (the node's
 * `RateLimiter`) must agree, or an honest sender's pace and the relay's limit drift apart. Ground: imports nothing.
 */

/** A rate: tokens back per second, and the most a bucket holds (what may go at once). */
export interface BucketRate {
  perSecond: number
  burst: number
}

/** A bucket as last looked at: the tokens it held then. */
export interface TokenBucket {
  tokens: number
  atMs: number
}

/** The tokens `bucket` holds at `nowMs` at `rate`; a bucket never seen is full. Takes none. */
export function tokensAt(bucket: TokenBucket | undefined, rate: BucketRate, nowMs: number): number {
  if (bucket === undefined) return rate.burst
  return Math.min(rate.burst, bucket.tokens + (Math.max(0, nowMs - bucket.atMs) / 1000) * rate.perSecond)
}

/** Milliseconds until a bucket holding `tokens` has one whole token at `rate`; 0 when it has. */
export function msUntilToken(tokens: number, rate: BucketRate): number {
  return tokens >= 1 ? 0 : Math.ceil(((1 - tokens) / rate.perSecond) * 1000)
}
