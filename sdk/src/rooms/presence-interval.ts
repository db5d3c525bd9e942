import { MAX_PRESENCE_INTERVAL_MS, PRESENCE_FULL_RATE_MEMBERS, PRESENCE_MAX_STRETCH } from '../constants.ts'

/**
 * How often a member of a room of `members` announces itself (docs/architecture.md, Presence): every `baseMs` up to
 * {@link PRESENCE_FULL_RATE_MEMBERS} members, then stretched in proportion to the room, up to
 * {@link PRESENCE_MAX_STRETCH} times `baseMs` (and never beyond {@link MAX_PRESENCE_INTERVAL_MS}, what a record may
 * announce). Every member sends each other member its presence, so a fixed interval costs each member the room's
 * size in records per interval and the relay its square; stretched, each member receives about as much as in a room
 * of {@link PRESENCE_FULL_RATE_MEMBERS}.
 */
export function presenceIntervalFor(params: { baseMs: number; members: number; fullRateMembers?: number }): number {
  const fullRate = params.fullRateMembers ?? PRESENCE_FULL_RATE_MEMBERS
  const stretch = Math.min(PRESENCE_MAX_STRETCH, Math.max(1, params.members / fullRate))
  return Math.max(params.baseMs, Math.min(Math.round(params.baseMs * stretch), MAX_PRESENCE_INTERVAL_MS))
}

/**
 * How long a member is listed as present after its last presence: three of the intervals it announced (`every`),
 * and never less than this device's own timeout (`timeoutMs`), which applies alone to presence without `every`.
 */
export function presenceTimeoutFor(params: { timeoutMs: number; announcedEveryMs: number | undefined }): number {
  return Math.max(params.timeoutMs, 3 * (params.announcedEveryMs ?? 0))
}
