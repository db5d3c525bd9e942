/**
 * The message states search reads from the vault (`room/messages/<roomId>`, `dm/messages/<address>`, folded by
 * `message-state.ts`: latest text, deletes without text): all of them to build the index
 * ({@link readMessageTexts}), and only the conversations of a search's results to show their texts
 * ({@link resolveResults}).
 */
import { DM_MESSAGES_PREFIX } from '../dm/message-log.ts'
import { checksumAddress } from '../dm/topics.ts'
import type { Logger } from '../logger.ts'
import { MessageStates, savedMessageStatesSchema } from '../message-state.ts'
import { loadMessageStates, loadSavedRooms, ROOM_ENTRY_PREFIXES } from '../rooms/room-store.ts'
import type { AbortOptions, Address } from '../types.ts'
import type { Vault } from '../vault/vault.ts'
import type { IndexedMessage } from './search-index.ts'
import { snippet } from './snippet.ts'

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
  /** The message it replies to: it is shown in a thread. */
  parentId: string | undefined
}

export interface SearchHistoryOptions extends AbortOptions {
  /** Only this room's messages (its id). */
  roomId?: string
  /** Only the DM conversation with this wallet. */
  dm?: string
  /** At most this many results, newest first (default `DEFAULT_SEARCH_LIMIT`). */
  limit?: number
  /** Bound of the index (default `MAX_SEARCH_MESSAGES`). */
  maxMessages?: number
  log?: Logger
}

/** A message with a text now, where it is (`room:<id>` / `dm:<address>`). */
export interface MessageText {
  conversation: string
  id: string
  version: string
  sentAtMs: number
  text: string
}

/**
 * The message states of one conversation as saved, without the messages past their disappearing time; undefined
 * when none or unreadable (logged).
 */
export async function readConversationStates(
  vault: Vault,
  conversation: string,
  options: { log?: Logger } = {},
): Promise<MessageStates | undefined> {
  const rest = conversation.slice(conversation.indexOf(':') + 1)
  try {
    // A room's as its room loads them (`room-store.ts`); a DM's as `dm/message-log.ts` keeps them.
    const saved = conversation.startsWith('room:')
      ? await loadMessageStates(vault, rest)
      : await vault.getJson(`${DM_MESSAGES_PREFIX}${rest}`, savedMessageStatesSchema)
    if (saved === undefined) return undefined
    const states = new MessageStates({ saved })
    // What a running client's room or DM would have dropped at its time (no client may have run since): neither
    // indexed nor shown. The vault's entry keeps it until a client drops it and saves.
    states.expire(Date.now())
    return states
  } catch (err) {
    options.log?.warn('a conversation’s messages could not be read; search skips them', {
      conversation,
      error: String(err),
    })
    return undefined
  }
}

/**
 * Every message of the vault's rooms and DMs that has a text now: reads and decrypts every message state, but those
 * of the conversations `skip` names (their states are in memory already).
 */
export async function readMessageTexts(
  vault: Vault,
  options: { log?: Logger; skip?: (conversation: string) => boolean } & AbortOptions = {},
): Promise<MessageText[]> {
  const conversations = [
    ...(await vault.list(ROOM_ENTRY_PREFIXES.messages)).map(
      (entry) => `room:${entry.slice(ROOM_ENTRY_PREFIXES.messages.length)}`,
    ),
    ...(await vault.list(DM_MESSAGES_PREFIX)).map(
      (entry) => `dm:${checksumAddress(entry.slice(DM_MESSAGES_PREFIX.length))}`,
    ),
  ]
  const texts: MessageText[] = []
  for (const conversation of conversations) {
    options.signal?.throwIfAborted()
    if (options.skip?.(conversation) === true) continue
    const states = await readConversationStates(vault, conversation, options)
    for (const latest of states?.latestTexts() ?? []) texts.push({ conversation, ...latest })
  }
  return texts
}

/**
 * The results of `hits`, with each message's text now from its conversation's states (`statesOf`, asked once per
 * conversation); a message those no longer have a text for (deleted meanwhile) is left out.
 */
export async function resolveResults(
  vault: Vault,
  hits: IndexedMessage[],
  query: string,
  statesOf: (conversation: string) => Promise<MessageStates | undefined>,
  options: { roomName?: (roomId: string) => string | undefined; log?: Logger } = {},
): Promise<SearchResult[]> {
  const states = new Map<string, MessageStates | undefined>()
  for (const { conversation } of hits) {
    if (!states.has(conversation)) states.set(conversation, await statesOf(conversation))
  }
  let roomName = options.roomName
  if (roomName === undefined && hits.some((hit) => hit.conversation.startsWith('room:'))) {
    const names = new Map((await loadSavedRooms(vault, options.log)).map((room) => [room.roomId, room.name]))
    roomName = (roomId) => names.get(roomId)
  }
  return hits.flatMap(({ conversation: key, id }): SearchResult[] => {
    const state = states.get(key)?.get(id)
    if (state === undefined || state.deleted || state.text === undefined) return []
    const rest = key.slice(key.indexOf(':') + 1)
    const conversation: SearchConversation = key.startsWith('room:')
      ? { type: 'room', roomId: rest, name: roomName?.(rest) }
      : { type: 'dm', address: rest as Address }
    return [
      {
        conversation,
        id,
        sender: state.sender,
        sentAtMs: state.sentAtMs,
        text: state.text,
        snippet: snippet(state.text, query),
        edited: state.edited,
        parentId: state.parentId,
      },
    ]
  })
}
