import type { RoomModerationChange, RoomModerationEvent } from '@securechat/sdk/types'
import { describe, expect, it } from 'vitest'
import { removedBy } from './call-removals.ts'

const CAROL = '0x90F79bf6EB2c4f870365E785982E1f101E93b906'
const BOB = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC'

function applied(action: RoomModerationEvent['action'], target = CAROL): RoomModerationChange {
  return {
    status: 'applied',
    hash: 'ab'.repeat(32),
    event: { room: 'cd'.repeat(32), prev: '', action, target, author: BOB, atMs: 1 } as RoomModerationEvent,
  }
}

const lockedOut = (address: string) => address.toLowerCase() === BOB.toLowerCase()

describe('which moderation events make a call start new keys', () => {
  it('behavior: a ban or a kick removes its target (in any letter case), a lock whoever it leaves out', () => {
    for (const action of ['ban', 'kick'] as const) {
      const gone = removedBy(applied(action), lockedOut)!
      expect(gone(CAROL.toLowerCase())).toBe(true)
      expect(gone(CAROL)).toBe(true)
      expect(gone(BOB)).toBe(false)
    }
    const lock = removedBy(applied('lock', BOB), lockedOut)!
    expect(lock(BOB)).toBe(true)
    expect(lock(CAROL)).toBe(false)
  })

  it('behavior: an event that removes nobody, or one the log did not apply, changes no key', () => {
    for (const action of [
      'mute',
      'unmute',
      'unban',
      'unlock',
      'mod-add',
      'mod-remove',
      'owner-transfer',
      'remove',
      'gate',
    ] as const) {
      expect(removedBy(applied(action), lockedOut)).toBeUndefined()
    }
    const ban = applied('ban') as Extract<RoomModerationChange, { status: 'applied' }>
    expect(removedBy({ ...ban, status: 'void', reason: 'ranked above the author' }, lockedOut)).toBeUndefined()
  })
})
