import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ReplayWindow } from './replay-window.ts'

describe('ReplayWindow', () => {
  it('behavior: the first counter is new, whatever it is', () => {
    expect(new ReplayWindow(8).check(0n)).toBe('new')
    expect(new ReplayWindow(8).check(2n ** 64n - 1n)).toBe('new')
  })

  it('behavior: an accepted counter is a duplicate, one ahead is new', () => {
    const window = new ReplayWindow(8)
    window.accept(5n)
    expect(window.check(5n)).toBe('duplicate')
    expect(window.check(6n)).toBe('new')
    expect(window.check(1000n)).toBe('new')
  })

  it('behavior: a late counter inside the window is accepted once', () => {
    const window = new ReplayWindow(8)
    window.accept(10n)
    expect(window.check(3n)).toBe('new')
    window.accept(3n)
    expect(window.check(3n)).toBe('duplicate')
    expect(window.check(4n)).toBe('new')
  })

  it('behavior: a counter the window size or more behind the highest is too old', () => {
    const window = new ReplayWindow(8)
    window.accept(10n)
    expect(window.check(2n)).toBe('too-old')
    expect(window.check(3n)).toBe('new')
  })

  it('behavior: a jump wider than the window forgets the bits behind it', () => {
    const window = new ReplayWindow(8)
    window.accept(1n)
    window.accept(100n)
    expect(window.check(1n)).toBe('too-old')
    expect(window.check(95n)).toBe('new')
    expect(window.check(100n)).toBe('duplicate')
  })

  it('behavior: checking changes nothing', () => {
    const window = new ReplayWindow(8)
    window.check(50n)
    expect(window.check(0n)).toBe('new')
  })

  it('property: answers as a set of every counter accepted would, within the window', () => {
    const size = 16
    fc.assert(
      fc.property(fc.array(fc.bigInt({ min: 0n, max: 64n }), { maxLength: 100 }), (counters) => {
        const window = new ReplayWindow(size)
        const accepted = new Set<bigint>()
        let highest = -1n
        for (const counter of counters) {
          const expected = highest - counter >= size ? 'too-old' : accepted.has(counter) ? 'duplicate' : 'new'
          expect(window.check(counter)).toBe(expected)
          if (expected === 'new') {
            window.accept(counter)
            accepted.add(counter)
            if (counter > highest) highest = counter
          }
        }
      }),
    )
  })
})
