import type { RoomMemberRemoved } from '@securechat/sdk/types'
import { describe, expect, it } from 'vitest'
import { removedWallet } from './call-removals.ts'

const CAROL = '0x90F79bf6EB2c4f870365E785982E1f101E93b906'
const BOB = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC'

describe("which call devices a room's removal drops", () => {
  it('behavior: the removed wallet, in any letter case, for every reason; nobody else', () => {
    for (const reason of ['ban', 'kick', 'lock', 'gate'] as const) {
      const removed: RoomMemberRemoved = { address: CAROL, reason }
      const gone = removedWallet(removed)
      expect(gone(CAROL)).toBe(true)
      expect(gone(CAROL.toLowerCase())).toBe(true)
      expect(gone(BOB)).toBe(false)
    }
  })
})
