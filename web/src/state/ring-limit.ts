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

/** Call ids (and callers) remembered; the oldest go first. A call forgotten rings again only if heard again. */
const MAX_REMEMBERED = 512

export class RingLimit {
  readonly #calls = new Set<string>()
  /** Per wallet, its rings left and when they were counted. */
  readonly #callers = new Map<string, { tokens: number; atMs: number }>()
  readonly #perCallerMs: number

  constructor(init: { perCallerMs?: number } = {}) {
    this.#perCallerMs = init.perCallerMs ?? RING_PER_CALLER_MS
  }

  /** Whether the call `callId` from wallet `caller`, heard at `nowMs`, rings. */
  admit(callId: string, caller: string, nowMs: number): boolean {
    if (this.#calls.has(callId)) return false
    remember(this.#calls, callId)
    const key = caller.toLowerCase()
    const last = this.#callers.get(key)
    const refilled = this.#perCallerMs <= 0 ? RING_BURST : (nowMs - (last?.atMs ?? nowMs)) / this.#perCallerMs
    const tokens = last === undefined ? RING_BURST : Math.min(RING_BURST, last.tokens + refilled)
    this.#callers.delete(key)
    this.#callers.set(key, { tokens: tokens >= 1 ? tokens - 1 : tokens, atMs: nowMs })
    while (this.#callers.size > MAX_REMEMBERED) this.#callers.delete(this.#callers.keys().next().value!)
    return tokens >= 1
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
