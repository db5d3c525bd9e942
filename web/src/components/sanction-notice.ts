import type { ModerationRole } from '@securechat/sdk/rooms'
import { html } from 'lit'
import type { ConversationView } from '../state/conversations.ts'
import { dateTime, isoDateTime, shortTime } from './format-time.ts'
import { shortAddress } from './styles.ts'

/**
 * What a room's moderation means for the one reading it (docs/web-app.md, Moderation): banned or removed, by whom
 * and when, and what they can do; in the header, their role when they hold one.
 */

/** The box above the messages of a room this wallet was banned or removed from (`view.state` says which). */
export function sanctionNotice(view: ConversationView, rejoin: () => void) {
  const { sanction } = view
  const byWhom =
    sanction === undefined
      ? ''
      : html` by <span title=${sanction.by}>${shortAddress(sanction.by)}</span> at
          <time datetime=${isoDateTime(sanction.atMs)} title=${dateTime(sanction.atMs)}>${shortTime(sanction.atMs)}</time>`
  if (view.state === 'banned') {
    return html`<div class="state" role="status" data-testid="banned">
      <strong>You are banned from this room</strong>${byWhom}. You read nothing sent here since, and cannot write
      until a moderator unbans you; what you read before stays on this device.
    </div>`
  }
  return html`<div class="state" role="status" data-testid="removed">
    <strong>A moderator removed you from this room</strong>${byWhom}. You read nothing sent here since. You may join
    again if you still pass its requirements.
    <button data-testid="rejoin" @click=${rejoin}>Rejoin</button>
  </div>`
}

/**
 * Why this wallet cannot write here now (muted, a read-only lock, a lock that leaves it out; banned, should the room
 * still be shown), and until when.
 */
export function restrictionNotice(restriction: { reason: string; message: string; hint: string; untilMs?: number }) {
  const until =
    restriction.untilMs === undefined
      ? ''
      : html` until <time datetime=${isoDateTime(restriction.untilMs)} title=${dateTime(restriction.untilMs)}>${dateTime(restriction.untilMs)}</time>`
  const headline =
    restriction.reason === 'muted'
      ? html`<strong>A moderator muted you in this room</strong>${until}. You still read; you can write again then, and reactions you add meanwhile are sent then.`
      : restriction.reason === 'read-only'
        ? html`<strong>This room is read-only.</strong> Only its owner and moderators write until a moderator unlocks it.`
        : restriction.reason === 'banned'
          ? html`<strong>You are banned from this room.</strong> Nobody receives what you send here until a moderator unbans you.`
          : html`<strong>This room is locked.</strong> It admits no new member until a moderator unlocks it.`
  return html`<div class="state" role="status" data-testid="restricted" data-reason=${restriction.reason}>${headline}</div>`
}

/** "You own this room" / "You moderate this room" under the room's name; nothing for a plain member. */
export function roleLine(role: ModerationRole | undefined) {
  if (role === undefined || role === 'member') return ''
  const text = role === 'owner' ? 'You own this room' : 'You moderate this room'
  return html`<span class="meta role-line" data-testid="your-role">${text}</span>`
}
