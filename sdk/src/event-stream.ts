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
