/**
 * An inverted index of messages by their folded terms (`terms.ts`): term → the messages that hold it. Pure: the
 * owner (`vault-search.ts`) keeps it in the vault, encrypted like every entry, and feeds it each message's latest
 * text — an edit replaces the message's terms, a delete removes them, so neither an old version nor a deleted
 * message is found and their words leave the saved index.
 *
 * Bounded: {@link MAX_SEARCH_MESSAGES} messages (the newest by their senders' clocks stay), each with at most
 * {@link MAX_SEARCH_TERMS_PER_MESSAGE} distinct terms of at most `MAX_SEARCH_TERM_CHARS` code points. Kept up to
 * date one message at a time, the bound is enforced in batches: it may hold a hundredth more for a while, and a
 * message older than every one it dropped is not taken while it is full.
 */
import { z } from 'zod'
import { MAX_SEARCH_MESSAGES, MAX_SEARCH_TERM_CHARS, MAX_SEARCH_TERMS_PER_MESSAGE } from '../constants.ts'
import { recordTimeSchema } from '../json-records.ts'
import { terms } from './terms.ts'

/** One indexed message: where it is, which version's text the terms are of, and when it was sent. */
export interface IndexedMessage {
  /** `room:<roomId>` or `dm:<address>`. */
  conversation: string
  id: string
  /** The id of the version indexed (the message's own id until it is edited). */
  version: string
  sentAtMs: number
}

const idSchema = z.string().regex(/^[0-9a-f]{32}$|^[0-9a-f]{64}$/)

/**
 * What {@link SearchIndex.serialize} writes (JSON): a part of the index in the vault. Compact, as it is read at
 * each start: the conversations once, then per message `[conversation's index, id, version, sentAtMs, terms]`,
 * the terms joined by a space (a term never holds one: words are runs of letters and digits).
 */
export const savedSearchIndexSchema = z
  .object({
    v: z.literal(2),
    conversations: z.array(z.string().regex(/^room:[0-9a-f]{64}$|^dm:0x[0-9a-fA-F]{40}$/)).max(MAX_SEARCH_MESSAGES),
    messages: z
      .array(
        z.tuple([
          z.number().int().nonnegative(),
          idSchema,
          idSchema,
          recordTimeSchema,
          z.string().max(MAX_SEARCH_TERMS_PER_MESSAGE * (MAX_SEARCH_TERM_CHARS * 2 + 1)),
        ]),
      )
      .max(MAX_SEARCH_MESSAGES),
  })
  .strict()
export type SavedSearchIndex = z.infer<typeof savedSearchIndexSchema>

export interface SearchIndexInit {
  maxMessages?: number
  /** Loaded from the vault (several parts: the shards `search-indexer.ts` keeps). */
  saved?: SavedSearchIndex | SavedSearchIndex[]
  /** Told each message added or taken out after the load (its owner saves the part that holds it). */
  onChange?: (conversation: string, id: string) => void
}

interface Entry extends IndexedMessage {
  terms: string[]
}

const keyOf = (conversation: string, id: string): string => `${conversation}\n${id}`
const newer = (a: IndexedMessage, b: IndexedMessage): boolean =>
  a.sentAtMs > b.sentAtMs || (a.sentAtMs === b.sentAtMs && a.id > b.id)

export class SearchIndex {
  readonly #entries = new Map<string, Entry>()
  readonly #postings = new Map<string, Set<string>>()
  readonly #maxMessages: number
  /** Taken above the bound until this many more, then trimmed back to it at once (one sort, not one per message). */
  readonly #slack: number
  /** The newest message dropped for the bound: older ones are not taken while the index is full. */
  #floor: IndexedMessage | undefined
  readonly #onChange: ((conversation: string, id: string) => void) | undefined

  constructor(init: SearchIndexInit = {}) {
    this.#maxMessages = init.maxMessages ?? MAX_SEARCH_MESSAGES
    this.#slack = Math.floor(this.#maxMessages / 100)
    const parts = init.saved === undefined ? [] : Array.isArray(init.saved) ? init.saved : [init.saved]
    for (const part of parts) {
      for (const [at, id, version, sentAtMs, joined] of part.messages) {
        const conversation = part.conversations[at]
        if (conversation === undefined) continue
        const terms = joined === '' ? [] : joined.split(' ').slice(0, MAX_SEARCH_TERMS_PER_MESSAGE)
        this.#add({ conversation, id, version, sentAtMs, terms })
      }
    }
    this.#evict(0)
    this.#onChange = init.onChange
  }

  get size(): number {
    return this.#entries.size
  }

  /** The indexed message `id` of `conversation`, if it is here. */
  get(conversation: string, id: string): IndexedMessage | undefined {
    const entry = this.#entries.get(keyOf(conversation, id))
    if (entry === undefined) return undefined
    const { terms: _, ...message } = entry
    return message
  }

  /** Every indexed message, or those of one conversation. */
  list(conversation?: string): IndexedMessage[] {
    const found: IndexedMessage[] = []
    for (const { terms: _, ...message } of this.#entries.values()) {
      if (conversation === undefined || message.conversation === conversation) found.push(message)
    }
    return found
  }

  /**
   * Indexes `text` as the message's words, replacing what it held (an edit). A message older than those the bound
   * dropped is not taken while the index is full.
   */
  set(message: IndexedMessage, text: string): void {
    const full = this.#entries.size >= this.#maxMessages
    if (full && this.#floor !== undefined && !newer(message, this.#floor)) {
      this.remove(message.conversation, message.id)
      return
    }
    this.remove(message.conversation, message.id)
    this.#add({ ...message, terms: terms(text).slice(0, MAX_SEARCH_TERMS_PER_MESSAGE) })
    this.#onChange?.(message.conversation, message.id)
    this.#evict(this.#slack)
  }

  /** Takes the message and its words out (a delete, or a message no longer kept). */
  remove(conversation: string, id: string): void {
    const key = keyOf(conversation, id)
    const entry = this.#entries.get(key)
    if (entry === undefined) return
    this.#entries.delete(key)
    for (const term of entry.terms) {
      const holders = this.#postings.get(term)
      holders?.delete(key)
      if (holders?.size === 0) this.#postings.delete(term)
    }
    this.#onChange?.(conversation, id)
  }

  /**
   * The messages holding every term of `query`, newest first; the last term matches as a prefix, as one types
   * (`see tom` finds "see you tomorrow", not "seeing tomorrow"). A query without a term finds nothing.
   */
  query(query: string, options: { conversation?: string; limit?: number } = {}): IndexedMessage[] {
    const wanted = terms(query)
    const last = wanted.pop()
    if (last === undefined) return []
    const sets = wanted.map((term) => this.#postings.get(term) ?? new Set<string>())
    const prefixed = new Set<string>()
    for (const [term, holders] of this.#postings)
      if (term.startsWith(last)) for (const key of holders) prefixed.add(key)
    sets.push(prefixed)
    sets.sort((a, b) => a.size - b.size)
    const [smallest, ...rest] = sets
    const found: IndexedMessage[] = []
    for (const key of smallest!) {
      if (!rest.every((set) => set.has(key))) continue
      const { terms: _, ...message } = this.#entries.get(key)!
      if (options.conversation === undefined || message.conversation === options.conversation) found.push(message)
    }
    found.sort((a, b) => (newer(a, b) ? -1 : 1))
    return options.limit === undefined ? found : found.slice(0, options.limit)
  }

  /** Everything, or the messages `keep` names, as the vault keeps it ({@link savedSearchIndexSchema}). */
  serialize(keep?: (message: IndexedMessage) => boolean): SavedSearchIndex {
    const conversations: string[] = []
    const at = new Map<string, number>()
    const messages: SavedSearchIndex['messages'] = []
    for (const entry of this.#entries.values()) {
      if (keep !== undefined && !keep(entry)) continue
      let n = at.get(entry.conversation)
      if (n === undefined) {
        n = conversations.push(entry.conversation) - 1
        at.set(entry.conversation, n)
      }
      messages.push([n, entry.id, entry.version, entry.sentAtMs, entry.terms.join(' ')])
    }
    return { v: 2, conversations, messages }
  }

  /** The terms message `id` of `conversation` is indexed by (tests, and what a part holds). */
  termsOf(conversation: string, id: string): readonly string[] | undefined {
    return this.#entries.get(keyOf(conversation, id))?.terms
  }

  #add(entry: Entry): void {
    const key = keyOf(entry.conversation, entry.id)
    this.#entries.set(key, { ...entry, terms: [...entry.terms] })
    for (const term of entry.terms) {
      const holders = this.#postings.get(term) ?? new Set<string>()
      holders.add(key)
      this.#postings.set(term, holders)
    }
  }

  #evict(slack: number): void {
    if (this.#entries.size <= this.#maxMessages + slack) return
    const oldestFirst = [...this.#entries.values()].sort((a, b) => (newer(a, b) ? 1 : -1))
    const dropped = oldestFirst.slice(0, this.#entries.size - this.#maxMessages)
    for (const entry of dropped) this.remove(entry.conversation, entry.id)
    const newest = dropped.at(-1)
    if (newest !== undefined && (this.#floor === undefined || newer(newest, this.#floor))) {
      const { terms: _, ...message } = newest
      this.#floor = message
    }
  }
}
