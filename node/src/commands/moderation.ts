import { sleep } from '@securechat/sdk/async'
import type { ModerationAction, ModerationEntry } from '@securechat/sdk/rooms'
import { SEND_FLUSH_MS } from '../constants.ts'
import { createNodeLogger } from '../log.ts'
import { isoTime } from './cli-format.ts'
import { type ClientFlags, catchUpFromFlags, joinFromFlags } from './room-client.ts'

export interface RoomLogFlags extends ClientFlags {
  json?: boolean
}

/**
 * `securechat kick|ban|unban <address>`, `mod add|remove <address>`, `owner transfer <address>`: joins the room,
 * catches up (so the event names the log's real head, not a fork from an old one), signs the event with the
 * command's wallet, applies and publishes it, and prints `{"action","target","event","status"}`. A refusal (no role,
 * a target ranked too high) exits with the log's reason and publishes nothing.
 */
export async function moderate(action: ModerationAction, target: string, flags: ClientFlags): Promise<void> {
  const { factory } = createNodeLogger({ json: false, level: 'warn' })
  const joined = await joinFromFlags(flags, factory, { catchUp: 'later' })
  try {
    await catchUpFromFlags(joined)
    const verdict = await joined.room.moderate(action, target, { signer: joined.signer })
    // Give the record a moment to leave the socket before the process exits.
    await sleep(SEND_FLUSH_MS)
    process.stdout.write(
      `${JSON.stringify({
        action,
        target: verdict.event.target,
        event: verdict.hash,
        status: verdict.status,
        ...(verdict.status === 'void' ? { reason: verdict.reason } : {}),
      })}\n`,
    )
  } finally {
    await joined.close()
  }
}

/**
 * `securechat room log --room <room>`: the room's moderation log as the relays' stores and this device know it, in
 * the log's order (docs/architecture.md, Moderation), one event a line, then the roles and bans it folds to.
 */
export async function roomLog(flags: RoomLogFlags): Promise<void> {
  const { factory } = createNodeLogger({ json: false, level: 'warn' })
  const joined = await joinFromFlags(flags, factory, { catchUp: 'later' })
  try {
    await catchUpFromFlags(joined)
    const log = joined.room.moderation
    for (const entry of log.entries()) {
      process.stdout.write(`${flags.json === true ? JSON.stringify(entryJson(entry)) : format(entry)}\n`)
    }
    const { owner, moderators, banned } = log.state
    const state = { owner, moderators: [...moderators], banned: [...banned], head: log.head }
    process.stdout.write(
      flags.json === true
        ? `${JSON.stringify({ type: 'state', ...state })}\n`
        : `owner ${owner}; moderators: ${state.moderators.join(', ') || 'none'}; banned: ${state.banned.join(', ') || 'none'}\n`,
    )
  } finally {
    await joined.close()
  }
}

function entryJson(entry: ModerationEntry): Record<string, unknown> {
  const { event } = entry
  return {
    type: 'moderation',
    hash: entry.hash,
    prev: event.prev,
    action: event.action,
    target: event.target,
    author: event.author,
    at: isoTime(event.atMs),
    applied: entry.applied,
    ...(entry.reason === undefined ? {} : { reason: entry.reason }),
  }
}

/** `2026-…  0xAuthor  ban  0xTarget  (void: …)` */
function format(entry: ModerationEntry): string {
  const { event } = entry
  const line = [isoTime(event.atMs) ?? '?', event.author, event.action, event.target].join('  ')
  return entry.applied ? line : `${line}  (void: ${entry.reason})`
}
