import type { GateRule, RoomManifest } from '../types.ts'
import type { ModerationState } from './moderation-log.ts'

/**
 * The room's current access rule (docs/architecture.md, Moderation): the latest `gate` event the log applied (its rule,
 * or none when it lifted the gate), else the manifest's gated rule. Everything that judged membership by the
 * manifest's rule reads this instead — the gatekeeper (peers and relays), key distribution, the member list, a join.
 */
export function currentGateRule(
  manifest: RoomManifest,
  log: { readonly state: Pick<ModerationState, 'gate'> } | undefined,
): GateRule | undefined {
  const change = log?.state.gate
  if (change !== undefined) return change.rule
  return manifest.access.type === 'gated' ? manifest.access.rule : undefined
}
