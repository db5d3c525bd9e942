import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, readdir, readFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { walletSigner } from '@securechat/sdk/identity'
import { openVault, platformVaultBackend } from '@securechat/sdk/vault'
import { Wallet } from 'ethers'
import { afterEach, expect } from 'vitest'

/** The CLI as a user runs it: `node node/bin/securechat.js …` in its own process. */
export const CLI_PATH = resolve(import.meta.dirname, '../../node/bin/securechat.js')

export interface CliProcess {
  child: ChildProcess
  /** Every stdout line so far. */
  lines: string[]
  stderr: () => string
  /** Resolves with the first stdout line (already seen or future) that `match` accepts. */
  waitForLine(match: (line: string) => boolean, timeoutMs?: number): Promise<string>
  /** Resolves with the exit code. */
  exited: Promise<number | null>
  kill(signal?: NodeJS.Signals): void
}

export function spawnCli(args: string[], env: Record<string, string> = {}): CliProcess {
  return spawnScript(CLI_PATH, args, env)
}

/** Any of our scripts (for example `node/src/devnet/start.ts`) as its own process, like {@link spawnCli}. */
export function spawnScript(script: string, args: string[], env: Record<string, string> = {}): CliProcess {
  const child = spawn(process.execPath, [script, ...args], {
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  const lines: string[] = []
  let stderr = ''
  const waiters: Array<{ match: (line: string) => boolean; resolve: (line: string) => void }> = []
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line)
    for (const waiter of [...waiters]) {
      if (waiter.match(line)) {
        waiters.splice(waiters.indexOf(waiter), 1)
        waiter.resolve(line)
      }
    }
  })
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  return {
    child,
    lines,
    stderr: () => stderr,
    exited,
    kill: (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
    },
    waitForLine(match, timeoutMs = 20_000) {
      const seen = lines.find(match)
      if (seen !== undefined) return Promise.resolve(seen)
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(new Error(`no matching line within ${timeoutMs} ms; stdout: ${lines.join('\n')}; stderr: ${stderr}`))
        }, timeoutMs)
        waiters.push({
          match,
          resolve: (line) => {
            clearTimeout(timer)
            resolve(line)
          },
        })
        void exited.then((code) => {
          clearTimeout(timer)
          reject(new Error(`process exited (${code}) before a matching line; stderr: ${stderr}`))
        })
      })
    },
  }
}

/** Runs the CLI to completion. */
export async function runCli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const cli = spawnCli(args, env)
  cli.child.stdin?.end()
  const code = await cli.exited
  // Let readline flush the last line.
  await new Promise((resolve) => setImmediate(resolve))
  return { code, stdout: cli.lines.join('\n'), stderr: cli.stderr() }
}

export interface RelayProcess extends CliProcess {
  multiaddrs: string[]
  peerId: string
  /** The HTTP server's URL, with `--http`. */
  web?: string
}

/**
 * How long a relay process's first line may take by default: about a second on an idle machine, but a cold start
 * (every module loaded and compiled) took over 20 s at a load average of 20 on two cores.
 */
const RELAY_START_TIMEOUT_MS = 60_000

/** Starts `securechat relay --json` and waits for its first line (its multiaddrs). */
export async function startRelayProcess(
  params: {
    dataDir?: string
    listen?: string[]
    peers?: string[]
    args?: string[]
    /** How long its first line may take (a cold start on a loaded machine loads every module first). */
    startTimeoutMs?: number
  } = {},
): Promise<RelayProcess> {
  const dataDir = params.dataDir ?? (await tempDir('relay-'))
  const args = ['relay', '--json', '--data-dir', dataDir, ...(params.args ?? [])]
  for (const address of params.listen ?? ['/ip4/127.0.0.1/tcp/0']) args.push('--listen', address)
  for (const peer of params.peers ?? []) args.push('--peer', peer)
  const cli = spawnCli(args)
  // One that does not start in time is killed here: its caller gets no process to track.
  const started = await cli
    .waitForLine((line) => line.includes('relay:started'), params.startTimeoutMs ?? RELAY_START_TIMEOUT_MS)
    .catch((err) => {
      cli.kill('SIGKILL')
      throw err
    })
  const first = JSON.parse(started) as {
    multiaddrs: string[]
    peerId: string
    web?: string
  }
  return Object.assign(cli, {
    multiaddrs: first.multiaddrs,
    peerId: first.peerId,
    ...(first.web === undefined ? {} : { web: first.web }),
  })
}

/** A relay process with its store in `relayDir`, and a room `name` that the wallet `ownerKey` made on it (`room create`). */
export interface RelayRoom {
  relay: RelayProcess
  relayDir: string
  /** The relay's first address: what `--bootstrap` names. */
  bootstrap: string
  /** What `room create` printed. */
  invite: string
}

/** Starts a relay process (killed by `track`) and makes the room `name` on it as the wallet `ownerKey`, as people do. */
export async function startRelayRoom(
  track: <T extends CliProcess>(cli: T) => T,
  name: string,
  ownerKey: string,
): Promise<RelayRoom> {
  const relayDir = await tempDir(`${name}-relay-`)
  const relay = track(await startRelayProcess({ dataDir: relayDir }))
  const bootstrap = relay.multiaddrs[0]!
  const created = await runCli(['room', 'create', '--name', name, '--bootstrap', bootstrap], {
    SECURECHAT_PRIVATE_KEY: ownerKey,
  })
  expect(created.code, created.stderr).toBe(0)
  return { relay, relayDir, bootstrap, invite: created.stdout.trim() }
}

export function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `securechat-${prefix}`))
}

/**
 * Registers, in the calling test file, an `afterEach` that kills every process passed to the
 * returned `track` (a failing test must not leave a listener or relay behind).
 */
export function killAfterEach(): <T extends CliProcess>(cli: T) => T {
  const running: CliProcess[] = []
  afterEach(async () => {
    for (const cli of running.splice(0)) {
      cli.kill('SIGKILL')
      await cli.exited
    }
  })
  return (cli) => {
    running.push(cli)
    return cli
  }
}

/** Polls `condition` until it holds; past `timeoutMs` fails with what `describeState` says. */
export async function waitFor(
  condition: () => boolean,
  describeState: () => string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met in ${timeoutMs} ms: ${describeState()}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** Resolves once `cli` wrote `text` on stderr (`listen` says there when it has joined); rejects if it exits first. */
export function untilStderr(cli: CliProcess, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (!cli.stderr().includes(text)) return
      cli.child.stderr?.off('data', check)
      resolve()
    }
    cli.child.stderr?.on('data', check)
    void cli.exited.then((code) => reject(new Error(`exited (${code}) before "${text}": ${cli.stderr()}`)))
    queueMicrotask(check)
  })
}

/** A loopback TCP port nothing listens on now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

/** Every byte of every file under `dir` (a data dir, a relay's store with SQLite's write-ahead log): to look for plaintext. */
export async function bytesUnder(dir: string): Promise<Buffer> {
  const names = await readdir(dir, { recursive: true, withFileTypes: true })
  const files = names.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name))
  return Buffer.concat(await Promise.all(files.map((file) => readFile(file))))
}

/** A line of `listen --json`, parsed. */
export type JsonLine = Record<string, unknown> & { message?: Record<string, unknown> }

/** Deliveries cross a relay process between CLI processes; generous for a loaded 2-core machine. */
const JSON_LINE_TIMEOUT_MS = 45_000

/** Runs one CLI command that writes (send, reply, edit, dm…) as the wallet `key`; resolves with the id it prints. */
export async function writeCli(args: string[], key: string): Promise<string> {
  const result = await runCli(args, { SECURECHAT_PRIVATE_KEY: key })
  expect(result.code, result.stderr).toBe(0)
  return (JSON.parse(result.stdout) as { id: string }).id
}

/** The next JSON line `cli` prints (`listen --json`) that `match` accepts. */
export async function nextJsonLine(cli: CliProcess, match: (line: JsonLine) => boolean): Promise<JsonLine> {
  const line = await cli.waitForLine((l) => l.startsWith('{') && match(JSON.parse(l) as JsonLine), JSON_LINE_TIMEOUT_MS)
  return JSON.parse(line) as JsonLine
}

/** Every entry of the CLI's vault in `dir`, opened with the wallet `key` and decrypted, as text. */
export async function vaultText(dir: string, key: string): Promise<string> {
  const vault = await openVault({
    backend: platformVaultBackend(dir),
    unlock: { type: 'wallet', signer: walletSigner({ type: 'eoa', signer: new Wallet(key) }) },
    create: false,
  })
  try {
    const entries = await Promise.all((await vault.list('')).map(async (name) => vault.get(name)))
    return entries.map((bytes) => Buffer.from(bytes ?? new Uint8Array()).toString('utf8')).join('\n')
  } finally {
    await vault.close()
  }
}
