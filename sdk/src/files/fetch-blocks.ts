/**
 * Fetching a file's whole DAG into a blockstore under bounds, for a node that keeps files for others (a relay): the
 * asker's claim of the ciphertext's size is checked block by block as they arrive, so a DAG larger than claimed —
 * a liar's, or one that links a block over and over — is stopped one block past the claim, not when the disk is
 * full. Blocks come from the local store or over bitswap from connected peers, several at a time, under a stall
 * timer; each is checked against its CID on arrival (bitswap), so the peers need no trust.
 */
import type { PeerId } from '@libp2p/interface'
import type { Helia } from 'helia'
import { createUnsafe } from 'multiformats/block'
import type { CID } from 'multiformats/cid'
import { FILE_SEGMENT_BYTES } from '../crypto/constants.ts'
import { FILE_FETCH_STALL_TIMEOUT_MS } from './constants.ts'
import { FileIntegrityError } from './errors.ts'
import { StallTimer } from './stall-timer.ts'
import { collectBlock } from './streams.ts'

/** Blocks asked for at once: enough to keep bitswap busy between two peers, few enough to bound memory (1 MiB each). */
export const FILE_BLOCKS_FETCHED_AT_ONCE = 8

const RAW = 0x55
const DAG_PB = 0x70
const SHA2_256 = 0x12

export interface FetchFileBlocksOptions {
  /** The ciphertext's size as claimed: the leaves may not add up to more. */
  ciphertextBytes: number
  signal?: AbortSignal
  /** How long to wait for the next block before `FileUnavailableError`; default `FILE_FETCH_STALL_TIMEOUT_MS`. */
  timeoutMs?: number
  /** After each block, what is there so far. */
  onBlock?: (progress: FetchedFileBlocks) => void
  /**
   * Peers likely to hold the file (a relay pinning it: the member who asked), asked for each block before the other
   * connected peers (`one-holder.ts`).
   */
  holders?: PeerId[]
}

export interface FetchedFileBlocks {
  /** Bytes of every block walked (leaves and the nodes that link them): what the file takes on disk. */
  bytes: number
  /** Of those, bytes that came over the network (the rest were local already). */
  fetchedBytes: number
  blocks: number
}

/**
 * The bytes the DAG of a file of `ciphertextBytes` may take: the leaves' and, for the nodes linking them, a 256th
 * of that and 64 KiB (UnixFS's nodes take about 45 bytes per 1 MiB leaf).
 */
export function fileDagBudget(ciphertextBytes: number): number {
  return ciphertextBytes + Math.ceil(ciphertextBytes / 256) + 64 * 1024
}

/**
 * Fetches every block of the file DAG under `root` into `helia`'s blockstore (unpinned: the caller pins it, or
 * garbage collection removes it). Throws `FileIntegrityError` when the DAG is not a file of the claimed size (a
 * codec other than raw or dag-pb, more leaf bytes than claimed, more blocks or node bytes than such a file has),
 * `FileUnavailableError` when no peer gives a block for `timeoutMs`, the signal's reason when aborted.
 */
export async function fetchFileBlocks(
  helia: Pick<Helia, 'blockstore' | 'getCodec'>,
  root: CID,
  options: FetchFileBlocksOptions,
): Promise<FetchedFileBlocks> {
  const claimed = options.ciphertextBytes
  const leaves = Math.ceil(claimed / FILE_SEGMENT_BYTES)
  const maxBlocks = leaves + Math.ceil(leaves / 64) + 8
  const maxNodeBytes = fileDagBudget(claimed) - claimed
  // Aborted at the first failure, so that the blocks still asked for stop waiting on bitswap.
  const stop = new AbortController()
  const timer = new StallTimer({
    signal: options.signal === undefined ? stop.signal : AbortSignal.any([options.signal, stop.signal]),
    timeoutMs: options.timeoutMs ?? FILE_FETCH_STALL_TIMEOUT_MS,
    cid: root.toString(),
  })
  const slots = new Slots(FILE_BLOCKS_FETCHED_AT_ONCE)
  // Helia hands `providers` to its block brokers; ours asks them first.
  const providers =
    options.holders === undefined || options.holders.length === 0
      ? {}
      : { providers: options.holders.map((holder) => holder.toCID()) }
  const progress: FetchedFileBlocks = { bytes: 0, fetchedBytes: 0, blocks: 0 }
  let leafBytes = 0
  let nodeBytes = 0
  let linked = 1
  const notFile = (why: string, facts: Record<string, unknown>): FileIntegrityError =>
    new FileIntegrityError(`the blocks under ${root} are not a file of ${claimed} bytes: ${why}`, {
      details: { cid: root.toString(), claimed, ...facts },
      hint: 'The file was shared with a wrong size, or its blocks were forged; share it again.',
    })

  const visit = async (cid: CID): Promise<void> => {
    if ((cid.code !== RAW && cid.code !== DAG_PB) || cid.multihash.code !== SHA2_256) {
      throw notFile('a block is neither raw nor dag-pb over SHA-256', { block: cid.toString(), codec: cid.code })
    }
    const bytes = await slots.run(async () => {
      timer.signal.throwIfAborted()
      const local = await helia.blockstore.has(cid, { signal: timer.signal })
      const block = await timer.retrying((signal) => collectBlock(helia.blockstore.get(cid, { signal, ...providers })))
      timer.progress()
      progress.blocks += 1
      progress.bytes += block.byteLength
      if (!local) progress.fetchedBytes += block.byteLength
      if (cid.code === RAW) leafBytes += block.byteLength
      else nodeBytes += block.byteLength
      if (leafBytes > claimed) throw notFile('its leaves hold more bytes than claimed', { leafBytes })
      if (nodeBytes > maxNodeBytes) throw notFile('its nodes take more bytes than such a file has', { nodeBytes })
      options.onBlock?.({ ...progress })
      return block
    })
    if (cid.code === RAW) return
    const links = [...createUnsafe({ cid, bytes, codec: await helia.getCodec(DAG_PB) }).links()].map(([, link]) => link)
    linked += links.length
    if (linked > maxBlocks) throw notFile('it links more blocks than such a file has', { blocks: linked, maxBlocks })
    await Promise.all(links.map(visit))
  }

  try {
    await visit(root)
  } catch (err) {
    // The first failure aborts every block still asked for; theirs are not this failure.
    const explained = timer.explain(err)
    slots.close()
    stop.abort(explained)
    throw explained
  } finally {
    timer.stop()
  }
  if (leafBytes !== claimed) throw notFile('its leaves hold fewer bytes than claimed', { leafBytes })
  return progress
}

/** At most `size` tasks at once; after `close()`, tasks not started fail at once. */
class Slots {
  #free: number
  #closed = false
  readonly #waiting: Array<() => void> = []

  constructor(size: number) {
    this.#free = size
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#free === 0) await new Promise<void>((resolve) => this.#waiting.push(resolve))
    else this.#free -= 1
    try {
      if (this.#closed) throw new DOMException('fetch stopped', 'AbortError')
      return await task()
    } finally {
      const next = this.#waiting.shift()
      if (next === undefined) this.#free += 1
      else next()
    }
  }

  close(): void {
    this.#closed = true
  }
}
