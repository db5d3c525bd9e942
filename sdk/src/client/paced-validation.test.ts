import { describe, expect, it } from 'vitest'
import { EventLoopPacer } from './paced-validation.ts'

/** Work that holds the thread for `ms`, as validating or encrypting a record does. */
function busy(ms: number): void {
  const until = performance.now() + ms
  while (performance.now() < until) {}
}

describe('EventLoopPacer', () => {
  it('behavior: a loop that takes its turns lets the event loop run between slices', async () => {
    const pacer = new EventLoopPacer(5)
    let timerRanAt: number | undefined
    setTimeout(() => {
      timerRanAt = done
    }, 0)
    let done = 0
    for (; done < 100; done++) {
      await pacer.turn()
      busy(1)
    }
    // Without turns the timer waits for the whole loop (100 steps); with them it runs within the first slices.
    expect(timerRanAt).toBeDefined()
    expect(timerRanAt).toBeLessThan(50)
  })

  it('behavior: callers past the slice go on in the order they came', async () => {
    const pacer = new EventLoopPacer(1)
    const order: number[] = []
    await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        await pacer.turn()
        busy(0.2)
        order.push(i)
      }),
    )
    expect(order).toEqual(Array.from({ length: 50 }, (_, i) => i))
    expect(pacer.waiting).toBe(0)
  })
})
