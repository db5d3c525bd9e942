import { sleep } from '@securechat/sdk/async'
import { MAX_MUTE_MS } from '@securechat/sdk/constants'
import { describeTimer, parseDurationSeconds } from '@securechat/sdk/disappearing'
import { InvalidInputError } from '@securechat/sdk/errors'
import { gateRuleKey, parseGateRule } from '@securechat/sdk/gates'
import {
  type ModerationAction,
  type ModerationEntry,
  type ModerationEvent,
  type Room,
  walletAddress,
} from '@securechat/sdk/rooms'
import { SEND_FLUSH_MS } from '../constants.ts'
import { createNodeLogger } from '../log.ts'
import { readGateRule } from './chat.ts'
import { isoTime } from './cli-format.ts'
import { type ClientFlags, catchUpFromFlags, joinFromFlags } from './room-client.ts'

export interface RoomLogFlags extends ClientFlags {
  json?: boolean
}

/** What `mute --for` and `lock --read-only` add to an action. */
export interface ModerateOptions {
  /** `mute`: how long, as `10m`, `2h`, `7d` (at most `MAX_MUTE_MS`, 30 days). */
  for?: string
  readOnly?: boolean
  /** `remove`: the message's author, when this device does not hold the message. */
  author?: string
  /** `gate`: the new rule as `room create --gate` takes it (a rule or a file); absent, the gate is lifted. */
  gate?: string
  /** `timer` (`securechat disappear`): the disappearing-messages timer in seconds, checked (0: off). */
  seconds?: number
}

/**
 * `securechat kick|ban|unban|mute|unmute <address>`, `lock [--read-only]`, `unlock`, `remove <message-id>`,
 * `mod add|remove <address>`, `owner transfer <address>`: joins the room, catches up (so the event names the log's
 * real head, not a fork from an old one, and a removed message's author is known), signs the event with the
 * command's wallet, applies and publishes it, and prints `{"action","target","event","status"}` (and `until`,
 * `message`, `readOnly`, `members` for the actions that carry them). A refusal (no role, a target ranked too high)
 * exits with the log's reason and publishes nothing.
 */
export async function moderate(
  action: ModerationAction,
  target: string | undefined,
  flags: ClientFlags,
  options: ModerateOptions = {},
): Promise<void> {
  // Checked before joining: a wrong duration or a mistyped address costs no network.
  const forMs = action === 'mute' ? muteDurationMs(options.for) : undefined
  if (action === 'remove') {
    if (options.author !== undefined) walletAddress(options.author, '--author')
  } else if (target !== undefined) walletAddress(target, 'the address')
  const ruleText = options.gate === undefined ? undefined : await readGateRule(options.gate)
  const { factory } = createNodeLogger({ json: false, level: 'warn' })
  const joined = await joinFromFlags(flags, factory, { catchUp: 'later' })
  try {
    await catchUpFromFlags(joined)
    // Readable-form conditions read the room's first chain, as `room create --gate` does; JSON names its own.
    const { chainIds } = joined.room.manifest.manifest
    const rule = ruleText === undefined ? undefined : parseGateRule(ruleText, { chainId: chainIds[0]! })
    const verdict =
      action === 'timer'
        ? // Its own refusal says who may, in the words `disappear --dm` uses for a DM.
          await joined.room.setDisappearing(options.seconds ?? 0, { signer: joined.signer })
        : await joined.room.moderate(action, target, {
            ...(rule === undefined ? {} : { rule }),
            signer: joined.signer,
            ...(forMs === undefined ? {} : { untilMs: Date.now() + forMs }),
            ...(options.readOnly === true ? { readOnly: true } : {}),
            ...(options.author === undefined ? {} : { author: options.author }),
          })
    // Give the record a moment to leave the socket before the process exits.
    await sleep(SEND_FLUSH_MS)
    process.stdout.write(
      `${JSON.stringify({
        action,
        target: verdict.event.target,
        ...actionFields(verdict.event),
        event: verdict.hash,
        status: verdict.status,
        ...(verdict.status === 'void' ? { reason: verdict.reason } : {}),
      })}\n`,
    )
  } finally {
    await joined.close()
  }
}

function muteDurationMs(text: string | undefined): number {
  if (text === undefined)
    throw new InvalidInputError('mute needs --for <duration>', { hint: 'e.g. --for 1h or --for 7d' })
  const ms = parseDurationSeconds(text) * 1000
  if (ms <= 0 || ms > MAX_MUTE_MS) {
    throw new InvalidInputError(`a mute lasts from 1 second to ${MAX_MUTE_MS / 86_400_000} days`, {
      details: { for: text },
      hint: 'e.g. --for 10m, 2h or 7d; for longer, ban (and unban later)',
    })
  }
  return ms
}

/** The fields only some actions carry, as the CLI prints them. */
function actionFields(event: ModerationEvent): Record<string, unknown> {
  return {
    ...(event.until === undefined ? {} : { until: isoTime(event.until) }),
    ...(event.message === undefined ? {} : { message: event.message }),
    ...(event.readOnly === undefined ? {} : { readOnly: true }),
    ...(event.members === undefined ? {} : { members: event.members.length }),
    ...(event.action === 'gate' ? { gate: event.rule ?? 'open' } : {}),
    ...(event.seconds === undefined ? {} : { seconds: event.seconds }),
  }
}

/** How `listen` and `chat` print an event the room's log kept (`moderation:changed`), as `room log` does. */
export function printModeration(room: Room, json: boolean, print: (line: string) => void): void {
  room.addEventListener('moderation:changed', ({ detail }) => {
    // An applied timer has its own line (`timer:changed`, disappear.ts), as a DM's change has.
    if (detail.status === 'applied' && detail.event.action === 'timer') return
    const entry: ModerationEntry = {
      hash: detail.hash,
      event: detail.event as ModerationEvent,
      applied: detail.status === 'applied',
      ...(detail.status === 'void' ? { reason: detail.reason } : {}),
    }
    print(json ? JSON.stringify(entryJson(entry)) : `* ${format(entry)}`)
  })
}

/**
 * Says on stderr, through `write`, when the room's log stops this wallet from sending — banned, muted, locked out or
 * read-only — and when that ends: a listener reads on, but nobody receives what its wallet sends. Call the returned
 * function whenever the log may have changed (after the catch-up, on `moderation:changed`); it says only changes.
 */
export function reportOwnRestriction(room: Room, write: (line: string) => void): () => void {
  let said: string | undefined
  return () => {
    const restriction = room.sendRestriction()
    const line = restriction === undefined ? undefined : `note: ${restriction.message}: ${restriction.hint}\n`
    if (line === said) return
    if (line !== undefined) write(line)
    else if (said !== undefined) write('note: you may send in this room again\n')
    said = line
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
    const { owner, moderators, banned, muted, lock, gate } = log.state
    // Mutes still in force by this device's clock (the log keeps ended ones until an unmute).
    const now = Date.now()
    const mutes = [...muted].filter(([, mute]) => mute.untilMs > now)
    const state = {
      owner,
      moderators: [...moderators],
      banned: [...banned],
      muted: mutes.map(([address, mute]) => ({ address, until: isoTime(mute.untilMs) })),
      ...(lock === undefined ? {} : { locked: { readOnly: lock.readOnly, members: lock.admitted.size } }),
      // Only once the log changed it: until then the manifest's access holds.
      ...(gate === undefined ? {} : { gate: gate.rule ?? 'open' }),
      head: log.head,
    }
    const lockLine =
      lock === undefined
        ? ''
        : `; locked${lock.readOnly ? ' (read-only)' : ''}, admitting ${lock.admitted.size} members`
    const gateLine = gate === undefined ? '' : `; gate: ${gate.rule === undefined ? 'open' : gateRuleKey(gate.rule)}`
    const muteLine = state.muted.map((m) => `${m.address} until ${m.until}`).join(', ') || 'none'
    process.stdout.write(
      flags.json === true
        ? `${JSON.stringify({ type: 'state', ...state })}\n`
        : `owner ${owner}; moderators: ${state.moderators.join(', ') || 'none'}; banned: ${state.banned.join(', ') || 'none'}; muted: ${muteLine}${lockLine}${gateLine}\n`,
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
    ...actionFields(event),
    at: isoTime(event.atMs),
    applied: entry.applied,
    ...(entry.reason === undefined ? {} : { reason: entry.reason }),
  }
}

/** `2026-…  0xAuthor  ban  0xTarget  (void: …)`; a mute's end, a lock's list, a removed message follow. */
function format(entry: ModerationEntry): string {
  const { event } = entry
  const what =
    event.action === 'lock'
      ? `${event.readOnly === true ? 'read-only, ' : ''}admitting ${event.members?.length ?? 0} members`
      : event.action === 'unlock'
        ? ''
        : event.action === 'gate'
          ? event.rule === undefined
            ? 'open'
            : gateRuleKey(event.rule)
          : event.action === 'timer'
            ? `disappearing messages ${describeTimer(event.seconds ?? 0)}`
            : event.target
  const extra = [
    ...(event.until === undefined ? [] : [`until ${isoTime(event.until)}`]),
    ...(event.message === undefined ? [] : [`message ${event.message}`]),
  ]
  const line = [isoTime(event.atMs) ?? '?', event.author, event.action, what, ...extra].filter(Boolean).join('  ')
  return entry.applied ? line : `${line}  (void: ${entry.reason})`
}
