/**
 * Janus as a child of the relay: the configuration written (`janus-config.ts`), the process spawned, ready once
 * `GET /janus/info` answers, killed when the relay stops. A Janus that dies is restarted with a backoff
 * ({@link SFU_JANUS_RESTART_MIN_MS} doubling to {@link SFU_JANUS_RESTART_MAX_MS}); meanwhile the service refuses
 * streams as `unavailable`. Each run has a fresh API secret, admin key and port: nothing of a dead run's state
 * (sessions, rooms) is trusted by the next.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFile, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { sleep } from '@securechat/sdk/async'
import type { Logger } from '@securechat/sdk/logger'
import {
  SFU_JANUS_HEALTHY_MS,
  SFU_JANUS_RESTART_MAX_MS,
  SFU_JANUS_RESTART_MIN_MS,
  SFU_JANUS_START_TIMEOUT_MS,
} from './constants.ts'
import { JanusApi } from './janus-api.ts'
import { findJanusLibDir, writeJanusConfig } from './janus-config.ts'

export interface JanusProcessInit {
  bin: string
  /** The folder the configuration is written to (the relay's own). */
  dir: string
  rtpPorts: string
  interface?: string
  publicIp?: string
  log: Logger
  startTimeoutMs?: number
  /** Called when a run is ready (the first, and each restart). */
  onUp: (run: JanusRun) => void
  /** Called when a ready run died. */
  onDown: () => void
}

/** A running Janus: its API and the VideoRoom admin key rooms are created with. */
export interface JanusRun {
  api: JanusApi
  adminKey: string
}

/** What to install when Janus cannot be run. */
export const JANUS_INSTALL_HINT =
  "install Debian's Janus (apt-get install janus) or pass --sfu-janus-bin <path of janus>; or start the relay without --sfu"

/** Janus could not be started; `missing` when the binary or its VideoRoom plugin is not there at all. */
export class JanusStartError extends Error {
  override readonly name = 'JanusStartError'
  readonly missing: boolean
  readonly hint: string
  constructor(message: string, missing: boolean, hint = JANUS_INSTALL_HINT) {
    super(message)
    this.missing = missing
    this.hint = hint
  }
}

/** Where the running Janus's pid is kept, in its configuration directory. */
const JANUS_PID_FILE = 'janus.pid'

export class JanusProcess {
  readonly #init: JanusProcessInit
  #child: ChildProcess | undefined
  #run: JanusRun | undefined
  #stopped = false
  #restartTimer: ReturnType<typeof setTimeout> | undefined
  #deathsInARow = 0
  /** The last lines Janus printed: what a failed start or a death is logged with. */
  #tail: string[] = []
  #restarts = 0

  constructor(init: JanusProcessInit) {
    this.#init = init
  }

  get run(): JanusRun | undefined {
    return this.#run
  }

  /** The running Janus's process id, if one runs. */
  get pid(): number | undefined {
    return this.#run === undefined ? undefined : this.#child?.pid
  }

  /** Restarts after a death since the relay started. */
  get restarts(): number {
    return this.#restarts
  }

  /**
   * Writes the configuration, spawns Janus and waits until it answers. Throws {@link JanusStartError} (`missing`
   * when nothing can be run at all: the caller goes on without the SFU); any later death is restarted here.
   */
  async start(): Promise<void> {
    this.#stopped = false
    const libDir = findJanusLibDir(this.#init.bin)
    if (libDir === undefined) {
      throw new JanusStartError(`no Janus VideoRoom plugin found for ${this.#init.bin}`, true)
    }
    await this.#spawn(libDir)
  }

  /** Kills Janus (SIGTERM, then SIGKILL after 5 s) and stops restarting it. Idempotent. */
  async stop(): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#restartTimer)
    this.#restartTimer = undefined
    this.#run = undefined
    const child = this.#child
    this.#child = undefined
    await rm(this.#pidFile(), { force: true }).catch(() => undefined)
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    child.kill('SIGTERM')
    const killed = await Promise.race([exited.then(() => true), sleep(5_000).then(() => false)])
    if (!killed) {
      child.kill('SIGKILL')
      await exited
    }
  }

  #pidFile(): string {
    return join(this.#init.dir, JANUS_PID_FILE)
  }

  /**
   * A relay killed outright (SIGKILL, the machine's OOM killer) cannot stop its Janus, which then lives on, orphaned:
   * the next start finds its pid in the directory and kills it — only if that process is still a Janus run on this
   * directory's configuration, never a process that took the pid since.
   */
  async #killLeftover(): Promise<void> {
    const pid = Number.parseInt(await readFile(this.#pidFile(), 'utf8').catch(() => ''), 10)
    if (!Number.isInteger(pid) || pid <= 0) return
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')
    if (!cmdline.split('\0').includes(this.#init.dir)) return
    try {
      process.kill(pid, 'SIGKILL')
      this.#init.log.warn('a Janus left by a relay that did not stop was killed', { event: 'sfu:janus-leftover', pid })
    } catch {
      // Gone meanwhile.
    }
  }

  async #spawn(libDir: string): Promise<void> {
    await this.#killLeftover()
    const apiSecret = randomBytes(24).toString('base64url')
    const adminKey = randomBytes(24).toString('base64url')
    const httpPort = await freePort()
    const config = await writeJanusConfig({
      dir: this.#init.dir,
      libDir,
      httpPort,
      apiSecret,
      adminKey,
      rtpPorts: this.#init.rtpPorts,
      ...(this.#init.interface === undefined ? {} : { interface: this.#init.interface }),
      ...(this.#init.publicIp === undefined ? {} : { publicIp: this.#init.publicIp }),
    })
    this.#tail = []
    const child = spawn(this.#init.bin, ['-C', config, '-F', this.#init.dir, '-o'], {
      cwd: this.#init.dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    this.#child = child
    if (child.pid !== undefined) await writeFile(this.#pidFile(), `${child.pid}\n`).catch(() => undefined)
    const failed = new Promise<JanusStartError>((resolve) => {
      child.once('error', (err: NodeJS.ErrnoException) =>
        resolve(
          new JanusStartError(
            err.code === 'ENOENT' ? `${this.#init.bin} not found` : `${this.#init.bin}: ${err.message}`,
            err.code === 'ENOENT',
          ),
        ),
      )
      child.once('exit', (code, signal) =>
        resolve(
          new JanusStartError(`Janus exited at start (${signal ?? `code ${code}`}): ${this.#tail.join(' | ')}`, false),
        ),
      )
    })
    for (const output of [child.stdout, child.stderr]) {
      createInterface({ input: output }).on('line', (line) => {
        this.#tail.push(line)
        if (this.#tail.length > 20) this.#tail.shift()
      })
    }
    // The relay dying without stopping (a crash) must not leave Janus holding its ports.
    const killOnExit = (): void => void child.kill('SIGKILL')
    process.once('exit', killOnExit)
    child.once('exit', () => process.off('exit', killOnExit))

    const api = new JanusApi({ url: `http://127.0.0.1:${httpPort}/janus`, apiSecret })
    const timeoutMs = this.#init.startTimeoutMs ?? SFU_JANUS_START_TIMEOUT_MS
    const deadline = Date.now() + timeoutMs
    let settled = false
    const answers = (): Promise<boolean> =>
      api.info().then(
        () => true,
        () => false,
      )
    const ready = (async (): Promise<true | JanusStartError> => {
      while (Date.now() < deadline && !settled) {
        if (await answers()) return true
        await sleep(200)
      }
      return new JanusStartError(
        `Janus did not answer on 127.0.0.1:${httpPort} within ${timeoutMs / 1000} s: ${this.#tail.join(' | ')}`,
        false,
        'check that janus runs (apt-get install janus) and that --sfu-rtp-ports and --sfu-interface are right; the last lines Janus printed are above',
      )
    })()
    const outcome = await Promise.race([ready, failed])
    settled = true
    if (outcome !== true) {
      child.kill('SIGKILL')
      this.#child = undefined
      throw outcome
    }
    const startedAt = Date.now()
    const run: JanusRun = { api, adminKey }
    this.#run = run
    child.once('exit', (code, signal) => this.#died(child, startedAt, libDir, code, signal))
    this.#init.log.info('forwarding unit started', {
      event: 'sfu:janus-started',
      pid: child.pid,
      api: `127.0.0.1:${httpPort}`,
      rtpPorts: this.#init.rtpPorts,
    })
    this.#init.onUp(run)
  }

  #died(child: ChildProcess, startedAt: number, libDir: string, code: number | null, signal: string | null): void {
    if (this.#child !== child || this.#stopped) return
    this.#child = undefined
    this.#run = undefined
    if (Date.now() - startedAt >= SFU_JANUS_HEALTHY_MS) this.#deathsInARow = 0
    this.#deathsInARow += 1
    this.#init.onDown()
    this.#scheduleRestart(libDir, `Janus died (${signal ?? `code ${code}`})`)
  }

  #scheduleRestart(libDir: string, why: string): void {
    const delay = Math.min(SFU_JANUS_RESTART_MAX_MS, SFU_JANUS_RESTART_MIN_MS * 2 ** (this.#deathsInARow - 1))
    this.#init.log.warn('forwarding unit down: calls through this relay are refused until it is back', {
      event: 'sfu:janus-down',
      reason: why,
      lastLines: this.#tail.slice(-5),
      restartInMs: delay,
      hint: 'the relay restarts it; if it keeps dying, run janus by hand with the config under the relay data dir to see why',
    })
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined
      if (this.#stopped) return
      this.#restarts += 1
      this.#spawn(libDir).catch((err: unknown) => {
        if (this.#stopped) return
        this.#deathsInARow += 1
        this.#scheduleRestart(libDir, String((err as Error).message ?? err))
      })
    }, delay)
    this.#restartTimer.unref()
  }
}

/** A free TCP port on 127.0.0.1 for Janus's API (taken back at once; Janus binds it right after). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() =>
        typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port')),
      )
    })
  })
}
