import { SEND_TIER_PACE_SHARE } from '../constants.ts'
import { GATE_POLL_INTERVAL_MS } from '../gates/constants.ts'
import { type GateEvaluator, onEligibilityChange } from '../gates/evaluator.ts'
import { tierRecordsPerSecond } from '../gates/rate-tiers.ts'
import type { GateRule } from '../gates/rule.ts'
import type { AbortOptions } from '../types.ts'

export interface TierPaceInit {
  gates: GateEvaluator
  /** The room's rule, with `rateTiers` on some condition. */
  rule: GateRule
  /** This device's wallet. */
  address: string
}

/**
 * The pace this device publishes to a gated room with rate tiers at (docs/token-gates.md, Rate tiers): relays give
 * its wallet the rate of the highest tier it reaches instead of their own, so it paces itself at
 * {@link SEND_TIER_PACE_SHARE} of that rate — a holder of many tokens sends fast without being dropped, a holder of
 * few is slowed down before relays would drop what it sends. Read as relays read it, from the gate evaluator's
 * verdict (balances included), again when the wallet's eligibility changes and every {@link GATE_POLL_INTERVAL_MS}
 * (from the cache, which the evaluator keeps up to date with the chain's Transfer logs).
 */
export class TierPace {
  readonly #init: TierPaceInit
  #pace: number | undefined
  #timer: ReturnType<typeof setInterval> | undefined
  #unsubscribe: (() => void) | undefined

  constructor(init: TierPaceInit) {
    this.#init = init
  }

  /** Records per second; undefined while the wallet reaches no tier (the default pace applies). */
  get pace(): number | undefined {
    return this.#pace
  }

  /** Reads the tier once before resolving, then keeps it current until {@link stop}. */
  async start(options: AbortOptions = {}): Promise<void> {
    const { gates, rule, address } = this.#init
    this.#unsubscribe ??= onEligibilityChange(gates, rule, (change) => {
      if (change.address.toLowerCase() === address.toLowerCase()) this.#apply(tierRecordsPerSecond(change.result))
    })
    gates.watch(rule, address)
    this.#timer ??= setInterval(() => void this.#read(), GATE_POLL_INTERVAL_MS)
    await this.#read(options)
  }

  /** Idempotent. */
  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
    this.#unsubscribe?.()
    this.#unsubscribe = undefined
    this.#init.gates.unwatch(this.#init.rule, this.#init.address)
  }

  async #read(options: AbortOptions = {}): Promise<void> {
    const { gates, rule, address } = this.#init
    const result = await gates.evaluate(rule, address, options).catch(() => undefined)
    if (result !== undefined && !result.stale) this.#apply(tierRecordsPerSecond(result))
  }

  #apply(tierRate: number | undefined): void {
    this.#pace = tierRate === undefined ? undefined : tierRate * SEND_TIER_PACE_SHARE
  }
}
