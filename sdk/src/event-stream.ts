import { pushable } from 'it-pushable'
import type { AbortOptions } from './types.ts'

/**
 * The `detail`s of one event as an `AsyncIterable` that ends when `endEvent` fires, the signal
 * aborts, or `ended` is already true (what rooms and conversations return from `messages()`).
 */
export function eventStream<T>(
  target: EventTarget,
  params: { event: string; endEvent: string; ended: boolean },
  options: AbortOptions = {},
): AsyncIterable<T> {
  const queue = pushable<T>({ objectMode: true })
  const onEvent = (event: Event): void => {
    queue.push((event as CustomEvent<T>).detail)
  }
  const end = (): void => {
    target.removeEventListener(params.event, onEvent)
    target.removeEventListener(params.endEvent, end)
    options.signal?.removeEventListener('abort', end)
    queue.end()
  }
  target.addEventListener(params.event, onEvent)
  target.addEventListener(params.endEvent, end)
  options.signal?.addEventListener('abort', end)
  if (options.signal?.aborted === true || params.ended) end()
  return queue
}

/**
 * Waits for one event of `target` that passes `test` (every event, without one). Resolves `true` then, or
 * `false` once `timeoutMs` passes (the waits that use it have a deadline, not an error); rejects with the
 * signal's reason on abort. Listeners and timer are removed either way.
 */
export function waitForEvent<E extends Event = Event>(
  target: EventTarget,
  event: string,
  params: { test?: (event: E) => boolean; timeoutMs?: number } & AbortOptions = {},
): Promise<boolean> {
  const { signal } = params
  return new Promise<boolean>((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(signal.reason)
      return
    }
    const onEvent = (e: Event): void => {
      if (params.test === undefined || params.test(e as E)) finish(() => resolve(true))
    }
    const onAbort = (): void => finish(() => reject(signal?.reason))
    const timer =
      params.timeoutMs === undefined ? undefined : setTimeout(() => finish(() => resolve(false)), params.timeoutMs)
    function finish(settle: () => void): void {
      clearTimeout(timer)
      target.removeEventListener(event, onEvent)
      signal?.removeEventListener('abort', onAbort)
      settle()
    }
    target.addEventListener(event, onEvent)
    signal?.addEventListener('abort', onAbort)
  })
}
