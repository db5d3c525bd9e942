/**
 * What the scale suites (`scale-clients.ts`, `scale-room.ts`, `scale-rooms.ts`) share: a relay process
 * (`relay.ts`, run with `--expose-gc` so its heap can be read as what it holds) and light-client
 * processes (`swarm.ts`, up to `clientsPerProcess` clients each), rooms made by a wallet of the
 * parent, and the relay's usage between two points in time.
 */
import { mkdirSync } from 'node:fs'
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import type { SignedManifest } from '@securechat/sdk/rooms'
import type { RelayLimitsInit } from '../node/src/relay/limits.ts'
import { type Child, ChildGroup } from './children.ts'
import { newWalletSigner, publicRoom } from './light-client.ts'
import type { RelayCommands, RelayUsage, SwarmCommands } from './protocol.ts'

export const START_TIMEOUT_MS = 60_000
/** Light clients one `swarm.ts` process holds at most. */
export const DEFAULT_CLIENTS_PER_PROCESS = 1_000
/**
 * Dials one swarm process has under way at once. Few: a handshake that waits for a busy process's CPU runs into
 * libp2p's upgrade timeout (20 at once lost 13 of 100 clients at load average 18).
 */
export const DIAL_CONCURRENCY = 4
export const DIAL_TIMEOUT_MS = 60_000
/** Node flags of a swarm process: a thousand clients' heaps and buffers. */
const SWARM_EXEC_ARGV = ['--max-old-space-size=4096']

/** Reads a positive integer (or a comma list of them) from the environment. */
export function envInt(name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${raw}`)
  return value
}

export function envList(name: string, fallback: number[]): number[] {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const values = raw.split(',').map(Number)
  if (!values.every((v) => Number.isInteger(v) && v > 0)) {
    throw new RangeError(`${name} must be a comma list of positive integers, got ${raw}`)
  }
  return values
}

/** Whether `BENCH_SCALE=full` asks for the sizes (10,000 clients, 1,000 members, 1,000 rooms). */
export function fullScale(): boolean {
  return process.env.BENCH_SCALE === 'full'
}

export const MIB = 2 ** 20
export const KIB = 2 ** 10

export function loadAverage(): number[] {
  return loadavg().map((l) => Number(l.toFixed(2)))
}

/** Nearest-rank percentile of unsorted `values` (NaN for none). */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number
}

/**
 * `BENCH_CPU_PROF=swarm`: a V8 profile of the first light-client process, `relay`: of the relay, in
 * `bench/results/prof/` (written when the process stops).
 */
function profile(which: 'swarm' | 'relay'): { cpuProfileDir?: string } {
  if (process.env.BENCH_CPU_PROF !== which) return {}
  const cpuProfileDir = fileURLToPath(new URL('./results/prof/', import.meta.url))
  mkdirSync(cpuProfileDir, { recursive: true })
  return { cpuProfileDir }
}

/** A relay and its light clients, in child processes; `stop()` ends them all. */
export class ScaleHarness {
  readonly group = new ChildGroup()
  readonly swarms: Array<{ child: Child<SwarmCommands>; first: number; clients: number }> = []
  readonly #clientsPerProcess: number
  relay!: Child<RelayCommands>
  relayAddress = ''

  constructor(init: { clientsPerProcess?: number } = {}) {
    this.#clientsPerProcess = init.clientsPerProcess ?? envInt('BENCH_SCALE_PER_PROCESS', DEFAULT_CLIENTS_PER_PROCESS)
  }

  get clients(): number {
    return this.swarms.reduce((sum, swarm) => sum + swarm.clients, 0)
  }

  /** Starts the relay with the limits an operator would set for this many clients. */
  async startRelay(limits: RelayLimitsInit): Promise<void> {
    this.relay = this.group.spawn<RelayCommands>('relay', './relay.ts', {
      execArgv: ['--expose-gc'],
      ...profile('relay'),
    })
    const { multiaddr } = await this.relay.request({ type: 'start', limits }, { timeoutMs: START_TIMEOUT_MS })
    this.relayAddress = multiaddr
  }

  /** Adds light clients in new processes until there are `total`; says how many failed to connect. */
  async growTo(total: number): Promise<{ failed: number; ms: number }> {
    const started = performance.now()
    const batches: Array<Promise<{ failed: number }>> = []
    let first = this.clients
    while (first < total) {
      const count = Math.min(this.#clientsPerProcess, total - first)
      const child = this.group.spawn<SwarmCommands>(`swarm-${this.swarms.length}`, './swarm.ts', {
        execArgv: SWARM_EXEC_ARGV,
        ...(this.swarms.length === 0 ? profile('swarm') : {}),
      })
      const swarm = { child, first, clients: 0 }
      this.swarms.push(swarm)
      batches.push(
        (async () => {
          await child.request({ type: 'hello' }, { timeoutMs: START_TIMEOUT_MS })
          const result = await child.request(
            {
              type: 'connect',
              relay: this.relayAddress,
              count,
              concurrency: DIAL_CONCURRENCY,
              timeoutMs: DIAL_TIMEOUT_MS,
            },
            { timeoutMs: DIAL_TIMEOUT_MS + count * 1_000 },
          )
          swarm.clients = result.connected
          return result
        })(),
      )
      first += count
    }
    const results = await Promise.all(batches)
    return { failed: results.reduce((sum, r) => sum + r.failed, 0), ms: performance.now() - started }
  }

  /**
   * Every client not yet in a room joins one, or `roomsEach`: the run's client `i` joins room `i % rooms`, or rooms
   * `i × roomsEach` to `i × roomsEach + roomsEach − 1` (modulo the rooms).
   */
  async join(
    rooms: Rooms,
    options: { presenceIntervalMs: number; timeoutMs: number; roomsEach?: number; swarms?: ScaleHarness['swarms'] },
  ): Promise<{ announced: number }> {
    const results = await Promise.all(
      (options.swarms ?? this.swarms).map(({ child, first }) =>
        child.request(
          {
            type: 'join',
            manifests: rooms.manifests,
            roomIds: rooms.ids,
            first,
            ...(options.roomsEach === undefined ? {} : { roomsEach: options.roomsEach }),
            presenceIntervalMs: options.presenceIntervalMs,
            timeoutMs: options.timeoutMs,
          },
          { timeoutMs: options.timeoutMs + 10_000 },
        ),
      ),
    )
    return { announced: results.reduce((sum, r) => sum + r.announced, 0) }
  }

  async usage(gc: boolean): Promise<RelayUsage> {
    return this.relay.request({ type: 'usage', gc }, { timeoutMs: START_TIMEOUT_MS })
  }

  /** CPU time (µs) of every swarm process so far. */
  async swarmCpuUs(): Promise<number> {
    const reports = await Promise.all(
      this.swarms.map(({ child }) => child.request({ type: 'cpu' }, { timeoutMs: 30_000 })),
    )
    return reports.reduce((sum, r) => sum + r.cpuUs, 0)
  }

  /** The light-client processes together: memory, clients still connected, connections closed, worst loop delay. */
  async swarmUsage(): Promise<{ rssBytes: number; connected: number; closed: number; loopDelayMaxMs: number }> {
    const reports = await Promise.all(
      this.swarms.map(({ child }) => child.request({ type: 'usage' }, { timeoutMs: 30_000 })),
    )
    return {
      rssBytes: reports.reduce((sum, r) => sum + r.rssBytes, 0),
      connected: reports.reduce((sum, r) => sum + r.connected, 0),
      closed: reports.reduce((sum, r) => sum + r.closed, 0),
      loopDelayMaxMs: Math.max(0, ...reports.map((r) => r.loopDelayMaxMs)),
    }
  }

  async stop(): Promise<void> {
    try {
      await this.group.stopAll()
    } catch {
      this.group.killAll()
    }
  }
}

export interface Rooms {
  manifests: SignedManifest[]
  ids: string[]
}

/** `count` public rooms, owned by one wallet, for the CLI's domain and the devnet's chain (what the swarm's certificates name). */
export async function makeRooms(count: number): Promise<Rooms> {
  const owner = newWalletSigner()
  const rooms: Rooms = { manifests: [], ids: [] }
  for (let i = 0; i < count; i++) {
    const { manifest, roomId } = await publicRoom(`scale ${i}`, owner)
    rooms.manifests.push(manifest)
    rooms.ids.push(roomId)
  }
  return rooms
}

/** The relay's CPU (percent of one core), records accepted per second and bytes written per second between two usages. */
export function between(
  from: RelayUsage,
  to: RelayUsage,
): { ms: number; cpuPercent: number; acceptedPerS: number; writtenBytesPerS: number; readBytesPerS: number } {
  const ms = to.atMs - from.atMs
  return {
    ms,
    cpuPercent: ((to.cpuUs - from.cpuUs) / 1_000 / ms) * 100,
    acceptedPerS: ((to.stats.accepted - from.stats.accepted) * 1_000) / ms,
    writtenBytesPerS: ((to.writtenBytes - from.writtenBytes) * 1_000) / ms,
    readBytesPerS: ((to.readBytes - from.readBytes) * 1_000) / ms,
  }
}
