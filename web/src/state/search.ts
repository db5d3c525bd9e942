import type { SearchIndexerStats, SearchResult } from '@securechat/sdk/search'
import { getAddress } from 'ethers'
import type { Conversations } from './conversations.ts'
import type { ChatEntry } from './history-store.ts'
import type { Session } from './session.ts'

/** Results a search shows at most, newest first. */
export const SEARCH_RESULTS = 30

/** A message a search found, with the conversation of the app it is in. */
export interface FoundMessage {
  /** The app's id of the conversation: a room's id, or the other wallet's address of a DM. */
  conversation: string
  kind: 'room' | 'dm'
  name: string
  result: SearchResult
}

/**
 * Searches this device's history, rooms and DMs, with the sdk's index (`client.search`: encrypted in the vault,
 * up to date as messages come). Undefined while there is no index to ask (the client has not started yet).
 */
export async function findMessages(
  session: Session,
  conversations: Conversations,
  query: string,
): Promise<FoundMessage[] | undefined> {
  const search = session.client?.search
  if (search === undefined) return undefined
  const results = await search.search(query, {
    limit: SEARCH_RESULTS,
    roomName: (roomId) => conversations.get(roomId)?.name,
  })
  return results.map((result) => {
    const { conversation } = result
    const id = conversation.type === 'room' ? conversation.roomId : getAddress(conversation.address)
    const name = conversations.get(id)?.name ?? (conversation.type === 'room' ? (conversation.name ?? id) : id)
    return { conversation: id, kind: conversation.type, name, result }
  })
}

/**
 * What the index did since the app started (shown in the search panel; the browser tests read it); undefined until
 * it is open (it opens in the background once the client has started).
 */
export function searchIndexStats(session: Session): (SearchIndexerStats & { size: number }) | undefined {
  const search = session.client?.search
  return search?.opened !== true ? undefined : { ...search.stats, size: search.size }
}

/** A found message as the conversation's history shows it, for one the history no longer holds. */
export function foundEntry(found: FoundMessage, self: string | undefined): ChatEntry {
  const { result } = found
  return {
    id: result.id,
    sender: result.sender,
    text: result.text,
    sentAtMs: result.sentAtMs,
    receivedAtMs: result.sentAtMs,
    mine: self !== undefined && result.sender.toLowerCase() === self.toLowerCase(),
    state: 'ok',
    ...(result.parentId === undefined ? {} : { parentId: result.parentId }),
    ...(result.edited ? { edited: true } : {}),
  }
}
