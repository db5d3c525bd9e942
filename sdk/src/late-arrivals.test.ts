import { describe, expect, it } from 'vitest'
import { MAX_LATE_ARRIVALS } from './constants.ts'
import { LateArrivals } from './late-arrivals.ts'

/** Takes records in the order given, as a room does: each known once it arrived. */
function take(arrivals: LateArrivals, records: Array<[id: string, deps: string[]]>): Map<string, string | undefined> {
  const known = new Set<string>()
  const places = new Map<string, string | undefined>()
  for (const [id, deps] of records) {
    known.add(id)
    arrivals.arrived(id, deps, (dep) => known.has(dep))
    places.set(id, arrivals.placeOf(id))
  }
  return places
}

describe('late arrivals: where a message that came after one naming it belongs', () => {
  it('behavior: a message arriving after the one that names it goes before that one; in order, none is late', () => {
    const inOrder = take(new LateArrivals(), [
      ['1', []],
      ['2', ['1']],
      ['3', ['2']],
    ])
    expect([...inOrder.values()]).toEqual([undefined, undefined, undefined])
    // The failover seen in CI: "1, 3, 2" — 2 reached this device after 3, which names it.
    const late = take(new LateArrivals(), [
      ['1', []],
      ['3', ['2']],
      ['2', ['1']],
    ])
    expect(late.get('2')).toBe('3')
    expect(late.get('3')).toBeUndefined()
  })

  it('behavior: the first message that named it counts, and a place is told once', () => {
    const arrivals = new LateArrivals()
    const places = take(arrivals, [
      ['3', ['2']],
      ['4', ['2', '3']],
      ['2', []],
    ])
    expect(places.get('2')).toBe('3')
    expect(arrivals.placeOf('2')).toBeUndefined()
  })

  it('behavior: a DM names records, a list knows message ids — the place and the deps are message ids', () => {
    const arrivals = new LateArrivals()
    const known = new Set<string>()
    const arrive = (record: string, deps: string[], message: string): void => {
      known.add(record)
      arrivals.arrived(record, deps, (dep) => known.has(dep), message)
    }
    arrive('r1', [], 'm1')
    arrive('r3', ['r2'], 'm3')
    arrive('r2', ['r1'], 'm2')
    expect(arrivals.placeOf('r2')).toBe('m3')
    expect(arrivals.messageIdsOf(['r1', 'r2', 'unknown'])).toEqual(['m1', 'm2'])
    expect(arrivals.messageIdOf('r3')).toBe('m3')
    expect(arrivals.messageIdOf('never-seen')).toBe('never-seen')
  })

  it('security: a flood of names stays bounded, the newest kept', () => {
    const arrivals = new LateArrivals()
    const flood = Array.from({ length: MAX_LATE_ARRIVALS + 10 }, (_, i) => `missing-${i}`)
    arrivals.arrived('naming', flood, () => false)
    arrivals.arrived('missing-0', [], () => false)
    expect(arrivals.placeOf('missing-0')).toBeUndefined()
    arrivals.arrived(`missing-${MAX_LATE_ARRIVALS + 9}`, [], () => false)
    expect(arrivals.placeOf(`missing-${MAX_LATE_ARRIVALS + 9}`)).toBe('naming')
  })
})
