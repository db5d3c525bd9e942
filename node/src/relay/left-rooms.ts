import type { ModerationLog, SignedManifest } from '@securechat/sdk/rooms'
import { RELAY_LEFT_ROOM_EVENTS_KEPT } from '../constants.ts'

/** What a relay's gatekeeper of a room had learnt that no member sends again: the manifest and the moderation log. */
export interface LeftRoom {
  manifest: SignedManifest | undefined
  moderation: Pick<ModerationLog, 'entries'>
}

/**
 * The rooms a relay left while idle, kept for when it joins them again: without them it forwarded and stored a muted
 * or banned member's records as anyone's. Only rooms with a moderation log are kept, and at most `maxEvents` events
 * in all: the room left longest ago goes first, whoever made the rooms and however long their logs.
 */
export class LeftRooms<T extends LeftRoom = LeftRoom> {
  readonly #rooms = new Map<string, T>()
  readonly #maxEvents: number
  #events = 0

  constructor(maxEvents = RELAY_LEFT_ROOM_EVENTS_KEPT) {
    this.#maxEvents = maxEvents
  }

  /** Keeps what `topic`'s room had learnt, as the newest; nothing for a room nobody moderated. */
  remember(topic: string, room: T): void {
    const events = room.moderation.entries().length
    this.take(topic)
    if (events === 0 || events > this.#maxEvents) return
    this.#rooms.set(topic, room)
    this.#events += events
    for (const oldest of this.#rooms.keys()) {
      if (this.#events <= this.#maxEvents) break
      this.take(oldest)
    }
  }

  /** What was kept of `topic`, taken out. */
  take(topic: string): T | undefined {
    const room = this.#rooms.get(topic)
    if (room === undefined) return undefined
    this.#rooms.delete(topic)
    this.#events -= room.moderation.entries().length
    return room
  }

  /** Rooms and events kept. */
  get size(): { rooms: number; events: number } {
    return { rooms: this.#rooms.size, events: this.#events }
  }
}
