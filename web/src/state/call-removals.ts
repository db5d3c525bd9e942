import type { RoomMemberRemoved } from '@securechat/sdk/types'

/**
 * Which call devices' wallets are the one a room removed (`member:removed`), as a test on an address: addresses
 * compare in any letter case — the event's checksummed form, a call signal's lower-case one.
 */
export function removedWallet(removed: RoomMemberRemoved): (address: string) => boolean {
  const lower = removed.address.toLowerCase()
  return (address) => address.toLowerCase() === lower
}
