/**
 * Reading a file's ciphertext out of UnixFS in bounded windows. UnixFS's `cat` fetches a range's blocks in
 * parallel and queues their bytes without waiting for its reader, so one `cat` of a whole file would hold as
 * much of it as the network outruns the reader by — all of it, for a slow disk. A window of a few segments at a
 * time, with one more fetched ahead, keeps the blocks in flight (the network stays busy) and memory at two windows.
 */
import type { UnixFS } from '@helia/unixfs'
import type { CID } from 'multiformats/cid'
import type { StallTimer } from './stall-timer.ts'

export interface CiphertextRange {
  /** First byte (inclusive). */
  readonly start: number
  /** Last byte (exclusive). */
  readonly end: number
  /** Bytes a window asks for at once. */
  readonly windowBytes: number
}

/** Bytes `[start, end)` of the UnixFS file `cid`, in order; every chunk that arrives restarts `timer`. */
export async function* fetchCiphertext(
  fs: Pick<UnixFS, 'cat'>,
  cid: CID,
  range: CiphertextRange,
  timer: StallTimer,
): AsyncGenerator<Uint8Array> {
  const fetchWindow = async (offset: number): Promise<Uint8Array[]> => {
    const chunks: Uint8Array[] = []
    const end = Math.min(offset + range.windowBytes, range.end)
    let at = offset
    while (at < end) {
      const attempt = timer.attempt()
      try {
        for await (const chunk of fs.cat(cid, { offset: at, length: end - at, signal: attempt.signal })) {
          timer.progress()
          chunks.push(chunk)
          at += chunk.length
        }
      } catch (err) {
        // Asked to ask again (the stall timer's retry), or no peer had a block yet: carry on from the bytes this
        // window already has.
        if (!attempt.retried() && !(await timer.askAgainAfter(err))) throw err
      } finally {
        attempt.done()
      }
    }
    return chunks
  }
  let offset = range.start
  let pending = offset < range.end ? fetchWindow(offset) : undefined
  try {
    while (pending !== undefined) {
      const chunks = await pending
      offset = Math.min(range.end, offset + range.windowBytes)
      // Ask for the next window before handing this one out: it arrives while the reader works.
      pending = offset < range.end ? fetchWindow(offset) : undefined
      yield* chunks
    }
  } finally {
    // The reader stopped early or failed: the window ahead is aborted by the caller; nobody waits for its error.
    pending?.catch(() => {})
  }
}
