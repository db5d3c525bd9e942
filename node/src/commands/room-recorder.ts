/**
 * What `anchor` and `export` keep of a room while they listen: each message as the room delivered it — its
 * record bytes, sender and id, which are what its audit leaf and the transcript need — whether this device
 * could read it (`message:received`) or not (`message:undecryptable`).
 */
import type { Room } from '@securechat/sdk/rooms'
import type { RoomMessage, UndecryptableMessage } from '@securechat/sdk/types'
import { MAX_RECORDED_MESSAGES } from '../audit/constants.ts'

/** A message as recorded: what a transcript keeps of it, and what its audit leaf needs (`leafOfMessage`). */
export type RecordedMessage = Pick<
  RoomMessage,
  'roomId' | 'id' | 'sender' | 'senderPeerId' | 'sentAtMs' | 'record' | 'ciphertextHash' | 'receivedAtMs'
> & { text?: string }

export interface RoomRecording {
  /** Messages received so far, in arrival order. */
  readonly messages: readonly RecordedMessage[]
  /** Messages not kept because {@link MAX_RECORDED_MESSAGES} were already. */
  readonly dropped: number
  stop(): void
}

export function recordRoom(room: Room, onMessage?: (message: RecordedMessage) => void): RoomRecording {
  const messages: RecordedMessage[] = []
  let dropped = 0
  const take = (event: CustomEvent<RoomMessage | UndecryptableMessage>): void => {
    if (messages.length >= MAX_RECORDED_MESSAGES) {
      dropped += 1
      return
    }
    const m = event.detail
    const message: RecordedMessage = {
      roomId: m.roomId,
      id: m.id,
      sender: m.sender,
      senderPeerId: m.senderPeerId,
      sentAtMs: m.sentAtMs,
      record: m.record,
      ciphertextHash: m.ciphertextHash,
      // An undecryptable message has no text, and arrived now.
      ...('text' in m ? { text: m.text, receivedAtMs: m.receivedAtMs } : { receivedAtMs: Date.now() }),
    }
    messages.push(message)
    onMessage?.(message)
  }
  room.addEventListener('message:received', take)
  room.addEventListener('message:undecryptable', take)
  return {
    messages,
    get dropped() {
      return dropped
    },
    stop() {
      room.removeEventListener('message:received', take)
      room.removeEventListener('message:undecryptable', take)
    },
  }
}
