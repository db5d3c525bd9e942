/** A device that floods a room with one valid record, re-published as new gossip messages (limit tests). */
import type { Libp2p } from '@libp2p/interface'
import { decodeRecord, type Room } from '@securechat/sdk/rooms'

export type Publish = (topic: string, data: Uint8Array) => Promise<unknown>

/**
 * Sends `text` to `room` once and returns the record's bytes as published, with the device's publish function: each
 * `publish(room.topic, record)` is then a new gossip message (gossipsub names a message by its sender and sequence
 * number) carrying the same valid record.
 */
export async function floodTemplate(
  room: Room,
  libp2p: Libp2p,
  text: string,
): Promise<{ record: Uint8Array; publish: Publish }> {
  const pubsub = libp2p.services.pubsub as Libp2p['services']['pubsub'] & { publish: Publish }
  const publish = pubsub.publish.bind(pubsub)
  let record: Uint8Array | undefined
  pubsub.publish = async (topic: string, data: Uint8Array) => {
    // The message itself, not the sender key a first message is preceded by.
    if (topic === room.topic && record === undefined) {
      const decoded = decodeRecord(data)
      if (decoded.status === 'ok' && decoded.record.type === 'message') record = data
    }
    return publish(topic, data)
  }
  try {
    await room.send(text)
  } finally {
    pubsub.publish = publish
  }
  if (record === undefined) throw new Error('the device published no message record')
  return { record, publish }
}
