/**
 * Leaf lists of members' own anchors (`POST /audit/leaf-lists`). A member who anchors a batch from the web app has
 * no IPFS node, so once its root is on chain it hands the batch's leaf list to the relay that served the app. The
 * relay believes none of it: it rebuilds the tree from the list, reads the root's anchor and `Anchored` event from
 * the chain, and keeps the bytes only when that root is anchored with exactly these bytes' CID. It then pins them
 * on its IPFS node (`securechat verify` fetches them over bitswap like its own anchorer's) and answers
 * `/audit/proof` for their leaves. Spam costs gas: every list needs an anchor of its own, and one a relay already
 * holds is kept once.
 *
 * Layout of `dir`: `<root>.json` per accepted batch (its anchor, not its leaves: the bytes are in the IPFS
 * blockstore). At {@link LeafListIntake.start} the newest are read back into the proof index.
 */
import { mkdirSync, readdirSync } from 'node:fs'
import { readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import {
  type AuditIpfs,
  type AuditLogReader,
  auditLogReader,
  decodeLeafList,
  InvalidLeafListError,
  leafListCid,
  MAX_SUBMITTED_LEAF_LIST_BYTES,
  sameCid,
} from '@securechat/sdk/audit'
import { type LoggerFactory, silentLoggerFactory } from '@securechat/sdk/logger'
import type { AnchoredBatchInfo, AnchoredProof, LeafListRefusal } from '@securechat/sdk/relay-api'
import type { AbortOptions } from '@securechat/sdk/types'
import type { Provider } from 'ethers'
import { z } from 'zod'
import type { LeafListsService, RelayComponents } from '../relay/create-relay.ts'
import { AUDIT_DIR } from './constants.ts'
import { AnchoredProofIndex } from './proof-index.ts'

/** Time a stored leaf list may take to come back from the local blockstore at a restart. */
const RELOAD_FETCH_TIMEOUT_MS = 5_000

export type LeafListSubmission =
  /** Stored and pinned (`stored: false`: this relay held it already). */
  | { status: 'accepted'; stored: boolean; batch: AnchoredBatchInfo }
  /**
   * `malformed`: not a leaf list, or its tree does not hash to its root; `not-anchored`: the chain has no anchor
   * of that root (yet: an RPC behind by a block says so too); `cid-mismatch`: the root's anchor names other bytes.
   */
  | { status: 'rejected'; reason: LeafListRefusal; message: string }
  /** The chain could not be read, or the intake is not started: nothing is known, nothing was stored. */
  | { status: 'unavailable'; message: string }

export interface LeafListIntakeInit {
  /** Where accepted batches are recorded (a relay uses `<data dir>/audit/member-batches`). */
  dir: string
  /** The `AuditLog` the lists must be anchored in, read over the relay's own RPC. */
  reader: Pick<AuditLogReader, 'address' | 'anchorOf' | 'anchoredEvents'>
  /**
   * Where the proofs of accepted batches go: a relay passes its one index, shared with its anchorer. Default: an
   * index of its own of `ANCHOR_PROOF_INDEX_LEAVES` leaves.
   */
  proofs?: AnchoredProofIndex
  logger?: LoggerFactory
}

const recordSchema = z.object({
  root: z.string(),
  count: z.number().int().positive(),
  cid: z.string(),
  blockNumber: z.number().int().nonnegative(),
  transactionHash: z.string().optional(),
})

export class LeafListIntake {
  readonly #init: LeafListIntakeInit
  readonly #log
  readonly #proofs: AnchoredProofIndex
  /** Roots held (recorded in `dir`), so a list handed in twice is checked and pinned once. */
  readonly #held = new Map<string, AnchoredBatchInfo>()
  /** Submissions being checked, by root: a second one of the same root waits for the first. */
  readonly #inFlight = new Map<string, Promise<LeafListSubmission>>()
  #ipfs: Pick<AuditIpfs, 'publish' | 'fetch'> | undefined
  /** Largest list taken ({@link MAX_SUBMITTED_LEAF_LIST_BYTES}). */
  readonly maxBytes = MAX_SUBMITTED_LEAF_LIST_BYTES
  #abort = new AbortController()

  constructor(init: LeafListIntakeInit) {
    this.#init = init
    this.#log = (init.logger ?? silentLoggerFactory)('securechat:node:leaf-lists')
    this.#proofs = init.proofs ?? new AnchoredProofIndex()
    mkdirSync(init.dir, { recursive: true })
  }

  /** Starts taking lists, published through `ipfs`; reloads the recorded batches' proofs in the background. */
  start(components: { ipfs: Pick<AuditIpfs, 'publish' | 'fetch'> }): void {
    if (this.#ipfs !== undefined) return
    this.#ipfs = components.ipfs
    this.#abort = new AbortController()
    void this.#reload(this.#abort.signal)
  }

  /** Stops taking lists and abandons a reload in progress. Idempotent. */
  stop(): void {
    this.#abort.abort()
    this.#ipfs = undefined
  }

  /** Batches held (recorded in the data dir). */
  get held(): number {
    return this.#held.size
  }

  /** The proof of a leaf of an accepted batch, by leaf hash; undefined when none holds it. */
  proofOf(leafHash: string): AnchoredProof | undefined {
    return this.#proofs.proofOf(leafHash)
  }

  /** Checks `bytes` (a leaf list as published) against the chain and, when they hold, pins and indexes them. */
  async submit(bytes: Uint8Array, options: AbortOptions = {}): Promise<LeafListSubmission> {
    if (this.#ipfs === undefined) return { status: 'unavailable', message: 'the relay does not take leaf lists now' }
    if (bytes.byteLength > MAX_SUBMITTED_LEAF_LIST_BYTES) {
      return reject('malformed', `a leaf list handed in holds at most ${MAX_SUBMITTED_LEAF_LIST_BYTES} bytes`)
    }
    let root: string
    let batch: Awaited<ReturnType<typeof decodeLeafList>>
    try {
      batch = await decodeLeafList(bytes, options)
      root = batch.root
    } catch (err) {
      if (err instanceof InvalidLeafListError) return reject('malformed', err.message)
      throw err
    }
    const running = this.#inFlight.get(root)
    if (running !== undefined) await running.catch(() => undefined)
    const held = this.#held.get(root)
    if (held !== undefined) {
      return sameCid(held.cid, leafListCid(bytes))
        ? { status: 'accepted', stored: false, batch: { ...held } }
        : reject('cid-mismatch', `root ${root} is anchored with leaf list ${held.cid}, not with these bytes`)
    }
    const checking = this.#check(bytes, batch, options).finally(() => this.#inFlight.delete(root))
    this.#inFlight.set(root, checking)
    return checking
  }

  async #check(
    bytes: Uint8Array,
    batch: Awaited<ReturnType<typeof decodeLeafList>>,
    options: AbortOptions,
  ): Promise<LeafListSubmission> {
    const { root, count } = batch
    const reader = this.#init.reader
    let event: Awaited<ReturnType<AuditLogReader['anchoredEvents']>>[number] | undefined
    try {
      const anchor = await reader.anchorOf(root, options)
      if (anchor === undefined) {
        return reject('not-anchored', `root ${root} is not anchored in the audit log ${reader.address}`)
      }
      const events = await reader.anchoredEvents(
        { root, fromBlock: anchor.blockNumber, toBlock: anchor.blockNumber },
        options,
      )
      event = events.find((e) => e.root === root)
    } catch (err) {
      options.signal?.throwIfAborted()
      this.#log.warn('a leaf list could not be checked against the chain', { root, error: String(err) })
      return { status: 'unavailable', message: 'the relay could not read the audit log; try again' }
    }
    if (event === undefined) {
      return { status: 'unavailable', message: `the chain has no Anchored event of root ${root} in its block` }
    }
    const cid = leafListCid(bytes)
    if (!sameCid(event.cid, cid)) {
      return reject('cid-mismatch', `root ${root} is anchored with leaf list ${event.cid}, these bytes are ${cid}`)
    }
    const ipfs = this.#ipfs
    if (ipfs === undefined) return { status: 'unavailable', message: 'the relay does not take leaf lists now' }
    const published = await ipfs.publish(bytes, options)
    if (!sameCid(published, cid)) {
      // Only if Helia's unixfs defaults changed under us: the anchor names bytes nobody can fetch by that CID.
      this.#log.error('the IPFS node stored a leaf list under another CID than computed', { root, cid, published })
      return { status: 'unavailable', message: 'the relay stored the list under another CID; report this' }
    }
    const info: AnchoredBatchInfo = {
      root,
      count,
      cid: event.cid,
      blockNumber: event.blockNumber,
      transactionHash: event.transactionHash,
    }
    await writeRecord(join(this.#init.dir, `${root}.json`), info)
    this.#held.set(root, info)
    this.#proofs.add(info, batch)
    this.#log.info('a member’s leaf list is stored', {
      event: 'leaf-list:stored',
      root,
      count,
      cid: info.cid,
      blockNumber: info.blockNumber,
      anchorer: event.anchorer,
    })
    return { status: 'accepted', stored: true, batch: { ...info } }
  }

  /** Reads the recorded batches, newest block first, into the proof index until it is full. */
  async #reload(signal: AbortSignal): Promise<void> {
    const records: AnchoredBatchInfo[] = []
    for (const name of readdirSync(this.#init.dir).filter((n) => n.endsWith('.json'))) {
      try {
        const data = recordSchema.parse(JSON.parse(await readFile(join(this.#init.dir, name), 'utf8')))
        records.push({
          root: data.root,
          count: data.count,
          cid: data.cid,
          blockNumber: data.blockNumber,
          ...(data.transactionHash === undefined ? {} : { transactionHash: data.transactionHash }),
        })
      } catch (err) {
        this.#log.warn('a member batch record cannot be read; its proofs are not served', {
          file: name,
          error: String(err),
        })
      }
    }
    for (const info of records) this.#held.set(info.root, info)
    records.sort((a, b) => b.blockNumber - a.blockNumber)
    let leaves = 0
    const limit = this.#proofs.maxLeaves
    for (const info of records) {
      if (leaves >= limit || signal.aborted) return
      try {
        const bytes = await this.#ipfs!.fetch(info.cid, { signal, timeoutMs: RELOAD_FETCH_TIMEOUT_MS })
        this.#proofs.add(info, await decodeLeafList(bytes, { signal, expectedRoot: info.root }))
        leaves += info.count
      } catch (err) {
        if (signal.aborted) return
        this.#log.warn('a member batch’s leaf list is not in the blockstore; its proofs are not served', {
          root: info.root,
          cid: info.cid,
          error: String(err),
        })
      }
    }
  }
}

function reject(reason: LeafListRefusal, message: string): Extract<LeafListSubmission, { status: 'rejected' }> {
  return { status: 'rejected', reason, message }
}

async function writeRecord(path: string, info: AnchoredBatchInfo): Promise<void> {
  await writeFile(`${path}.tmp`, JSON.stringify(info))
  await rename(`${path}.tmp`, path)
}

export interface RelayLeafLists extends LeafListsService {
  readonly intake: LeafListIntake
}

/**
 * The leaf-lists service of the relay component: members' leaf lists checked against `auditLog` through `provider`
 * (the relay's own RPC), recorded under `<dataDir>/audit/member-batches`, pinned on the relay's IPFS node, their
 * proofs in the relay's proof index.
 */
export function leafLists(init: {
  provider: Provider
  auditLog: string
}): (components: RelayComponents) => RelayLeafLists {
  return (components) => {
    const intake = new LeafListIntake({
      dir: join(components.dataDir('leaf lists'), AUDIT_DIR, 'member-batches'),
      reader: auditLogReader({ runner: init.provider, address: init.auditLog }),
      proofs: components.proofs,
      logger: components.logger,
    })
    return {
      intake,
      async start() {
        intake.start({ ipfs: await components.ipfs() })
      },
      stop() {
        intake.stop()
      },
      stats: () => ({ held: intake.held }),
    }
  }
}
