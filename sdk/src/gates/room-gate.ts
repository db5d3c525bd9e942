import type { Address } from '../types.ts'
import type { GateEvaluator } from './evaluator.ts'
import type { GateRule } from './rule.ts'

/** Whether a verified sender's record passes a gated room's rule. */
export type GateDecision = { admit: true } | { admit: false; reason: 'ineligible' | 'unavailable' }

const ADMIT: GateDecision = { admit: true }
const INELIGIBLE: GateDecision = { admit: false, reason: 'ineligible' }
const UNAVAILABLE: GateDecision = { admit: false, reason: 'unavailable' }

/**
 * The gate step of gossip validation (docs/architecture.md, Token gates): synchronous when the sender's
 * eligibility is cached, a Promise when the chain must be asked. Fails closed: without an
 * evaluator, or when the chain cannot be asked, the sender is not admitted (the caller answers
 * `Ignore`, never `Reject`: eligibility depends on a block, not on a provable fault). Admitted
 * senders are watched, so the evaluator re-checks them when the chain moves.
 */
export function decideGate(
  evaluator: GateEvaluator | undefined,
  rule: GateRule,
  address: Address,
): GateDecision | Promise<GateDecision> {
  if (evaluator === undefined) return UNAVAILABLE
  const known = evaluator.check(rule, address)
  if (known === 'eligible') {
    evaluator.watch(rule, address)
    return ADMIT
  }
  if (known === 'ineligible') return INELIGIBLE
  return evaluator.evaluate(rule, address).then(
    (result) => {
      if (result.status === 'eligible') {
        evaluator.watch(rule, address)
        return ADMIT
      }
      return result.status === 'ineligible' ? INELIGIBLE : UNAVAILABLE
    },
    () => UNAVAILABLE,
  )
}
