/** What `securechat anchor`, `verify` and `export` share: the audit log, IPFS through the relays, files. */
import { readFile, rename, writeFile } from 'node:fs/promises'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Libp2p } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import {
  type AuditIpfs,
  type AuditLogReader,
  auditLogReader,
  createAuditIpfs,
  DEVNET_AUDIT_LOG_ADDRESS,
  type FoundBatch,
  fetchAnchoredBatches,
  parseTranscript,
  type Transcript,
} from '@securechat/sdk/audit'
import { createSecureChatLibp2p } from '@securechat/sdk/client'
import type { JsonRpcProvider } from 'ethers'
import { getAddress, isAddress } from 'ethers'
import { CLI_NETWORK_TIMEOUT_MS, DEVNET_CHAIN_ID } from '../constants.ts'
import { ConfigError } from '../errors.ts'
import { createRpcProvider, probeChainId } from '../rpc.ts'
import { ANCHOR_SCAN_BLOCKS, CLI_LEAF_LIST_TIMEOUT_MS } from './constants.ts'

/** Flags about the chain that every audit command takes. */
export interface ChainFlags {
  rpc?: string
  auditLog?: string
  fromBlock?: string
  /** Only batches this account anchored (a relay's anchoring address). */
  anchorer?: string
}

export interface AuditChain {
  chainId: number
  auditLog: string
  provider: JsonRpcProvider
  reader: AuditLogReader
  /** Which `Anchored` events to look at (`--from-block`, `--anchorer`). */
  filter: { fromBlock: number; anchorer?: string }
}

/**
 * The audit log named by `--audit-log` (or SECURECHAT_AUDIT_LOG, or `fallback`, or — on the devnet chain —
 * where `npm start` deploys it) on the chain at `--rpc` (or SECURECHAT_RPC).
 */
export async function openAuditChain(
  flags: ChainFlags,
  env: NodeJS.ProcessEnv,
  fallback?: { auditLog?: string; chainId?: number },
): Promise<AuditChain> {
  const rpc = flags.rpc ?? (env.SECURECHAT_RPC || undefined)
  if (rpc === undefined) {
    throw new ConfigError('this command reads the chain: pass --rpc <url>', {
      hint: '`npm start` prints its chain endpoint (http://127.0.0.1:8545 by default)',
    })
  }
  const chainId = await probeChainId(rpc)
  if (fallback?.chainId !== undefined && fallback.chainId !== chainId) {
    throw new ConfigError(`--rpc serves chain ${chainId}, the transcript was anchored on chain ${fallback.chainId}`)
  }
  const named = flags.auditLog ?? (env.SECURECHAT_AUDIT_LOG || undefined) ?? fallback?.auditLog
  const auditLog = named ?? (chainId === DEVNET_CHAIN_ID ? DEVNET_AUDIT_LOG_ADDRESS : undefined)
  if (auditLog === undefined || !isAddress(auditLog)) {
    throw new ConfigError(
      auditLog === undefined
        ? 'which audit log? pass --audit-log <address>'
        : `--audit-log: not an address: ${auditLog}`,
      { hint: 'the AuditLog contract the relays anchor to (`npm start` prints it)' },
    )
  }
  const namedFrom = flags.fromBlock === undefined ? undefined : Number(flags.fromBlock)
  if (namedFrom !== undefined && (!Number.isSafeInteger(namedFrom) || namedFrom < 0)) {
    throw new ConfigError(`--from-block must be a block number, got ${flags.fromBlock}`)
  }
  if (flags.anchorer !== undefined && !isAddress(flags.anchorer)) {
    throw new ConfigError(`--anchorer: not an address: ${flags.anchorer}`)
  }
  const provider = createRpcProvider({ url: rpc, chainId })
  let fromBlock = namedFrom ?? 0
  if (namedFrom === undefined && chainId !== DEVNET_CHAIN_ID) {
    fromBlock = Math.max(0, (await provider.getBlockNumber()) - ANCHOR_SCAN_BLOCKS)
    process.stderr.write(`looking for anchors from block ${fromBlock} on (--from-block to look further back)\n`)
  }
  return {
    chainId,
    auditLog: getAddress(auditLog),
    provider,
    reader: auditLogReader({ runner: provider, address: auditLog }),
    filter: { fromBlock, ...(flags.anchorer === undefined ? {} : { anchorer: getAddress(flags.anchorer) }) },
  }
}

export interface AuditNetwork {
  ipfs: AuditIpfs
  stop(): Promise<void>
}

/**
 * IPFS over the relays: on `libp2p` when given (a joined client's), else on a fresh libp2p node with no
 * wallet that dials `relays`. Relays that anchor serve their leaf lists to whoever is connected.
 */
export async function openAuditNetwork(params: { relays: string[]; libp2p?: Libp2p }): Promise<AuditNetwork> {
  const owned = params.libp2p === undefined
  const libp2p =
    params.libp2p ?? (await createSecureChatLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: [] }))
  if (owned) {
    const dialled = await Promise.allSettled(
      params.relays.map((address) =>
        libp2p.dial(multiaddr(address), { signal: AbortSignal.timeout(CLI_NETWORK_TIMEOUT_MS) }),
      ),
    )
    if (params.relays.length > 0 && dialled.every((r) => r.status === 'rejected')) {
      process.stderr.write(`warning: no relay reachable at ${params.relays.join(', ')}; leaf lists may not be found\n`)
    }
  }
  const ipfs = await createAuditIpfs({ libp2p })
  return {
    ipfs,
    async stop() {
      await ipfs.stop()
      if (owned) await libp2p.stop()
    },
  }
}

/** Every anchored batch with leaves of `roomId`, fetched through `ipfs`; unreachable leaf lists are reported. */
export async function anchoredBatches(chain: AuditChain, ipfs: AuditIpfs, roomId?: string): Promise<FoundBatch[]> {
  return fetchAnchoredBatches({
    reader: chain.reader,
    ipfs,
    filter: chain.filter,
    ...(roomId === undefined ? {} : { roomId }),
    timeoutMs: CLI_LEAF_LIST_TIMEOUT_MS,
    onUnavailable: (event, error) =>
      process.stderr.write(
        `warning: the leaf list of batch ${event.root} (block ${event.blockNumber}, ${event.cid}) is unavailable: ${
          error instanceof Error ? error.message : String(error)
        }\n`,
      ),
  })
}

export async function readTranscriptFile(path: string): Promise<Transcript> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (cause) {
    throw new ConfigError(`cannot read the transcript ${path}`, { cause })
  }
  return parseTranscript(text)
}

/** Writes atomically: a crash leaves the old file or the new one, never half of one. */
export async function writeTranscriptFile(path: string, transcript: Transcript): Promise<void> {
  await writeFile(`${path}.tmp`, `${JSON.stringify(transcript, null, 1)}\n`)
  await rename(`${path}.tmp`, path)
}

/** Resolves after `ms`, or on the first SIGINT/SIGTERM (whichever comes first); without `ms`, on a signal only. */
export function listenFor(ms: number | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer)
      process.off('SIGINT', done)
      process.off('SIGTERM', done)
      resolve()
    }
    const timer = ms === undefined ? undefined : setTimeout(done, ms)
    process.once('SIGINT', done)
    process.once('SIGTERM', done)
  })
}
