/**
 * Token-tiered record rates of gated rooms at the relay (docs/token-gates.md, Rate tiers): a chat message's sender
 * gets the rate the highest tier its wallet reaches allows (`tierRecordsPerSecond`), read from the gate result the
 * room's gate step just used (cached per (address, rule) and kept up to date by the evaluator, as gate checks are), so
 * a tier costs no chain read of its own. `record-rates.ts` applies it, capped by the operator's ceiling.
 */
import { type GateEvaluator, type GateRule, hasRateTiers, tierRecordsPerSecond } from '@securechat/sdk/gates'
import type { RoomGatekeeper } from '@securechat/sdk/rooms'
import type { TierRate } from './record-rates.ts'

/** The tier rate of `gatekeeper`'s room; undefined (the relay's own rate) in a room without tiers. */
export function roomTierRate(gatekeeper: RoomGatekeeper, gates: GateEvaluator | undefined): TierRate {
  const tiers = (): GateRule | undefined => {
    const rule = gatekeeper.gateRule
    return gates !== undefined && rule !== undefined && hasRateTiers(rule) ? rule : undefined
  }
  return {
    tiered: () => tiers() !== undefined,
    rate: (message) => {
      const rule = tiers()
      const accepted = gatekeeper.accepted(message)
      if (gates === undefined || rule === undefined || accepted === undefined) return undefined
      // Fresh from the gate step that admitted the record: answered from the evaluator's cache.
      return gates.evaluate(rule, accepted.certificate.address).then(tierRecordsPerSecond, () => undefined)
    },
  }
}
