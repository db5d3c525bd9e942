/** Waiting on what rooms and their members do, by their events: shared by the tests that run members in rooms. */
import type { Room } from '@securechat/sdk/rooms'
import type { RoomMessage } from '@securechat/sdk/types'

/** Resolves when `room` next says `peerId` joined or left (a presence record that crossed the relay). */
export function nextMemberEvent(room: Room, type: 'member:joined' | 'member:left', peerId: string): Promise<void> {
  return new Promise((resolve) => {
    const listener = (event: CustomEvent<{ peerId: string }>): void => {
      if (event.detail.peerId !== peerId) return
      room.removeEventListener(type, listener)
      resolve()
    }
    room.addEventListener(type, listener)
  })
}

/** The next message `room` delivers. */
export function nextMessage(room: Room): Promise<RoomMessage> {
  return new Promise((resolve) =>
    room.addEventListener('message:received', (event) => resolve(event.detail), { once: true }),
  )
}

/** Resolves once `condition()` holds, checked now and on every `type` event of `target`. */
export function when(target: EventTarget, type: string, condition: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (!condition()) return
      target.removeEventListener(type, check)
      resolve()
    }
    target.addEventListener(type, check)
    check()
  })
}

/**
 * The member whose room is `memberRoom` (of peer `memberPeer`) is seen by `room` to join, reads a first message from
 * it, and goes (`close`): from here on it is away, and what `room` sends waits for it in the relays' stores.
 */
export async function readOnceThenAway(
  room: Room,
  member: { peerId: string; join: () => Promise<Room>; close: () => Promise<void> },
): Promise<void> {
  const present = (): boolean => room.members().some((m) => m.peerId === member.peerId)
  const joined = when(room, 'member:joined', present)
  const memberRoom = await member.join()
  await joined
  const hello = nextMessage(memberRoom)
  await room.send('hello')
  await hello
  const left = when(room, 'member:left', () => !present())
  await member.close()
  await left
}
