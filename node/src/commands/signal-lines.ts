/**
 * Typing indicators and read receipts as `listen` prints them (`--json`: one object per line), in rooms and DMs
 * alike; `--no-typing` and `--no-receipts` turn them off both ways (`@securechat/sdk/signals`). And how far one's own
 * room message got, as `chat` prints it.
 */
import type { MessageDelivered, ReadSignal, TypingSignal } from '@securechat/sdk/types'
import { isoTime } from './cli-format.ts'

export function formatTyping(detail: TypingSignal, json: boolean): string {
  if (json) {
    return JSON.stringify({
      type: 'typing',
      conversation: detail.conversation,
      sender: detail.sender,
      senderPeerId: detail.senderPeerId,
      typing: detail.typing,
      sentAt: isoTime(detail.sentAtMs),
    })
  }
  return `… ${detail.sender} ${detail.typing ? 'is typing' : 'stopped typing'}`
}

export function formatRead(detail: ReadSignal, json: boolean): string {
  if (json) {
    return JSON.stringify({
      type: 'read',
      conversation: detail.conversation,
      reader: detail.reader,
      readerPeerId: detail.readerPeerId,
      upTo: detail.upTo,
      own: detail.own,
      sentAt: isoTime(detail.sentAtMs),
    })
  }
  return `✓✓ ${detail.own ? 'read on another device of yours' : `read by ${detail.reader}`} up to ${detail.upTo}`
}

/**
 * Prints the typing and read events of a room or of the DMs, as they come, after the read positions already heard: the
 * command joined (and waited for its relays) before it listened, and a position taken meanwhile is not heard again.
 * Listened and listed in one turn, so none is printed twice or missed.
 */
export function printSignals(
  target: {
    addEventListener(type: 'typing:changed', listener: (event: CustomEvent<TypingSignal>) => void): void
    addEventListener(type: 'read:received', listener: (event: CustomEvent<ReadSignal>) => void): void
    readPositions(): ReadSignal[]
  },
  json: boolean,
  print: (line: string) => void,
): void {
  target.addEventListener('typing:changed', ({ detail }) => print(formatTyping(detail, json)))
  target.addEventListener('read:received', ({ detail }) => print(formatRead(detail, json)))
  for (const read of target.readPositions()) print(formatRead(read, json))
}

/**
 * A member's device acknowledged one's own room message (`message:delivered`): `chat` prints each step. Not a
 * receipt, so `--no-receipts` leaves it (docs/architecture.md, Typing and read receipts).
 */
export function formatRoomDelivered(detail: MessageDelivered): string {
  return `✓ delivered to ${detail.delivered.length} of ${detail.present.length} members present (now ${detail.address}): ${detail.id}`
}
