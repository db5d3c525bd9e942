/**
 * What a member command keeps of a room while it listens: every message's record exactly as published (its
 * bytes are what the message id and the audit leaf commit to), with the sender the room verified — read off
 * the room's `message:received` and `message:undecryptable` events, which carry the record.
 */
import type { TranscriptMessageInput } from '@securechat/sdk/audit'
import type { Room } from '@securechat/sdk/rooms'
import type { RoomMessage, UndecryptableMessage } from '@securechat/sdk/types'
import { MAX_CAPTURED_MESSAGES } from './constants.ts'

export interface RoomCapture {
  /** Messages received so far, in arrival order, with their records. */
  readonly messages: readonly TranscriptMessageInput[]
  /** Messages not kept because {@link MAX_CAPTURED_MESSAGES} were already. */
  readonly dropped: number
  stop(): void
}

export function captureRoom(room: Room, onMessage?: (message: TranscriptMessageInput) => void): RoomCapture {
  const messages: TranscriptMessageInput[] = []
  const seen = new Set<string>()
  let dropped = 0
  const take = (detail: RoomMessage | UndecryptableMessage): void => {
    if (seen.has(detail.id)) return
    if (messages.length >= MAX_CAPTURED_MESSAGES) {
      dropped += 1
      return
    }
    seen.add(detail.id)
    const message: TranscriptMessageInput = {
      id: detail.id,
      sender: detail.sender,
      senderPeerId: detail.senderPeerId,
      record: detail.record,
      ...('text' in detail ? { text: detail.text } : {}),
      receivedAtMs: 'receivedAtMs' in detail ? detail.receivedAtMs : Date.now(),
    }
    messages.push(message)
    onMessage?.(message)
  }
  const onReceived = (event: CustomEvent<RoomMessage>): void => take(event.detail)
  const onUndecryptable = (event: CustomEvent<UndecryptableMessage>): void => take(event.detail)
  room.addEventListener('message:received', onReceived)
  room.addEventListener('message:undecryptable', onUndecryptable)
  return {
    messages,
    get dropped() {
      return dropped
    },
    stop() {
      room.removeEventListener('message:received', onReceived)
      room.removeEventListener('message:undecryptable', onUndecryptable)
    },
  }
}
