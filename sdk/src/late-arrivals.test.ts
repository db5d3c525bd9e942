import { describe, expect, it } from 'vitest'
import { MAX_LATE_ARRIVALS } from './constants.ts'
import { LateArrivals } from './late-arrivals.ts'

/** Hands records over in the order given, as a room does; returns where each goes. */
function deliver(records: Array<[id: string, deps: string[]]>): Map<string, string | undefined> {
  const arrivals = new LateArrivals()
  return new Map(records.map(([id, deps]) => [id, arrivals.delivered(id, deps)]))
}

describe('late arrivals: where a message handed over after one naming it belongs', () => {
  it('behavior: a message delivered after the one that names it goes before that one; in order, none is late', () => {
    const inOrder = deliver([
      ['1', []],
      ['2', ['1']],
      ['3', ['2']],
    ])
    expect([...inOrder.values()]).toEqual([undefined, undefined, undefined])
    // The failover seen in CI: "1, 3, 2" — 2 was handed to the page after 3, which names it.
    const late = deliver([
      ['1', []],
      ['3', ['2']],
      ['2', ['1']],
    ])
    expect(late.get('2')).toBe('3')
    expect(late.get('3')).toBeUndefined()
  })

  it('behavior: the first message that named it counts, and a place is told once', () => {
    const arrivals = new LateArrivals()
    arrivals.delivered('3', ['2'])
    arrivals.delivered('4', ['2', '3'])
    expect(arrivals.delivered('2', [])).toBe('3')
    expect(arrivals.delivered('2', [])).toBeUndefined()
  })

  it('behavior: a DM names records, a list knows message ids — the place and the deps are message ids', () => {
    const arrivals = new LateArrivals()
    arrivals.delivered('r1', [], 'm1')
    arrivals.delivered('r3', ['r2'], 'm3')
    expect(arrivals.delivered('r2', ['r1'], 'm2')).toBe('m3')
    expect(arrivals.messageIdsOf(['r1', 'r2', 'unknown'])).toEqual(['m1', 'm2'])
    expect(arrivals.messageIdOf('r3')).toBe('m3')
    expect(arrivals.messageIdOf('never-seen')).toBe('never-seen')
  })

  it("behavior: a device's message that comes after a later one of its own goes before it, even when nothing named it", () => {
    const arrivals = new LateArrivals()
    const dave = (clock: number, sentAtMs = clock) => ({ sender: 'dave', clock, sentAtMs })
    // 2 names no 1 (its three names were taken by others'): the device's own order places 1.
    expect(arrivals.delivered('2', ['x', 'y', 'z'], '2', dave(11))).toBeUndefined()
    expect(arrivals.delivered('1', [], '1', dave(10))).toBe('2')
    expect(arrivals.delivered('3', ['2'], '3', dave(12))).toBeUndefined()
    // Another device's order says nothing of dave's.
    expect(arrivals.delivered('e', [], 'e', { sender: 'erin', clock: 1, sentAtMs: 1 })).toBeUndefined()
    // Dave's device lost its state: its clock starts again, its send time goes on — not raised above its old ones.
    expect(arrivals.delivered('4', [], '4', dave(1, 100))).toBeUndefined()
  })

  it('security: a flood of names stays bounded, the newest kept', () => {
    const arrivals = new LateArrivals()
    const flood = Array.from({ length: MAX_LATE_ARRIVALS + 10 }, (_, i) => `missing-${i}`)
    arrivals.delivered('naming', flood)
    expect(arrivals.delivered('missing-0', [])).toBeUndefined()
    expect(arrivals.delivered(`missing-${MAX_LATE_ARRIVALS + 9}`, [])).toBe('naming')
  })
})
