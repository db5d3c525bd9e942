import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { sleep } from './async.ts'

describe('sleep', () => {
  beforeEach(() => {
    vi.useFakeTimers()
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('behavior: resolves once the time has passed, not before, and leaves no listener on the signal', async () => {
    const controller = new AbortController()
    const removed = vi.spyOn(controller.signal, 'removeEventListener')
    let done = false
    const waiting = sleep(1_000, controller.signal).then(() => {
      done = true
    })
    await vi.advanceTimersByTimeAsync(999)
    expect(done).toBe(false)
    await vi.advanceTimersByTimeAsync(1)
    await waiting
    expect(done).toBe(true)
    expect(removed).toHaveBeenCalledWith('abort', expect.any(Function))
    expect(vi.getTimerCount()).toBe(0)
  })

  it('behavior: an abort rejects at once with the signal reason and clears the timer', async () => {
    const controller = new AbortController()
    const waiting = sleep(60_000, controller.signal)
    const reason = new Error('stopped')
    controller.abort(reason)
    await expect(waiting).rejects.toBe(reason)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('behavior: a signal aborted before the call rejects without starting a timer', async () => {
    await expect(sleep(10, AbortSignal.abort('gone'))).rejects.toBe('gone')
    expect(vi.getTimerCount()).toBe(0)
  })
})
