/**
 * Moderation from the web app (docs/architecture.md, Moderation): which actions the signed-in wallet's role allows on
 * a member — the room's moderation log judges, this only asks it — taking one with the wallet's signature, and what
 * to say when it fails. The log's rule stays in the sdk (`ModerationLog.refusal`): nothing here copies it.
 */
import { describeTimer } from '@securechat/sdk/disappearing'
import { SigningError } from '@securechat/sdk/errors'
import { eip1193Signer } from '@securechat/sdk/identity'
import type { ModerationAction, ModerationEntry, ModerationLog, Room } from '@securechat/sdk/rooms'
import { describeError } from './errors.ts'
import type { SignedIn } from './session.ts'
import { shortAddress } from './short-address.ts'

/** The actions this app offers on a wallet: on a member, and `unban` in the list of the banned. */
export type WalletAction = Extract<
  ModerationAction,
  'mod-add' | 'mod-remove' | 'owner-transfer' | 'kick' | 'ban' | 'unban' | 'mute' | 'unmute'
>

/** The actions offered on a member, in the order shown. */
const MEMBER_ACTIONS: readonly WalletAction[] = [
  'mod-add',
  'mod-remove',
  'owner-transfer',
  'mute',
  'unmute',
  'kick',
  'ban',
]

/** The actions that take something away: each asks first, saying what will happen (a mute, for how long). */
export const DESTRUCTIVE_ACTIONS: ReadonlySet<WalletAction> = new Set(['kick', 'ban', 'owner-transfer', 'mute'])

/** How long a mute lasts: the choices offered. */
export const MUTE_CHOICES: ReadonlyArray<{ label: string; ms: number }> = [
  { label: '10 minutes', ms: 10 * 60_000 },
  { label: '1 hour', ms: 60 * 60_000 },
  { label: '1 day', ms: 24 * 60 * 60_000 },
  { label: '1 week', ms: 7 * 24 * 60 * 60_000 },
]

/** What an action's button says. */
export const ACTION_LABELS: Record<WalletAction, string> = {
  'mod-add': 'Make moderator',
  'mod-remove': 'Remove moderator',
  'owner-transfer': 'Transfer ownership',
  kick: 'Remove from room',
  ban: 'Ban',
  unban: 'Unban',
  mute: 'Mute',
  unmute: 'Unmute',
}

/** What an applied action did to its target, in a sentence ("0x12…ab is banned."). */
const DONE: Record<WalletAction, string> = {
  'mod-add': 'is now a moderator',
  'mod-remove': 'is no longer a moderator',
  'owner-transfer': 'now owns the room',
  kick: 'was removed from the room',
  ban: 'is banned',
  unban: 'is no longer banned',
  mute: 'is muted',
  unmute: 'is no longer muted',
}

/**
 * How the log view tells an event, from its author's and target's short addresses; an action without wording here
 * (a newer sdk's) is told by its name.
 */
const LOGGED: Partial<Record<ModerationAction, (author: string, target: string, event: LoggedEvent) => string>> = {
  'mod-add': (author, target) => `${author} made ${target} a moderator`,
  'mod-remove': (author, target) => `${author} removed ${target} as moderator`,
  'owner-transfer': (author, target) => `${author} handed ownership to ${target}`,
  kick: (author, target) => `${author} removed ${target} from the room`,
  ban: (author, target) => `${author} banned ${target}`,
  unban: (author, target) => `${author} unbanned ${target}`,
  mute: (author, target) => `${author} muted ${target}`,
  unmute: (author, target) => `${author} unmuted ${target}`,
  lock: (author, _target, event) =>
    `${author} locked the room${event.readOnly === true ? ', read-only' : ''}: no new members`,
  unlock: (author) => `${author} unlocked the room`,
  remove: (author, target) => `${author} removed a message of ${target}`,
  timer: (author, _target, event) =>
    event.seconds === 0
      ? `${author} turned disappearing messages off`
      : `${author} set disappearing messages to ${describeTimer(event.seconds ?? 0)}`,
}

/** What a log line reads of an event beyond its action and addresses. */
interface LoggedEvent {
  until?: number | undefined
  readOnly?: boolean | undefined
  seconds?: number | undefined
}

/** EIP-1193's "user rejected the request". */
const USER_REJECTED = 4001

/**
 * The actions `viewer` may take on member `target` now, as the log would judge them: an owner's on anyone but
 * itself, a moderator's kick and ban on plain members, nothing for a member. `mod-add` only for a plain member.
 */
export function actionsOn(log: ModerationLog, viewer: string, target: string): WalletAction[] {
  if (viewer.toLowerCase() === target.toLowerCase()) return []
  const moderator = log.roleOf(target) === 'moderator'
  const muted = (log.muteOf(target)?.untilMs ?? 0) > Date.now()
  return MEMBER_ACTIONS.filter(
    (action) =>
      log.refusal(viewer, action, target) === undefined &&
      !(action === 'mod-add' && moderator) &&
      !(action === 'mute' && muted) &&
      !(action === 'unmute' && !muted),
  )
}

/** What a confirmation says will happen, before the wallet is asked. */
export function consequence(action: WalletAction, target: string, room: string): string {
  const who = shortAddress(target)
  switch (action) {
    case 'kick':
      return `${who} leaves # ${room} now and reads nothing sent after this. They may join again with the invite, if they still pass its requirements.`
    case 'ban':
      return `${who} leaves # ${room} now, reads nothing sent after this and cannot join again, whatever tokens they hold, until a moderator unbans them.`
    case 'mute':
      return `${who} cannot write in # ${room} for the time you choose: what they send meanwhile is dropped by every member. They still read.`
    case 'owner-transfer':
      return `${who} becomes the owner of # ${room}. You become a plain member: you can no longer appoint moderators or take the room back; only the new owner can hand it over again.`
    default:
      return `${who} ${DONE[action]}.`
  }
}

/**
 * Takes `action` on `target` in `room`: the wallet signs the event (a prompt in MetaMask), every member applies it.
 * Resolves with what was done, in a sentence; throws what {@link moderationFailure} words.
 */
export async function moderate(
  signedIn: SignedIn,
  room: Room,
  action: WalletAction,
  target: string,
  options: { untilMs?: number } = {},
): Promise<string> {
  const verdict = await signed(signedIn, room, action, target, options)
  if (verdict.status === 'void') return `Not applied: ${verdict.reason}.`
  return `${shortAddress(target)} ${DONE[action]}.`
}

/** Locks the room (`readOnly`: only the owner and moderators write) or unlocks it; resolves with what was done. */
export async function lockRoom(signedIn: SignedIn, room: Room, lock: boolean, readOnly = false): Promise<string> {
  const verdict = await signed(signedIn, room, lock ? 'lock' : 'unlock', undefined, { readOnly })
  if (verdict.status === 'void') return `Not applied: ${verdict.reason}.`
  if (!lock) return 'The room is unlocked: eligible newcomers may join again.'
  return readOnly ? 'The room is locked and read-only.' : 'The room is locked: no new members.'
}

/** A moderator's removal of message `messageId` (someone else's): shown as "removed by a moderator" everywhere. */
export async function removeMessage(signedIn: SignedIn, room: Room, messageId: string): Promise<void> {
  const verdict = await signed(signedIn, room, 'remove', messageId, {})
  if (verdict.status === 'void') throw new Error(`not applied: ${verdict.reason}`)
}

/** The room's disappearing-messages timer (seconds, 0: off), set by its owner: an event of its moderation log. */
export async function setRoomTimer(signedIn: SignedIn, room: Room, seconds: number): Promise<void> {
  const signer = eip1193Signer({ provider: signedIn.wallet.provider, address: signedIn.address })
  const verdict = await room.setDisappearing(seconds, { signer })
  if (verdict.status === 'void') throw new Error(`not applied: ${verdict.reason}`)
}

function signed(
  signedIn: SignedIn,
  room: Room,
  action: ModerationAction,
  target: string | undefined,
  options: { untilMs?: number; readOnly?: boolean },
) {
  const signer = eip1193Signer({ provider: signedIn.wallet.provider, address: signedIn.address })
  return room.moderate(action, target, { signer, ...options })
}

/** What an action on `target` is, for {@link moderationFailure}: "ban (0x12…ab)". */
export function actionOn(action: WalletAction, target: string): string {
  return `${ACTION_LABELS[action].toLowerCase()} (${shortAddress(target)})`
}

/** Why `what` ({@link actionOn}, "lock the room") failed, with what to do next. */
export function moderationFailure(err: unknown, what: string): string {
  if (err instanceof SigningError) {
    const code = (err.cause as { code?: unknown } | undefined)?.code
    return code === USER_REJECTED
      ? `Your wallet declined to sign, so nothing was done. To ${what}, try again and approve the signature request.`
      : `Your wallet did not sign (${describeError(err.cause ?? err)}), so nothing was done. Unlock it, check it is the wallet you signed in with, and try again.`
  }
  return `Nothing was done: ${describeError(err)}. Your role may have changed meanwhile; the lists above show it as it is now.`
}

/** One event of the log as the log view shows it. */
export interface LogLine {
  hash: string
  /** "0x12…ab banned 0x34…cd". */
  text: string
  author: string
  target: string
  atMs: number
  applied: boolean
  /** Why it did not apply. */
  reason: string | undefined
  /** A mute's end. */
  until: number | undefined
}

/** The log's events, newest first (the reverse of the log's order: the order every peer applies them in). */
export function logLines(entries: readonly ModerationEntry[]): LogLine[] {
  return entries
    .map(({ hash, event, applied, reason }) => ({
      hash,
      text: logText(event.action, shortAddress(event.author), shortAddress(event.target), event),
      author: event.author,
      target: event.target,
      atMs: event.atMs,
      applied,
      reason,
      until: event.until,
    }))
    .reverse()
}

function logText(action: ModerationAction, author: string, target: string, event: LoggedEvent): string {
  return LOGGED[action]?.(author, target, event) ?? `${author}: ${action} ${target}`
}
