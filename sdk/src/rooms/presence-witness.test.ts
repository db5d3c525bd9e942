import { describe, expect, it } from 'vitest'
import { PresenceWitness } from './presence-witness.ts'

const WINDOW_MS = 45_000

function witness(clock: { nowMs: number }): PresenceWitness {
  return new PresenceWitness({ windowMs: () => WINDOW_MS, now: () => clock.nowMs })
}

describe('PresenceWitness', () => {
  it('behavior: a leave stated after the member’s last presence counts', () => {
    const w = witness({ nowMs: 1_000 })
    w.heard('bob', 1_000, 'relay')
    expect(w.acceptsLeave('bob', 1_500)).toBe(true)
  })

  it('error: a leave replayed after the member announced itself again is refused, and an older one too', () => {
    const w = witness({ nowMs: 1_000 })
    w.heard('bob', 1_000, 'relay')
    expect(w.acceptsLeave('bob', 2_000)).toBe(true)
    w.heard('bob', 3_000, 'relay')
    expect(w.acceptsLeave('bob', 2_000)).toBe(false)
    expect(w.acceptsLeave('bob', 500)).toBe(false)
  })

  it('behavior: the neighbour that carried the member’s presence may report it gone, once', () => {
    const w = witness({ nowMs: 1_000 })
    w.heard('bob', 1_000, 'relay-a')
    expect(w.acceptsDeparture('bob', 'relay-a')).toBe(true)
    expect(w.acceptsDeparture('bob', 'relay-a')).toBe(false)
  })

  it('error: a neighbour that never carried the member’s presence, or not lately, cannot report it gone', () => {
    const clock = { nowMs: 1_000 }
    const w = witness(clock)
    w.heard('bob', 1_000, 'relay-a')
    expect(w.acceptsDeparture('bob', 'relay-b')).toBe(false)
    expect(w.acceptsDeparture('carol', 'relay-a')).toBe(false)
    clock.nowMs += WINDOW_MS + 1
    expect(w.acceptsDeparture('bob', 'relay-a')).toBe(false)
  })

  it('behavior: a member forgotten (gone for good) keeps nothing', () => {
    const w = witness({ nowMs: 1_000 })
    w.heard('bob', 5_000, 'relay-a')
    w.forget('bob')
    expect(w.acceptsDeparture('bob', 'relay-a')).toBe(false)
    expect(w.acceptsLeave('bob', 1_000)).toBe(true)
  })
})
