import { describe, expect, it } from 'vitest'
import { evictOldest, setNewest } from './bounded-map.ts'

describe('bounded maps', () => {
  it('behavior: evictOldest drops entries in insertion order down to the bound', () => {
    const map = new Map([
      ['a', 1],
      ['b', 2],
      ['c', 3],
    ])
    evictOldest(map, 1)
    expect([...map.keys()]).toEqual(['c'])
    evictOldest(map, 0)
    expect(map.size).toBe(0)
  })

  it('behavior: setNewest moves a present key to the end, so the entry set longest ago goes first', () => {
    const map = new Map<string, number>()
    setNewest(map, 'a', 1, 2)
    setNewest(map, 'b', 2, 2)
    setNewest(map, 'a', 3, 2)
    setNewest(map, 'c', 4, 2)
    expect([...map.entries()]).toEqual([
      ['a', 3],
      ['c', 4],
    ])
  })
})
