import type { Address } from '../types.ts'
import type { FollowOptions, GateEvaluator } from './evaluator.ts'
import type { GateRule } from './rule.ts'

/** Whether a verified sender's record passes a gated room's rule. */
export type GateDecision = { admit: true } | { admit: false; reason: 'ineligible' | 'unavailable' }

const ADMIT: GateDecision = { admit: true }
const INELIGIBLE: GateDecision = { admit: false, reason: 'ineligible' }
const UNAVAILABLE: GateDecision = { admit: false, reason: 'unavailable' }

/**
 * The gate step of gossip validation (docs/token-gates.md, What is promised after a transfer): the record is
 * judged at a head the evaluator read after the record arrived (`follow`), so a record that arrives once the
 * endpoint serves the block of a transfer is judged at that block or later, whatever the poll interval. Cached
 * verdicts that no Transfer log up to that head touched are reused; the others are read again. Fails closed:
 * without an evaluator, or when the chain cannot be asked, the sender is not admitted unless it was verified
 * before (the caller answers `Ignore`, never `Reject`: eligibility depends on a block, not on a provable fault).
 * Admitted senders are watched, so the evaluator re-checks them when the chain moves. A record that was held
 * back or fetched from a store (`options.deferred`) may be judged at a read up to `GATE_HEAD_READ_INTERVAL_MS`
 * older.
 */
export async function decideGate(
  evaluator: GateEvaluator | undefined,
  rule: GateRule,
  address: Address,
  options: Pick<FollowOptions, 'deferred'> = {},
): Promise<GateDecision> {
  if (evaluator === undefined) return UNAVAILABLE
  await evaluator.follow(options)
  const known = evaluator.check(rule, address)
  if (known === 'eligible') {
    evaluator.watch(rule, address)
    return ADMIT
  }
  if (known === 'ineligible') return INELIGIBLE
  const result = await evaluator.evaluate(rule, address).catch(() => undefined)
  if (result?.status === 'eligible') {
    evaluator.watch(rule, address)
    return ADMIT
  }
  return result?.status === 'ineligible' ? INELIGIBLE : UNAVAILABLE
}
