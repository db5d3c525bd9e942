import type { GateHolding, GateResult } from './evaluator.ts'
import { conditionsOf, type GateRule } from './rule.ts'

/**
 * Token-tiered record rates (docs/token-gates.md, Rate tiers): a gated room's token conditions may carry
 * `rateTiers`, and a relay that applies them lets a device send as many chat messages per second as the highest tier
 * its wallet's balance reaches. Read from the gate result the gate step already holds (balances at its block), so a
 * tier costs no chain read of its own.
 */

/** Whether any token condition of `rule` carries rate tiers. */
export function hasRateTiers(rule: GateRule): boolean {
  return conditionsOf(rule).some((condition) => condition.rateTiers !== undefined)
}

/**
 * The chat messages per second a wallet's tier allows: the highest `recordsPerSecond` among the tiers its balances
 * reach, over every condition with tiers; undefined when it reaches none (the relay's own rate applies), or when the
 * result is not `eligible` (the gate drops its records anyway).
 */
export function tierRecordsPerSecond(result: Pick<GateResult, 'status' | 'holdings'>): number | undefined {
  if (result.status !== 'eligible') return undefined
  let rate: number | undefined
  for (const holding of result.holdings) {
    const reached = reachedTier(holding)
    if (reached !== undefined) rate = Math.max(rate ?? 0, reached)
  }
  return rate
}

function reachedTier({ condition, balance }: Pick<GateHolding, 'condition' | 'balance'>): number | undefined {
  if (balance === undefined || condition.rateTiers === undefined) return undefined
  let rate: number | undefined
  // Tiers rise in balance and rate (`rateTiersSchema`): the last one reached is the highest.
  for (const tier of condition.rateTiers) if (balance >= BigInt(tier.minBalance)) rate = tier.recordsPerSecond
  return rate
}
