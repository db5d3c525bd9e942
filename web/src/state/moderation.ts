/**
 * Moderation from the web app (docs/architecture.md, Moderation): which actions the signed-in wallet's role allows on
 * a member — the room's moderation log judges, this only asks it — taking one with the wallet's signature, and what
 * to say when it fails. The log's rule stays in the sdk (`ModerationLog.refusal`): nothing here copies it.
 */
import { SigningError } from '@securechat/sdk/errors'
import { eip1193Signer } from '@securechat/sdk/identity'
import type { ModerationAction, ModerationEntry, ModerationLog, Room } from '@securechat/sdk/rooms'
import { describeError } from './errors.ts'
import type { SignedIn } from './session.ts'
import { shortAddress } from './short-address.ts'

/** The actions this app offers on a wallet: on a member, and `unban` in the list of the banned. */
export type WalletAction = Extract<
  ModerationAction,
  'mod-add' | 'mod-remove' | 'owner-transfer' | 'kick' | 'ban' | 'unban'
>

/** The actions offered on a member, in the order shown. */
const MEMBER_ACTIONS: readonly WalletAction[] = ['mod-add', 'mod-remove', 'owner-transfer', 'kick', 'ban']

/** The actions that take something away: each asks first, saying what will happen. */
export const DESTRUCTIVE_ACTIONS: ReadonlySet<WalletAction> = new Set(['kick', 'ban', 'owner-transfer'])

/** What an action's button says. */
export const ACTION_LABELS: Record<WalletAction, string> = {
  'mod-add': 'Make moderator',
  'mod-remove': 'Remove moderator',
  'owner-transfer': 'Transfer ownership',
  kick: 'Remove from room',
  ban: 'Ban',
  unban: 'Unban',
}

/** What an applied action did to its target, in a sentence ("0x12…ab is banned."). */
const DONE: Record<WalletAction, string> = {
  'mod-add': 'is now a moderator',
  'mod-remove': 'is no longer a moderator',
  'owner-transfer': 'now owns the room',
  kick: 'was removed from the room',
  ban: 'is banned',
  unban: 'is no longer banned',
}

/**
 * How the log view tells an event, from its author's and target's short addresses; an action without wording here
 * (a newer sdk's) is told by its name.
 */
const LOGGED: Partial<Record<ModerationAction, (author: string, target: string) => string>> = {
  'mod-add': (author, target) => `${author} made ${target} a moderator`,
  'mod-remove': (author, target) => `${author} removed ${target} as moderator`,
  'owner-transfer': (author, target) => `${author} handed ownership to ${target}`,
  kick: (author, target) => `${author} removed ${target} from the room`,
  ban: (author, target) => `${author} banned ${target}`,
  unban: (author, target) => `${author} unbanned ${target}`,
  mute: (author, target) => `${author} muted ${target}`,
  unmute: (author, target) => `${author} unmuted ${target}`,
  lock: (author) => `${author} locked the room`,
  unlock: (author) => `${author} unlocked the room`,
  remove: (author, target) => `${author} removed a message of ${target}`,
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
  return MEMBER_ACTIONS.filter(
    (action) => log.refusal(viewer, action, target) === undefined && !(action === 'mod-add' && moderator),
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
export async function moderate(signedIn: SignedIn, room: Room, action: WalletAction, target: string): Promise<string> {
  const signer = eip1193Signer({ provider: signedIn.wallet.provider, address: signedIn.address })
  const verdict = await room.moderate(action, target, { signer })
  if (verdict.status === 'void') return `Not applied: ${verdict.reason}.`
  return `${shortAddress(target)} ${DONE[action]}.`
}

/** Why `action` on `target` failed, with what to do next. */
export function moderationFailure(err: unknown, action: WalletAction, target: string): string {
  const what = `${ACTION_LABELS[action].toLowerCase()} (${shortAddress(target)})`
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
}

/** The log's events, newest first (the reverse of the log's order: the order every peer applies them in). */
export function logLines(entries: readonly ModerationEntry[]): LogLine[] {
  return entries
    .map(({ hash, event, applied, reason }) => ({
      hash,
      text: logText(event.action, shortAddress(event.author), shortAddress(event.target)),
      author: event.author,
      target: event.target,
      atMs: event.atMs,
      applied,
      reason,
    }))
    .reverse()
}

function logText(action: ModerationAction, author: string, target: string): string {
  return LOGGED[action]?.(author, target) ?? `${author}: ${action} ${target}`
}
