import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { raceSignal, sleep, withTimeout } from './async.ts'

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

describe('raceSignal', () => {
  it('behavior: settles as the promise does and removes its listener', async () => {
    const controller = new AbortController()
    const removed = vi.spyOn(controller.signal, 'removeEventListener')
    await expect(raceSignal(Promise.resolve(7), controller.signal)).resolves.toBe(7)
    await expect(raceSignal(Promise.reject(new Error('no')), controller.signal)).rejects.toThrow('no')
    expect(removed).toHaveBeenCalledTimes(2)
  })

  it('behavior: an abort rejects with the signal reason while the promise is still pending', async () => {
    const controller = new AbortController()
    const waiting = raceSignal(new Promise<never>(() => {}), controller.signal)
    controller.abort('stopped')
    await expect(waiting).rejects.toBe('stopped')
    await expect(raceSignal(Promise.resolve(1), AbortSignal.abort('gone'))).rejects.toBe('gone')
  })
})

describe('withTimeout', () => {
  it('behavior: aborts when the caller does, and on its own after the time', async () => {
    const controller = new AbortController()
    const both = withTimeout(controller.signal, 60_000)
    controller.abort('caller')
    expect(both.aborted).toBe(true)
    expect(both.reason).toBe('caller')
    const alone = withTimeout(undefined, 1)
    await new Promise((resolve) => alone.addEventListener('abort', resolve, { once: true }))
    expect((alone.reason as Error).name).toBe('TimeoutError')
  })
})
