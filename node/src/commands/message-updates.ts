/**
 * How `listen`, `history` and `chat` print what a reply, reaction, edit or delete changed (`message:updated`), and
 * one that was refused (`change:refused`), in rooms and DMs alike.
 */
import type { DmMessageUpdate, MessageState, RefusedChange, RoomMessageUpdate } from '@securechat/sdk/types'
import { isoTime, mentionNote, mentionsToJson, printable, shortAddress } from './cli-format.ts'

/** One line per change, as `listen --json` (and `history --json`) prints it; `self`: this wallet, for `mentionsMe`. */
export function updateToJson(update: RoomMessageUpdate | DmMessageUpdate, self: string): Record<string, unknown> {
  const { change, message } = update
  const where = 'roomId' in update ? { roomId: update.roomId } : { conversation: update.conversation }
  const type = change.kind === 'react' ? (change.remove ? 'unreact' : 'react') : change.kind
  return {
    type,
    ...where,
    id: change.id,
    target: change.target,
    sender: change.sender,
    senderPeerId: change.senderPeerId,
    ...(change.kind === 'react' ? { emoji: change.emoji } : {}),
    // An edit's mentions replace the message's: they are the message's now.
    ...(change.kind === 'edit' ? { text: change.body, ...mentionsToJson(message.mentions, self) } : {}),
    sentAt: isoTime(change.sentAtMs),
    message: stateToJson(message),
  }
}

/** The target message as it stands after the change: what a program shows for it. */
function stateToJson(message: MessageState): Record<string, unknown> {
  return {
    id: message.id,
    sender: message.sender,
    ...(message.text === undefined ? {} : { text: message.text }),
    mentions: message.mentions,
    edited: message.edited,
    versions: message.versions.length,
    deleted: message.deleted,
    ...(message.removedBy === undefined ? {} : { removedBy: message.removedBy }),
    reactions: message.reactions,
    thread: {
      count: message.thread.count,
      ...(message.thread.last === undefined ? {} : { last: message.thread.last.id }),
    },
  }
}

export function formatUpdate(update: RoomMessageUpdate | DmMessageUpdate, json: boolean, self: string): string {
  if (json) return JSON.stringify(updateToJson(update, self))
  const { change, message } = update
  const who = shortAddress(change.sender)
  const target = `${change.target.slice(0, 12)}…`
  switch (change.kind) {
    case 'react': {
      const counts = message.reactions.map((r) => `${printable(r.emoji)} ${r.count}`).join(', ') || 'none'
      return `* ${who} ${change.remove ? 'took back' : 'reacted'} ${printable(change.emoji)} ${change.remove ? 'from' : 'to'} ${target} (reactions: ${counts})`
    }
    case 'edit':
      return `* ${who} edited ${target} (version ${message.versions.length}): ${printable(change.body)}${mentionNote(message.mentions, self)}`
    case 'delete':
      return message.removedBy === undefined
        ? `* ${who} deleted ${target}`
        : `* ${target} was removed by a moderator (${who})`
    case 'reply':
      return `* thread of ${target}: ${message.thread.count} repl${message.thread.count === 1 ? 'y' : 'ies'}`
  }
}

export function formatRefused(refused: RefusedChange, json: boolean): string {
  const { change, reason } = refused
  return json
    ? JSON.stringify({
        type: 'refused',
        kind: change.kind,
        id: change.id,
        target: change.target,
        sender: change.sender,
        reason,
      })
    : `! a ${change.kind} from ${change.sender} was refused: ${reason}`
}
