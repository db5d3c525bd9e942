/**
 * The search index of a device, kept up to date as messages come instead of rebuilt at each search. Rooms and DMs
 * hand it their message states (`follow`, `MessageStatesFollower`): it brings the index in line with them once
 * (no vault read: the states are in memory already), then takes each message added, edited, deleted or dropped as
 * it happens (`MessageStates.observe`) — an edit is found by its new text only, a delete's words leave the index.
 *
 * In the vault, encrypted like every entry and nowhere else, in {@link SEARCH_INDEX_SHARDS} parts by message id, so
 * a change rewrites the part that holds the message (coalesced, {@link SEARCH_INDEX_SAVE_DELAY_MS}), not the index:
 *
 * ```
 * search/meta      = { v: 2, shards }   (written once the parts hold every conversation's messages)
 * search/shard/<n> = SavedSearchIndex   (search-index.ts: the messages whose id falls in part n, with their terms)
 * ```
 *
 * Without `search/meta` (a vault of an earlier version, whose `search/index` was one entry rewritten at each
 * search), the index is built once from every message state in the vault ({@link SearchIndexerStats.rebuilds}).
 *
 * Opened in the background ({@link SearchIndexer.start}): a client's start does not wait for it (about 2 s at 20,000
 * messages), a search does. Conversations followed meanwhile are brought in line once it is open, so nothing that
 * happened while it opened is lost.
 */
import { z } from 'zod'
import {
  DEFAULT_SEARCH_LIMIT,
  MAX_SEARCH_MESSAGES,
  SEARCH_INDEX_SAVE_DELAY_MS,
  SEARCH_INDEX_SHARDS,
} from '../constants.ts'
import { checksumAddress } from '../dm/topics.ts'
import { utf8 } from '../encoding.ts'
import type { Logger } from '../logger.ts'
import type { MessageStates, MessageStatesFollower } from '../message-state.ts'
import type { AbortOptions } from '../types.ts'
import type { Vault } from '../vault/vault.ts'
import { type IndexedMessage, type SavedSearchIndex, SearchIndex, savedSearchIndexSchema } from './search-index.ts'
import {
  readConversationStates,
  readMessageTexts,
  resolveResults,
  type SearchHistoryOptions,
  type SearchResult,
} from './vault-states.ts'

export const SEARCH_META_ENTRY = 'search/meta'
export const SEARCH_SHARD_PREFIX = 'search/shard/'
/** The index of earlier versions: one entry, rewritten whole at each search. Removed once the parts are built. */
const LEGACY_INDEX_ENTRY = 'search/index'

const metaSchema = z.object({ v: z.literal(2), shards: z.number().int().positive() }).strict()

/** What the index did since it was opened: the web app shows it, tests and the bench read it. */
export interface SearchIndexerStats {
  /** Builds from every message state in the vault (no index was saved yet, or it was unreadable). */
  rebuilds: number
  /** Messages loaded from the saved parts when opened. */
  loaded: number
  /** Messages indexed or taken out one at a time since (arrivals, edits, deletes, the bound). */
  updates: number
  /** Parts written to the vault. */
  shardWrites: number
  /** Bytes of the parts written (plaintext, before the vault's encryption). */
  bytesWritten: number
  /** Changes not durable yet (their part's write is coming): 0 once the vault holds the index as it is. */
  saving: number
}

export interface SearchIndexerEvents {
  /** Every change so far is durable in the vault (`stats.saving` is 0 again). */
  'index:saved': Event
  /** The index is open: loaded from the vault (or built) and in line with the conversations followed. */
  'index:opened': Event
}

export interface SearchIndexerOptions extends AbortOptions {
  maxMessages?: number
  log?: Logger
}

const shardOf = (id: string): number => Number.parseInt(id.slice(0, 6), 16) % SEARCH_INDEX_SHARDS
const shardName = (shard: number): string => `${SEARCH_SHARD_PREFIX}${shard.toString().padStart(2, '0')}`
const shardFromName = (name: string): number => Number(name.slice(SEARCH_SHARD_PREFIX.length))

export class SearchIndexer extends EventTarget implements MessageStatesFollower {
  readonly #vault: Vault
  readonly #log: Logger | undefined
  readonly #maxMessages: number
  /** Empty until open. */
  #index: SearchIndex
  #opened = false
  readonly #ready: Promise<void>
  /** The states of the conversations followed, by `room:<id>` / `dm:<address>`: results read their texts. */
  readonly #followed = new Map<string, MessageStates>()
  /** Conversations left before the index was open: their saved messages leave it once it is. */
  readonly #forgotten = new Set<string>()
  readonly #stats: SearchIndexerStats

  private constructor(vault: Vault, options: SearchIndexerOptions) {
    super()
    this.#vault = vault
    this.#log = options.log
    this.#maxMessages = options.maxMessages ?? MAX_SEARCH_MESSAGES
    this.#index = this.#newIndex([])
    this.#stats = { rebuilds: 0, loaded: 0, updates: 0, shardWrites: 0, bytesWritten: 0, saving: 0 }
    this.#ready = this.#open(options)
  }

  /**
   * Opens the vault's index in the background — its saved parts, or, none saved yet, built once from the vault's
   * message states — and returns at once: {@link follow} and {@link forget} may be called meanwhile, a
   * {@link search} waits for it. A failure is logged and rejects {@link ready} (and each search).
   */
  static start(vault: Vault, options: SearchIndexerOptions = {}): SearchIndexer {
    const indexer = new SearchIndexer(vault, options)
    indexer.#ready.catch((err: unknown) => options.log?.warn('search index not opened', { error: String(err) }))
    return indexer
  }

  /** Opens the vault's index and waits for it (a search without a client: `securechat search`). */
  static async open(vault: Vault, options: SearchIndexerOptions = {}): Promise<SearchIndexer> {
    const indexer = new SearchIndexer(vault, options)
    await indexer.#ready
    return indexer
  }

  /** Settles once the index is open (rejects when it could not be). */
  get ready(): Promise<void> {
    return this.#ready
  }

  /** Whether the index is open (its {@link stats} and {@link size} are those of the index). */
  get opened(): boolean {
    return this.#opened
  }

  get stats(): Readonly<SearchIndexerStats> {
    return { ...this.#stats }
  }

  /** Messages indexed. */
  get size(): number {
    return this.#index.size
  }

  /**
   * Throws the index away and builds it from every message state in the vault (what each search did before the
   * index was kept up to date), then saves every part.
   */
  async rebuild(options: AbortOptions = {}): Promise<void> {
    for (const message of this.#index.list()) this.#index.remove(message.conversation, message.id)
    // A conversation followed has its states in memory, newer than the vault's: it is indexed from them when the
    // index is brought in line with it (`#align`), not read and decrypted again here.
    const texts = await readMessageTexts(this.#vault, {
      ...options,
      ...(this.#log === undefined ? {} : { log: this.#log }),
      skip: (conversation) => this.#followed.has(conversation),
    })
    // Newest first: once full, the index takes no older one (no sort of the whole at each message).
    texts.sort((a, b) => b.sentAtMs - a.sentAtMs || (a.id < b.id ? 1 : -1))
    for (const { conversation, id, version, sentAtMs, text } of texts) {
      this.#index.set({ conversation, id, version, sentAtMs }, text)
    }
    this.#stats.rebuilds += 1
    this.#stats.updates = 0
    // Only the parts that hold messages are written (each write is a file synced to disk on Node): a new vault
    // writes none; a part left from an earlier build is deleted.
    const filled = new Set(this.#index.list().map((message) => shardOf(message.id)))
    const stale = (await this.#vault.list(SEARCH_SHARD_PREFIX)).filter((name) => !filled.has(shardFromName(name)))
    await Promise.all([
      ...[...filled].map((shard) => this.#save(shard, 0)),
      ...stale.map((name) => this.#vault.delete(name)),
    ])
    await this.#vault.putJson(SEARCH_META_ENTRY, { v: 2, shards: SEARCH_INDEX_SHARDS })
    await this.#vault.delete(LEGACY_INDEX_ENTRY)
    this.#settle()
  }

  /**
   * Follows a conversation's states from now on, after bringing the index in line with them: a message whose
   * latest version is not the one indexed is indexed again, one without a text (deleted) or no longer kept leaves.
   */
  follow(conversation: string, states: MessageStates): void {
    this.#followed.set(conversation, states)
    this.#forgotten.delete(conversation)
    if (this.#opened) this.#align(conversation, states)
    // Before the index is open, what changes is seen when it opens (`#align`).
    states.observe((id) => {
      if (this.#opened) this.#observed(conversation, states, id)
    })
  }

  /** A conversation left: its messages leave the index. */
  forget(conversation: string): void {
    this.#followed.delete(conversation)
    if (!this.#opened) this.#forgotten.add(conversation)
    for (const { id } of this.#index.list(conversation)) this.#index.remove(conversation, id)
  }

  /** Brings the index in line with a conversation's states now. */
  #align(conversation: string, states: MessageStates): void {
    const kept = new Set<string>()
    for (const { id, version, sentAtMs, text } of states.latestTexts()) {
      kept.add(id)
      if (this.#index.get(conversation, id)?.version !== version) {
        this.#index.set({ conversation, id, version, sentAtMs }, text)
      }
    }
    for (const { id } of this.#index.list(conversation)) if (!kept.has(id)) this.#index.remove(conversation, id)
  }

  async #open(options: AbortOptions): Promise<void> {
    const saved = await loadShards(this.#vault, this.#log)
    if (saved === undefined) {
      await this.rebuild(options)
    } else {
      this.#index = this.#newIndex(saved)
      this.#stats.loaded = this.#index.size
      this.#settle()
    }
    this.#opened = true
    this.dispatchEvent(new Event('index:opened'))
  }

  /** What the conversations left and followed while the index was read say now. */
  #settle(): void {
    for (const conversation of this.#forgotten) {
      for (const { id } of this.#index.list(conversation)) this.#index.remove(conversation, id)
    }
    this.#forgotten.clear()
    for (const [conversation, states] of this.#followed) this.#align(conversation, states)
  }

  #newIndex(saved: SavedSearchIndex[]): SearchIndex {
    return new SearchIndex({ maxMessages: this.#maxMessages, saved, onChange: (_, id) => this.#changed(id) })
  }

  /** The messages matching every term of `query` (the last as a prefix), newest first, with their texts now. */
  async search(
    query: string,
    options: SearchHistoryOptions & { roomName?: (roomId: string) => string | undefined } = {},
  ): Promise<SearchResult[]> {
    await this.#ready
    const conversation =
      options.roomId !== undefined
        ? `room:${options.roomId}`
        : options.dm !== undefined
          ? `dm:${checksumAddress(options.dm)}`
          : undefined
    const hits = this.#index.query(query, {
      ...(conversation === undefined ? {} : { conversation }),
      limit: options.limit ?? DEFAULT_SEARCH_LIMIT,
    })
    const statesOf = async (key: string): Promise<MessageStates | undefined> =>
      this.#followed.get(key) ?? (await readConversationStates(this.#vault, key, options))
    return resolveResults(this.#vault, hits, query, statesOf, options)
  }

  /** Writes the parts changed and not written yet now (a sign-out, a test). */
  async flush(): Promise<void> {
    await this.#ready
    await this.#vault.flush()
  }

  #observed(conversation: string, states: MessageStates, id: string): void {
    const state = states.get(id)
    const latest = state?.versions.at(-1)
    if (state === undefined || state.deleted || state.text === undefined || latest === undefined) {
      this.#index.remove(conversation, id)
    } else if (this.#index.get(conversation, id)?.version !== latest.id) {
      this.#index.set({ conversation, id, version: latest.id, sentAtMs: state.sentAtMs }, state.text)
    }
  }

  #changed(id: string): void {
    this.#stats.updates += 1
    this.#stats.saving += 1
    this.#save(shardOf(id), SEARCH_INDEX_SAVE_DELAY_MS)
      .catch((err: unknown) => this.#log?.warn('a part of the search index was not saved', { error: String(err) }))
      .finally(() => {
        this.#stats.saving -= 1
        if (this.#stats.saving === 0) this.dispatchEvent(new Event('index:saved'))
      })
  }

  #save(shard: number, delayMs: number): Promise<void> {
    return this.#vault.putLatest(
      shardName(shard),
      () => {
        const bytes = utf8.encode(JSON.stringify(this.#index.serialize((m: IndexedMessage) => shardOf(m.id) === shard)))
        this.#stats.shardWrites += 1
        this.#stats.bytesWritten += bytes.byteLength
        return bytes
      },
      { delayMs },
    )
  }
}

/** The saved parts, or undefined when the index must be built (none saved, another layout, or unreadable). */
async function loadShards(vault: Vault, log: Logger | undefined): Promise<SavedSearchIndex[] | undefined> {
  try {
    const meta = await vault.getJson(SEARCH_META_ENTRY, metaSchema)
    if (meta === undefined || meta.shards !== SEARCH_INDEX_SHARDS) return undefined
    const parts: SavedSearchIndex[] = []
    for (const name of await vault.list(SEARCH_SHARD_PREFIX)) {
      const part = await vault.getJson(name, savedSearchIndexSchema)
      if (part !== undefined) parts.push(part)
    }
    return parts
  } catch (err) {
    // Derived from the message states: an unreadable index is built again from them.
    log?.warn('the search index could not be read; it is built again', { error: String(err) })
    return undefined
  }
}
