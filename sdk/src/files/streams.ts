/** Helpers between Web Streams and async iterables (the project's lib types lack streams' async iteration). */

/** A stream's chunks as an async iterable; releases the reader (cancelling the stream) if the loop stops early. */
export async function* chunksOf<T>(stream: ReadableStream<T>): AsyncGenerator<T> {
  const reader = stream.getReader()
  let done = false
  try {
    for (let next = await reader.read(); !next.done; next = await reader.read()) yield next.value
    done = true
  } finally {
    if (!done) await reader.cancel().catch(() => {})
    reader.releaseLock()
  }
}

/**
 * A pull-based stream over `source`: a chunk is taken only when the reader wants one (no read-ahead). A cancel
 * calls `onCancel` first (to abort what `source` waits for), then ends `source`.
 */
export function streamOf<T>(source: AsyncIterable<T>, onCancel?: () => void): ReadableStream<T> {
  const iterator = source[Symbol.asyncIterator]()
  return new ReadableStream<T>(
    {
      async pull(controller) {
        const next = await iterator.next()
        if (next.done === true) controller.close()
        else controller.enqueue(next.value)
      },
      async cancel(reason) {
        onCancel?.()
        await iterator.return?.(reason)
      },
    },
    { highWaterMark: 0 },
  )
}

/** `source` as a stream, whichever of the two it is. */
export function toStream<T>(source: ReadableStream<T> | AsyncIterable<T>): ReadableStream<T> {
  return source instanceof ReadableStream ? source : streamOf(source)
}

/** A block's bytes, whichever way its store hands them out (whole, or in pieces as blockstore-fs reads them). */
export async function collectBlock(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array> | Uint8Array,
): Promise<Uint8Array> {
  if (source instanceof Uint8Array) return source
  const parts: Uint8Array[] = []
  let length = 0
  for await (const part of source) {
    parts.push(part)
    length += part.byteLength
  }
  if (parts.length === 1) return parts[0]!
  const out = new Uint8Array(length)
  let at = 0
  for (const part of parts) {
    out.set(part, at)
    at += part.byteLength
  }
  return out
}
