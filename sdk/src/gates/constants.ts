/**
 * Defaults of token gates (docs/architecture.md, Token gates). Docs point here instead of repeating values.
 */

/**
 * How long a gate verdict for one (address, rule) is reused without asking the chain. Members
 * are re-checked sooner when the chain moves (Transfer logs of the rule's contracts); a verdict
 * older than this is read again before it is trusted, except that a member already verified
 * stays admitted while the chain cannot be asked (fail closed for newcomers only).
 */
export const GATE_CACHE_TTL_MS = 60_000

/**
 * How often an evaluator asks its RPC endpoint for new blocks (and the Transfer logs in them)
 * while it holds verdicts, when no record made it ask sooner. Bounds how long a transfer takes to
 * be noticed without a record from the member (the `member:ineligible` event, keys rotated away
 * from it); a record is always judged at a head read after it arrived. Our own timer, not
 * ethers' `provider.on('block')`: `JsonRpcProvider` polls every 4 s by default and cannot be
 * cancelled per subscriber.
 */
export const GATE_POLL_INTERVAL_MS = 2_000

/**
 * Least time between two reads of the chain's head by one evaluator. Every record of a gated room waits, before
 * it is judged, for a head read that started after it arrived (`GateEvaluator.follow`); one read serves every
 * record that arrived before it started, so while records keep arriving a verifier reads the head at most once
 * per this interval (and not at all when none arrive), and a record waits at most this long plus one round trip.
 */
export const GATE_HEAD_READ_INTERVAL_MS = 250

/** One RPC call of a gate check is abandoned (the result is "unknown") after this long. */
export const GATE_RPC_TIMEOUT_MS = 10_000

/** A member not seen (no accepted record) for this long is no longer re-checked proactively. */
export const GATE_WATCH_IDLE_MS = 2 * 60_000

/** Most (address, rule) verdicts an evaluator keeps; the oldest are evicted first. */
export const GATE_MAX_CACHED_RESULTS = 10_000

/**
 * Most blocks one `eth_getLogs` call spans. After a longer gap (an outage, a slow poll) every
 * verdict is marked stale and re-read instead.
 */
export const GATE_MAX_LOG_BLOCK_RANGE = 1_000

/** Deepest nesting of `anyOf` / `allOf` in a rule (a single token condition has depth 0). */
export const GATE_MAX_DEPTH = 3

/** Most token conditions in one rule, counted over every `anyOf` / `allOf`. */
export const GATE_MAX_CONDITIONS = 16

/** Most rate tiers one token condition may carry (`TokenRule.rateTiers`). */
export const GATE_MAX_RATE_TIERS = 8

/** Highest rate a tier may name, in chat messages per second (a relay applies its own, lower ceiling). */
export const GATE_MAX_TIER_RECORDS_PER_SECOND = 100_000
