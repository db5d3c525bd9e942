import { describe, expect, it } from 'vitest'
import { waitForEvent } from './event-stream.ts'

/** Counts listeners of `type` on a target, to check that a wait leaves none behind. */
class CountingTarget extends EventTarget {
  listeners = 0
  override addEventListener(...args: Parameters<EventTarget['addEventListener']>): void {
    this.listeners += 1
    super.addEventListener(...args)
  }
  override removeEventListener(...args: Parameters<EventTarget['removeEventListener']>): void {
    this.listeners -= 1
    super.removeEventListener(...args)
  }
}

describe('waitForEvent', () => {
  it('behavior: resolves true on the first event that passes the test, and removes its listener', async () => {
    const target = new CountingTarget()
    const seen: number[] = []
    const wait = waitForEvent<CustomEvent<number>>(target, 'tick', {
      test: (event) => {
        seen.push(event.detail)
        return event.detail === 2
      },
    })
    target.dispatchEvent(new CustomEvent('tick', { detail: 1 }))
    target.dispatchEvent(new CustomEvent('tock', { detail: 9 }))
    target.dispatchEvent(new CustomEvent('tick', { detail: 2 }))
    await expect(wait).resolves.toBe(true)
    target.dispatchEvent(new CustomEvent('tick', { detail: 3 }))
    expect(seen).toEqual([1, 2])
    expect(target.listeners).toBe(0)
  })

  it('behavior: resolves false once the timeout passes without the event', async () => {
    const target = new CountingTarget()
    await expect(waitForEvent(target, 'tick', { timeoutMs: 1 })).resolves.toBe(false)
    expect(target.listeners).toBe(0)
  })

  it("error: an abort rejects with the signal's reason, before or during the wait", async () => {
    const target = new CountingTarget()
    const reason = new Error('stop waiting')
    await expect(waitForEvent(target, 'tick', { signal: AbortSignal.abort(reason) })).rejects.toBe(reason)
    const controller = new AbortController()
    const wait = waitForEvent(target, 'tick', { signal: controller.signal, timeoutMs: 60_000 })
    controller.abort(reason)
    await expect(wait).rejects.toBe(reason)
    expect(target.listeners).toBe(0)
  })
})
