/**
 * A local Ethereum chain for the devnet and tests: a Hardhat node in a child process.
 *
 * The node funds `HARDHAT_DEV_ACCOUNT_COUNT` accounts derived from `HARDHAT_DEV_MNEMONIC`; their keys are public, so
 * the node binds to loopback by default and must never be exposed.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { sleep, withTimeout } from '@securechat/sdk/async'
import { HDNodeWallet } from 'ethers'
import {
  CHAIN_OUTPUT_TAIL_LINES,
  CHAIN_PROBE_INTERVAL_MS,
  CHAIN_PROBE_TIMEOUT_MS,
  CHAIN_START_TIMEOUT_MS,
  CHAIN_STOP_TIMEOUT_MS,
  DEVNET_HOST,
  HARDHAT_DEV_ACCOUNT_COUNT,
  HARDHAT_DEV_DERIVATION_PATH,
  HARDHAT_DEV_MNEMONIC,
} from '../constants.ts'
import { ChainStartError } from '../errors.ts'
import { probeChainId } from '../rpc.ts'

const require = createRequire(import.meta.url)

/** The repository's Hardhat config (the node needs one; ours compiles nothing when it starts a node). */
const HARDHAT_CONFIG = fileURLToPath(new URL('../../../hardhat.config.ts', import.meta.url))

export interface AbortOptions {
  signal?: AbortSignal
}

export interface StartChainInit {
  /** TCP port of the JSON-RPC server. 0 or omitted: the OS picks a free one (no race with other processes). */
  port?: number
  /** Interface to bind; default `DEVNET_HOST` (loopback). */
  host?: string
  /** Give up when the node has not answered `eth_chainId` after this long; default `CHAIN_START_TIMEOUT_MS`. */
  timeoutMs?: number
}

export interface Chain {
  /** HTTP JSON-RPC endpoint, e.g. `http://127.0.0.1:8545`. */
  readonly rpcUrl: string
  /** What the node answers to `eth_chainId` (Hardhat's default is 31337). */
  readonly chainId: number
  /** Process id of the node; it leads its own process group. */
  readonly pid: number
  /** Kills the node and its process group and resolves once it has exited. Idempotent. */
  stop(): Promise<void>
}

export interface DevAccount {
  readonly address: string
  /** PUBLIC test key (see `HARDHAT_DEV_MNEMONIC`): local use only. */
  readonly privateKey: string
}

let devAccounts: readonly DevAccount[] | undefined

/**
 * The accounts a Hardhat node funds, derived from `HARDHAT_DEV_MNEMONIC` (computed once, on first use).
 * Their private keys are publicly known: use them on a local chain only.
 */
export function hardhatDevAccounts(): readonly DevAccount[] {
  if (devAccounts === undefined) {
    const root = HDNodeWallet.fromPhrase(HARDHAT_DEV_MNEMONIC, undefined, HARDHAT_DEV_DERIVATION_PATH)
    devAccounts = Object.freeze(
      Array.from({ length: HARDHAT_DEV_ACCOUNT_COUNT }, (_, i) => {
        const { address, privateKey } = root.deriveChild(i)
        return Object.freeze({ address, privateKey })
      }),
    )
  }
  return devAccounts
}

/** The private keys of `hardhatDevAccounts()`, in account order. PUBLIC test keys: local use only. */
export function hardhatDevPrivateKeys(): readonly string[] {
  return hardhatDevAccounts().map((account) => account.privateKey)
}

/** Path of Hardhat's CLI entry point, found through module resolution rather than the working directory. */
export function hardhatCliPath(): string {
  let pkgPath: string
  try {
    pkgPath = require.resolve('hardhat/package.json')
  } catch (cause) {
    throw new ChainStartError('Hardhat is not installed', {
      hint: 'Run `npm install` at the repository root: hardhat is one of its devDependencies.',
      cause,
    })
  }
  const pkg = require(pkgPath) as { bin: { hardhat: string } }
  return join(dirname(pkgPath), pkg.bin.hardhat)
}

/**
 * Starts a Hardhat node in a child process (its own process group) and resolves once it answers `eth_chainId`.
 *
 * The node outlives an abrupt exit of this process only if the process is killed by a signal: a normal exit kills it.
 * Long-running callers (the CLI) should call `stop()` on SIGINT/SIGTERM.
 */
export async function startChain(init: StartChainInit = {}, options: AbortOptions = {}): Promise<Chain> {
  const port = init.port ?? 0
  const host = init.host ?? DEVNET_HOST
  const timeoutMs = init.timeoutMs ?? CHAIN_START_TIMEOUT_MS
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new ChainStartError(`port: expected an integer from 0 to 65535, got ${port}`, { details: { port } })
  }
  if (host.length === 0) throw new ChainStartError('host: expected a hostname or IP address, got ""')
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new ChainStartError(`timeoutMs: expected a positive number, got ${timeoutMs}`, { details: { timeoutMs } })
  }
  if (options.signal?.aborted === true) {
    throw new ChainStartError('startChain aborted', { cause: options.signal.reason })
  }

  const args = [hardhatCliPath(), '--config', HARDHAT_CONFIG, 'node', '--hostname', host, '--port', String(port)]
  const child = spawn(process.execPath, args, {
    cwd: dirname(HARDHAT_CONFIG),
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, FORCE_COLOR: '0' },
  })
  const stop = stopper(child)
  const killOnExit = (): void => killGroup(child, 'SIGKILL')
  process.once('exit', killOnExit)
  child.once('exit', () => process.removeListener('exit', killOnExit))

  const signal = withTimeout(options.signal, timeoutMs)
  const output = new OutputTail(CHAIN_OUTPUT_TAIL_LINES)
  try {
    const rpcUrl = await waitForRpcUrl(child, output, signal)
    const chainId = await waitForChainId(rpcUrl, child, signal)
    return { rpcUrl, chainId, pid: child.pid!, stop }
  } catch (err) {
    await stop()
    if (err instanceof ChainStartError) throw err
    // Only the caller's signal or our timeout can have aborted the wait.
    const timedOut = !(err instanceof Error && err === options.signal?.reason)
    throw new ChainStartError(timedOut ? `Hardhat node did not answer within ${timeoutMs} ms` : 'startChain aborted', {
      details: { host, port, pid: child.pid, output: output.text() },
      ...(timedOut ? { hint: 'See details.output for what the node printed.' } : {}),
      cause: err,
    })
  } finally {
    // Keep draining the pipes so the node never blocks on a full one (it logs every RPC call).
    output.detach()
    child.stdout?.resume()
    child.stderr?.resume()
  }
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
  try {
    process.kill(-child.pid, signal)
  } catch {
    // The group is gone already.
  }
}

function stopper(child: ChildProcess): () => Promise<void> {
  let stopping: Promise<void> | undefined
  return () => {
    stopping ??= (async () => {
      const exited = new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) resolve()
        else child.once('exit', () => resolve())
      })
      killGroup(child, 'SIGTERM')
      const timer = setTimeout(() => killGroup(child, 'SIGKILL'), CHAIN_STOP_TIMEOUT_MS)
      try {
        await exited
      } finally {
        clearTimeout(timer)
      }
    })()
    return stopping
  }
}

/** Keeps the last lines the node printed, to explain a failed start. */
class OutputTail {
  readonly #max: number
  readonly #lines: string[] = []
  readonly #listeners = new Map<NodeJS.ReadableStream, (chunk: Buffer) => void>()
  #partial = ''

  constructor(max: number) {
    this.#max = max
  }

  attach(stream: NodeJS.ReadableStream | null, onLine?: (line: string) => void): void {
    if (stream === null) return
    const listener = (chunk: Buffer): void => {
      const lines = (this.#partial + chunk.toString('utf8')).split('\n')
      this.#partial = lines.pop() ?? ''
      for (const line of lines) {
        this.#lines.push(line)
        if (this.#lines.length > this.#max) this.#lines.shift()
        onLine?.(line)
      }
    }
    this.#listeners.set(stream, listener)
    stream.on('data', listener)
  }

  detach(): void {
    for (const [stream, listener] of this.#listeners) stream.removeListener('data', listener)
    this.#listeners.clear()
  }

  text(): string {
    return [...this.#lines, this.#partial].join('\n').trim()
  }
}

const SERVER_LINE = /JSON-RPC server at (https?:\/\/\S+?)\/?\s*$/

/** Resolves with the URL the node prints once its server listens (the only way to learn an OS-picked port). */
function waitForRpcUrl(child: ChildProcess, output: OutputTail, signal: AbortSignal): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const onAbort = (): void => finish(() => reject(signal.reason))
    const onExit = (code: number | null, exitSignal: NodeJS.Signals | null): void =>
      finish(() =>
        reject(
          new ChainStartError(`Hardhat node exited before it was ready (code ${code}, signal ${exitSignal})`, {
            details: { pid: child.pid, code, signal: exitSignal, output: output.text() },
            hint: 'See details.output; a taken port shows up there as EADDRINUSE.',
          }),
        ),
      )
    const onError = (cause: Error): void =>
      finish(() => reject(new ChainStartError('Hardhat node could not be spawned', { cause })))
    const finish = (settle: () => void): void => {
      signal.removeEventListener('abort', onAbort)
      child.removeListener('exit', onExit)
      child.removeListener('error', onError)
      settle()
    }
    if (signal.aborted) return onAbort()
    signal.addEventListener('abort', onAbort, { once: true })
    child.once('exit', onExit)
    child.once('error', onError)
    output.attach(child.stderr)
    output.attach(child.stdout, (line) => {
      const match = SERVER_LINE.exec(line)
      if (match !== null) finish(() => resolve(match[1]!))
    })
  })
}

/** Probes `eth_chainId` until the node answers, the node exits, or `signal` aborts. */
async function waitForChainId(rpcUrl: string, child: ChildProcess, signal: AbortSignal): Promise<number> {
  for (;;) {
    signal.throwIfAborted()
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new ChainStartError('Hardhat node exited before it answered eth_chainId', {
        details: { rpcUrl, pid: child.pid, code: child.exitCode, signal: child.signalCode },
      })
    }
    try {
      return await probeChainId(rpcUrl, CHAIN_PROBE_TIMEOUT_MS, { signal })
    } catch {
      // Not listening yet, or a probe timed out: try again until `signal` says stop.
    }
    await sleep(CHAIN_PROBE_INTERVAL_MS, signal)
  }
}
