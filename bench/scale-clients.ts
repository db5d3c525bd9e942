/**
 * `BENCH_SUITES=scale-clients`: how many clients one relay holds (issue 13). Light clients
 * (`swarm.ts`) are added in steps; at each step the new ones first only connect (the relay's memory
 * per connected client), then join rooms of `BENCH_SCALE_ROOM_SIZE` and send presence like idle
 * members (memory per room member), and the relay's CPU, event-loop delay and traffic are measured
 * over a window of presence (`BENCH_SCALE_CONNECT_ONLY=1`: they only stay connected, and the window is of idle
 * connections — how many connections alone one relay holds). The knee is the first step where the relay's CPU per client grew by
 * more than half over the step before, its event loop lagged, or clients could not connect.
 *
 * Memory is read after a full garbage collection (`heapUsed`: what the relay holds) and as RSS
 * (what the operator provisions); the idle relay of the same run is the baseline.
 */
import { setTimeout as waitMs } from 'node:timers/promises'
import { PRESENCE_INTERVAL_MS } from '@securechat/sdk/constants'
import { between, envInt, envList, fullScale, KIB, loadAverage, MIB, makeRooms, ScaleHarness } from './scale.ts'
import type { BenchRecord } from './types.ts'

export const DEFAULT_STEPS = [50, 200]
export const FULL_STEPS = [100, 500, 1_000, 2_000, 5_000, 10_000]
/** Members per room: a community's rooms are small; the 1,000-member room is `scale-room`'s. */
export const DEFAULT_ROOM_SIZE = 50
/** Event-loop delay (p99 over a window) from which the relay counts as lagging: a tenth of a person's perceptible delay. */
export const LAGGING_LOOP_DELAY_MS = 100
/** A step where more than this share of the new clients could not connect or announce themselves ends the run. */
const BROKEN_SHARE = 0.1
/** CPU per client this much above the step before marks the knee. */
const KNEE_CPU_GROWTH = 1.5

interface Step {
  clients: number
  connectFailed: number
  connectMs: number
  rssMiB: number
  heapMiB: number
  connectedKiB: number
  memberKiB: number
  memberRssKiB: number
  cpuPercent: number
  cpuUsPerClientPerS: number
  loopP99Ms: number
  loopMaxMs: number
  /** The relay's longest garbage collection in the same window: whether its worst loop delay is one. */
  gcMaxMs: number
  acceptedPerS: number
  writtenKiBPerS: number
  swarmCpuPercent: number
  externalMiB: number
  connections: number
  rejected: number
  refused: number
  swarm: { rssMiB: number; connected: number; closed: number; loopDelayMaxMs: number }
  loadAverage: number[]
}

export async function run(): Promise<BenchRecord[]> {
  const steps = envList('BENCH_SCALE_STEPS', fullScale() ? FULL_STEPS : DEFAULT_STEPS)
  const roomSize = envInt('BENCH_SCALE_ROOM_SIZE', DEFAULT_ROOM_SIZE)
  const presenceIntervalMs = envInt('BENCH_SCALE_PRESENCE_MS', PRESENCE_INTERVAL_MS)
  const windowMs = envInt('BENCH_SCALE_WINDOW_MS', 2 * presenceIntervalMs)
  const largest = Math.max(...steps)
  const connectOnly = process.env.BENCH_SCALE_CONNECT_ONLY === '1'
  console.log(
    `scale-clients: ${JSON.stringify({ steps, roomSize: connectOnly ? 'connected only' : roomSize, presenceIntervalMs, windowMs, loadAverage: loadAverage() })}`,
  )
  const harness = new ScaleHarness()
  const results: Step[] = []
  let brokeAt: { clients: number; why: string } | undefined
  try {
    // Above the default total (RELAY_MAX_CONNECTIONS), as an operator of this many clients sets it.
    await harness.startRelay({ maxConnections: largest + 1_000 })
    const idle = await harness.usage(true)
    const rooms = connectOnly ? undefined : await makeRooms(Math.ceil(largest / roomSize))
    let before = idle
    for (const target of steps) {
      const added = target - harness.clients
      const newSwarms = harness.swarms.length
      const grown = await harness.growTo(target)
      const connected = await harness.usage(true)
      const joined =
        rooms === undefined
          ? undefined
          : await harness.join(rooms, {
              presenceIntervalMs,
              timeoutMs: 60_000,
              swarms: harness.swarms.slice(newSwarms),
            })
      // One interval for every client's first presence to pass and every certificate to be verified (or, connected
      // only, for what follows a connection — identify, the relay's topic announcements — to settle).
      await waitMs(presenceIntervalMs)
      const start = await harness.usage(false)
      const swarmStart = await harness.swarmCpuUs()
      await waitMs(windowMs)
      const end = await harness.usage(false)
      const swarmEnd = await harness.swarmCpuUs()
      const held = await harness.usage(true)
      const swarm = await harness.swarmUsage()
      const window = between(start, end)
      const clients = harness.clients
      const step: Step = {
        clients,
        connectFailed: grown.failed,
        connectMs: Math.round(grown.ms),
        rssMiB: held.rssBytes / MIB,
        heapMiB: held.heapUsedBytes / MIB,
        connectedKiB: (connected.heapUsedBytes - before.heapUsedBytes) / added / KIB,
        memberKiB: (held.heapUsedBytes - connected.heapUsedBytes) / added / KIB,
        memberRssKiB: (held.rssBytes - before.rssBytes) / added / KIB,
        cpuPercent: window.cpuPercent,
        cpuUsPerClientPerS: (window.cpuPercent * 10_000) / clients,
        loopP99Ms: end.loopDelayMs.p99,
        loopMaxMs: end.loopDelayMs.max,
        gcMaxMs: end.gcMaxMs,
        acceptedPerS: window.acceptedPerS,
        writtenKiBPerS: window.writtenBytesPerS / KIB,
        swarmCpuPercent: ((swarmEnd - swarmStart) / 1_000 / window.ms) * 100,
        externalMiB: held.externalBytes / MIB,
        connections: held.connections,
        rejected: held.stats.rejected,
        refused: Object.values(held.stats.limits.refused).reduce((sum, n) => sum + n, 0),
        swarm: {
          rssMiB: swarm.rssBytes / MIB,
          connected: swarm.connected,
          closed: swarm.closed,
          loopDelayMaxMs: swarm.loopDelayMaxMs,
        },
        loadAverage: loadAverage(),
      }
      results.push(step)
      console.log(`scale-clients: step ${JSON.stringify({ ...round(step), announced: joined?.announced })}`)
      before = held
      const why =
        grown.failed > BROKEN_SHARE * added
          ? `${grown.failed} of ${added} clients could not connect`
          : joined !== undefined && joined.announced < (1 - BROKEN_SHARE) * added
            ? `${added - joined.announced} of ${added} clients' presence reached nobody`
            : undefined
      if (why !== undefined) {
        brokeAt = { clients: target, why }
        break
      }
    }
    const knee = kneeOf(results)
    console.log(
      `scale-clients: ${JSON.stringify({
        idle: { rssMiB: idle.rssBytes / MIB, heapMiB: idle.heapUsedBytes / MIB },
        knee,
        brokeAt,
        loadAverage: loadAverage(),
      })}`,
    )
    return records(idle.rssBytes / MIB, results)
  } finally {
    await harness.stop()
  }
}

/** The first step where the relay lagged, or its CPU per client grew by {@link KNEE_CPU_GROWTH} over the step before. */
function kneeOf(steps: Step[]): { clients: number; why: string } | undefined {
  for (const [i, step] of steps.entries()) {
    if (step.loopP99Ms >= LAGGING_LOOP_DELAY_MS) {
      return { clients: step.clients, why: `event-loop delay p99 ${step.loopP99Ms.toFixed(0)} ms` }
    }
    const previous = steps[i - 1]
    if (previous !== undefined && step.cpuUsPerClientPerS > KNEE_CPU_GROWTH * previous.cpuUsPerClientPerS) {
      return {
        clients: step.clients,
        why: `CPU per client ${step.cpuUsPerClientPerS.toFixed(1)} µs/s, ${previous.cpuUsPerClientPerS.toFixed(1)} at ${previous.clients}`,
      }
    }
  }
  return undefined
}

function records(idleRssMiB: number, steps: Step[]): BenchRecord[] {
  return steps.flatMap((s) => {
    const name = `scale.clients.${s.clients}`
    return [
      { name: `${name}.rss`, unit: 'MiB', value: s.rssMiB, baseline: idleRssMiB, ratio: s.rssMiB / idleRssMiB },
      { name: `${name}.heap`, unit: 'MiB', value: s.heapMiB },
      { name: `${name}.connected_client`, unit: 'KiB heap', value: s.connectedKiB },
      { name: `${name}.room_member`, unit: 'KiB heap', value: s.memberKiB },
      { name: `${name}.client_rss`, unit: 'KiB RSS', value: s.memberRssKiB },
      { name: `${name}.cpu`, unit: '% of a core', value: s.cpuPercent },
      { name: `${name}.cpu_per_client`, unit: 'µs/s', value: s.cpuUsPerClientPerS },
      { name: `${name}.loop_delay.p99`, unit: 'ms', value: s.loopP99Ms },
      { name: `${name}.accepted`, unit: 'records/s', value: s.acceptedPerS },
      { name: `${name}.written`, unit: 'KiB/s', value: s.writtenKiBPerS },
    ]
  })
}

function round(step: Step): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(step).map(([k, v]) => [k, typeof v === 'number' ? Number(v.toFixed(v < 10 ? 2 : 0)) : v]),
  )
}
