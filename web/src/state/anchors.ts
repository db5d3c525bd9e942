/**
 * The "anchored in block N" marks (docs/architecture.md, Audit anchoring), checked without trusting the relay: this browser
 * recomputes each message's audit leaf from the message as it received (or sent) it, asks the relay that
 * serves the app for the leaf's Merkle proof (`GET /audit/proof`), checks that the proof leads to the root,
 * and reads the root's anchor — block, time, anchorer, and the `Anchored` event's leaf list CID — from the
 * `AuditLog` contract over the chain's RPC. Only a message that passes all of it is marked. A member's own
 * anchor (`anchoring.ts`) seeds what it knows instead, and hands its leaf list to the relay
 * (`POST /audit/leaf-lists`).
 */
import { sleep, withTimeout } from '@securechat/sdk/async'
import {
  type AnchorRecord,
  type AuditLeaf,
  type AuditLogReader,
  auditLogReader,
  leafHashOf,
  leafOfMessage,
  VerifyFailure,
  verifyInclusion,
} from '@securechat/sdk/audit'
import { type LeafListAnswer, type ProofAnswer, type RelayApi, relayApi } from '@securechat/sdk/relay-api'
import type { AbortOptions } from '@securechat/sdk/types'
import type { Provider } from 'ethers'
import type { ChatEntry, VerifiedAnchor } from './history-store.ts'

/** How often the open room's unmarked messages are checked. */
export const ANCHOR_POLL_INTERVAL_MS = 4_000
/** Messages received longer ago than this and still unmarked are no longer asked about (never anchored). */
export const ANCHOR_POLL_MAX_AGE_MS = 30 * 60_000
/** Proofs asked for per poll at most; the ones asked least recently go first. */
export const ANCHOR_CHECKS_PER_POLL = 10
/** One proof request or chain read is abandoned after this long (and tried again at the next poll). */
export const ANCHOR_CHECK_TIMEOUT_MS = 10_000
/** Times the leaf list is handed to the relay while it cannot take it yet (its RPC a block behind, busy). */
export const LEAF_LIST_PUBLISH_ATTEMPTS = 5
/** Wait before the next attempt, times the attempt number. */
export const LEAF_LIST_PUBLISH_RETRY_MS = 1_000
/** One `POST /audit/leaf-lists` is abandoned after this long. */
export const LEAF_LIST_PUBLISH_TIMEOUT_MS = 30_000

/** The audit leaf of a room's history entry, as every anchorer computes it; undefined without a ciphertext hash. */
export function leafOfEntry(roomId: string, entry: ChatEntry): AuditLeaf | undefined {
  if (entry.ciphertextHash === undefined) return undefined
  try {
    return leafOfMessage({ roomId, ...entry, ciphertextHash: entry.ciphertextHash })
  } catch {
    return undefined
  }
}

export type AnchorCheck =
  | { status: 'anchored'; anchor: VerifiedAnchor }
  /** The relay holds no anchored batch with the leaf (yet). */
  | { status: 'pending' }
  /** The relay does not anchor (501): asking it again is pointless. */
  | { status: 'unsupported' }
  /** The relay's answer does not hold up: a proof to another root, or a root the chain never anchored. */
  | { status: 'rejected'; reason: string }
  /** The relay or the chain could not be asked; nothing is known. */
  | { status: 'unavailable'; reason: string }

export interface AnchorCheckerInit {
  provider: Provider
  chainId: number
  auditLog: string
  /** Where `/audit/proof` is; default: the page's origin (the relay that served the app). */
  baseUrl?: string
}

/** A root's first anchor, with what its `Anchored` event says. */
export type KnownAnchor = AnchorRecord & { cid?: string; transactionHash?: string; count?: number }

/** Checks leaves against a relay's proofs and the chain. Anchors of roots are cached: the first anchor is final. */
export class AnchorChecker {
  readonly #init: AnchorCheckerInit
  readonly #reader: AuditLogReader
  readonly #roots = new Map<string, KnownAnchor>()

  constructor(init: AnchorCheckerInit) {
    this.#init = init
    this.#reader = auditLogReader({ runner: init.provider, address: init.auditLog })
  }

  /**
   * An anchor this browser has just read from the chain itself (its own anchor transaction, `anchorRoot`):
   * proofs to its root are checked against it without reading the chain again.
   */
  seed(anchor: KnownAnchor): void {
    this.#roots.set(anchor.root.toLowerCase(), anchor)
  }

  async check(leaf: AuditLeaf, options: AbortOptions = {}): Promise<AnchorCheck> {
    const answer = await relayApiOf(this.#init.baseUrl)
      .proof(leafHashOf(leaf), { signal: withTimeout(options.signal, ANCHOR_CHECK_TIMEOUT_MS) })
      .catch((err: unknown): ProofAnswer => {
        // Our own timeout: nothing is known, as when the relay is unreachable. The caller's abort goes on.
        options.signal?.throwIfAborted()
        return { status: 'unavailable', reason: `the relay could not be asked: ${String(err)}` }
      })
    switch (answer.status) {
      case 'found':
        // Only the root and the proof are used; the relay's batch details are not trusted.
        return this.checkProof(leaf, answer.proof, options)
      case 'not-found':
        return { status: 'pending' }
      case 'unsupported':
        return { status: 'unsupported' }
      case 'invalid':
        return { status: 'rejected', reason: answer.reason }
      case 'unavailable':
        return { status: 'unavailable', reason: answer.reason }
    }
  }

  /**
   * Checks a proof at hand (one this browser built for its own anchor, or the relay's) against the chain: the
   * proof leads from `leaf` to `root`, and `root` is anchored in the audit log.
   */
  async checkProof(
    leaf: AuditLeaf,
    evidence: { root: string; proof: readonly string[] },
    options: AbortOptions = {},
  ): Promise<AnchorCheck> {
    const leafHash = leafHashOf(leaf)
    const { root, proof } = evidence
    const verdict = await verifyInclusion(
      {
        claim: {
          roomId: leaf.roomId,
          messageId: leaf.messageId,
          sender: leaf.sender,
          timestampMs: leaf.timestampMs,
        },
        evidence: { root, proof, leaf },
        reader: { anchorOf: (r, o) => this.#anchorOf(r, o ?? {}) },
      },
      { signal: withTimeout(options.signal, ANCHOR_CHECK_TIMEOUT_MS) },
    )
    if (!verdict.ok || verdict.anchor === undefined) {
      const failure = verdict.failures[0]
      const reason = failure?.message ?? 'not verified'
      return failure?.reason === VerifyFailure.chainUnavailable
        ? { status: 'unavailable', reason }
        : { status: 'rejected', reason }
    }
    const anchor = this.#roots.get(verdict.anchor.root)!
    return {
      status: 'anchored',
      anchor: {
        leafHash,
        root: anchor.root,
        blockNumber: anchor.blockNumber,
        timestamp: anchor.timestamp,
        anchorer: anchor.anchorer,
        chainId: this.#init.chainId,
        auditLog: this.#reader.address,
        ...(anchor.cid === undefined ? {} : { cid: anchor.cid }),
        ...(anchor.transactionHash === undefined ? {} : { transactionHash: anchor.transactionHash }),
        ...(anchor.count === undefined ? {} : { count: anchor.count }),
        verifiedAtMs: Date.now(),
      },
    }
  }

  /** `anchorOf`, plus the `Anchored` event of that block (leaf list CID, transaction), both from the chain. */
  async #anchorOf(root: string, options: AbortOptions): Promise<AnchorRecord | undefined> {
    const key = root.toLowerCase()
    const cached = this.#roots.get(key)
    if (cached !== undefined) return cached
    const anchor = await this.#reader.anchorOf(key, options)
    if (anchor === undefined) return undefined
    const events = await this.#reader.anchoredEvents(
      { root: key, fromBlock: anchor.blockNumber, toBlock: anchor.blockNumber },
      options,
    )
    const event = events.find((e) => e.root === key)
    this.#roots.set(key, {
      ...anchor,
      ...(event === undefined ? {} : { cid: event.cid, transactionHash: event.transactionHash, count: event.count }),
    })
    return anchor
  }
}

/** The HTTP API of the relay that served the app, or of the one at `baseUrl`. */
function relayApiOf(baseUrl: string | undefined): RelayApi {
  return relayApi({ baseUrl: baseUrl ?? location.origin })
}

/**
 * Whether the relay keeps a leaf list (so `securechat verify` can fetch it), or why not;
 * `final` when the relay refused these bytes for good (malformed, too large, another CID on chain).
 */
export type LeafListPublication = { ok: true } | { ok: false; reason: string; final: boolean }

/**
 * Hands the leaf list of a member's anchor to the relay (`POST /audit/leaf-lists`), trying again while the relay
 * cannot take it yet (its RPC has not seen the anchor, it is busy, or unreachable).
 */
export async function postLeafList(
  bytes: Uint8Array,
  init: { baseUrl?: string } = {},
  options: AbortOptions = {},
): Promise<LeafListPublication> {
  const api = relayApiOf(init.baseUrl)
  for (let attempt = 1; ; attempt++) {
    const answer = await api
      .submitLeafList(bytes, { signal: withTimeout(options.signal, LEAF_LIST_PUBLISH_TIMEOUT_MS) })
      .catch((err: unknown): LeafListAnswer => {
        options.signal?.throwIfAborted()
        const reason = `the relay could not be reached (${String(err)})`
        return { ok: false, status: undefined, reason, final: false, transient: true }
      })
    if (answer.ok) return { ok: true }
    if (!answer.transient || attempt >= LEAF_LIST_PUBLISH_ATTEMPTS) {
      return { ok: false, reason: answer.reason, final: answer.final }
    }
    await sleep(LEAF_LIST_PUBLISH_RETRY_MS * attempt, options.signal)
  }
}

export interface AnchorWatcherInit {
  checker: AnchorChecker
  /** The live history of a conversation. */
  history: (roomId: string) => readonly ChatEntry[]
  /** A message of `roomId` passed every check: store the anchor and show the mark. */
  onAnchored: (roomId: string, entry: ChatEntry, anchor: VerifiedAnchor) => void
  intervalMs?: number
}

/**
 * Polls the open room's unmarked messages every {@link ANCHOR_POLL_INTERVAL_MS}, and stops once none is left
 * (a new message starts it again: {@link poke}). One room at a time: the one on screen.
 */
export class AnchorWatcher {
  readonly #init: AnchorWatcherInit
  readonly #lastAsked = new Map<string, number>()
  readonly #warned = new Set<string>()
  #roomId: string | undefined
  #timer: ReturnType<typeof setTimeout> | undefined
  #abort = new AbortController()
  #running = false
  /** The relay said it does not anchor: nothing more is asked in this session. */
  #unsupported = false

  constructor(init: AnchorWatcherInit) {
    this.#init = init
  }

  /** Watches `roomId` (undefined: none) instead of the room watched so far. */
  watch(roomId: string | undefined): void {
    if (roomId === this.#roomId) return
    this.stop()
    this.#lastAsked.clear()
    this.#warned.clear()
    this.#roomId = roomId
    this.#abort = new AbortController()
    this.#running = false
    if (roomId !== undefined && !this.#unsupported) this.#schedule(0)
  }

  /** A message arrived in `roomId`: resume polling if that room is watched and idle. */
  poke(roomId: string): void {
    if (roomId === this.#roomId && this.#timer === undefined && !this.#running && !this.#unsupported) {
      this.#schedule(this.#interval)
    }
  }

  /** Stops polling and abandons a check in flight. Idempotent. */
  stop(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#abort.abort()
    this.#roomId = undefined
  }

  get #interval(): number {
    return this.#init.intervalMs ?? ANCHOR_POLL_INTERVAL_MS
  }

  #schedule(delayMs: number): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      void this.#poll()
    }, delayMs)
  }

  async #poll(): Promise<void> {
    const roomId = this.#roomId
    if (roomId === undefined) return
    const signal = this.#abort.signal
    const cutoff = Date.now() - ANCHOR_POLL_MAX_AGE_MS
    const pending = this.#init
      .history(roomId)
      .filter((e) => e.anchor === undefined && e.ciphertextHash !== undefined && e.receivedAtMs >= cutoff)
    if (pending.length === 0) return
    const asked = (e: ChatEntry): number => this.#lastAsked.get(e.id) ?? 0
    const batch = [...pending].sort((a, b) => asked(a) - asked(b)).slice(0, ANCHOR_CHECKS_PER_POLL)
    this.#running = true
    try {
      for (const entry of batch) {
        const leaf = leafOfEntry(roomId, entry)
        if (leaf === undefined || signal.aborted) continue
        this.#lastAsked.set(entry.id, Date.now())
        const result = await this.#init.checker.check(leaf, { signal })
        if (signal.aborted) return
        if (result.status === 'unsupported') {
          this.#unsupported = true
          return
        }
        if (result.status === 'anchored') {
          this.#lastAsked.delete(entry.id)
          this.#init.onAnchored(roomId, entry, result.anchor)
        } else if (result.status === 'rejected' && !this.#warned.has(entry.id)) {
          this.#warned.add(entry.id)
          console.warn(`SecureChat: message ${entry.id} not marked as anchored: ${result.reason}`)
        }
      }
    } finally {
      // A poll abandoned for another room leaves the flag to that room's poll.
      if (this.#abort.signal === signal) this.#running = false
    }
    if (!signal.aborted && this.#roomId === roomId) this.#schedule(this.#interval)
  }
}
