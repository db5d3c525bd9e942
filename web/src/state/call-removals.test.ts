import { type EligibilityChange, type GateRule, type GateStatus, gateRuleKey } from '@securechat/sdk/gates'
import type { Address, RoomModerationChange, RoomModerationEvent } from '@securechat/sdk/types'
import { describe, expect, it } from 'vitest'
import { removedBy, removedByGate } from './call-removals.ts'

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

const NFT = '0x5FbDB2315678afecb367f032d93F642f64180aa3'
const GATE: GateRule = { type: 'erc721', chainId: 31337, contract: NFT, minBalance: '1' }
const OTHER_GATE: GateRule = { type: 'erc20', chainId: 31337, contract: NFT, minBalance: '1' }

/** The evaluator's event for CAROL's new verdict on `rule`. */
function verdict(status: GateStatus, rule = GATE): EligibilityChange {
  const address: Address = CAROL
  return {
    address,
    rule,
    ruleKey: gateRuleKey(rule),
    result: { status, rule, address, holdings: [], blockNumber: 7, checkedAtMs: 1, stale: false, error: undefined },
  }
}

describe('which token-gate verdicts make a call start new keys', () => {
  it("behavior: a wallet that no longer passes the room's gate is removed (in any letter case), nobody else", () => {
    const gone = removedByGate(verdict('ineligible'), GATE)!
    expect(gone(CAROL)).toBe(true)
    expect(gone(CAROL.toLowerCase())).toBe(true)
    expect(gone(BOB)).toBe(false)
    // The room's rule written with a lower-case contract is the same gate.
    expect(removedByGate(verdict('ineligible'), { ...GATE, contract: NFT.toLowerCase() })).toBeDefined()
  })

  it("behavior: a verdict that admits, one on another room's rule, or any in a room without a gate changes no key", () => {
    expect(removedByGate(verdict('eligible'), GATE)).toBeUndefined()
    expect(removedByGate(verdict('ineligible', OTHER_GATE), GATE)).toBeUndefined()
    expect(removedByGate(verdict('ineligible'), undefined)).toBeUndefined()
  })
})
