/**
 * Which calls ring (docs/web-app.md, Calls). A call rings once, on the first `here` of its id this tab hears; and a
 * wallet rings this tab at most once per {@link RING_PER_CALLER_MS}, whatever call ids it makes up: a member may send
 * a `here` of a new call every half second within its signal budget, which would otherwise be a notification every
 * half second. What it does not ring still shows as an ongoing call in its conversation.
 */

/** The shortest time between two rings from the same wallet. */
export const RING_PER_CALLER_MS = 60_000

/** Call ids (and callers) remembered; the oldest go first. A call forgotten rings again only if heard again. */
const MAX_REMEMBERED = 512

export class RingLimit {
  readonly #calls = new Set<string>()
  readonly #callers = new Map<string, number>()
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
    if (last !== undefined && nowMs - last < this.#perCallerMs) return false
    this.#callers.delete(key)
    this.#callers.set(key, nowMs)
    while (this.#callers.size > MAX_REMEMBERED) this.#callers.delete(this.#callers.keys().next().value!)
    return true
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
