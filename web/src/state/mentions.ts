import { mentionsAddress } from '@securechat/sdk/mentions'
import type { MessageState } from '@securechat/sdk/types'
import type { Conversations, ConversationView } from './conversations.ts'
import type { ChatEntry } from './history-store.ts'

/**
 * Mentions of this wallet, read from the histories the app keeps: a message mentions a wallet when the sdk says so
 * (`mentions` of a received message: listed in its envelope and shown in its text as `@0x…`), kept on its history
 * entry and replaced by an edit's. Nothing more is stored: the Mentions view and the list's marker are derived.
 */

/** The Mentions view lists at most this many, newest first. */
export const MAX_MENTIONS_LISTED = 200

/** One message that mentions this wallet, for the Mentions view. */
export interface MentionItem {
  conversation: ConversationView
  entry: ChatEntry
}

/** The history fields of a message's mentions: none when it mentions nobody (most messages). */
export function mentionFields(mentions: readonly string[] | undefined): Pick<ChatEntry, 'mentions'> {
  return mentions === undefined || mentions.length === 0 ? {} : { mentions: [...mentions] }
}

/** An edit or delete changed `entry`: its mentions become the message's new ones (a delete's: none). */
export function updateMentions(entry: ChatEntry, state: MessageState): void {
  if (state.deleted || state.mentions.length === 0) delete entry.mentions
  else entry.mentions = [...state.mentions]
}

/** Whether `entry` is someone else's message, still there, that mentions `me`. */
export function mentionsMe(entry: ChatEntry, me: string): boolean {
  return !entry.mine && entry.state === 'ok' && entry.deleted !== true && mentionsAddress(entry.mentions, me)
}

/** A message's text cut to `chars` at most (an ellipsis its last), as the Mentions view and a notification show it. */
export function excerpt(text: string, chars: number): string {
  return text.length > chars ? `${text.slice(0, chars - 1)}…` : text
}

/** Every message that mentions `me`, across rooms and DMs, newest first. */
export function myMentions(conversations: Conversations, me: string): MentionItem[] {
  const items = conversations.list.flatMap((conversation) =>
    conversations
      .history(conversation.id)
      .filter((entry) => mentionsMe(entry, me))
      .map((entry) => ({ conversation, entry })),
  )
  items.sort((a, b) => b.entry.receivedAtMs - a.entry.receivedAtMs)
  return items.slice(0, MAX_MENTIONS_LISTED)
}

/** How many messages of conversation `view` mention `me` and came after it was last read. */
export function unreadMentions(conversations: Conversations, view: ConversationView, me: string): number {
  if (view.unread === 0) return 0
  return conversations.history(view.id).filter((entry) => entry.receivedAtMs > view.lastReadMs && mentionsMe(entry, me))
    .length
}

/**
 * Whom the composer's `@` offers in `view`: a DM's other wallet; a room's members here now and those who wrote in
 * it, the latest writers first (a member away now is still mentioned), never `me`.
 */
export function mentionCandidates(view: ConversationView, history: readonly ChatEntry[], me: string): string[] {
  if (view.kind === 'dm') return [view.id]
  const seen = new Map<string, string>()
  const add = (address: string): void => {
    const key = address.toLowerCase()
    if (key !== me.toLowerCase() && !seen.has(key)) seen.set(key, address)
  }
  for (const member of view.members) add(member.address)
  for (let i = history.length - 1; i >= 0; i--) add(history[i]!.sender)
  return [...seen.values()]
}
