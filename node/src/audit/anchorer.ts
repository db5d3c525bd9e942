/**
 * The relay's anchorer (docs/architecture.md, Audit anchoring): collects the leaves of the messages the relay accepted,
 * cuts them into batches (many rooms each), publishes each batch's leaf list on IPFS and anchors its root
 * with one `AuditLog.anchor` transaction.
 *
 * Nothing is lost on the way. Every leaf is appended to a journal in the data dir as it arrives; a batch is
 * written to disk before its leaf list is published or its transaction sent, and leaves the queue only once
 * its root is anchored. A failed attempt (RPC down, chain restarting, transaction not mined) is retried at the
 * next interval with the same leaves, so with the same root: anchoring is idempotent (`AuditLog` keeps the
 * first anchor of a root and a replay counts as success), and a restart resumes from the journal and the
 * queued batches.
 *
 * Layout of `dir`: `pending.jsonl` (leaves not yet in a batch, one JSON leaf value per line), `queue/<root>.json`
 * (batches cut, not yet anchored), `anchored/<root>.json` (anchored batches, with their anchor; safe to delete:
 * the leaf lists stay on IPFS).
 *
 * The most recent anchored batches stay in memory ({@link AnchoredProofIndex}, reloaded from `anchored/` at a
 * restart), so the relay can hand a message's proof to whoever asks (`GET /audit/proof`, {@link proofOf}).
 */
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import {
  type AuditBatch,
  type AuditIpfs,
  type AuditLeaf,
  anchorRoot,
  buildBatch,
  leafFromValue,
  leafKey,
  leafToValue,
  publishLeafList,
} from '@securechat/sdk/audit'
import { describeError } from '@securechat/sdk/errors'
import { type LoggerFactory, silentLoggerFactory } from '@securechat/sdk/logger'
import type { AnchoredProof } from '@securechat/sdk/relay-api'
import { FetchRequest, getAddress, JsonRpcProvider, Network, type Wallet } from 'ethers'
import { z } from 'zod'
import { probeChainId } from '../rpc.ts'
import { ANCHOR_INTERVAL_MS, ANCHOR_MAX_BATCH, ANCHOR_PROOF_INDEX_LEAVES, ANCHOR_RPC_TIMEOUT_MS } from './constants.ts'
import { AnchoredProofIndex } from './proof-index.ts'

export interface AnchorerInit {
  /** Directory for the journal and batches (a relay uses `<data dir>/audit/anchorer`). */
  dir: string
  /** HTTP(S) JSON-RPC endpoint of the chain where `auditLog` lives. */
  rpcUrl: string
  /** Address of the `AuditLog` contract. */
  auditLog: string
  /** The anchoring account; pays for the transactions. */
  wallet: Wallet
  /** The chain's id; asked from the endpoint (`eth_chainId`) when absent, until it answers. */
  chainId?: number
  /** How often a batch is cut and anchored; default {@link ANCHOR_INTERVAL_MS}. */
  intervalMs?: number
  /** Most leaves per batch; default {@link ANCHOR_MAX_BATCH}. */
  maxBatch?: number
  /** Gas limit of each anchor transaction; estimated when absent. */
  gasLimit?: bigint
  /** Per-request JSON-RPC timeout; default {@link ANCHOR_RPC_TIMEOUT_MS}. */
  rpcTimeoutMs?: number
  /** How often a sent transaction's receipt is asked for. */
  receiptPollIntervalMs?: number
  /** A sent transaction not mined after this long counts as failed (and is retried). */
  receiptTimeoutMs?: number
  /**
   * Where the proofs of anchored batches go, for {@link Anchorer.proofOf}: a relay passes its one index, shared
   * with the members' leaf lists. Default: an index of its own of {@link ANCHOR_PROOF_INDEX_LEAVES} leaves.
   */
  proofs?: AnchoredProofIndex
  logger?: LoggerFactory
}

export interface AnchorerStats {
  /** Leaves waiting for the next batch. */
  pendingLeaves: number
  /** Batches cut and not anchored yet (waiting for their first attempt, or retrying). */
  queuedBatches: number
  queuedLeaves: number
  /** Batches whose root this anchorer anchored. */
  batchesAnchored: number
  /** Batches whose root was already anchored (an earlier attempt of ours was mined, or someone else's). */
  batchesAlreadyAnchored: number
  /** Leaves in anchored batches (both kinds). */
  leavesAnchored: number
  attempts: number
  /** Failed attempts; each batch is retried until it is anchored. */
  failures: number
  gasUsed: bigint
  lastError: string | undefined
  lastAnchor: { root: string; count: number; cid: string; blockNumber: number; atMs: number } | undefined
}

interface QueuedBatch {
  root: string
  count: number
  createdAtMs: number
  cid?: string
  attempts: number
  leaves: AuditLeaf[]
  batch?: AuditBatch
}

const JOURNAL = 'pending.jsonl'
const QUEUE = 'queue'
const ANCHORED = 'anchored'

export class Anchorer {
  readonly #init: AnchorerInit
  readonly #log
  readonly #intervalMs: number
  readonly #maxBatch: number
  #pending: AuditLeaf[] = []
  /** Leaves pending or queued (not those anchored: the set stays bounded on a long-running relay). */
  readonly #known = new Set<string>()
  #queue: QueuedBatch[] = []
  readonly #published = new Set<string>()
  readonly #proofs: AnchoredProofIndex
  #ipfs: AuditIpfs | undefined
  #provider: JsonRpcProvider | undefined
  #timer: ReturnType<typeof setTimeout> | undefined
  #running: Promise<void> | undefined
  #abort = new AbortController()
  #started = false
  /** Whether the proofs of the batches anchored before a restart were read back (once per process). */
  #reloaded = false
  readonly #stats: Omit<AnchorerStats, 'pendingLeaves' | 'queuedBatches' | 'queuedLeaves'> = {
    batchesAnchored: 0,
    batchesAlreadyAnchored: 0,
    leavesAnchored: 0,
    attempts: 0,
    failures: 0,
    gasUsed: 0n,
    lastError: undefined,
    lastAnchor: undefined,
  }

  constructor(init: AnchorerInit) {
    this.#init = init
    this.#log = (init.logger ?? silentLoggerFactory)('securechat:node:anchorer')
    this.#intervalMs = init.intervalMs ?? ANCHOR_INTERVAL_MS
    this.#maxBatch = init.maxBatch ?? ANCHOR_MAX_BATCH
    this.#proofs = init.proofs ?? new AnchoredProofIndex()
    mkdirSync(join(init.dir, QUEUE), { recursive: true })
    mkdirSync(join(init.dir, ANCHORED), { recursive: true })
    this.#recover()
  }

  /** The anchoring account's address. */
  get address(): string {
    return this.#init.wallet.address
  }

  stats(): AnchorerStats {
    return {
      ...this.#stats,
      pendingLeaves: this.#pending.length,
      queuedBatches: this.#queue.length,
      queuedLeaves: this.#queue.reduce((n, b) => n + b.count, 0),
    }
  }

  /**
   * Takes the leaf of an accepted message. Journaled at once (synchronously), so it survives a crash; a
   * message seen again while it is pending or queued counts once. Works before {@link start}.
   */
  add(leaf: AuditLeaf): void {
    const key = leafKey(leaf)
    if (this.#known.has(key)) return
    this.#known.add(key)
    this.#pending.push(leaf)
    appendFileSync(join(this.#init.dir, JOURNAL), `${JSON.stringify(leafToValue(leaf))}\n`)
  }

  /**
   * The proof of an anchored leaf, by its hash (`leafHashOf`), from the recent batches this anchorer anchored;
   * undefined when none of them holds it (not anchored yet, or anchored long ago).
   */
  proofOf(leafHash: string): AnchoredProof | undefined {
    return this.#proofs.proofOf(leafHash)
  }

  /**
   * Starts the interval; `ipfs` publishes the leaf lists (a relay passes its own node's). Also reloads the
   * proofs of the batches anchored before a restart, in the background.
   */
  start(components: { ipfs: AuditIpfs }): void {
    if (this.#started) return
    this.#started = true
    this.#ipfs = components.ipfs
    this.#abort = new AbortController()
    if (!this.#reloaded) {
      this.#reloaded = true
      void this.#loadAnchored(this.#abort.signal)
    }
    this.#log.info('anchoring', {
      event: 'anchorer:started',
      anchorer: this.address,
      auditLog: this.#init.auditLog,
      intervalMs: this.#intervalMs,
      maxBatch: this.#maxBatch,
      pendingLeaves: this.#pending.length,
      queuedBatches: this.#queue.length,
    })
    this.#schedule()
  }

  /** Stops the interval and waits for an attempt in flight (bounded by the RPC timeouts). Idempotent. */
  async stop(): Promise<void> {
    if (!this.#started) return
    this.#started = false
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#abort.abort()
    await this.#running?.catch(() => undefined)
    this.#provider?.destroy()
    this.#provider = undefined
  }

  /**
   * Cuts a batch of what is pending and tries to anchor every queued batch now, instead of at the next
   * interval. Resolves when this round is over; failures stay queued (see {@link stats}).
   */
  async flush(): Promise<void> {
    while (this.#running !== undefined) await this.#running.catch(() => undefined)
    this.#running = this.#round(true).finally(() => {
      this.#running = undefined
    })
    await this.#running
  }

  #schedule(): void {
    if (!this.#started) return
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      if (this.#running !== undefined) return this.#schedule()
      this.#running = this.#round(false).finally(() => {
        this.#running = undefined
        this.#schedule()
      })
    }, this.#intervalMs)
  }

  async #round(force: boolean): Promise<void> {
    try {
      // While earlier batches wait for the chain, pending leaves gather into one batch instead of many.
      if (this.#pending.length > 0 && (force || this.#queue.length === 0 || this.#pending.length >= this.#maxBatch)) {
        await this.#cut()
      }
      for (const queued of [...this.#queue]) {
        if (!this.#started && !force) return
        const anchored = await this.#attempt(queued)
        if (!anchored) break // keep order; the chain is likely down for the rest too
      }
    } catch (err) {
      this.#log.error('anchoring round failed', { error: String(err) })
    }
  }

  async #cut(): Promise<void> {
    const leaves = this.#pending.slice(0, this.#maxBatch)
    const batch = await buildBatch(leaves)
    const queued: QueuedBatch = {
      root: batch.root,
      count: batch.count,
      createdAtMs: Date.now(),
      attempts: 0,
      leaves: [...batch.leaves],
      batch,
    }
    // The batch is on disk before the journal forgets its leaves: a crash in between only duplicates them.
    this.#writeQueued(queued)
    this.#pending.splice(0, leaves.length)
    this.#writeJournal()
    this.#queue.push(queued)
    this.#log.info('batch cut', { event: 'anchor:batch', root: batch.root, count: batch.count })
  }

  /** One attempt at anchoring `queued`; true when its root is anchored. */
  async #attempt(queued: QueuedBatch): Promise<boolean> {
    this.#stats.attempts += 1
    queued.attempts += 1
    const signal = this.#abort.signal
    try {
      queued.batch ??= await buildBatch(queued.leaves, { signal })
      if (queued.cid === undefined || !this.#published.has(queued.root)) {
        if (this.#ipfs === undefined) throw new Error('the anchorer has no IPFS node (call start)')
        const cid = await publishLeafList(this.#ipfs, queued.batch, { signal })
        this.#published.add(queued.root)
        if (queued.cid !== cid) {
          queued.cid = cid
          this.#writeQueued(queued)
        }
      }
      const provider = await this.#connect()
      const result = await anchorRoot(
        {
          signer: this.#init.wallet.connect(provider),
          address: this.#init.auditLog,
          root: queued.root,
          count: queued.count,
          cid: queued.cid!,
          ...(this.#init.gasLimit === undefined ? {} : { gasLimit: this.#init.gasLimit }),
          ...(this.#init.receiptPollIntervalMs === undefined
            ? {}
            : { receiptPollIntervalMs: this.#init.receiptPollIntervalMs }),
          ...(this.#init.receiptTimeoutMs === undefined ? {} : { receiptTimeoutMs: this.#init.receiptTimeoutMs }),
        },
        { signal },
      )
      if (result.status === 'anchored') {
        this.#stats.batchesAnchored += 1
        this.#stats.gasUsed += result.gasUsed
      } else {
        this.#stats.batchesAlreadyAnchored += 1
      }
      this.#stats.leavesAnchored += queued.count
      this.#stats.lastAnchor = {
        root: queued.root,
        count: queued.count,
        cid: queued.cid!,
        blockNumber: result.anchor.blockNumber,
        atMs: Date.now(),
      }
      this.#finish(queued, {
        ...result.anchor,
        status: result.status,
        ...(result.status === 'anchored'
          ? { transactionHash: result.transactionHash, gasUsed: String(result.gasUsed) }
          : {}),
      })
      this.#log.info(result.status === 'anchored' ? 'batch anchored' : 'batch was already anchored', {
        event: 'anchor:anchored',
        root: queued.root,
        count: queued.count,
        cid: queued.cid,
        blockNumber: result.anchor.blockNumber,
        anchorer: result.anchor.anchorer,
        ...(result.status === 'anchored'
          ? { transactionHash: result.transactionHash, gasUsed: Number(result.gasUsed) }
          : {}),
        attempts: queued.attempts,
      })
      return true
    } catch (err) {
      if (signal.aborted) return false
      this.#stats.failures += 1
      this.#stats.lastError = describeError(err)
      this.#log.warn('anchoring failed; the batch stays queued and is retried', {
        event: 'anchor:failed',
        root: queued.root,
        count: queued.count,
        attempts: queued.attempts,
        error: describeError(err),
        retryInMs: this.#intervalMs,
      })
      return false
    }
  }

  /** A provider with a fixed network and short timeouts: ethers' default detects the network forever. */
  async #connect(): Promise<JsonRpcProvider> {
    if (this.#provider !== undefined) return this.#provider
    const timeoutMs = this.#init.rpcTimeoutMs ?? ANCHOR_RPC_TIMEOUT_MS
    const chainId = this.#init.chainId ?? (await probeChainId(this.#init.rpcUrl, timeoutMs))
    const request = new FetchRequest(this.#init.rpcUrl)
    request.timeout = timeoutMs
    const network = Network.from(chainId)
    // No response cache: the next batch's nonce must not come from the previous batch's answer.
    this.#provider = new JsonRpcProvider(request, network, {
      staticNetwork: network,
      batchMaxCount: 1,
      cacheTimeout: -1,
    })
    return this.#provider
  }

  #finish(
    queued: QueuedBatch,
    anchor: { blockNumber: number; transactionHash?: string; [key: string]: unknown },
  ): void {
    writeAtomic(join(this.#init.dir, ANCHORED, `${queued.root}.json`), { ...serialize(queued), anchor })
    this.#proofs.add(
      {
        root: queued.root,
        count: queued.count,
        cid: queued.cid!,
        blockNumber: anchor.blockNumber,
        ...(anchor.transactionHash === undefined ? {} : { transactionHash: anchor.transactionHash }),
      },
      queued.batch!,
    )
    rmSync(join(this.#init.dir, QUEUE, `${queued.root}.json`), { force: true })
    this.#queue = this.#queue.filter((q) => q !== queued)
    for (const leaf of queued.leaves) this.#known.delete(leafKey(leaf))
  }

  #writeQueued(queued: QueuedBatch): void {
    writeAtomic(join(this.#init.dir, QUEUE, `${queued.root}.json`), serialize(queued))
  }

  #writeJournal(): void {
    const path = join(this.#init.dir, JOURNAL)
    const text = this.#pending.map((leaf) => `${JSON.stringify(leafToValue(leaf))}\n`).join('')
    writeFileSync(`${path}.tmp`, text)
    renameSync(`${path}.tmp`, path)
  }

  /**
   * Rebuilds the proof index from `anchored/`, newest files first, until it holds as many leaves as it keeps.
   * A file that does not read is skipped: the batch's leaf list is still on IPFS.
   */
  async #loadAnchored(signal: AbortSignal): Promise<void> {
    const dir = join(this.#init.dir, ANCHORED)
    try {
      const files = await Promise.all(
        readdirSync(dir)
          .filter((name) => name.endsWith('.json'))
          .map(async (name) => ({ name, mtimeMs: (await stat(join(dir, name))).mtimeMs })),
      )
      files.sort((a, b) => b.mtimeMs - a.mtimeMs)
      let leaves = 0
      const limit = this.#proofs.maxLeaves
      for (const { name } of files) {
        if (leaves >= limit) break
        signal.throwIfAborted()
        try {
          const data = anchoredFileSchema.parse(JSON.parse(await readFile(join(dir, name), 'utf8')))
          const batch = await buildBatch(
            data.leaves.map((value) => leafFromValue(value)),
            { signal },
          )
          if (batch.root !== data.root) throw new Error(`the leaves rebuild ${batch.root}`)
          this.#proofs.add(
            {
              root: data.root,
              count: data.count,
              cid: data.cid,
              blockNumber: data.anchor.blockNumber,
              ...(data.anchor.transactionHash === undefined ? {} : { transactionHash: data.anchor.transactionHash }),
            },
            batch,
          )
          leaves += batch.count
        } catch (err) {
          signal.throwIfAborted()
          this.#log.warn('an anchored batch file cannot be read; its proofs are not served', {
            file: name,
            error: String(err),
          })
        }
      }
    } catch (err) {
      if (!signal.aborted) this.#log.error('anchored batches not reloaded', { error: String(err) })
    }
  }

  /** Loads queued batches and the journal after a restart (or a crash). */
  #recover(): void {
    const queueDir = join(this.#init.dir, QUEUE)
    for (const name of readdirSync(queueDir)
      .filter((n) => n.endsWith('.json'))
      .sort()) {
      try {
        const data = JSON.parse(readFileSync(join(queueDir, name), 'utf8')) as ReturnType<typeof serialize>
        const leaves = data.leaves.map((value) => leafFromValue(value))
        for (const leaf of leaves) this.#known.add(leafKey(leaf))
        this.#queue.push({
          root: data.root,
          count: data.count,
          createdAtMs: data.createdAtMs,
          attempts: data.attempts,
          leaves,
          ...(data.cid === undefined ? {} : { cid: data.cid }),
        })
      } catch (err) {
        this.#log.error('a queued batch file cannot be read; it is left in place', { file: name, error: String(err) })
      }
    }
    this.#queue.sort((a, b) => a.createdAtMs - b.createdAtMs)
    const journal = join(this.#init.dir, JOURNAL)
    if (existsSync(journal)) {
      for (const line of readFileSync(journal, 'utf8').split('\n')) {
        if (line.trim() === '') continue
        let leaf: AuditLeaf
        try {
          leaf = leafFromValue(JSON.parse(line))
        } catch {
          continue // a line torn by a crash mid-write
        }
        const key = leafKey(leaf)
        if (this.#known.has(key)) continue
        this.#known.add(key)
        this.#pending.push(leaf)
      }
      this.#writeJournal()
    }
    if (this.#queue.length > 0 || this.#pending.length > 0) {
      this.#log.info('resuming', { queuedBatches: this.#queue.length, pendingLeaves: this.#pending.length })
    }
  }
}

export function createAnchorer(init: AnchorerInit): Anchorer {
  getAddress(init.auditLog)
  return new Anchorer(init)
}

/** What `anchored/<root>.json` holds that the proof index needs. */
const anchoredFileSchema = z.object({
  root: z.string(),
  count: z.number().int().positive(),
  cid: z.string(),
  leaves: z.array(z.unknown()),
  anchor: z.object({ blockNumber: z.number().int().nonnegative(), transactionHash: z.string().optional() }),
})

function serialize(queued: QueuedBatch) {
  return {
    root: queued.root,
    count: queued.count,
    createdAtMs: queued.createdAtMs,
    attempts: queued.attempts,
    ...(queued.cid === undefined ? {} : { cid: queued.cid }),
    leaves: queued.leaves.map(leafToValue),
  }
}

function writeAtomic(path: string, value: unknown): void {
  writeFileSync(`${path}.tmp`, JSON.stringify(value))
  renameSync(`${path}.tmp`, path)
}
