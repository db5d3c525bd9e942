import type { RoomModerationChange } from '@securechat/sdk/types'

/**
 * Which wallets a moderation event removes from the room, as a test on an address (`isLockedOut`: the room's lock, for
 * a `lock`); `undefined` for an event that removes nobody (a mute, a role, a removed message, an unlock, a void one).
 */
export function removedBy(
  change: RoomModerationChange,
  isLockedOut: (address: string) => boolean,
): ((address: string) => boolean) | undefined {
  if (change.status !== 'applied') return undefined
  const { action, target } = change.event
  if (action === 'lock') return isLockedOut
  if (action !== 'ban' && action !== 'kick') return undefined
  const removed = target.toLowerCase()
  return (address) => address.toLowerCase() === removed
}
