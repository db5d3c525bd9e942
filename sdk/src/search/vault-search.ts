/**
 * Search in this device's own history, across its rooms and DMs. The messages are the vault's message states
 * (`room/messages/<roomId>`, `dm/messages/<address>`, folded by `message-state.ts`: latest text, deletes without
 * text); the index is the vault entry {@link SEARCH_INDEX_ENTRY}, encrypted like every entry and nowhere else on
 * disk. Each search first brings the index up to date with the states — a message whose latest version is not the
 * one indexed is indexed again, a deleted or no longer kept one leaves it — and saves it when that changed it,
 * so an edit is found by its new text only and a delete takes the message's words out of the vault's index.
 *
 * ```
 * search/index = SavedSearchIndex   (search-index.ts: per message, where it is, the version indexed, its terms)
 * ```
 */
import { DEFAULT_SEARCH_LIMIT, MAX_SEARCH_MESSAGES } from '../constants.ts'
import { DM_MESSAGES_PREFIX } from '../dm/message-log.ts'
import { checksumAddress } from '../dm/topics.ts'
import type { Logger } from '../logger.ts'
import { type SavedMessageStates, savedMessageStatesSchema } from '../message-state.ts'
import { loadSavedRooms, ROOM_ENTRY_PREFIXES } from '../rooms/room-store.ts'
import type { AbortOptions, Address } from '../types.ts'
import type { Vault } from '../vault/vault.ts'
import { SearchIndex, savedSearchIndexSchema } from './search-index.ts'
import { snippet } from './snippet.ts'

/** The vault entry of the search index. */
export const SEARCH_INDEX_ENTRY = 'search/index'

export type SearchConversation =
  | { type: 'room'; roomId: string; name: string | undefined }
  | { type: 'dm'; address: Address }

export interface SearchResult {
  conversation: SearchConversation
  id: string
  sender: Address
  sentAtMs: number
  /** The message's text now (its latest version). */
  text: string
  /** Part of the text around the first match, on one line. */
  snippet: string
  edited: boolean
}

export interface SearchHistoryOptions extends AbortOptions {
  /** Only this room's messages (its id). */
  roomId?: string
  /** Only the DM conversation with this wallet. */
  dm?: string
  /** At most this many results, newest first (default {@link DEFAULT_SEARCH_LIMIT}). */
  limit?: number
  /** Bound of the index (default {@link MAX_SEARCH_MESSAGES}). */
  maxMessages?: number
  log?: Logger
}

type Message = SavedMessageStates['messages'][number]

interface Kept {
  conversation: SearchConversation
  message: Message
  text: string
}

/** The messages matching every term of `query` (the last as a prefix), newest first. */
export async function searchHistory(
  vault: Vault,
  query: string,
  options: SearchHistoryOptions = {},
): Promise<SearchResult[]> {
  const { index, kept } = await updateSearchIndex(vault, options)
  const conversation =
    options.roomId !== undefined
      ? `room:${options.roomId}`
      : options.dm !== undefined
        ? `dm:${checksumAddress(options.dm)}`
        : undefined
  const found = index.query(query, {
    ...(conversation === undefined ? {} : { conversation }),
    limit: options.limit ?? DEFAULT_SEARCH_LIMIT,
  })
  return found.flatMap(({ conversation: key, id }) => {
    const hit = kept.get(`${key}\n${id}`)
    if (hit === undefined) return []
    return [
      {
        conversation: hit.conversation,
        id,
        sender: hit.message.sender as Address,
        sentAtMs: hit.message.sentAtMs,
        text: hit.text,
        snippet: snippet(hit.text, query),
        edited: hit.message.versions.length > 1,
      },
    ]
  })
}

/**
 * Brings the vault's search index up to date with the vault's message states and saves it when it changed.
 * Returns the index and the messages it may name, by `conversation\nid`.
 */
export async function updateSearchIndex(
  vault: Vault,
  options: { maxMessages?: number; log?: Logger } & AbortOptions = {},
): Promise<{ index: SearchIndex; kept: Map<string, Kept> }> {
  const maxMessages = options.maxMessages ?? MAX_SEARCH_MESSAGES
  let index: SearchIndex
  try {
    const saved = await vault.getJson(SEARCH_INDEX_ENTRY, savedSearchIndexSchema)
    index = new SearchIndex({ maxMessages, ...(saved === undefined ? {} : { saved }) })
  } catch (err) {
    // Derived from the message states: an unreadable index is built again from them.
    options.log?.warn('the search index could not be read; it is built again', { error: String(err) })
    index = new SearchIndex({ maxMessages })
  }
  const all = await readMessages(vault, options)
  // The newest `maxMessages` with a text are the index's; the rest leave it.
  const texted = [...all.entries()].sort(
    ([, a], [, b]) => b.message.sentAtMs - a.message.sentAtMs || (a.message.id < b.message.id ? 1 : -1),
  )
  const kept = new Map(texted.slice(0, maxMessages))
  let changed = false
  for (const indexed of index.list()) {
    if (!kept.has(`${indexed.conversation}\n${indexed.id}`)) {
      index.remove(indexed.conversation, indexed.id)
      changed = true
    }
  }
  for (const [key, { message, text }] of kept) {
    const conversation = key.slice(0, key.indexOf('\n'))
    const version = message.versions.at(-1)!.id
    if (index.get(conversation, message.id)?.version === version) continue
    index.set({ conversation, id: message.id, version, sentAtMs: message.sentAtMs }, text)
    changed = true
  }
  if (changed) await vault.putJson(SEARCH_INDEX_ENTRY, index.serialize())
  return { index, kept }
}

/**
 * Takes messages out of the vault's search index at once (past their disappearing timer), without waiting for the
 * next search: their words leave the vault with them. No index yet: nothing to do.
 */
export async function dropFromSearchIndex(
  vault: Vault,
  conversation: SearchConversation,
  ids: readonly string[],
): Promise<void> {
  const saved = await vault.getJson(SEARCH_INDEX_ENTRY, savedSearchIndexSchema)
  if (saved === undefined) return
  const index = new SearchIndex({ maxMessages: MAX_SEARCH_MESSAGES, saved })
  const key = conversation.type === 'room' ? `room:${conversation.roomId}` : `dm:${conversation.address}`
  let changed = false
  for (const id of ids) {
    if (index.get(key, id) === undefined) continue
    index.remove(key, id)
    changed = true
  }
  if (changed) await vault.putJson(SEARCH_INDEX_ENTRY, index.serialize())
}

/** Every message of the vault's rooms and DMs that still has a text, by `conversation\nid`. */
async function readMessages(vault: Vault, options: { log?: Logger } & AbortOptions): Promise<Map<string, Kept>> {
  const names = new Map((await loadSavedRooms(vault, options.log)).map((room) => [room.roomId, room.name]))
  const conversations: Array<{ entry: string; key: string; conversation: SearchConversation }> = []
  for (const entry of await vault.list(ROOM_ENTRY_PREFIXES.messages)) {
    const roomId = entry.slice(ROOM_ENTRY_PREFIXES.messages.length)
    conversations.push({
      entry,
      key: `room:${roomId}`,
      conversation: { type: 'room', roomId, name: names.get(roomId) },
    })
  }
  for (const entry of await vault.list(DM_MESSAGES_PREFIX)) {
    const address = checksumAddress(entry.slice(DM_MESSAGES_PREFIX.length))
    conversations.push({ entry, key: `dm:${address}`, conversation: { type: 'dm', address } })
  }
  const messages = new Map<string, Kept>()
  for (const { entry, key, conversation } of conversations) {
    options.signal?.throwIfAborted()
    let saved: SavedMessageStates | undefined
    try {
      saved = await vault.getJson(entry, savedMessageStatesSchema)
    } catch (err) {
      options.log?.warn('a conversation’s messages could not be read; search skips them', {
        entry,
        error: String(err),
      })
    }
    for (const message of saved?.messages ?? []) {
      // The latest version is the text (versions are saved in order); a deleted message has none.
      const text = message.deleted === undefined ? message.versions.at(-1)?.body : undefined
      if (text !== undefined) messages.set(`${key}\n${message.id}`, { conversation, message, text })
    }
  }
  return messages
}
