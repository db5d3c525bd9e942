/**
 * `BENCH_SUITES=scale-rooms`: many rooms on one relay, idle but for presence (issue 13; 1,000 rooms
 * with `BENCH_SCALE=full`). Each room has `BENCH_SCALE_ROOM_MEMBERS` members; each light client
 * (`swarm.ts`) is in `BENCH_SCALE_ROOMS_PER_CLIENT` rooms (default `DEFAULT_ROOMS_PER_CLIENT`), as
 * a person in several rooms of a community is, so 1,000 rooms of two take 200 clients, not 2,000:
 * on two shared cores, 2,000 simulated clients load the machine more than the relay does (their
 * event loops fell seconds behind in `scale-clients`, docs/benchmarks.md), so what is measured here
 * is the rooms rather than the connections (set it to 1 for a client per membership). The clients
 * connect, the relay's memory and CPU are read over a window, then they join their rooms (the relay
 * subscribes to each topic and validates every member's presence there) and the relay's memory and
 * CPU are read again over a window of presence. The difference, per room, is what a room costs the
 * relay with its members' presence; the same clients only connected are the baseline.
 */
import { setTimeout as delay } from 'node:timers/promises'
import { PRESENCE_INTERVAL_MS } from '@securechat/sdk/constants'
import { between, envInt, fullScale, KIB, loadAverage, MIB, makeRooms, ScaleHarness } from './scale.ts'
import type { BenchRecord } from './types.ts'

export const DEFAULT_ROOMS = 100
export const FULL_ROOMS = 1_000
export const DEFAULT_ROOM_MEMBERS = 2
/** Rooms each client is in: 1,000 rooms of two members are 200 clients. */
export const DEFAULT_ROOMS_PER_CLIENT = 10

export async function run(): Promise<BenchRecord[]> {
  const roomCount = envInt('BENCH_SCALE_ROOMS', fullScale() ? FULL_ROOMS : DEFAULT_ROOMS)
  const perRoom = envInt('BENCH_SCALE_ROOM_MEMBERS', DEFAULT_ROOM_MEMBERS)
  const roomsEach = Math.min(roomCount, envInt('BENCH_SCALE_ROOMS_PER_CLIENT', DEFAULT_ROOMS_PER_CLIENT))
  const presenceIntervalMs = envInt('BENCH_SCALE_PRESENCE_MS', PRESENCE_INTERVAL_MS)
  const windowMs = envInt('BENCH_SCALE_WINDOW_MS', 2 * presenceIntervalMs)
  console.log(
    `scale-rooms: ${JSON.stringify({ roomCount, perRoom, roomsEach, presenceIntervalMs, windowMs, loadAverage: loadAverage() })}`,
  )
  const harness = new ScaleHarness()
  const began = performance.now()
  /** Says on the log how far the run is, so a phase that hangs can be told from the others. */
  const phase = (name: string): void =>
    console.log(
      `scale-rooms: ${name} at ${((performance.now() - began) / 1_000).toFixed(1)} s, load ${loadAverage().join(' ')}`,
    )
  try {
    const clients = Math.ceil((roomCount * perRoom) / roomsEach)
    await harness.startRelay({ maxConnections: clients + 1_000 })
    const empty = await harness.usage(true)
    phase('relay started')
    const grown = await harness.growTo(clients)
    phase(`${harness.clients} clients connected (${grown.failed} failed)`)
    const rooms = await makeRooms(roomCount)
    phase(`${roomCount} rooms made`)
    // Settled: a window with connections only, for the CPU of clients that are in no room.
    const connectedStart = await harness.usage(true)
    await delay(windowMs)
    const connectedEnd = await harness.usage(false)
    const connected = await harness.usage(true)
    phase('connected only, measured')
    const joined = await harness.join(rooms, { presenceIntervalMs, roomsEach, timeoutMs: 60_000 })
    phase(`joined (${joined.announced} announced)`)
    await delay(presenceIntervalMs)
    const start = await harness.usage(false)
    await delay(windowMs)
    const end = await harness.usage(false)
    const held = await harness.usage(true)
    const idle = between(start, end)
    const bare = between(connectedStart, connectedEnd)
    const result = {
      rooms: held.stats.rooms,
      clients: harness.clients,
      roomsEach,
      memberships: harness.clients * roomsEach,
      connectFailed: grown.failed,
      announced: joined.announced,
      connections: { connected: connected.connections, inRooms: held.connections },
      presenceExpectedPerS: (harness.clients * roomsEach * 1_000) / presenceIntervalMs,
      relay: {
        emptyRssMiB: empty.rssBytes / MIB,
        connectedRssMiB: connected.rssBytes / MIB,
        roomsRssMiB: held.rssBytes / MIB,
        connectedHeapMiB: connected.heapUsedBytes / MIB,
        roomsHeapMiB: held.heapUsedBytes / MIB,
        perRoomHeapKiB: (held.heapUsedBytes - connected.heapUsedBytes) / roomCount / KIB,
        perRoomRssKiB: (held.rssBytes - connected.rssBytes) / roomCount / KIB,
        idleCpuPercent: idle.cpuPercent,
        connectedCpuPercent: bare.cpuPercent,
        acceptedPerS: idle.acceptedPerS,
        writtenKiBPerS: idle.writtenBytesPerS / KIB,
        loopP99Ms: end.loopDelayMs.p99,
      },
      loadAverage: loadAverage(),
    }
    console.log(`scale-rooms: ${JSON.stringify(result)}`)
    const n = `scale.rooms.${roomCount}`
    const r = result.relay
    return [
      {
        name: `${n}.rss`,
        unit: 'MiB',
        value: r.roomsRssMiB,
        baseline: r.connectedRssMiB,
        ratio: r.roomsRssMiB / r.connectedRssMiB,
      },
      {
        name: `${n}.heap`,
        unit: 'MiB',
        value: r.roomsHeapMiB,
        baseline: r.connectedHeapMiB,
        ratio: r.roomsHeapMiB / r.connectedHeapMiB,
      },
      { name: `${n}.per_room`, unit: 'KiB heap', value: r.perRoomHeapKiB },
      {
        name: `${n}.idle_cpu`,
        unit: '% of a core',
        value: r.idleCpuPercent,
        baseline: r.connectedCpuPercent,
        ratio: r.idleCpuPercent / r.connectedCpuPercent,
      },
      { name: `${n}.accepted`, unit: 'records/s', value: r.acceptedPerS },
    ]
  } finally {
    await harness.stop()
  }
}
