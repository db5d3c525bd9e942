import { describe, expect, it } from 'vitest'
import { RateLimiter } from './rate-limit.ts'

function fakeClock(): { now: () => number; advance: (ms: number) => void } {
  let ms = 1_000_000
  return { now: () => ms, advance: (by) => (ms += by) }
}

describe('RateLimiter', () => {
  it('behavior: a burst is allowed, the next request waits for a token', () => {
    const clock = fakeClock()
    const limiter = new RateLimiter({ perSecond: 10, burst: 5, now: clock.now })
    for (let i = 0; i < 5; i++) expect(limiter.take('a')).toEqual({ allowed: true })
    expect(limiter.take('a')).toEqual({ allowed: false, retryAfterSeconds: 1 })
    clock.advance(100)
    expect(limiter.take('a')).toEqual({ allowed: true })
    expect(limiter.take('a').allowed).toBe(false)
  })

  it('behavior: tokens come back at the rate, up to the burst', () => {
    const clock = fakeClock()
    const limiter = new RateLimiter({ perSecond: 2, burst: 3, now: clock.now })
    for (let i = 0; i < 3; i++) limiter.take('a')
    clock.advance(60_000)
    for (let i = 0; i < 3; i++) expect(limiter.take('a').allowed).toBe(true)
    expect(limiter.take('a').allowed).toBe(false)
  })

  it('behavior: Retry-After is how long one token takes, rounded up to whole seconds', () => {
    const clock = fakeClock()
    const limiter = new RateLimiter({ perSecond: 0.25, burst: 1, now: clock.now })
    limiter.take('a')
    expect(limiter.take('a')).toEqual({ allowed: false, retryAfterSeconds: 4 })
  })

  it('behavior: clients have separate buckets', () => {
    const clock = fakeClock()
    const limiter = new RateLimiter({ perSecond: 1, burst: 1, now: clock.now })
    expect(limiter.take('a').allowed).toBe(true)
    expect(limiter.take('a').allowed).toBe(false)
    expect(limiter.take('b').allowed).toBe(true)
  })

  it('behavior: memory stays bounded; idle clients are forgotten before busy ones', () => {
    const clock = fakeClock()
    const limiter = new RateLimiter({ perSecond: 1, burst: 2, maxClients: 10, now: clock.now })
    limiter.take('busy')
    limiter.take('busy')
    for (let i = 0; i < 9; i++) limiter.take(`idle-${i}`)
    clock.advance(1_000)
    // The idle ones are full again; "busy" has one token of two.
    limiter.take('new')
    expect(limiter.size).toBeLessThanOrEqual(10)
    limiter.take('busy')
    expect(limiter.take('busy').allowed).toBe(false)
    for (let i = 0; i < 1_000; i++) limiter.take(`flood-${i}`)
    expect(limiter.size).toBeLessThanOrEqual(10)
  })

  it('behavior: looking at the tokens left takes none', () => {
    const clock = fakeClock()
    const limiter = new RateLimiter({ perSecond: 2, burst: 3, now: clock.now })
    expect(limiter.available('a')).toBe(3)
    limiter.take('a')
    limiter.take('a')
    limiter.take('a')
    for (let i = 0; i < 5; i++) expect(limiter.available('a')).toBe(0)
    expect(limiter.take('a').allowed).toBe(false)
    clock.advance(500)
    expect(limiter.available('a')).toBe(1)
    // At another rate, as take would count it: a faster tier refills sooner and holds more.
    expect(limiter.available('a', { perSecond: 10, burst: 20 })).toBe(5)
    expect(limiter.available('a')).toBe(1)
    expect(limiter.take('a').allowed).toBe(true)
    expect(limiter.available('a')).toBe(0)
  })

  it('error: a rate that is not a positive number', () => {
    expect(() => new RateLimiter({ perSecond: 0 })).toThrow(/perSecond/)
    expect(() => new RateLimiter({ burst: Number.NaN })).toThrow(/burst/)
  })
})
