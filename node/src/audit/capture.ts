/**
 * What a member command keeps of a room while it listens: every message's record exactly as published (its
 * bytes are what the message id and the audit leaf commit to), with the sender the room verified.
 *
 * `RoomMessage` does not carry the record bytes, so this taps the room topic's gossip validator, which sees
 * every record first (also those held back until their sender's certificate arrives), and joins the bytes by
 * message id with the room's `message:received` and `message:undecryptable` events. Once rooms hand out the
 * record bytes themselves, this becomes a plain event listener.
 */
import type { GossipSub } from '@libp2p/gossipsub'
import type { TranscriptMessageInput } from '@securechat/sdk/audit'
import { decodeRecord, messageIdOf, type Room } from '@securechat/sdk/rooms'
import { MAX_CAPTURED_MESSAGES } from './constants.ts'

export interface RoomCapture {
  /** Messages received so far, in arrival order, with their records. */
  readonly messages: readonly TranscriptMessageInput[]
  /** Messages delivered whose record the tap missed (should stay 0). */
  readonly missed: number
  stop(): void
}

export function captureRoom(
  room: Room,
  pubsub: GossipSub,
  onMessage?: (message: TranscriptMessageInput) => void,
): RoomCapture {
  const records = new Map<string, Uint8Array>()
  const messages: TranscriptMessageInput[] = []
  const seen = new Set<string>()
  let missed = 0
  const inner = pubsub.topicValidators.get(room.topic)
  const tap: typeof inner =
    inner === undefined
      ? undefined
      : (source, message) => {
          if (records.size < MAX_CAPTURED_MESSAGES) {
            const decoded = decodeRecord(message.data)
            if (decoded.status === 'ok' && decoded.record.type === 'message') {
              records.set(messageIdOf(message.data), message.data)
            }
          }
          return inner(source, message)
        }
  if (tap !== undefined) pubsub.topicValidators.set(room.topic, tap)
  const take = (detail: { id: string; sender: string; senderPeerId: string; text?: string }): void => {
    if (seen.has(detail.id)) return
    const record = records.get(detail.id)
    if (record === undefined) {
      missed += 1
      return
    }
    seen.add(detail.id)
    const message: TranscriptMessageInput = {
      id: detail.id,
      sender: detail.sender,
      senderPeerId: detail.senderPeerId,
      record,
      ...(detail.text === undefined ? {} : { text: detail.text }),
      receivedAtMs: Date.now(),
    }
    messages.push(message)
    onMessage?.(message)
  }
  const onReceived = (event: CustomEvent<{ id: string; sender: string; senderPeerId: string; text: string }>) =>
    take(event.detail)
  const onUndecryptable = (event: CustomEvent<{ id: string; sender: string; senderPeerId: string }>) =>
    take(event.detail)
  room.addEventListener('message:received', onReceived)
  room.addEventListener('message:undecryptable', onUndecryptable)
  return {
    messages,
    get missed() {
      return missed
    },
    stop() {
      room.removeEventListener('message:received', onReceived)
      room.removeEventListener('message:undecryptable', onUndecryptable)
      if (tap !== undefined && pubsub.topicValidators.get(room.topic) === tap) {
        pubsub.topicValidators.set(room.topic, inner!)
      }
    },
  }
}
