/**
 * Anchoring in the web app: the marks of the room on screen (`anchors.ts` checks them), and a member anchoring a
 * room's recent messages from the browser (docs/architecture.md, Audit anchoring: "room members and relays alike"), paying
 * the gas from the wallet, as `securechat anchor` does from a terminal:
 *
 * 1. the batch: the leaves of the messages this device holds, in the leaf list format the relays publish;
 * 2. its leaf list's CID, computed here: a list of one IPFS block has the CID any IPFS node gives those bytes;
 * 3. `AuditLog.anchor(root, count, cid)`, sent by the wallet through the sdk's `anchorRoot`, its receipt read
 *    over the app's chain RPC; a root already anchored counts as anchored, as for the relays' anchorer;
 * 4. the leaf list handed to the relay that served the app (`POST /audit/leaf-lists`), which checks it against
 *    the chain and serves it on IPFS, so `securechat verify` finds the batch as it finds the relays' own.
 */
import {
  type AuditBatch,
  type AuditLeaf,
  anchorModerationLog,
  anchorRoot,
  buildBatch,
  encodeLeafList,
  leafListCid,
  MAX_SUBMITTED_LEAF_LIST_BYTES,
  proveInclusion,
} from '@securechat/sdk/audit'
import type { SecureChatClient } from '@securechat/sdk/client'
import type { AbortOptions } from '@securechat/sdk/types'
import type { AppConfig } from '../config.ts'
import { AnchorChecker, AnchorWatcher, type LeafListPublication, leafOfEntry, postLeafList } from './anchors.ts'
import { type Conversations, isPendingRoom } from './conversations.ts'
import type { ChatEntry, HistoryStore } from './history-store.ts'
import type { SessionPart, SignedIn } from './session.ts'

/** Messages in one batch anchored from the browser at most: the most recent ones. */
export const MEMBER_ANCHOR_MAX_MESSAGES = 1_000
/** A sent anchor transaction not mined after this long is reported (it may still be mined). */
export const MEMBER_ANCHOR_RECEIPT_TIMEOUT_MS = 5 * 60_000

export type MemberAnchorProgress =
  | { step: 'waiting-for-wallet'; count: number }
  | { step: 'sent'; transactionHash: string }
  | { step: 'publishing'; blockNumber: number }

/** A batch ready to anchor: the tree, and its leaf list as the relays publish it, with its CID. */
export interface MemberBatch {
  batch: AuditBatch
  bytes: Uint8Array
  cid: string
}

export type MemberAnchorResult =
  /** Every message this device holds has a verified anchor already. */
  | { status: 'nothing-to-anchor' }
  | (MemberBatch & {
      /** `already-anchored`: the root had an anchor before this transaction (the first anchor stands). */
      status: 'anchored' | 'already-anchored'
      blockNumber: number
      publication: LeafListPublication
      /** Messages marked as anchored by this. */
      marked: number
    })

export type ModerationAnchorResult = {
  /** `already-anchored`: the log's tips were anchored before (the first anchor stands). */
  status: 'anchored' | 'already-anchored'
  /** Events of the log the anchor covers. */
  events: number
  blockNumber: number
  publication: LeafListPublication
  /** The leaf list, to hand to the relay again if it did not keep it. */
  bytes: Uint8Array
}

/**
 * The batch of the most recent of `leaves` (oldest first) that a relay takes (one IPFS block), at most
 * {@link MEMBER_ANCHOR_MAX_MESSAGES}; undefined when `leaves` is empty.
 */
export async function memberBatch(
  leaves: readonly AuditLeaf[],
  options: AbortOptions = {},
): Promise<MemberBatch | undefined> {
  let recent = leaves.slice(-MEMBER_ANCHOR_MAX_MESSAGES)
  while (recent.length > 0) {
    const batch = await buildBatch(recent, options)
    const bytes = encodeLeafList(batch)
    if (bytes.byteLength <= MAX_SUBMITTED_LEAF_LIST_BYTES) return { batch, bytes, cid: leafListCid(bytes) }
    // Too large for one block (not with today's leaves: some 2,400 fit): drop the oldest tenth and try again.
    recent = recent.slice(Math.ceil(recent.length / 10))
  }
  return undefined
}

/**
 * The signed-in wallet's anchoring: which room's marks are checked, and anchoring from the wallet. Dispatches
 * `anchoring:changed` when {@link canAnchor} changed; the marks themselves are in the conversations' histories.
 */
export class Anchoring extends EventTarget implements SessionPart {
  readonly #config: AppConfig
  readonly #conversations: Conversations
  #signedIn: SignedIn | undefined
  /** Undefined without an AuditLog and an RPC endpoint in the relay's config. */
  #checker: AnchorChecker | undefined
  #watcher: AnchorWatcher | undefined

  constructor(config: AppConfig, conversations: Conversations) {
    super()
    this.#config = config
    this.#conversations = conversations
    conversations.addEventListener('message:added', this.#onMessage)
  }

  /** Whether this member can anchor rooms' messages itself: the relay names an audit log and a chain RPC. */
  get canAnchor(): boolean {
    return this.#checker !== undefined
  }

  async open(signedIn: SignedIn): Promise<void> {
    this.#signedIn = signedIn
    const auditLog = this.#config.contracts.auditLog
    if (auditLog !== undefined && signedIn.provider !== undefined) {
      const checker = new AnchorChecker({ provider: signedIn.provider, chainId: this.#config.chainId, auditLog })
      this.#checker = checker
      this.#watcher = new AnchorWatcher({
        checker,
        history: (roomId) => this.#conversations.history(roomId),
        onAnchored: (roomId, entry, anchor) => this.#conversations.recordAnchor(roomId, entry, anchor),
      })
    }
    this.#changed()
  }

  async connected(_client: SecureChatClient): Promise<void> {
    const signedIn = this.#signedIn
    if (signedIn !== undefined) void this.#republishPending(signedIn.store, signedIn.signal)
  }

  close(): void {
    this.#watcher?.stop()
    this.#watcher = undefined
    this.#checker = undefined
    this.#signedIn = undefined
    this.#changed()
  }

  /** The conversation on screen: its room messages get their "anchored" marks checked. */
  watch(id: string | undefined): void {
    const view = id === undefined ? undefined : this.#conversations.get(id)
    this.#watcher?.watch(view?.kind === 'room' && !isPendingRoom(view.id) ? view.id : undefined)
  }

  /**
   * Anchors the room's messages this device holds and has no verified anchor for (the most recent ones, one
   * batch), with a transaction from the wallet, hands the leaf list to the relay, and marks each message once its
   * anchor checks out. Throws what `anchorRoot` throws (`WalletRejectedError`, `WrongChainError`,
   * `AuditLogUnavailableError`).
   */
  async anchorRecent(
    roomId: string,
    onProgress: (progress: MemberAnchorProgress) => void = () => {},
    options: AbortOptions = {},
  ): Promise<MemberAnchorResult> {
    const checker = this.#checker
    const signedIn = this.#signedIn
    const auditLog = this.#config.contracts.auditLog
    if (checker === undefined || signedIn?.provider === undefined || auditLog === undefined) {
      throw new Error('this relay names no audit log or chain RPC: messages cannot be anchored from here')
    }
    const leaves = this.#conversations
      .history(roomId)
      .filter((entry) => entry.anchor === undefined)
      .flatMap((entry): Array<{ entry: ChatEntry; leaf: AuditLeaf }> => {
        const leaf = leafOfEntry(roomId, entry)
        return leaf === undefined ? [] : [{ entry, leaf }]
      })
    const prepared = await memberBatch(
      leaves.map(({ leaf }) => leaf),
      options,
    )
    if (prepared === undefined) return { status: 'nothing-to-anchor' }
    const { batch, bytes, cid } = prepared
    onProgress({ step: 'waiting-for-wallet', count: batch.count })
    const result = await anchorRoot(
      {
        type: 'eip1193',
        wallet: signedIn.wallet.provider,
        account: signedIn.address,
        provider: signedIn.provider,
        address: auditLog,
        root: batch.root,
        count: batch.count,
        cid,
        receiptTimeoutMs: MEMBER_ANCHOR_RECEIPT_TIMEOUT_MS,
        onSent: (transactionHash) => onProgress({ step: 'sent', transactionHash }),
      },
      options,
    )
    // Read from the chain just now, with the CID this browser named: proofs to the root need no second read.
    if (result.status === 'anchored') {
      checker.seed({ ...result.anchor, cid, transactionHash: result.transactionHash, count: batch.count })
    }
    // On chain now, naming the list's CID: keep the list until a relay has taken it.
    const store = signedIn.store
    void store.addPendingLeafList(bytes).catch(() => {})
    onProgress({ step: 'publishing', blockNumber: result.anchor.blockNumber })
    const publication = await postLeafList(bytes, {}, options)
    await settleLeafList(store, bytes, publication)
    // Marked as any relay's anchor is: this browser's own proof, checked against the root's anchor.
    let marked = 0
    for (const { entry, leaf } of leaves) {
      const proof = proveInclusion(batch, { messageId: leaf.messageId, roomId: leaf.roomId })
      if (proof === undefined) continue
      const check = await checker.checkProof(leaf, proof, options)
      if (check.status !== 'anchored') continue
      this.#conversations.recordAnchor(roomId, entry, { ...check.anchor, proofSource: 'self' })
      marked += 1
    }
    return { ...prepared, status: result.status, blockNumber: result.anchor.blockNumber, publication, marked }
  }

  /**
   * An owner or moderator anchors the room's moderation log from the wallet (docs/architecture.md, Moderation): the
   * sdk's `anchorModerationLog`, one leaf per tip of the log, then the leaf list handed to the relay as a member's
   * message batch is, so `securechat verify --moderation` finds it. Throws what `anchorRoot` throws, and
   * `InvalidInputError` for a log with no event.
   */
  async anchorModeration(
    roomId: string,
    onProgress: (progress: MemberAnchorProgress) => void = () => {},
    options: AbortOptions = {},
  ): Promise<ModerationAnchorResult> {
    const signedIn = this.#signedIn
    const auditLog = this.#config.contracts.auditLog
    const room = signedIn?.client.rooms.find((candidate) => candidate.id === roomId)
    if (signedIn?.provider === undefined || auditLog === undefined || room === undefined) {
      throw new Error('this relay names no audit log or chain RPC, or the room is not joined: nothing can be anchored')
    }
    const events = room.moderation.entries().length
    onProgress({ step: 'waiting-for-wallet', count: events })
    const { bytes, result } = await anchorModerationLog(
      {
        log: room.moderation,
        type: 'eip1193',
        wallet: signedIn.wallet.provider,
        account: signedIn.address,
        provider: signedIn.provider,
        address: auditLog,
        receiptTimeoutMs: MEMBER_ANCHOR_RECEIPT_TIMEOUT_MS,
        onSent: (transactionHash) => onProgress({ step: 'sent', transactionHash }),
      },
      options,
    )
    const store = signedIn.store
    void store.addPendingLeafList(bytes).catch(() => {})
    onProgress({ step: 'publishing', blockNumber: result.anchor.blockNumber })
    const publication = await postLeafList(bytes, {}, options)
    await settleLeafList(store, bytes, publication)
    return { status: result.status, events, blockNumber: result.anchor.blockNumber, publication, bytes }
  }

  /** Hands a leaf list to the relay again, after {@link anchorRecent} could not. */
  async republishLeafList(bytes: Uint8Array, options: AbortOptions = {}): Promise<LeafListPublication> {
    const publication = await postLeafList(bytes, {}, options)
    const store = this.#signedIn?.store
    if (store !== undefined) await settleLeafList(store, bytes, publication)
    return publication
  }

  /** Hands the relay the leaf lists of earlier anchors it never took (the page was closed, the relay was down). */
  async #republishPending(store: HistoryStore, signal: AbortSignal): Promise<void> {
    for (const bytes of await store.pendingLeafLists()) {
      const publication = await postLeafList(bytes, {}, { signal }).catch(() => undefined)
      if (publication === undefined || this.#signedIn?.store !== store) return // signed out
      await settleLeafList(store, bytes, publication)
    }
  }

  readonly #onMessage = (event: Event): void => {
    const { conversation, entry } = (event as CustomEvent<{ conversation: string; entry: ChatEntry }>).detail
    if (entry.ciphertextHash !== undefined) this.#watcher?.poke(conversation)
  }

  #changed(): void {
    this.dispatchEvent(new Event('anchoring:changed'))
  }
}

/** Drops a kept leaf list once a relay has it, or has refused it for good. */
async function settleLeafList(store: HistoryStore, bytes: Uint8Array, publication: LeafListPublication): Promise<void> {
  if (publication.ok || publication.final) await store.removePendingLeafList(bytes).catch(() => {})
}
