import type { Room } from '@securechat/sdk/rooms'

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
