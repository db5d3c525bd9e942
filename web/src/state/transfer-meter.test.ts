import { describe, expect, it } from 'vitest'
import { TransferMeter } from './transfer-meter.ts'

describe('a transfer meter', () => {
  it('behavior: speed over the last seconds, time left at that speed, and a new stage starts over', () => {
    let now = 0
    const meter = new TransferMeter(() => now)
    expect(meter.sample(0, 100)).toEqual({ bytes: 0, totalBytes: 100, bytesPerSecond: 0, secondsLeft: undefined })
    now = 1_000
    expect(meter.sample(10, 100)).toMatchObject({ bytesPerSecond: 10, secondsLeft: 9 })
    // Ten seconds later at 2 bytes a second: the old, faster start is out of the window.
    for (let s = 2; s <= 11; s++) {
      now = s * 1_000
      meter.sample(10 + (s - 1) * 2, 100)
    }
    expect(meter.sample(30, 100).bytesPerSecond).toBeCloseTo(2, 5)
    // Relays fetching after encrypting: the count falls back, the speed starts again.
    expect(meter.sample(0, 200)).toMatchObject({ bytes: 0, bytesPerSecond: 0, secondsLeft: undefined })
  })
})
