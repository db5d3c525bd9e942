/**
 * Pinning a file's blocks: fetching whichever the node lacks (over bitswap) and keeping them from garbage
 * collection. The sender pins what it added; a relay pins the files of its rooms so they stay available after
 * their sender goes offline. Blocks are ciphertext: a pinning node learns sizes and timing, never content.
 */
import type { Helia } from 'helia'
import { createUnsafe } from 'multiformats/block'
import type { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { ciphertextSize } from '../crypto/file-stream.ts'
import { fetchFileBlocks } from './fetch-blocks.ts'
import { type FileManifest, fileCidOf, parseFileManifest } from './manifest.ts'
import { collectBlock } from './streams.ts'

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
 * `fetchFileBlocks`). The walk is {@link fileDagWalker}'s (it reads the nodes, not the leaves). It is never
 * interrupted: @helia/utils 3.0.5's own graph walker turned an abort, or any failure, in the middle of a walk into an
 * unhandled rejection (it throws its queued jobs' failures into its generator with `gen.throw` and leaves the
 * returned promise alone), which ends a Node process — a relay, or a terminal cancelling a share; and a walk left
 * early leaves the blocks it passed counted as pinned with no pin to release them. The walk reads local blocks only
 * (`offline`), so it cannot hang: a signal aborted meanwhile is honoured before it starts, and a walk under way
 * finishes (a fraction of a second for a 256 MiB file).
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
  const walk = { offline: true, walker: fileDagWalker, ...(metadata === undefined ? {} : { metadata }) }
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
  for await (const _ of helia.pins.rm(cid, { ...options, walker: fileDagWalker })) {
    // drain: unpinning walks the DAG
  }
}

type GraphWalkerFactory = NonNullable<NonNullable<Parameters<Helia['pins']['add']>[1]>['walker']>
type GraphNode = Awaited<ReturnType<ReturnType<ReturnType<GraphWalkerFactory>['walk']>['next']>>['value']

/**
 * The pin walk of a file's DAG, without reading its leaves. Helia's walk (@helia/utils 3.0.5's `depthFirstWalker`, what
 * `pins.add` and `pins.rm` use by default) reads every block it passes — for a file, every 1 MiB raw leaf, into a
 * buffer of its own (`it-to-buffer` over blockstore-fs 4.0.1's 64 KiB reads) — only to find that a raw block links
 * nothing. Pinning a 256 MiB file read it all back from disk, 256 MiB of buffers that lived until V8's next
 * collection: the sender's resident memory grew by some 90 MiB during its pin walk alone (docs/files.md). Here a raw
 * leaf is only checked to be in the blockstore (`has`: a pin must not name a block that is not there, as Helia's
 * offline read would fail); its node carries an empty block, which `pins.add`/`pins.rm` never read (they take its
 * CID). The dag-pb nodes linking the leaves (a few KiB each) are read and decoded as Helia does, depth first, in
 * link order; `depth` and `includeChild` are honoured.
 */
export const fileDagWalker: GraphWalkerFactory = (components) => ({
  async *walk(root, options = {}) {
    const maxDepth = options.depth ?? Number.POSITIVE_INFINITY
    const stack: Array<{ cid: CID; depth: number; path: CID[] }> = [{ cid: root, depth: 0, path: [root] }]
    for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
      const { cid, depth, path } = next
      options.signal?.throwIfAborted()
      if (cid.code === raw.code) {
        if (!(await components.blockstore.has(cid, options))) {
          throw Object.assign(new Error(`block ${cid} is not in the blockstore`), { name: 'NotFoundError' })
        }
        yield { block: createUnsafe({ cid, bytes: EMPTY, codec: raw }), depth, path } as GraphNode
        continue
      }
      const bytes = await collectBlock(components.blockstore.get(cid, options))
      const block = createUnsafe({ cid, bytes, codec: await components.getCodec(cid.code) })
      if (depth < maxDepth) {
        const children = [...block.links()].map(([, link]) => link)
        const included = children.filter((child) => options.includeChild?.(child, block) !== false)
        for (let i = included.length - 1; i >= 0; i--) {
          const child = included[i]!
          stack.push({ cid: child, depth: depth + 1, path: [...path, child] })
        }
      }
      yield { block, depth, path } as GraphNode
    }
  },
})

const EMPTY = new Uint8Array(0)
