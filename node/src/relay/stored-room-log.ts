/**
 * What a relay restarted on its data dir takes up from its message store for a room it joins: the room's manifest
 * and its moderation log. No member sends either again — the manifest rides in presence, but the log is sent once,
 * as each event is made — so a relay that forgot the log ignored every later event as one of a broken chain (its
 * `prev` unknown): neither forwarded nor kept, and a muted or banned member's records went through it as anyone's.
 */
import { decodeRecord, type RoomGatekeeper } from '@securechat/sdk/rooms'
import type { AbortOptions } from '@securechat/sdk/types'

/** What the message store kept of a room's topic, as record bytes as they were published. */
export interface StoredRoomLog {
  /** One presence it keeps (any: each carries the room's manifest), if any. */
  presence(topic: string, options?: AbortOptions): Promise<Uint8Array | undefined>
  /** The moderation events it keeps, a page at a time. */
  moderation(topic: string, options?: AbortOptions): AsyncIterable<Uint8Array[]>
}

/**
 * Takes the room's manifest (unless a presence brought it already) and the events of its log up into `gatekeeper`,
 * judged as they would have been live; one page at a time with the event loop let go between (an event's signature
 * costs some milliseconds to recover, and a log may hold thousands). Stops when `joined()` turns false (the relay
 * left the room meanwhile). Resolves with the events the log holds then, or undefined when the store has no
 * manifest of the room.
 */
export async function takeUpStoredLog(
  stored: StoredRoomLog,
  topic: string,
  gatekeeper: RoomGatekeeper,
  joined: () => boolean,
  options: AbortOptions = {},
): Promise<number | undefined> {
  if (gatekeeper.manifest === undefined) {
    const bytes = await stored.presence(topic, options)
    const decoded = bytes === undefined ? undefined : decodeRecord(bytes)
    if (decoded?.status !== 'ok' || decoded.record.type !== 'presence') return undefined
    if (!joined() || !gatekeeper.learnManifest(decoded.record.manifest)) return undefined
  }
  let held = 0
  for await (const page of stored.moderation(topic, options)) {
    if (!joined()) break
    const events = page.map(decodeRecord).flatMap((decoded) => (decoded.status === 'ok' ? [decoded.record] : []))
    held = gatekeeper.takeUpModeration(events.filter((record) => record.type === 'moderation'))
    await new Promise((resolve) => setImmediate(resolve))
  }
  return held
}
