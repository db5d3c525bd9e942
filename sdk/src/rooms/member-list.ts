import type { GateEvaluator } from '../gates/evaluator.ts'
import { hasRateTiers, tierRecordsPerSecond } from '../gates/rate-tiers.ts'
import type { AbortOptions, Address, RoomManifest, RoomMember } from '../types.ts'
import { currentGateRule } from './current-gate.ts'
import type { ModerationState } from './moderation-log.ts'

/**
 * What a member is in a room today: its `owner` or a `moderator`, as the room's moderation log says (the manifest's
 * signer owns the room until it hands it over, `moderation-log.ts`), and in a token-gated room a gate `holder` —
 * every member passed the gate to be here — with the messages per second its tier allows where the rule has rate
 * tiers (docs/token-gates.md, Rate tiers).
 */
export type MemberRole = { kind: 'owner' } | { kind: 'moderator' } | { kind: 'holder'; recordsPerSecond?: number }

/** One wallet of a room's member list, its devices taken together. */
export interface MemberListEntry {
  address: Address
  /** `here`: a device of it announced itself lately; `away`: its devices went offline (or said they left). */
  status: 'here' | 'away'
  /** When a device of it was last heard from (ms since the epoch): now for one here. */
  lastSeenMs: number
  /** Its devices the room knows of (PeerIds), here first. */
  peerIds: string[]
  roles: MemberRole[]
}

/**
 * Where a room keeps its members: those heard from lately (`members()`) and those gone offline (`away()`); and its
 * moderation log's roles (without one, the manifest's owner is the owner).
 */
export interface MemberSource {
  readonly manifest: { manifest: RoomManifest }
  readonly moderation?: {
    roleOf(address: string): 'owner' | 'moderator' | 'member'
    readonly state: Pick<ModerationState, 'gate'>
  }
  members(): RoomMember[]
  away(): RoomMember[]
}

/**
 * The room's member list as a person reads it (the web app's member panel, `securechat members`): one entry per
 * wallet, the wallets here first, then the others by when they were last seen. The tiers come from the gate
 * evaluator's cache (the gate step read them when each member joined); without `gates`, holders have no tier.
 */
export async function memberList(
  room: MemberSource,
  params: { gates?: GateEvaluator | undefined } = {},
  options: AbortOptions = {},
): Promise<MemberListEntry[]> {
  const { manifest } = room.manifest
  const byAddress = new Map<string, MemberListEntry>()
  const add = (member: RoomMember, status: 'here' | 'away'): void => {
    const key = member.address.toLowerCase()
    const entry = byAddress.get(key)
    if (entry === undefined) {
      byAddress.set(key, {
        address: member.address,
        status,
        lastSeenMs: member.lastSeenMs,
        peerIds: [member.peerId],
        roles: [],
      })
      return
    }
    if (!entry.peerIds.includes(member.peerId)) entry.peerIds.push(member.peerId)
    if (status === 'here') entry.status = 'here'
    entry.lastSeenMs = Math.max(entry.lastSeenMs, member.lastSeenMs)
  }
  for (const member of room.members()) add(member, 'here')
  for (const member of room.away()) add(member, 'away')
  // The gate the log set last, else the manifest's: the tiers members are held to now.
  const rule = currentGateRule(manifest, room.moderation)
  for (const entry of byAddress.values()) {
    const role =
      room.moderation?.roleOf(entry.address) ??
      (entry.address.toLowerCase() === manifest.owner.toLowerCase() ? 'owner' : 'member')
    if (role !== 'member') entry.roles.push({ kind: role })
    if (rule === undefined) continue
    let recordsPerSecond: number | undefined
    if (params.gates !== undefined && hasRateTiers(rule)) {
      const result = await params.gates.evaluate(rule, entry.address, options).catch(() => undefined)
      recordsPerSecond = result === undefined ? undefined : tierRecordsPerSecond(result)
    }
    entry.roles.push(recordsPerSecond === undefined ? { kind: 'holder' } : { kind: 'holder', recordsPerSecond })
  }
  return [...byAddress.values()].sort(
    (a, b) => Number(b.status === 'here') - Number(a.status === 'here') || b.lastSeenMs - a.lastSeenMs,
  )
}

/** "owner", "moderator", "token holder", "token holder (5 messages/s)": a role as the member list says it. */
export function describeRole(role: MemberRole): string {
  if (role.kind === 'owner' || role.kind === 'moderator') return role.kind
  return role.recordsPerSecond === undefined
    ? 'token holder'
    : `token holder (${role.recordsPerSecond} message${role.recordsPerSecond === 1 ? '' : 's'}/s)`
}
