/**
 * Pinning a file's blocks: fetching whichever the node lacks (over bitswap) and keeping them from garbage
 * collection. The sender pins what it added; a relay pins the files of its rooms so they stay available after
 * their sender goes offline. Blocks are ciphertext: a pinning node learns sizes and timing, never content.
 */
import type { Helia } from 'helia'
import type { CID } from 'multiformats/cid'
import { FILE_FETCH_STALL_TIMEOUT_MS } from './constants.ts'
import { type FileManifest, fileCidOf, parseFileManifest } from './manifest.ts'
import { StallTimer } from './stall-timer.ts'

export interface PinFileOptions {
  signal?: AbortSignal
  /** How long to wait for the next block before giving up with `FileUnavailableError`; default `FILE_FETCH_STALL_TIMEOUT_MS`. */
  timeoutMs?: number
  /** Blocks pinned so far. */
  onBlock?: (blocks: number) => void
}

/**
 * Pins the file `manifest` names in `helia`, fetching its missing blocks from connected peers. Resolves once every
 * block is local and pinned; pinning a file already pinned does nothing. `FileUnavailableError` when no peer gives
 * a block for `timeoutMs`.
 */
export async function pinFile(
  helia: Pick<Helia, 'pins'>,
  manifest: FileManifest,
  options: PinFileOptions = {},
): Promise<void> {
  await pinBlocks(helia, fileCidOf(parseFileManifest(manifest)), options)
}

/** Unpins the file; its blocks go at the blockstore's next garbage collection unless another pin holds them. */
export async function unpinFile(
  helia: Pick<Helia, 'pins'>,
  manifest: FileManifest,
  options: { signal?: AbortSignal } = {},
): Promise<void> {
  const cid = fileCidOf(parseFileManifest(manifest))
  if (!(await helia.pins.isPinned(cid, options))) return
  for await (const _ of helia.pins.rm(cid, options)) {
    // drain: unpinning walks the DAG
  }
}

/** Pins `cid` unless it is already pinned, under a stall timer. */
export async function pinBlocks(helia: Pick<Helia, 'pins'>, cid: CID, options: PinFileOptions = {}): Promise<void> {
  const timer = new StallTimer({
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    timeoutMs: options.timeoutMs ?? FILE_FETCH_STALL_TIMEOUT_MS,
    cid: cid.toString(),
  })
  try {
    if (await helia.pins.isPinned(cid, { signal: timer.signal })) return
    let blocks = 0
    for (let pinned = false; !pinned; ) {
      const attempt = timer.attempt()
      try {
        // Asked again after a retry, Helia walks the DAG anew: the blocks it has are local, and a block already
        // counted for this pin is not counted twice.
        let walked = 0
        for await (const _ of helia.pins.add(cid, { signal: attempt.signal })) {
          timer.progress()
          walked++
          if (walked > blocks) {
            blocks = walked
            options.onBlock?.(blocks)
          }
        }
        pinned = true
      } catch (err) {
        if (!attempt.retried()) throw err
      } finally {
        attempt.done()
      }
    }
  } catch (err) {
    throw timer.explain(err)
  } finally {
    timer.stop()
  }
}
