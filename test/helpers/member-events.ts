/** Waiting on what rooms and their members do, by their events: shared by the tests that run members in rooms. */
import type { Room } from '@securechat/sdk/rooms'
import type { RoomMember, RoomMemberRemoved, RoomMessage } from '@securechat/sdk/types'

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

/** A `member:removed` as a room told it, and whether the room still listed another device of that wallet then. */
export interface ToldRemoved extends RoomMemberRemoved {
  stillListed: boolean
}

/**
 * Every `member:removed` `room` (of this device, `selfPeerId`) tells from now on, with whether it still listed another
 * device of the wallet at that moment: it must have dropped them all (and rotated its key without them) first.
 */
export function removalsTold(room: Room, selfPeerId: string): ToldRemoved[] {
  const told: ToldRemoved[] = []
  room.addEventListener('member:removed', ({ detail }) => {
    // `members()` lists this device itself, which a removal of its own wallet does not take away.
    const same = (member: RoomMember) =>
      member.peerId !== selfPeerId && member.address.toLowerCase() === detail.address.toLowerCase()
    told.push({ ...detail, stillListed: room.members().some(same) || room.away().some(same) })
  })
  return told
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
