/**
 * Reading and writing `AuditLog` (contracts/AuditLog.sol): `anchorOf(root)` answers "was this root anchored,
 * when, by whom" in one `eth_call`; `Anchored` events carry each batch's leaf count and leaf list CID.
 */
import { Contract, type ContractRunner, getAddress, type Provider, type Signer } from 'ethers'
import { auditLogAbi } from '../contracts/index.ts'
import type { AbortOptions, Address } from '../types.ts'
import { ANCHOR_LOG_BLOCK_RANGE, RECEIPT_POLL_INTERVAL_MS, RECEIPT_TIMEOUT_MS } from './constants.ts'
import { AuditLogUnavailableError } from './errors.ts'
import type { Bytes32 } from './leaf.ts'

/** The first anchor of a root, as the contract stores it. */
export interface AnchorRecord {
  root: Bytes32
  anchorer: Address
  blockNumber: number
  /** Block time, seconds since the Unix epoch. */
  timestamp: number
}

/** One `Anchored` event: a batch of `count` leaves whose leaf list is on IPFS under `cid`. */
export interface AnchoredEvent {
  root: Bytes32
  anchorer: Address
  count: number
  cid: string
  blockNumber: number
  transactionHash: string
}

export interface AuditLogReader {
  readonly address: Address
  /** The anchor of `root`, or undefined when it was never anchored. Throws {@link AuditLogUnavailableError}. */
  anchorOf(root: string, options?: AbortOptions): Promise<AnchorRecord | undefined>
  /**
   * `Anchored` events in `[fromBlock, toBlock]` (default: the whole chain), oldest first, asked for in slices
   * of {@link ANCHOR_LOG_BLOCK_RANGE} blocks. Throws {@link AuditLogUnavailableError}.
   */
  anchoredEvents(filter?: AnchoredEventFilter, options?: AbortOptions): Promise<AnchoredEvent[]>
}

export interface AnchoredEventFilter {
  fromBlock?: number
  toBlock?: number
  root?: string
  anchorer?: string
}

export interface AuditLogParams {
  /** A provider (reads) or a signer connected to one (reads and writes). */
  runner: Provider | Signer
  address: string
}

export function auditLogReader(params: AuditLogParams): AuditLogReader {
  const address = getAddress(params.address) as Address
  const provider = 'sendTransaction' in params.runner ? (params.runner as Signer).provider : (params.runner as Provider)
  if (provider === null) {
    throw new AuditLogUnavailableError('the signer has no provider', { hint: 'connect it: wallet.connect(provider)' })
  }
  const contract = new Contract(address, auditLogAbi, provider as ContractRunner)
  return {
    address,
    async anchorOf(root, options = {}) {
      options.signal?.throwIfAborted()
      let result: [string, bigint, bigint]
      try {
        result = (await contract.getFunction('anchorOf').staticCall(root)) as unknown as [string, bigint, bigint]
      } catch (cause) {
        throw unavailable(address, 'anchorOf', cause)
      }
      const [anchorer, blockNumber, timestamp] = result
      if (blockNumber === 0n) return undefined
      return {
        root: root.toLowerCase() as Bytes32,
        anchorer: getAddress(anchorer) as Address,
        blockNumber: Number(blockNumber),
        timestamp: Number(timestamp),
      }
    },
    async anchoredEvents(filter = {}, options = {}) {
      let toBlock: number
      try {
        toBlock = filter.toBlock ?? (await (provider as Provider).getBlockNumber())
      } catch (cause) {
        throw unavailable(address, 'eth_blockNumber', cause)
      }
      const topicFilter = contract.filters.Anchored!(filter.root ?? null, filter.anchorer ?? null)
      const events: AnchoredEvent[] = []
      for (let from = filter.fromBlock ?? 0; from <= toBlock; from += ANCHOR_LOG_BLOCK_RANGE) {
        options.signal?.throwIfAborted()
        const to = Math.min(toBlock, from + ANCHOR_LOG_BLOCK_RANGE - 1)
        let logs: Awaited<ReturnType<typeof contract.queryFilter>>
        try {
          logs = await contract.queryFilter(topicFilter, from, to)
        } catch (cause) {
          throw unavailable(address, 'eth_getLogs', cause)
        }
        for (const log of logs) {
          if (!('args' in log)) continue
          const [root, anchorer, count, cid] = log.args as unknown as [string, string, bigint, string]
          events.push({
            root: root.toLowerCase() as Bytes32,
            anchorer: getAddress(anchorer) as Address,
            count: Number(count),
            cid,
            blockNumber: log.blockNumber,
            transactionHash: log.transactionHash,
          })
        }
      }
      return events
    },
  }
}

function unavailable(address: string, what: string, cause: unknown): AuditLogUnavailableError {
  return new AuditLogUnavailableError(`could not read the audit log at ${address} (${what})`, {
    details: { address },
    hint: 'is the JSON-RPC endpoint up, on the chain where AuditLog lives, and is the address right?',
    cause,
  })
}

export type AnchorResult =
  | { status: 'anchored'; anchor: AnchorRecord; transactionHash: string; gasUsed: bigint }
  /** The root already had an anchor (ours from an earlier attempt, or anyone's): the first one stands. */
  | { status: 'already-anchored'; anchor: AnchorRecord }

export interface AnchorRootParams {
  /** Pays for the transaction; connected to a provider. */
  signer: Signer
  address: string
  root: string
  count: number
  cid: string
  /** Gas limit of the transaction; estimated when absent. */
  gasLimit?: bigint
  receiptPollIntervalMs?: number
  receiptTimeoutMs?: number
}

/**
 * Anchors `root` with one `AuditLog.anchor` transaction and waits for it to be mined. Anchoring is idempotent:
 * a root that already has an anchor resolves as `already-anchored` (the contract keeps the first anchor and
 * reverts replays with `AuditLogRootAlreadyAnchored`). Throws {@link AuditLogUnavailableError} when the
 * transaction could not be sent or mined; the caller retries with the same root.
 */
export async function anchorRoot(params: AnchorRootParams, options: AbortOptions = {}): Promise<AnchorResult> {
  const reader = auditLogReader({ runner: params.signer, address: params.address })
  const existing = await reader.anchorOf(params.root, options)
  if (existing !== undefined) return { status: 'already-anchored', anchor: existing }
  const contract = new Contract(reader.address, auditLogAbi, params.signer)
  let hash: string
  try {
    const tx = await contract.getFunction('anchor')(
      params.root,
      params.count,
      params.cid,
      params.gasLimit === undefined ? {} : { gasLimit: params.gasLimit },
    )
    hash = (tx as { hash: string }).hash
  } catch (cause) {
    if (revertName(cause) === 'AuditLogRootAlreadyAnchored') {
      const anchor = await reader.anchorOf(params.root, options)
      if (anchor !== undefined) return { status: 'already-anchored', anchor }
    }
    throw new AuditLogUnavailableError('the anchor transaction could not be sent', {
      details: { root: params.root, address: reader.address },
      hint: 'is the JSON-RPC endpoint up, and does the anchoring account hold ETH for gas?',
      cause,
    })
  }
  const provider = params.signer.provider!
  const deadline = Date.now() + (params.receiptTimeoutMs ?? RECEIPT_TIMEOUT_MS)
  for (;;) {
    options.signal?.throwIfAborted()
    let receipt: Awaited<ReturnType<Provider['getTransactionReceipt']>> = null
    try {
      receipt = await provider.getTransactionReceipt(hash)
    } catch {
      // The endpoint hiccupped: ask again until the deadline.
    }
    if (receipt !== null) {
      const anchor = await reader.anchorOf(params.root, options)
      if (receipt.status === 1 && anchor !== undefined) {
        return { status: 'anchored', anchor, transactionHash: hash, gasUsed: receipt.gasUsed }
      }
      // Reverted: someone anchored the same root first (a race), or the transaction failed.
      if (anchor !== undefined) return { status: 'already-anchored', anchor }
      throw new AuditLogUnavailableError('the anchor transaction reverted', {
        details: { root: params.root, transactionHash: hash, address: reader.address },
        hint: 'check the gas limit (--anchor-gas-limit) and that the address is an AuditLog',
      })
    }
    if (Date.now() >= deadline) {
      throw new AuditLogUnavailableError('the anchor transaction was not mined in time', {
        details: { root: params.root, transactionHash: hash },
        hint: 'it may still be mined; the next attempt checks anchorOf before sending again',
      })
    }
    await sleep(params.receiptPollIntervalMs ?? RECEIPT_POLL_INTERVAL_MS, options.signal)
  }
}

function revertName(err: unknown): string | undefined {
  const revert = (err as { revert?: { name?: unknown } } | null)?.revert
  return typeof revert?.name === 'string' ? revert.name : undefined
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(done, ms)
    function done(): void {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }
    function onAbort(): void {
      clearTimeout(timer)
      reject(signal?.reason)
    }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
