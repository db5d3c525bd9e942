import { setNewest } from '@securechat/sdk/bounded-map'
import { type BucketRate, type TokenBucket, tokensAt } from '@securechat/sdk/token-bucket'

/**
 * Which calls ring (docs/web-app.md, Calls). A call rings once, on the first `here` of its id this tab hears; and a
 * wallet rings this tab {@link RING_BURST} times in a row at most, then once per {@link RING_PER_CALLER_MS}, whatever
 * call ids it makes up: a member may send a `here` of a new call every half second within its signal budget, which
 * would otherwise be a notification every half second, while someone calling again after a missed call still rings.
 * What does not ring still shows as an ongoing call in its conversation.
 */

/** Rings one wallet may make at once (a call, and calling again twice). */
export const RING_BURST = 3

/** Past the burst, one more ring per wallet this often. */
export const RING_PER_CALLER_MS = 20_000

const RING_RATE: BucketRate = { perSecond: 1_000 / RING_PER_CALLER_MS, burst: RING_BURST }

/** Call ids (and callers) remembered; the oldest go first. A call forgotten rings again only if heard again. */
const MAX_REMEMBERED = 512

export class RingLimit {
  readonly #calls = new Set<string>()
  /** Per wallet, its rings left as last counted (the sdk's token bucket, as every other rate in the project). */
  readonly #callers = new Map<string, TokenBucket>()

  /** Whether the call `callId` from wallet `caller`, heard at `nowMs`, rings. */
  admit(callId: string, caller: string, nowMs: number): boolean {
    if (this.#calls.has(callId)) return false
    remember(this.#calls, callId)
    const key = caller.toLowerCase()
    const tokens = tokensAt(this.#callers.get(key), RING_RATE, nowMs)
    const rings = tokens >= 1
    setNewest(this.#callers, key, { tokens: rings ? tokens - 1 : tokens, atMs: nowMs }, MAX_REMEMBERED)
    return rings
  }

  /** A call this tab is in (started or joined) never rings afterwards. */
  silence(callId: string): void {
    remember(this.#calls, callId)
  }

  clear(): void {
    this.#calls.clear()
    this.#callers.clear()
  }
}

function remember(set: Set<string>, id: string): void {
  set.add(id)
  while (set.size > MAX_REMEMBERED) set.delete(set.values().next().value!)
}
