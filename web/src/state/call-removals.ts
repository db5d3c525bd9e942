import { type EligibilityChange, type GateRule, gateRuleKey } from '@securechat/sdk/gates'
import type { RoomModerationChange } from '@securechat/sdk/types'

/**
 * Which wallets a moderation event removes from the room, as a test on an address (`isLockedOut`: the room's lock, for
 * a `lock`); `undefined` for an event that removes nobody (a mute, a role, a removed message, an unlock, a void one).
 */
export function removedBy(
  change: RoomModerationChange,
  isLockedOut: (address: string) => boolean,
): ((address: string) => boolean) | undefined {
  if (change.status !== 'applied') return undefined
  const { action, target } = change.event
  if (action === 'lock') return isLockedOut
  if (action !== 'ban' && action !== 'kick') return undefined
  return sameWallet(target)
}

/**
 * Which wallet a token gate's new verdict removes from a room gated by `gateRule` (the room's current gate): the one
 * that no longer passes it (its token sold, transferred or burned), which the sdk drops from the room as it drops a
 * banned one; `undefined` for a verdict on another rule, one that admits, or a room without a gate.
 */
export function removedByGate(
  change: EligibilityChange,
  gateRule: GateRule | undefined,
): ((address: string) => boolean) | undefined {
  if (gateRule === undefined || change.result.status !== 'ineligible') return undefined
  if (change.ruleKey !== gateRuleKey(gateRule)) return undefined
  return sameWallet(change.address)
}

/** Addresses compare in any letter case: an event's checksummed form, a signal's lower-case one. */
function sameWallet(removed: string): (address: string) => boolean {
  const lower = removed.toLowerCase()
  return (address) => address.toLowerCase() === lower
}
