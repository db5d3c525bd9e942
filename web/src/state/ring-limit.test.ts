import { describe, expect, it } from 'vitest'
import { RING_BURST, RING_PER_CALLER_MS, RingLimit } from './ring-limit.ts'

const call = (n: number): string => n.toString(16).padStart(32, '0')
const ALICE = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'

describe('ring limit', () => {
  it('behavior: a call rings once, on its first here', () => {
    const rings = new RingLimit()
    expect(rings.admit(call(1), ALICE, 0)).toBe(true)
    expect(rings.admit(call(1), ALICE, 10 * RING_PER_CALLER_MS)).toBe(false)
  })

  it('behavior: a wallet calling again rings again; one making up new call ids rings RING_BURST times, then once per RING_PER_CALLER_MS', () => {
    const rings = new RingLimit()
    // A missed call, then two more tries within a minute: each rings.
    expect([0, 20_000, 40_000].map((atMs, n) => rings.admit(call(n), ALICE, atMs))).toEqual([true, true, true])
    const flood = new RingLimit()
    let rang = 0
    for (let n = 0; n <= 120; n++) if (flood.admit(call(n), ALICE, n * 500)) rang++
    // A new call every half second for 60 s: the burst at once, then one at 20, 40 and 60 s.
    expect(rang).toBe(RING_BURST + 60_000 / RING_PER_CALLER_MS)
    expect(flood.admit(call(1_000), ALICE.toLowerCase(), 60_000)).toBe(false)
    expect(flood.admit(call(1_001), '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC', 60_000)).toBe(true)
  })

  it('behavior: a call this tab is in does not ring when others join it', () => {
    const rings = new RingLimit()
    rings.silence(call(7))
    expect(rings.admit(call(7), ALICE, 0)).toBe(false)
  })

  it('bounds: the ids it remembers are bounded; a forgotten call rings again only if its caller may ring', () => {
    const rings = new RingLimit()
    for (let n = 0; n < 2_000; n++) rings.admit(call(n), `0x${n.toString(16).padStart(40, '0')}`, n)
    expect(rings.admit(call(0), ALICE, 3_000)).toBe(true)
    expect(rings.admit(call(1_999), ALICE, 3_000)).toBe(false)
  })
})
