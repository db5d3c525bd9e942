/**
 * A member anchors a room's recent messages from the browser (DESIGN.md, Audit anchoring: "room members and relays
 * alike"), paying the gas from the wallet, as `securechat anchor` does from a terminal:
 *
 * 1. the batch: the leaves of the messages this device holds, in the leaf list format the relays publish;
 * 2. its leaf list's CID, computed here: a list of one IPFS block has the CID any IPFS node gives those bytes;
 * 3. `AuditLog.anchor(root, count, cid)`, sent by the wallet (`eth_sendTransaction`), its receipt read over the
 *    app's chain RPC; a root already anchored counts as anchored, as for the relays' anchorer;
 * 4. the leaf list handed to the relay that served the app (`POST /audit/leaf-lists`), which checks it against
 *    the chain and serves it on IPFS, so `securechat verify` finds the batch as it finds the relays' own.
 */
import {
  type AuditBatch,
  type AuditLeaf,
  auditLogReader,
  buildBatch,
  encodeLeafList,
  LEAF_LIST_CHUNK_BYTES,
  leafListCid,
  RECEIPT_POLL_INTERVAL_MS,
} from '@securechat/sdk/audit'
import { auditLogAbi } from '@securechat/sdk/contracts'
import { SecureChatError } from '@securechat/sdk/errors'
import type { Eip1193Provider } from '@securechat/sdk/identity'
import type { AbortOptions } from '@securechat/sdk/types'
import { getAddress, Interface, type Provider } from 'ethers'

/** Messages in one batch anchored from the browser at most: the most recent ones. */
export const MEMBER_ANCHOR_MAX_MESSAGES = 1_000
/** A sent anchor transaction not mined after this long is reported (it may still be mined). */
export const MEMBER_ANCHOR_RECEIPT_TIMEOUT_MS = 5 * 60_000
/** Times the leaf list is handed to the relay while it cannot take it yet (its RPC a block behind, busy). */
export const LEAF_LIST_PUBLISH_ATTEMPTS = 5
/** Wait before the next attempt, times the attempt number. */
export const LEAF_LIST_PUBLISH_RETRY_MS = 1_000
/** One `POST /audit/leaf-lists` is abandoned after this long. */
const LEAF_LIST_PUBLISH_TIMEOUT_MS = 30_000

/** Where the relay takes leaf lists of members' anchors. */
const LEAF_LISTS_PATH = '/audit/leaf-lists'
/** EIP-1193: the user rejected the request. */
const USER_REJECTED = 4001

const auditLog = new Interface(auditLogAbi)

export const MemberAnchorFailure = {
  /** Nothing this device holds is left to anchor. */
  nothingToAnchor: 'nothing-to-anchor',
  /** The wallet is on another chain than the app's audit log. */
  wrongChain: 'wrong-chain',
  /** The user said no in the wallet. */
  rejected: 'rejected',
  /** The wallet could not send the transaction. */
  wallet: 'wallet',
  /** The transaction was mined but failed, and the root has no anchor. */
  reverted: 'reverted',
  /** No receipt in time; the transaction may still be mined. */
  notMined: 'not-mined',
  /** The chain could not be read. */
  chain: 'chain',
} as const
export type MemberAnchorFailure = (typeof MemberAnchorFailure)[keyof typeof MemberAnchorFailure]

/** Why anchoring from the browser stopped; `reason` is what callers branch on. */
export class MemberAnchorError extends SecureChatError {
  override name = 'MemberAnchorError'
  readonly reason: MemberAnchorFailure

  constructor(reason: MemberAnchorFailure, message: string, options: ConstructorParameters<typeof SecureChatError>[1]) {
    super(message, options)
    this.reason = reason
  }
}

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

export interface MemberAnchorResult extends MemberBatch {
  /** `already-anchored`: the root had an anchor before this transaction (the first anchor stands). */
  status: 'anchored' | 'already-anchored'
  blockNumber: number
  /** This browser's transaction, when it was the one that anchored. */
  transactionHash?: string
  publication: LeafListPublication
}

/**
 * Whether the relay keeps the leaf list (so `securechat verify` can fetch it), or why not;
 * `final` when the relay refused these bytes for good (malformed, too large, another CID on chain).
 */
export type LeafListPublication = { ok: true } | { ok: false; reason: string; final: boolean }

export interface MemberAnchorInit {
  /** The wallet that signs and pays (EIP-1193). */
  wallet: Eip1193Provider
  account: string
  /** The app's chain RPC (`rpcUrl` of /config.json): receipts and anchors are read here, not through the wallet. */
  provider: Provider
  chainId: number
  auditLog: string
  /** Where `/audit/leaf-lists` is; default: the page's origin (the relay that served the app). */
  baseUrl?: string
  onProgress?: (progress: MemberAnchorProgress) => void
  receiptTimeoutMs?: number
  receiptPollIntervalMs?: number
}

/**
 * The batch of the most recent of `leaves` (oldest first) that one IPFS block holds, at most
 * {@link MEMBER_ANCHOR_MAX_MESSAGES}. Throws {@link MemberAnchorError} (`nothing-to-anchor`) when `leaves` is empty.
 */
export async function memberBatch(leaves: readonly AuditLeaf[], options: AbortOptions = {}): Promise<MemberBatch> {
  let recent = leaves.slice(-MEMBER_ANCHOR_MAX_MESSAGES)
  for (;;) {
    if (recent.length === 0) {
      throw new MemberAnchorError(MemberAnchorFailure.nothingToAnchor, 'no message here is waiting for an anchor', {
        hint: 'every message this device holds is marked as anchored already',
      })
    }
    const batch = await buildBatch(recent, options)
    const bytes = encodeLeafList(batch)
    if (bytes.byteLength <= LEAF_LIST_CHUNK_BYTES) return { batch, bytes, cid: leafListCid(bytes) }
    // Too large for one block (not with today's leaves: some 2,400 fit): drop the oldest tenth and try again.
    recent = recent.slice(Math.ceil(recent.length / 10))
  }
}

/** Anchors `prepared` with one transaction from the wallet, then hands its leaf list to the relay. */
export async function anchorWithWallet(
  prepared: MemberBatch,
  init: MemberAnchorInit,
  options: AbortOptions = {},
): Promise<MemberAnchorResult> {
  const { batch, cid } = prepared
  const reader = auditLogReader({ runner: init.provider, address: init.auditLog })
  const anchorOf = async () => {
    try {
      return await reader.anchorOf(batch.root, options)
    } catch (cause) {
      throw new MemberAnchorError(MemberAnchorFailure.chain, 'the audit log could not be read', {
        hint: 'check your connection, then try again',
        cause,
      })
    }
  }
  let status: MemberAnchorResult['status'] = 'already-anchored'
  let transactionHash: string | undefined
  let anchor = await anchorOf()
  if (anchor === undefined) {
    await requireChain(init)
    init.onProgress?.({ step: 'waiting-for-wallet', count: batch.count })
    transactionHash = await sendAnchor(init, {
      from: getAddress(init.account),
      to: reader.address,
      data: auditLog.encodeFunctionData('anchor', [batch.root, batch.count, cid]),
    })
    init.onProgress?.({ step: 'sent', transactionHash })
    const receipt = await waitForReceipt(init, transactionHash, options)
    anchor = await anchorOf()
    if (anchor === undefined) {
      throw new MemberAnchorError(MemberAnchorFailure.reverted, 'the anchor transaction failed on chain', {
        details: { transactionHash, root: batch.root },
        hint: 'see the transaction in your wallet; nothing was anchored',
      })
    }
    // Mined but reverted with an anchor in place: someone anchored the same batch first; theirs stands.
    if (receipt.status === 1) status = 'anchored'
  }
  init.onProgress?.({ step: 'publishing', blockNumber: anchor.blockNumber })
  const publication = await postLeafList(prepared.bytes, init, options)
  return {
    ...prepared,
    status,
    blockNumber: anchor.blockNumber,
    ...(status === 'anchored' && transactionHash !== undefined ? { transactionHash } : {}),
    publication,
  }
}

/**
 * Hands a leaf list to the relay (`POST /audit/leaf-lists`), trying again while the relay cannot take it yet
 * (its RPC has not seen the anchor, it is busy, or unreachable).
 */
export async function postLeafList(
  bytes: Uint8Array,
  init: Pick<MemberAnchorInit, 'baseUrl'>,
  options: AbortOptions = {},
): Promise<LeafListPublication> {
  const url = new URL(LEAF_LISTS_PATH, init.baseUrl ?? location.origin)
  for (let attempt = 1; ; attempt++) {
    let status: number | undefined
    let reason: string
    try {
      const timeout = AbortSignal.timeout(LEAF_LIST_PUBLISH_TIMEOUT_MS)
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/json' }),
        cache: 'no-store',
        signal: options.signal === undefined ? timeout : AbortSignal.any([options.signal, timeout]),
      })
      if (response.ok) return { ok: true }
      status = response.status
      const body = (await response.json().catch(() => ({}))) as { error?: unknown }
      reason = typeof body.error === 'string' ? body.error : `the relay answered ${status}`
    } catch (err) {
      options.signal?.throwIfAborted()
      reason = `the relay could not be reached (${String(err)})`
    }
    const transient = status === undefined || status === 422 || status === 429 || status === 503
    const final = status === 400 || status === 409 || status === 413 || status === 415
    if (!transient || attempt >= LEAF_LIST_PUBLISH_ATTEMPTS) return { ok: false, reason, final }
    await sleep(LEAF_LIST_PUBLISH_RETRY_MS * attempt, options.signal)
  }
}

/** The wallet must be on the audit log's chain: a transaction elsewhere would anchor nothing here. */
async function requireChain(init: MemberAnchorInit): Promise<void> {
  let walletChain: number
  try {
    const answer = await init.wallet.request({ method: 'eth_chainId' })
    walletChain = typeof answer === 'string' ? Number.parseInt(answer, 16) : Number(answer)
  } catch (cause) {
    throw new MemberAnchorError(MemberAnchorFailure.wallet, 'the wallet did not say which chain it is on', { cause })
  }
  if (walletChain !== init.chainId) {
    throw new MemberAnchorError(
      MemberAnchorFailure.wrongChain,
      `your wallet is on chain ${walletChain}, the audit log on chain ${init.chainId}`,
      { hint: 'switch the wallet to the app’s chain (the Switch button at the top), then try again' },
    )
  }
}

async function sendAnchor(init: MemberAnchorInit, tx: { from: string; to: string; data: string }): Promise<string> {
  let hash: unknown
  try {
    hash = await init.wallet.request({ method: 'eth_sendTransaction', params: [tx] })
  } catch (cause) {
    if (errorCode(cause) === USER_REJECTED) {
      throw new MemberAnchorError(MemberAnchorFailure.rejected, 'you rejected the transaction; nothing was anchored', {
        cause,
      })
    }
    throw new MemberAnchorError(
      MemberAnchorFailure.wallet,
      `the wallet could not send the transaction: ${errorMessage(cause)}`,
      { hint: 'does the account hold enough ETH for gas?', cause },
    )
  }
  if (typeof hash !== 'string' || !/^0x[0-9a-fA-F]{64}$/.test(hash)) {
    throw new MemberAnchorError(MemberAnchorFailure.wallet, 'the wallet answered no transaction hash', {
      details: { answer: hash },
    })
  }
  return hash
}

async function waitForReceipt(
  init: MemberAnchorInit,
  hash: string,
  options: AbortOptions,
): Promise<{ status: number | null; blockNumber: number }> {
  const deadline = Date.now() + (init.receiptTimeoutMs ?? MEMBER_ANCHOR_RECEIPT_TIMEOUT_MS)
  for (;;) {
    options.signal?.throwIfAborted()
    const receipt = await init.provider.getTransactionReceipt(hash).catch(() => null)
    if (receipt !== null) return receipt
    if (Date.now() >= deadline) {
      throw new MemberAnchorError(MemberAnchorFailure.notMined, `transaction ${hash} is not mined yet`, {
        details: { transactionHash: hash },
        hint: 'it may still be: check your wallet, then anchor again (an anchored batch is not paid twice)',
      })
    }
    await sleep(init.receiptPollIntervalMs ?? RECEIPT_POLL_INTERVAL_MS, options.signal)
  }
}

/** The EIP-1193 error code, also where wallets nest it (`error.code`, ethers' `info.error.code`). */
function errorCode(err: unknown): number | undefined {
  const e = err as { code?: unknown; error?: { code?: unknown }; info?: { error?: { code?: unknown } } } | null
  for (const code of [e?.code, e?.error?.code, e?.info?.error?.code]) if (typeof code === 'number') return code
  return undefined
}

function errorMessage(err: unknown): string {
  const e = err as { shortMessage?: unknown; message?: unknown } | null
  if (typeof e?.shortMessage === 'string') return e.shortMessage
  if (typeof e?.message === 'string') return e.message
  return String(err)
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    function onAbort(): void {
      clearTimeout(timer)
      reject(signal?.reason)
    }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
