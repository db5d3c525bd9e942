/**
 * What a simulated client costs its own process (`swarm.ts`): `node bench/swarm-cost.ts [clients]`
 * starts a relay and one swarm process of `clients` light clients (default 200), then reads the
 * swarm's CPU per client per second while they are only connected and while they sit in rooms of
 * `ROOM_SIZE` sending presence every `PRESENCE_INTERVAL_MS`, and its RSS per client. This is the
 * number that decides how many clients one machine can simulate against a relay; the scale suites
 * measure the relay. `BENCH_CPU_PROF=swarm` writes a V8 profile of the swarm to `bench/results/prof/`.
 */
import { setTimeout as delay } from 'node:timers/promises'
import { PRESENCE_INTERVAL_MS } from '@securechat/sdk/constants'
import { loadAverage, MIB, makeRooms, ScaleHarness } from './scale.ts'

const ROOM_SIZE = 50
const WINDOW_MS = 2 * PRESENCE_INTERVAL_MS

const clients = Number(process.argv[2] ?? 200)
const harness = new ScaleHarness({ clientsPerProcess: clients })
try {
  await harness.startRelay({ maxConnections: clients + 1_000 })
  const before = await harness.swarmUsage()
  const grown = await harness.growTo(clients)
  const connected = await harness.swarmUsage()
  const perClientPerS = async (): Promise<number> => {
    const start = await harness.swarmCpuUs()
    await delay(WINDOW_MS)
    return ((await harness.swarmCpuUs()) - start) / clients / (WINDOW_MS / 1_000)
  }
  const idleUs = await perClientPerS()
  await harness.join(await makeRooms(Math.ceil(clients / ROOM_SIZE)), {
    presenceIntervalMs: PRESENCE_INTERVAL_MS,
    timeoutMs: 60_000,
  })
  await delay(PRESENCE_INTERVAL_MS)
  const presenceUs = await perClientPerS()
  const after = await harness.swarmUsage()
  console.log(
    JSON.stringify({
      clients,
      failed: grown.failed,
      connectMs: Math.round(grown.ms),
      cpuUsPerClientPerS: { connected: Math.round(idleUs), presence: Math.round(presenceUs) },
      rssKiBPerClient: Math.round((((connected.rssBytes - before.rssBytes) / clients) * 1_024) / MIB),
      rssMiB: Math.round(after.rssBytes / MIB),
      closed: after.closed,
      loopDelayMaxMs: Math.round(after.loopDelayMaxMs),
      loadAverage: loadAverage(),
    }),
  )
} finally {
  await harness.stop()
}
