/**
 * Pinning a file's blocks: fetching whichever the node lacks (over bitswap) and keeping them from garbage
 * collection. The sender pins what it added; a relay pins the files of its rooms so they stay available after
 * their sender goes offline. Blocks are ciphertext: a pinning node learns sizes and timing, never content.
 */
import type { Helia } from 'helia'
import type { CID } from 'multiformats/cid'
import { ciphertextSize } from '../crypto/file-stream.ts'
import { fetchFileBlocks } from './fetch-blocks.ts'
import { type FileManifest, fileCidOf, parseFileManifest } from './manifest.ts'

export interface PinFileOptions {
  signal?: AbortSignal
  /** How long to wait for the next block before giving up with `FileUnavailableError`; default `FILE_FETCH_STALL_TIMEOUT_MS`. */
  timeoutMs?: number
  /** Blocks there so far. */
  onBlock?: (blocks: number) => void
}

/**
 * Pins the file `manifest` names in `helia`, fetching its missing blocks from connected peers first (checked to be a
 * file of the manifest's size: `fetchFileBlocks`). Resolves once every block is local and pinned; pinning a file
 * already pinned does nothing. `FileUnavailableError` when no peer gives a block for `timeoutMs`.
 */
export async function pinFile(
  helia: Pick<Helia, 'pins' | 'blockstore' | 'getCodec'>,
  manifest: FileManifest,
  options: PinFileOptions = {},
): Promise<void> {
  const parsed = parseFileManifest(manifest)
  const cid = fileCidOf(parsed)
  if (await hasPin(helia, cid, options.signal === undefined ? {} : { signal: options.signal })) return
  await fetchFileBlocks(helia, cid, {
    ciphertextBytes: ciphertextSize(parsed.size),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    ...(options.onBlock === undefined ? {} : { onBlock: ({ blocks }) => options.onBlock?.(blocks) }),
  })
  await pinLocalDag(helia, cid, options.signal === undefined ? {} : { signal: options.signal })
}

/**
 * Pins the DAG under `cid`, every block of which is in `helia`'s blockstore already (a file just added, or fetched by
 * `fetchFileBlocks`). Helia's pin walk is never interrupted: @helia/utils 3.0.5's graph walker turns an abort, or any
 * failure, in the middle of a walk into an unhandled rejection (it throws its queued jobs' failures into its
 * generator with `gen.throw` and leaves the returned promise alone), which ends a Node process — a relay, or a
 * terminal cancelling a share; and a walk left early leaves the blocks it passed counted as pinned with no pin to
 * release them. The walk reads local blocks only (`offline`), so it cannot hang: a signal aborted meanwhile is
 * honoured before it starts, and a walk under way finishes (seconds for gigabytes).
 */
export async function pinLocalDag(
  helia: Pick<Helia, 'pins'>,
  cid: CID,
  options: { signal?: AbortSignal; metadata?: Record<string, string | number | boolean> } = {},
): Promise<void> {
  const { signal, metadata } = options
  signal?.throwIfAborted()
  if (await hasPin(helia, cid)) return
  // `offline` reaches the walk's block reads (Helia passes the options on; its types do not list it).
  const walk = { offline: true, ...(metadata === undefined ? {} : { metadata }) }
  for await (const _ of helia.pins.add(cid, walk)) {
    // drain: pinning walks the DAG
  }
}

/**
 * Whether `cid` has a pin of its own. Not `pins.isPinned`, which says whether the block is held by any pin: a walk
 * left early (an older version, a process killed mid-pin) leaves it true with no pin, and the file half-pinned.
 */
export async function hasPin(helia: Pick<Helia, 'pins'>, cid: CID, options: { signal?: AbortSignal } = {}) {
  try {
    await helia.pins.get(cid, options)
    return true
  } catch (err) {
    if ((err as { name?: string }).name === 'NotFoundError') return false
    throw err
  }
}

/** Unpins the file; its blocks go at the blockstore's next garbage collection unless another pin holds them. */
export async function unpinFile(
  helia: Pick<Helia, 'pins'>,
  manifest: FileManifest,
  options: { signal?: AbortSignal } = {},
): Promise<void> {
  const cid = fileCidOf(parseFileManifest(manifest))
  if (!(await hasPin(helia, cid, options))) return
  for await (const _ of helia.pins.rm(cid, options)) {
    // drain: unpinning walks the DAG
  }
}
