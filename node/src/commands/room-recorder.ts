/**
 * What `anchor` and `export` keep of a room while they listen: each message as the room delivered it — its
 * record bytes, sender and id, which are what its audit leaf and the transcript need — whether this device
 * could read it (`message:received`) or not (`message:undecryptable`), and the records of reactions, edits and
 * deletes (`change:received`, kept without a text: what they say is in `listen`'s output).
 */
import type { Room } from '@securechat/sdk/rooms'
import type { RoomChangeRecord, RoomMessage, UndecryptableMessage } from '@securechat/sdk/types'
import { listenFor } from '../audit/cli-support.ts'
import { MAX_RECORDED_MESSAGES } from '../audit/constants.ts'

/** A message as recorded: what a transcript keeps of it, and what its audit leaf needs (`leafOfMessage`). */
export type RecordedMessage = Pick<
  RoomMessage,
  'roomId' | 'id' | 'sender' | 'senderPeerId' | 'sentAtMs' | 'record' | 'ciphertextHash' | 'receivedAtMs'
> & {
  text?: string
  /** The file it shared, when its record commits to one: its SHA-256 and salt (the exporter discloses them). */
  file?: { sha256: string; salt: string }
}

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
  const keep = (message: RecordedMessage): void => {
    if (messages.length >= MAX_RECORDED_MESSAGES) {
      dropped += 1
      return
    }
    messages.push(message)
    onMessage?.(message)
  }
  const take = (event: CustomEvent<RoomMessage | UndecryptableMessage>): void => {
    const m = event.detail
    keep({
      roomId: m.roomId,
      id: m.id,
      sender: m.sender,
      senderPeerId: m.senderPeerId,
      sentAtMs: m.sentAtMs,
      record: m.record,
      ciphertextHash: m.ciphertextHash,
      // An undecryptable message has no text, and arrived now.
      ...('text' in m ? { text: m.text, receivedAtMs: m.receivedAtMs } : { receivedAtMs: Date.now() }),
      ...('file' in m && m.file?.salt !== undefined ? { file: { sha256: m.file.sha256, salt: m.file.salt } } : {}),
    })
  }
  const takeChange = ({ detail }: CustomEvent<RoomChangeRecord>): void => {
    const { change } = detail
    keep({
      roomId: detail.roomId,
      id: change.id,
      sender: change.sender,
      senderPeerId: change.senderPeerId,
      sentAtMs: change.sentAtMs,
      record: detail.record,
      ciphertextHash: detail.ciphertextHash,
      receivedAtMs: detail.receivedAtMs,
    })
  }
  room.addEventListener('message:received', take)
  room.addEventListener('message:undecryptable', take)
  room.addEventListener('change:received', takeChange)
  return {
    messages,
    get dropped() {
      return dropped
    },
    stop() {
      room.removeEventListener('message:received', take)
      room.removeEventListener('message:undecryptable', take)
      room.removeEventListener('change:received', takeChange)
    },
  }
}

/**
 * Records `room` for `durationMs`, or until Ctrl-C when absent, saying on stderr what it listens to
 * (`label`), what Ctrl-C then does (`onInterrupt`) and how many messages it could not keep.
 */
export async function recordWhileListening(
  room: Room,
  params: {
    label: string
    durationMs: number | undefined
    onInterrupt: string
    onMessage?: (message: RecordedMessage) => void
  },
): Promise<RecordedMessage[]> {
  const recording = recordRoom(room, params.onMessage)
  const until = params.durationMs === undefined ? `; Ctrl-C ${params.onInterrupt}` : ` for ${params.durationMs} ms`
  process.stderr.write(`listening on room ${params.label}${until}\n`)
  await listenFor(params.durationMs)
  recording.stop()
  if (recording.dropped > 0) {
    process.stderr.write(
      `warning: ${recording.dropped} message(s) beyond the first ${recording.messages.length} not kept\n`,
    )
  }
  // A message its sender deleted meanwhile keeps its record (what the audit leaf commits to), not its text or file.
  return recording.messages.map((message) => {
    if (message.text === undefined || room.message(message.id)?.deleted !== true) return message
    const { text: _deleted, file: _alsoDeleted, ...rest } = message
    return rest
  })
}
