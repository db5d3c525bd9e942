/**
 * Checking a room's moderation log against the chain (`securechat verify --moderation`; docs/architecture.md,
 * Moderation): what was done, by whom, in what order, and that nothing was removed.
 *
 * 1. Every event is judged as every peer judges it (`ModerationLog`): its author's signature, its room, its `prev`
 *    present (else the chain is broken: an event before it was removed), its author's role on its own chain.
 * 2. Every moderation leaf of the room in an anchored batch names an event (and its author) this log must hold:
 *    a log lacking one was cut — its tail withheld, or a branch removed — and a log rewritten (events re-signed in
 *    another order) holds other hashes. A leaf's count is how many events the anchoring log held: this log must
 *    hold at least as many.
 * 3. Each event is anchored by its own leaf or a later event's on its chain (which commits to it), at the earliest
 *    such anchor's block; events after every anchor are "not anchored yet", which is no failure.
 *
 * Anyone may anchor, so a leaf naming an event nobody signed makes the log look cut: narrow the anchors to
 * anchorers you trust (`--anchorer`) — a bogus anchor can deny, never vouch.
 */
import { type ModerationEvent, moderationEventHash, moderationEventSchema } from '../rooms/moderation-event.ts'
import { ModerationLog, type ModerationRole } from '../rooms/moderation-log.ts'
import type { AbortOptions, Address } from '../types.ts'
import { roomLeaves } from './batch.ts'
import type { AnchorRecord, AuditLogReader } from './chain.ts'
import { AuditLogUnavailableError } from './errors.ts'
import type { FoundBatch } from './lookup.ts'
import { moderationPositionOf } from './moderation-leaf.ts'

/** Why a moderation log does not verify. */
export const ModerationAuditFailure = {
  /** An event every peer would refuse: malformed, another room's, not signed by its author, or without the role. */
  refused: 'refused',
  /** An event whose `prev` the log lacks (or follows a refused one): an event before it was removed. */
  brokenChain: 'broken-chain',
  /** An anchored event the log lacks: its tail was withheld, a branch removed, or its history rewritten. */
  missingAnchored: 'missing-anchored',
  /** An anchor names the event with another author than the log's. */
  wrongAuthor: 'wrong-author',
  /** An anchor says the log held more events than this one holds. */
  fewerEvents: 'fewer-events',
  /** The log has events and no anchor covers any: nothing is proven. */
  unanchored: 'unanchored',
  /** The audit log could not be read. */
  chainUnavailable: 'chain-unavailable',
} as const
export type ModerationAuditFailure = (typeof ModerationAuditFailure)[keyof typeof ModerationAuditFailure]

/** Where an event (or a later one on its chain) was anchored. */
export interface ModerationAnchorRef {
  root: string
  blockNumber: number
  /** Block time, seconds since the epoch (from `anchorOf`). */
  timestamp?: number
  transactionHash: string
  anchorer: Address
  cid: string
  /** The later event whose leaf anchors this one through the hash chain; absent when its own leaf does. */
  through?: string
}

export interface AuditedModerationEvent {
  /** Place in the log's order (1-based). */
  index: number
  hash: string
  action: string
  target: string
  author: string
  /** The author's role as the log stood when it was added (parents first). */
  role: ModerationRole
  /** The author's clock, not trusted for order: the chain and the anchors are. */
  atMs: number
  applied: boolean
  /** Why it did not apply (void, or no effect at its place). */
  reason?: string
  anchor?: ModerationAnchorRef
  /** The event as signed: what anyone can check again. */
  event: ModerationEvent
}

export interface ModerationAuditProblem {
  failure: ModerationAuditFailure
  message: string
  hash?: string
}

export interface ModerationAudit {
  ok: boolean
  roomId: string
  /** The kept events in the log's order. */
  events: AuditedModerationEvent[]
  problems: ModerationAuditProblem[]
  /** Moderation leaves of the room found in anchored batches. */
  anchors: number
}

export interface VerifyModerationLogParams {
  roomId: string
  /** The manifest's owner: the log's first owner. */
  owner: string
  /** The events as received (a relay's store, a file): checked with zod here, in any order, repeats ignored. */
  events: readonly unknown[]
  /** Anchored batches holding leaves of the room (`fetchAnchoredBatches`), already checked against their roots. */
  batches: readonly FoundBatch[]
  reader: Pick<AuditLogReader, 'anchorOf'>
}

/** Checks a moderation log against the chain. Never throws but for an abort; an unreadable chain is a problem. */
export async function verifyModerationLog(
  params: VerifyModerationLogParams,
  options: AbortOptions = {},
): Promise<ModerationAudit> {
  const problems: ModerationAuditProblem[] = []
  const log = new ModerationLog({ roomId: params.roomId, owner: params.owner })
  const roles = judgeEvents(log, params.events, problems)
  const entries = log.entries()
  const events: AuditedModerationEvent[] = entries.map((entry, i) => ({
    index: i + 1,
    hash: entry.hash,
    action: entry.event.action,
    target: entry.event.target,
    author: entry.event.author,
    role: roles.get(entry.hash) ?? 'member',
    atMs: entry.event.atMs,
    applied: entry.applied,
    ...(entry.reason === undefined ? {} : { reason: entry.reason }),
    event: entry.event,
  }))
  const byHash = new Map(events.map((event) => [event.hash, event]))
  const prevOf = new Map(entries.map((entry) => [entry.hash, entry.event.prev]))
  let anchors = 0
  const ordered = [...params.batches].sort((a, b) => a.event.blockNumber - b.event.blockNumber)
  for (const { event: anchored, batch } of ordered) {
    for (const leaf of roomLeaves(batch, params.roomId)) {
      const position = moderationPositionOf(leaf)
      if (position === undefined) continue
      anchors += 1
      const where = `block ${anchored.blockNumber} (tx ${anchored.transactionHash}, anchorer ${anchored.anchorer})`
      const event = byHash.get(position.hash)
      if (event === undefined) {
        problems.push({
          failure: ModerationAuditFailure.missingAnchored,
          hash: position.hash,
          message:
            `event ${position.hash} by ${position.author}, anchored in ${where}, is not in this log: its tail was withheld, ` +
            'an event removed, or its history rewritten — fetch the log from another relay (--bootstrap); if you do ' +
            'not trust that anchorer, name the ones you do (--anchorer)',
        })
        continue
      }
      if (position.author !== event.author) {
        problems.push({
          failure: ModerationAuditFailure.wrongAuthor,
          hash: position.hash,
          message: `the anchor in ${where} names ${position.author} as the author of event ${position.hash}, the log ${event.author}`,
        })
      }
      if (position.count > entries.length) {
        problems.push({
          failure: ModerationAuditFailure.fewerEvents,
          hash: position.hash,
          message:
            `the anchor in ${where} says the log held ${position.count} events, this one holds ${entries.length}: ` +
            'events were removed — fetch the log from another relay (--bootstrap)',
        })
      }
      // This leaf anchors the event and, through the hash chain, every event before it on its chain.
      const ref: ModerationAnchorRef = {
        root: anchored.root,
        blockNumber: anchored.blockNumber,
        transactionHash: anchored.transactionHash,
        anchorer: anchored.anchorer,
        cid: anchored.cid,
      }
      for (let hash: string | undefined = position.hash; hash !== undefined; hash = prevOf.get(hash)) {
        const covered = byHash.get(hash)
        if (covered === undefined) break
        if (covered.anchor !== undefined && covered.anchor.blockNumber <= anchored.blockNumber) break
        covered.anchor = hash === position.hash ? ref : { ...ref, through: position.hash }
      }
    }
  }
  if (events.length > 0 && events.every((event) => event.anchor === undefined)) {
    problems.push({
      failure: ModerationAuditFailure.unanchored,
      message:
        'no anchor of this log was found: nothing is proven yet — wait for a relay’s next batch, look further back ' +
        '(--from-block), or anchor it yourself (the sdk’s anchorModerationLog)',
    })
  }
  await addBlockTimes(events, params.reader, problems, options)
  return { ok: problems.length === 0, roomId: params.roomId, events, problems, anchors }
}

/**
 * Adds the events to `log` parents first, noting each author's role just before its event; reports refused events
 * and those whose chain does not reach the room. Returns the roles by event hash.
 */
function judgeEvents(
  log: ModerationLog,
  inputs: readonly unknown[],
  problems: ModerationAuditProblem[],
): Map<string, ModerationRole> {
  const children = new Map<string, Array<{ hash: string; event: unknown; author: string }>>()
  const seen = new Set<string>()
  for (const [i, input] of inputs.entries()) {
    const parsed = moderationEventSchema.safeParse(input)
    if (!parsed.success) {
      const issue = parsed.error.issues[0]
      problems.push({
        failure: ModerationAuditFailure.refused,
        message: `event ${i + 1} is malformed (${issue?.path.join('.') ?? ''}: ${issue?.message ?? ''})`,
      })
      continue
    }
    const hash = moderationEventHash(parsed.data)
    if (seen.has(hash)) continue
    seen.add(hash)
    const siblings = children.get(parsed.data.prev) ?? []
    siblings.push({ hash, event: parsed.data, author: parsed.data.author })
    children.set(parsed.data.prev, siblings)
  }
  const roles = new Map<string, ModerationRole>()
  const queue = [log.roomId]
  while (queue.length > 0) {
    const parent = queue.shift()!
    for (const child of children.get(parent) ?? []) {
      const role = log.roleOf(child.author)
      const verdict = log.add(child.event)
      if (verdict.status === 'refused') {
        problems.push({
          failure: ModerationAuditFailure.refused,
          hash: child.hash,
          message: `event ${child.hash} by ${child.author} is refused: ${verdict.reason}`,
        })
        continue
      }
      roles.set(child.hash, role)
      queue.push(child.hash)
    }
    children.delete(parent)
  }
  // What is left never reached the room id: its `prev` is missing, or follows a refused event.
  for (const [prev, orphans] of children) {
    for (const orphan of orphans) {
      problems.push({
        failure: ModerationAuditFailure.brokenChain,
        hash: orphan.hash,
        message:
          `event ${orphan.hash} by ${orphan.author} follows ${prev}, which this log does not hold: an event was ` +
          'removed or refused before it — fetch the log from another relay (--bootstrap)',
      })
    }
  }
  return roles
}

/** Each anchor's block time, read once per root; an unreadable chain is reported, not thrown. */
async function addBlockTimes(
  events: AuditedModerationEvent[],
  reader: Pick<AuditLogReader, 'anchorOf'>,
  problems: ModerationAuditProblem[],
  options: AbortOptions,
): Promise<void> {
  const records = new Map<string, Promise<AnchorRecord | undefined>>()
  for (const event of events) {
    const anchor = event.anchor
    if (anchor === undefined) continue
    let record = records.get(anchor.root)
    if (record === undefined) {
      record = reader.anchorOf(anchor.root, options)
      records.set(anchor.root, record)
    }
    try {
      const found = await record
      if (found !== undefined) event.anchor = { ...anchor, timestamp: found.timestamp }
    } catch (err) {
      options.signal?.throwIfAborted()
      if (!(err instanceof AuditLogUnavailableError)) throw err
      if (!problems.some((p) => p.failure === ModerationAuditFailure.chainUnavailable)) {
        problems.push({
          failure: ModerationAuditFailure.chainUnavailable,
          message: `${err.message}: ${err.hint ?? ''}`,
        })
      }
    }
  }
}

/** The audit in lines a person reads: each event (what, by whom, when, anchored where), then the verdict. */
export function describeModerationAudit(audit: ModerationAudit): string[] {
  const anchored = audit.events.filter((event) => event.anchor !== undefined).length
  const lines = [
    `moderation log of room ${audit.roomId}: ${audit.events.length} event${audit.events.length === 1 ? '' : 's'}, ` +
      `${anchored} anchored (${audit.anchors} anchor leaf${audit.anchors === 1 ? '' : 'ves'} found)`,
  ]
  for (const event of audit.events) {
    const outcome = event.applied ? '' : ` [not applied: ${event.reason ?? 'void'}]`
    lines.push(
      `  ${event.index}. ${event.action} ${event.target}${detailsOf(event.event)} by ${event.author} (${event.role}) at ${iso(event.atMs)} ` +
        `(author's clock), event ${event.hash.slice(0, 16)}…${outcome}`,
    )
    const anchor = event.anchor
    lines.push(
      anchor === undefined
        ? '     not anchored yet'
        : `     anchored in block ${anchor.blockNumber}${anchor.timestamp === undefined ? '' : ` at ${iso(anchor.timestamp * 1000)}`}` +
            `, tx ${anchor.transactionHash}, by ${anchor.anchorer}` +
            `${anchor.through === undefined ? '' : ` (through the later event ${anchor.through.slice(0, 16)}…)`}`,
    )
  }
  if (audit.ok) {
    lines.push(
      'VERIFIED: every event is signed by its author, chained to the one before, allowed by its author’s role; ' +
        'every anchored event is in the log',
    )
    return lines
  }
  lines.push('FAILED:')
  for (const problem of audit.problems) lines.push(`  ${problem.failure}: ${problem.message}`)
  return lines
}

/** What an action carries beyond its target: a mute's end, a lock's read-only, the message removed. */
function detailsOf(event: ModerationEvent): string {
  const parts: string[] = []
  if (event.until !== undefined) parts.push(` until ${iso(event.until)}`)
  if (event.readOnly === true) parts.push(' read-only')
  if (event.message !== undefined) parts.push(` message ${event.message}`)
  return parts.join('')
}

function iso(ms: number): string {
  return new Date(ms).toISOString()
}
