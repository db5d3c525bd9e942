/**
 * Folds the message kinds beyond text — replies, reactions, edits, deletes — into one state per message, for a
 * room or a DM conversation alike (the envelopes that carry them: `rooms/wire.ts`, `dm/wire.ts`). Pure: no
 * network, no crypto; the owner feeds it what it decrypted and persists {@link MessageStates.serialize}.
 *
 * Rules, the same on every honest device whatever order the records come in (history catch-up and gap repair
 * deliver out of order):
 * - only the message's own wallet may edit or delete it (`sender`, the wallet, not the device): anything else is
 *   refused, when it arrives or when the message it names does;
 * - a change to a message not (yet) here is kept (at most {@link MAX_PENDING_CHANGES}) and applied when it comes;
 * - a reaction is one wallet's per emoji, last one wins by (sender's clock, id): an add and a remove that cross
 *   end the same everywhere;
 * - versions are ordered by (sender's clock, id) after the original; a delete is final and drops every version's
 *   text (and later edits and reactions are ignored);
 * - each version keeps the mentions of its own text: the latest version's are the message's, so an edit that drops
 *   `@0x…` drops that mention (and a delete all of them);
 * - disappearing messages (`disappearing.ts`): the conversation's timer changes are kept here, and {@link
 *   MessageStates.expire} drops every message past its time — text, versions, reactions, the changes waiting for
 *   it — and a message that arrives past its time is never kept.
 */
import { z } from 'zod'
import {
  MAX_MENTIONS,
  MAX_MESSAGE_STATES,
  MAX_MESSAGE_VERSIONS,
  MAX_PENDING_CHANGES,
  MAX_REACTION_BYTES,
  MAX_REACTION_GRAPHEMES,
  MAX_REACTIONS_PER_MESSAGE,
  MAX_TEXT_BYTES,
} from './constants.ts'
import { countsFromMs, savedTimersSchema, TimerHistory } from './disappearing.ts'
import { utf8 } from './encoding.ts'
import { receivedFileManifestSchema } from './files/manifest.ts'
import { recordTimeSchema } from './json-records.ts'
import type {
  Address,
  FileManifest,
  MessageChange,
  MessageState,
  MessageUpdate,
  MessageVersion,
  TimerChange,
} from './types.ts'

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' })

/**
 * A reaction as envelopes carry it: 1 to {@link MAX_REACTION_GRAPHEMES} grapheme clusters, at most
 * {@link MAX_REACTION_BYTES} bytes, no whitespace or control character (an emoji, or a short "+1").
 */
export const reactionSchema = z
  .string()
  .min(1)
  .max(MAX_REACTION_BYTES)
  .refine((value) => isReaction(value), { message: 'not a reaction (an emoji, at most a few characters)' })

export function isReaction(value: string): boolean {
  if (value.length === 0 || utf8.encode(value).byteLength > MAX_REACTION_BYTES) return false
  for (const char of value) {
    // Format characters only as emoji use them: the zero-width joiner of a sequence, the tags of a subdivision flag.
    const code = char.codePointAt(0)!
    const joiner = code === 0x200d || (code >= 0xe0020 && code <= 0xe007f)
    if (/[\s\p{Cc}]/u.test(char) || (/\p{Cf}/u.test(char) && !joiner)) return false
  }
  let count = 0
  for (const _ of graphemes.segment(value)) if (++count > MAX_REACTION_GRAPHEMES) return false
  return true
}

/** Why a change did not count (`change:refused`). */
export type ChangeOutcome =
  | { status: 'applied'; update: MessageUpdate }
  | { status: 'pending' }
  | { status: 'ignored' }
  | { status: 'refused'; reason: string; change: MessageChange }

interface Reacted {
  emoji: string
  by: Address
  present: boolean
  atMs: number
  id: string
}

interface Entry {
  id: string
  sender: Address
  senderPeerId: string
  sentAtMs: number
  parentId: string | undefined
  rootId: string | undefined
  versions: MessageVersion[]
  /** The file it shares; dropped with the text on a delete (its key is what opens it). */
  file: FileManifest | undefined
  /** `by`: the moderator who removed it, when its sender did not delete it itself. */
  deleted: { id: string; atMs: number; by?: Address } | undefined
  /** By emoji and lowercase wallet. */
  reactions: Map<string, Reacted>
  replies: number
  lastReply: { id: string; sender: Address; sentAtMs: number } | undefined
  /** What its disappearing timer counts from (`countsFromMs`): its sent time, or its arrival plus the skew allowed. */
  countsFromMs: number
}

const addressSchema = z.string().regex(/^0x[0-9a-fA-F]{40}$/)
const idSchema = z.string().regex(/^[0-9a-f]{32}$|^[0-9a-f]{64}$/)
const bodySchema = z.string().max(MAX_TEXT_BYTES)
/** As kept: checked when they arrived (`mentions.ts`). */
const mentionsSchema = z.array(addressSchema).max(MAX_MENTIONS)
const changeSchema = z.union([
  z.object({ kind: z.literal('react'), emoji: reactionSchema, remove: z.boolean() }).strict(),
  z.object({ kind: z.literal('edit'), body: bodySchema, mentions: mentionsSchema.optional() }).strict(),
  z.object({ kind: z.literal('delete'), author: addressSchema.optional() }).strict(),
])
const savedChangeSchema = z
  .object({
    id: idSchema,
    target: idSchema,
    sender: addressSchema,
    senderPeerId: z.string().max(128),
    sentAtMs: recordTimeSchema,
    edit: changeSchema,
  })
  .strict()

/** What {@link MessageStates.serialize} writes (JSON): the vault entry of a room's or the DMs' messages. */
export const savedMessageStatesSchema = z
  .object({
    v: z.literal(1),
    messages: z
      .array(
        z
          .object({
            id: idSchema,
            sender: addressSchema,
            senderPeerId: z.string().max(128),
            sentAtMs: recordTimeSchema,
            /** When its disappearing timer counts from, if not its `sentAtMs` (a sender's clock ahead). */
            countsFromMs: recordTimeSchema.optional(),
            parentId: idSchema.optional(),
            rootId: idSchema.optional(),
            file: receivedFileManifestSchema.optional(),
            versions: z
              .array(
                z
                  .object({
                    id: idSchema,
                    body: bodySchema,
                    mentions: mentionsSchema.optional(),
                    atMs: recordTimeSchema,
                  })
                  .strict(),
              )
              .max(MAX_MESSAGE_VERSIONS),
            deleted: z
              .object({ id: idSchema, atMs: recordTimeSchema, by: addressSchema.optional() })
              .strict()
              .optional(),
            reactions: z
              .array(
                z
                  .object({
                    emoji: reactionSchema,
                    by: addressSchema,
                    present: z.boolean(),
                    atMs: recordTimeSchema,
                    id: idSchema,
                  })
                  .strict(),
              )
              .max(MAX_REACTIONS_PER_MESSAGE),
          })
          .strict(),
      )
      .max(MAX_MESSAGE_STATES),
    pending: z.array(savedChangeSchema).max(MAX_PENDING_CHANGES),
    /** The disappearing-messages timer's changes (`disappearing.ts`); absent: never set. */
    timers: savedTimersSchema.optional(),
  })
  .strict()
export type SavedMessageStates = z.infer<typeof savedMessageStatesSchema>

/** A text message as its owner hands it over: what it says first, and what it replies to. */
export interface TextArrival {
  id: string
  sender: Address
  senderPeerId: string
  sentAtMs: number
  body: string
  parentId: string | undefined
  /** The members it mentions, as `acceptMentions` kept them (`mentions.ts`). */
  mentions?: Address[]
  /** The file it shares, checked by its envelope's schema. */
  file?: FileManifest | undefined
  /** When this device received it (default: its `sentAtMs`, as for one it sent): bounds its expiry's start. */
  receivedAtMs?: number
}

export interface MessageStatesInit {
  maxMessages?: number
  maxPending?: number
  /** Loaded from the vault. */
  saved?: SavedMessageStates
}

/**
 * Follows a conversation's message states (a search index, `search/search-indexer.ts`): rooms and DMs hand theirs
 * over as they make them, without knowing what follows them.
 */
export interface MessageStatesFollower {
  follow(conversation: string, states: MessageStates): void
}

/** A message's text now, as a search index holds it: which version it is, and when the message was sent. */
export interface LatestText {
  id: string
  /** The id of the latest version (the message's own id until it is edited). */
  version: string
  sentAtMs: number
  text: string
}

const later = (a: { atMs: number; id: string }, b: { atMs: number; id: string }): boolean =>
  a.atMs > b.atMs || (a.atMs === b.atMs && a.id > b.id)

const same = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase()

export class MessageStates {
  readonly #entries = new Map<string, Entry>()
  /** Changes to messages not here yet, by target, oldest target first. */
  readonly #pending = new Map<string, MessageChange[]>()
  #pendingCount = 0
  readonly #maxMessages: number
  readonly #maxPending: number
  readonly #timers: TimerHistory
  #observer: ((id: string) => void) | undefined

  constructor(init: MessageStatesInit = {}) {
    this.#maxMessages = init.maxMessages ?? MAX_MESSAGE_STATES
    this.#maxPending = init.maxPending ?? MAX_PENDING_CHANGES
    this.#timers = new TimerHistory(init.saved?.timers)
    for (const saved of init.saved?.messages ?? []) {
      const reactions = new Map<string, Reacted>()
      for (const r of saved.reactions) reactions.set(reactionKey(r.emoji, r.by), { ...r, by: r.by as Address })
      this.#entries.set(saved.id, {
        id: saved.id,
        sender: saved.sender as Address,
        senderPeerId: saved.senderPeerId,
        sentAtMs: saved.sentAtMs,
        parentId: saved.parentId,
        rootId: saved.rootId,
        versions: saved.versions as MessageVersion[],
        file: saved.file,
        deleted: saved.deleted as Entry['deleted'],
        reactions,
        replies: 0,
        lastReply: undefined,
        countsFromMs: saved.countsFromMs ?? saved.sentAtMs,
      })
    }
    for (const entry of this.#entries.values()) if (entry.rootId !== undefined) this.#countReply(entry)
    for (const saved of init.saved?.pending ?? []) {
      const { edit, ...rest } = saved
      // The saved addresses passed the schema's address check when they were written and when read.
      this.#park({ ...rest, ...edit, sender: saved.sender as Address } as MessageChange)
    }
  }

  /** The state of message `id`, if it is here. */
  get(id: string): MessageState | undefined {
    const entry = this.#entries.get(id)
    return entry === undefined ? undefined : view(entry)
  }

  /** Every message here, in the order it came (the bound drops the first first). */
  list(): MessageState[] {
    return [...this.#entries.values()].map(view)
  }

  /**
   * Calls `observer` with the id of each message added, edited, deleted or dropped from here (the bound) from now
   * on, once the change is made: what a search index needs to follow the texts without reading them all again.
   */
  observe(observer: (id: string) => void): void {
    this.#observer = observer
  }

  /** Every message that has a text now (not deleted), with its latest version. */
  *latestTexts(): Generator<LatestText> {
    for (const entry of this.#entries.values()) {
      const latest = entry.versions.at(-1)
      if (entry.deleted !== undefined || latest === undefined) continue
      yield { id: entry.id, version: latest.id, sentAtMs: entry.sentAtMs, text: latest.body }
    }
  }

  /** The replies of the thread whose root is `rootId`, oldest first (by their senders' clocks). */
  thread(rootId: string): MessageState[] {
    return [...this.#entries.values()]
      .filter((entry) => entry.rootId === rootId)
      .sort((a, b) => a.sentAtMs - b.sentAtMs || (a.id < b.id ? -1 : 1))
      .map(view)
  }

  /** Whether `address` may edit or delete `id`: undefined while the message is not here. */
  isAuthor(id: string, address: string): boolean | undefined {
    const entry = this.#entries.get(id)
    return entry === undefined ? undefined : same(entry.sender, address)
  }

  /**
   * A text message arrived (or was sent). Returns its state — already deleted when a delete of it came first —
   * and what changed with it: its thread's root, and the changes that waited for it (refused ones included).
   */
  text(message: TextArrival): { state: MessageState; outcomes: ChangeOutcome[]; expired: boolean } {
    const existing = this.#entries.get(message.id)
    if (existing !== undefined) return { state: view(existing), outcomes: [], expired: false }
    const receivedAtMs = message.receivedAtMs ?? message.sentAtMs
    const from = countsFromMs(message.sentAtMs, receivedAtMs)
    const expiresAtMs = this.#timers.expiresAtMs(message.sentAtMs, from)
    const parent = message.parentId === undefined ? undefined : this.#entries.get(message.parentId)
    const entry: Entry = {
      id: message.id,
      sender: message.sender,
      senderPeerId: message.senderPeerId,
      sentAtMs: message.sentAtMs,
      parentId: message.parentId,
      rootId: message.parentId === undefined ? undefined : (parent?.rootId ?? message.parentId),
      versions: [version(message.id, message.body, message.mentions, message.sentAtMs)],
      file: message.file,
      deleted: undefined,
      reactions: new Map(),
      replies: 0,
      lastReply: undefined,
      countsFromMs: from,
    }
    if (expiresAtMs !== undefined && expiresAtMs <= receivedAtMs) {
      // Past its time on arrival (a catch-up after being away): never kept, never shown; what waited for it goes.
      this.#dropPending(entry.id)
      return { state: view({ ...entry, versions: [], file: undefined }), outcomes: [], expired: true }
    }
    this.#entries.set(entry.id, entry)
    this.#evict()
    this.#observer?.(entry.id)
    const outcomes: ChangeOutcome[] = []
    // Replies that came before it count now: in its thread, or in the thread of its own root when it is a reply.
    for (const other of this.#entries.values()) {
      if (other.rootId !== entry.id) continue
      if (entry.rootId !== undefined) other.rootId = entry.rootId
      this.#countReply(other)
    }
    if (entry.rootId !== undefined) {
      this.#countReply(entry)
      const root = this.#entries.get(entry.rootId)
      if (root !== undefined) {
        const change: MessageChange = {
          kind: 'reply',
          id: entry.id,
          target: root.id,
          sender: entry.sender,
          senderPeerId: entry.senderPeerId,
          sentAtMs: entry.sentAtMs,
        }
        outcomes.push({ status: 'applied', update: { change, message: view(root) } })
      }
    }
    const waiting = this.#dropPending(entry.id)
    // In the senders' order: a reaction and its removal end as they did on the devices that saw them in order.
    waiting.sort((a, b) => a.sentAtMs - b.sentAtMs || (a.id < b.id ? -1 : 1))
    for (const change of waiting) outcomes.push(this.#apply(entry, change))
    return { state: view(entry), outcomes, expired: false }
  }

  #dropPending(target: string): MessageChange[] {
    const waiting = this.#pending.get(target) ?? []
    this.#pending.delete(target)
    this.#pendingCount -= waiting.length
    return waiting
  }

  /** The timer change in force now, if one was ever made. */
  timer(): TimerChange | undefined {
    return this.#timers.current()
  }

  /**
   * A timer change arrived (or was sent), already allowed (`timerRefusal`). True when it is new: the messages it
   * covers expire at the next {@link expire}.
   */
  setTimer(change: TimerChange): boolean {
    return this.#timers.add(change)
  }

  /** When message `id` expires, if it is here and disappears. */
  expiresAtMs(id: string): number | undefined {
    const entry = this.#entries.get(id)
    return entry === undefined ? undefined : this.#timers.expiresAtMs(entry.sentAtMs, entry.countsFromMs)
  }

  /** When a message sent at `sentAtMs` and received at `receivedAtMs` expires here; undefined: never. */
  expiryOf(sentAtMs: number, receivedAtMs: number): number | undefined {
    return this.#timers.expiresAtMs(sentAtMs, countsFromMs(sentAtMs, receivedAtMs))
  }

  /** The earliest time a message here or a change waiting expires; undefined: none will. */
  nextExpiryMs(): number | undefined {
    if (this.#timers.size === 0) return undefined
    let next: number | undefined
    const consider = (atMs: number | undefined): void => {
      if (atMs !== undefined && (next === undefined || atMs < next)) next = atMs
    }
    for (const entry of this.#entries.values()) consider(this.#timers.expiresAtMs(entry.sentAtMs, entry.countsFromMs))
    for (const held of this.#pending.values())
      for (const c of held) consider(this.#timers.expiresAtMs(c.sentAtMs, c.sentAtMs))
    return next
  }

  /**
   * Drops every message past its time at `nowMs` — its text, versions and reactions — and the changes waiting for
   * a message that are past theirs. Returns the ids of the messages dropped.
   */
  expire(nowMs: number): string[] {
    if (this.#timers.size === 0) return []
    const expired: string[] = []
    const past = (atMs: number | undefined): boolean => atMs !== undefined && atMs <= nowMs
    for (const entry of this.#entries.values()) {
      if (!past(this.#timers.expiresAtMs(entry.sentAtMs, entry.countsFromMs))) continue
      this.#entries.delete(entry.id)
      expired.push(entry.id)
    }
    // A search index following these states takes them out (their words leave the vault with them).
    for (const id of expired) this.#observer?.(id)
    for (const [target, held] of this.#pending) {
      const kept = held.filter((c) => !past(this.#timers.expiresAtMs(c.sentAtMs, c.sentAtMs)))
      this.#pendingCount -= held.length - kept.length
      if (kept.length === 0) this.#pending.delete(target)
      else this.#pending.set(target, kept)
    }
    if (expired.length > 0) {
      // Thread counts again from what is left: an expired reply no longer counts, its root no longer names it.
      for (const entry of this.#entries.values()) {
        entry.replies = 0
        entry.lastReply = undefined
      }
      for (const entry of this.#entries.values()) if (entry.rootId !== undefined) this.#countReply(entry)
    }
    return expired
  }

  /** A reaction, edit or delete arrived (or was sent). */
  change(change: MessageChange): ChangeOutcome {
    if (change.kind === 'reply') return { status: 'ignored' }
    const entry = this.#entries.get(change.target)
    if (entry === undefined) {
      this.#park(change)
      return { status: 'pending' }
    }
    return this.#apply(entry, change)
  }

  #apply(entry: Entry, change: MessageChange): ChangeOutcome {
    if (change.kind === 'reply') return { status: 'ignored' }
    // A moderator's removal names the author its log checked it outranks: it counts only for that author's message.
    const named = change.kind === 'delete' ? change.author : undefined
    const moderated = named !== undefined
    const author = named ?? change.sender
    if ((change.kind === 'edit' || change.kind === 'delete') && !same(author, entry.sender)) {
      return { status: 'refused', reason: `only its sender (${entry.sender}) may ${change.kind} a message`, change }
    }
    if (entry.deleted !== undefined) return { status: 'ignored' }
    if (change.kind === 'delete') {
      entry.deleted = { id: change.id, atMs: change.sentAtMs, ...(moderated ? { by: change.sender } : {}) }
      // The text goes: every version, the file it shared (its key), and the reactions to it.
      entry.versions = []
      entry.file = undefined
      entry.reactions.clear()
    } else if (change.kind === 'edit') {
      if (entry.versions.some((version) => version.id === change.id)) return { status: 'ignored' }
      if (entry.versions.length >= MAX_MESSAGE_VERSIONS) {
        return { status: 'refused', reason: `a message keeps at most ${MAX_MESSAGE_VERSIONS} versions`, change }
      }
      const [original, ...edits] = entry.versions
      // Its own mentions, none included: the latest version's are the message's.
      edits.push(version(change.id, change.body, change.mentions, change.sentAtMs))
      edits.sort((a, b) => (later(a, b) ? 1 : -1))
      entry.versions = [original!, ...edits]
    } else {
      const key = reactionKey(change.emoji, change.sender)
      const current = entry.reactions.get(key)
      const next: Reacted = {
        emoji: change.emoji,
        by: change.sender,
        present: !change.remove,
        atMs: change.sentAtMs,
        id: change.id,
      }
      if (current !== undefined && !later(next, current)) return { status: 'ignored' }
      if (current === undefined && entry.reactions.size >= MAX_REACTIONS_PER_MESSAGE) {
        return { status: 'refused', reason: `a message keeps at most ${MAX_REACTIONS_PER_MESSAGE} reactions`, change }
      }
      entry.reactions.set(key, next)
    }
    if (change.kind !== 'react') this.#observer?.(entry.id)
    return { status: 'applied', update: { change, message: view(entry) } }
  }

  #park(change: MessageChange): void {
    const held = this.#pending.get(change.target) ?? []
    if (held.some((h) => h.id === change.id)) return
    held.push(change)
    this.#pending.set(change.target, held)
    this.#pendingCount += 1
    while (this.#pendingCount > this.#maxPending) {
      const [target, oldest] = this.#pending.entries().next().value!
      oldest.shift()
      this.#pendingCount -= 1
      if (oldest.length === 0) this.#pending.delete(target)
    }
  }

  #countReply(reply: Entry): void {
    const root = reply.rootId === undefined ? undefined : this.#entries.get(reply.rootId)
    if (root === undefined) return
    root.replies += 1
    const last = { id: reply.id, sender: reply.sender, sentAtMs: reply.sentAtMs }
    if (root.lastReply === undefined || later({ atMs: last.sentAtMs, id: last.id }, toOrder(root.lastReply))) {
      root.lastReply = last
    }
  }

  #evict(): void {
    while (this.#entries.size > this.#maxMessages) {
      const oldest = this.#entries.keys().next().value!
      this.#entries.delete(oldest)
      this.#observer?.(oldest)
    }
  }

  /** Everything, as the vault keeps it ({@link savedMessageStatesSchema}): no deleted text is in it. */
  serialize(): SavedMessageStates {
    return {
      v: 1,
      messages: [...this.#entries.values()].map((entry) => ({
        id: entry.id,
        sender: entry.sender,
        senderPeerId: entry.senderPeerId,
        sentAtMs: entry.sentAtMs,
        ...(entry.countsFromMs === entry.sentAtMs ? {} : { countsFromMs: entry.countsFromMs }),
        ...(entry.parentId === undefined ? {} : { parentId: entry.parentId }),
        ...(entry.rootId === undefined ? {} : { rootId: entry.rootId }),
        versions: entry.versions,
        ...(entry.file === undefined ? {} : { file: entry.file }),
        ...(entry.deleted === undefined ? {} : { deleted: entry.deleted }),
        reactions: [...entry.reactions.values()],
      })),
      pending: [...this.#pending.values()].flat().map((change) => {
        const { id, target, sender, senderPeerId, sentAtMs } = change
        const edit =
          change.kind === 'react'
            ? { kind: change.kind, emoji: change.emoji, remove: change.remove }
            : change.kind === 'edit'
              ? {
                  kind: change.kind,
                  body: change.body,
                  ...(change.mentions === undefined ? {} : { mentions: change.mentions }),
                }
              : {
                  kind: 'delete' as const,
                  ...('author' in change && change.author !== undefined ? { author: change.author } : {}),
                }
        return { id, target, sender, senderPeerId, sentAtMs, edit }
      }),
      ...(this.#timers.size === 0 ? {} : { timers: this.#timers.serialize() }),
    }
  }
}

function version(id: string, body: string, mentions: Address[] | undefined, atMs: number): MessageVersion {
  return mentions === undefined || mentions.length === 0 ? { id, body, atMs } : { id, body, mentions, atMs }
}

function reactionKey(emoji: string, by: string): string {
  return `${emoji}\n${by.toLowerCase()}`
}

function toOrder(reply: { id: string; sentAtMs: number }): { atMs: number; id: string } {
  return { atMs: reply.sentAtMs, id: reply.id }
}

function view(entry: Entry): MessageState {
  const byEmoji = new Map<string, Address[]>()
  for (const r of entry.reactions.values()) {
    if (!r.present) continue
    const by = byEmoji.get(r.emoji) ?? []
    by.push(r.by)
    byEmoji.set(r.emoji, by)
  }
  const latest = entry.versions.at(-1)
  return {
    id: entry.id,
    sender: entry.sender,
    sentAtMs: entry.sentAtMs,
    parentId: entry.parentId,
    threadRootId: entry.rootId,
    text: entry.deleted === undefined ? latest?.body : undefined,
    mentions: entry.deleted === undefined ? [...(latest?.mentions ?? [])] : [],
    ...(entry.file === undefined ? {} : { file: entry.file }),
    edited: entry.versions.length > 1,
    versions: entry.versions.map((v) => ({ ...v, ...(v.mentions === undefined ? {} : { mentions: [...v.mentions] }) })),
    deleted: entry.deleted !== undefined,
    ...(entry.deleted?.by === undefined ? {} : { removedBy: entry.deleted.by }),
    reactions: [...byEmoji].map(([emoji, by]) => ({ emoji, count: by.length, by })),
    thread: { count: entry.replies, last: entry.lastReply === undefined ? undefined : { ...entry.lastReply } },
  }
}
