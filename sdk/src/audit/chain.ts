/**
 * Reading and writing `AuditLog` (contracts/AuditLog.sol): `anchorOf(root)` answers "was this root anchored,
 * when, by whom" in one `eth_call`; `Anchored` events carry each batch's leaf count and leaf list CID.
 */
import { Contract, type ContractRunner, getAddress, Interface, type Provider, type Signer, toQuantity } from 'ethers'
import { sleep } from '../async.ts'
import { auditLogAbi } from '../contracts/index.ts'
import { describeError } from '../errors.ts'
import type { AbortOptions, Address, Bytes32, Eip1193Provider } from '../types.ts'
import { ANCHOR_LOG_BLOCK_RANGE, RECEIPT_POLL_INTERVAL_MS, RECEIPT_TIMEOUT_MS } from './constants.ts'
import { AuditLogUnavailableError, WalletRejectedError, WrongChainError } from './errors.ts'

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

interface AnchorRootBase {
  /** The `AuditLog` contract. */
  address: string
  root: string
  count: number
  cid: string
  /** Gas limit of the transaction; estimated (by the signer's provider or the wallet) when absent. */
  gasLimit?: bigint
  receiptPollIntervalMs?: number
  receiptTimeoutMs?: number
  /** The transaction is sent (not mined yet): a person may want to see its hash while it is. */
  onSent?: (transactionHash: string) => void
}

/**
 * Who pays for the anchor, viem style: an ethers signer connected to a provider (the relay's anchorer,
 * `securechat anchor`; the default `type`), or an EIP-1193 wallet (a browser's) that signs and sends while
 * receipts and anchors are read over `provider`, an RPC of the wallet's chain.
 */
export type AnchorRootParams = AnchorRootBase &
  (
    | { type?: 'signer'; signer: Signer }
    | { type: 'eip1193'; wallet: Eip1193Provider; account: string; provider: Provider }
  )

/** EIP-1193: the user rejected the request. */
const EIP1193_USER_REJECTED = 4001
const auditLogInterface = new Interface(auditLogAbi)

/**
 * Anchors `root` with one `AuditLog.anchor` transaction and waits for it to be mined. Anchoring is idempotent:
 * a root that already has an anchor resolves as `already-anchored` (the contract keeps the first anchor and
 * reverts replays with `AuditLogRootAlreadyAnchored`). Throws {@link AuditLogUnavailableError} when the
 * transaction could not be sent or mined (the caller retries with the same root); with a wallet, also
 * {@link WalletRejectedError} when its user said no and {@link WrongChainError} when it is on another chain
 * than `provider`.
 */
export async function anchorRoot(params: AnchorRootParams, options: AbortOptions = {}): Promise<AnchorResult> {
  const provider = params.type === 'eip1193' ? params.provider : params.signer.provider
  if (provider === null) {
    throw new AuditLogUnavailableError('the signer has no provider', { hint: 'connect it: wallet.connect(provider)' })
  }
  const reader = auditLogReader({ runner: provider, address: params.address })
  const existing = await reader.anchorOf(params.root, options)
  if (existing !== undefined) return { status: 'already-anchored', anchor: existing }
  let hash: string
  try {
    hash =
      params.type === 'eip1193'
        ? await sendWithWallet(params, reader.address, options)
        : await sendWithSigner(params, reader.address)
  } catch (cause) {
    if (cause instanceof WalletRejectedError || cause instanceof WrongChainError) throw cause
    // A replay (someone anchored the same root since): the first anchor stands.
    if (revertName(cause) === 'AuditLogRootAlreadyAnchored' || params.type === 'eip1193') {
      const anchor = await reader.anchorOf(params.root, options).catch(() => undefined)
      if (anchor !== undefined) return { status: 'already-anchored', anchor }
    }
    const wallet = params.type === 'eip1193'
    throw new AuditLogUnavailableError(
      wallet
        ? `the wallet could not send the anchor transaction: ${describeError(cause, { for: 'person' })}`
        : 'the anchor transaction could not be sent',
      {
        details: { root: params.root, address: reader.address },
        hint: wallet
          ? 'does the account hold enough ETH for gas?'
          : 'is the JSON-RPC endpoint up, and does the anchoring account hold ETH for gas?',
        cause,
      },
    )
  }
  params.onSent?.(hash)
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
        hint:
          params.type === 'eip1193'
            ? 'see the transaction in your wallet; nothing was anchored'
            : 'check the gas limit (--anchor-gas-limit) and that the address is an AuditLog',
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

async function sendWithSigner(params: AnchorRootBase & { signer: Signer }, address: Address): Promise<string> {
  const contract = new Contract(address, auditLogAbi, params.signer)
  const tx = await contract.getFunction('anchor')(
    params.root,
    params.count,
    params.cid,
    params.gasLimit === undefined ? {} : { gasLimit: params.gasLimit },
  )
  return (tx as { hash: string }).hash
}

/** `eth_sendTransaction` through the wallet, once it is on the chain `provider` reads (elsewhere it would anchor nothing here). */
async function sendWithWallet(
  params: AnchorRootBase & { wallet: Eip1193Provider; account: string; provider: Provider },
  address: Address,
  options: AbortOptions,
): Promise<string> {
  const [answer, network] = await Promise.all([
    params.wallet.request({ method: 'eth_chainId' }),
    params.provider.getNetwork(),
  ])
  options.signal?.throwIfAborted()
  const walletChainId = typeof answer === 'string' ? Number.parseInt(answer, 16) : Number(answer)
  const chainId = Number(network.chainId)
  if (walletChainId !== chainId) {
    throw new WrongChainError(`the wallet is on chain ${walletChainId}, the audit log on chain ${chainId}`, {
      details: { walletChainId, chainId },
      hint: `switch the wallet to chain ${chainId}, then try again`,
    })
  }
  const tx = {
    from: getAddress(params.account),
    to: address,
    data: auditLogInterface.encodeFunctionData('anchor', [params.root, params.count, params.cid]),
    ...(params.gasLimit === undefined ? {} : { gas: toQuantity(params.gasLimit) }),
  }
  let hash: unknown
  try {
    hash = await params.wallet.request({ method: 'eth_sendTransaction', params: [tx] })
  } catch (cause) {
    if (eip1193Code(cause) === EIP1193_USER_REJECTED) {
      throw new WalletRejectedError('the wallet’s user rejected the anchor transaction', { cause })
    }
    throw cause
  }
  if (typeof hash !== 'string' || !/^0x[0-9a-fA-F]{64}$/.test(hash)) {
    throw new AuditLogUnavailableError('the wallet answered no transaction hash', { details: { answer: hash } })
  }
  return hash
}

/** The EIP-1193 error code, also where wallets nest it (`error.code`, ethers' `info.error.code`). */
function eip1193Code(err: unknown): number | undefined {
  const e = err as { code?: unknown; error?: { code?: unknown }; info?: { error?: { code?: unknown } } } | null
  for (const code of [e?.code, e?.error?.code, e?.info?.error?.code]) if (typeof code === 'number') return code
  return undefined
}

function revertName(err: unknown): string | undefined {
  const revert = (err as { revert?: { name?: unknown } } | null)?.revert
  return typeof revert?.name === 'string' ? revert.name : undefined
}
