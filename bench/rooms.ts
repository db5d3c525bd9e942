/**
 * Room messages against bare gossipsub, on one loopback topology: a relay (`RelayNode`) and
 * `BENCH_PEERS` peers, each its own process. Peer 0 sends, every other peer receives. Both
 * modes run on the same processes, connections and relay: the room topic carries SecureChat
 * records (certificates, gossip validation, JSON), a plain topic carries payloads of the same
 * size that nothing but gossipsub looks at.
 *
 * Figures: one-way latency (p50, p99 over every receiver) when paced, and throughput when the
 * sender publishes as fast as it can (messages per receiver per second, until the last receiver
 * got its last message), with the delivery ratio of each.
 */
import { mkdirSync } from 'node:fs'
import { availableParallelism, loadavg } from 'node:os'
import { setTimeout as delay } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { type Child, ChildGroup } from './children.ts'
import type { Measurement, Mode, PayloadSize, PeerCommands, RelayCommands, SendReport } from './protocol.ts'
import { type BenchRecord, compared } from './types.ts'

/** Peer processes, the sender included. */
export const DEFAULT_PEERS = 10
/** Rounds per figure; each measures both modes, the order alternating. */
export const DEFAULT_ROUNDS = 2
/** Paced messages per mode and round. */
export const DEFAULT_PACED_MESSAGES = 500
export const DEFAULT_PACED_RATE_PER_S = 100
/** Burst messages per mode and round. */
export const DEFAULT_BURST_MESSAGES = 500
/** Text of a room message; the bare payload is as large as the room record that carries it. */
export const DEFAULT_TEXT_BYTES = 100
/** Paced messages per mode before anything is measured (JIT, caches, certificates). */
export const DEFAULT_WARMUP_MESSAGES = 100
/**
 * How long receivers may take to get the last message once the sender is done: long enough for
 * the sender to re-publish what a receiver did not acknowledge (two presence intervals after
 * sending, `REPUBLISH_AFTER_PRESENCE_INTERVALS`), so a round shows what repair recovers. A round
 * without loss ends as soon as every receiver is complete.
 */
export const DEFAULT_DRAIN_MS = 40_000
/** The whole suite fails after this long, however far it got. */
export const DEFAULT_DEADLINE_MS = 420_000
/** How long the sender's members may take to acknowledge everything once the rounds are done (a few heartbeats). */
const ACKNOWLEDGE_TIMEOUT_MS = 60_000
/** How long the mesh may take to form before the run fails. */
export const DEFAULT_READY_TIMEOUT_MS = 30_000
/** Readiness probes: one message per interval until every receiver has one and a mesh. */
const PROBE_INTERVAL_MS = 100
const START_TIMEOUT_MS = 60_000
/** Four dials a second stay under libp2p's default of five inbound connections per second per host. */
const START_SPACING_MS = 250
const COMMAND_TIMEOUT_MS = 30_000
const BARE_TOPIC = '/securechat-bench/1/bare'
/** The project's goals for room/bare (issue 2). */
const LATENCY_GOAL = { bound: 'max', ratio: 1.2 } as const
const THROUGHPUT_GOAL = { bound: 'min', ratio: 0.8 } as const
/** CPU per message over bare gossipsub on the same mesh (issue 11). */
const RECEIVER_CPU_GOAL = { bound: 'max', ratio: 1.2 } as const
const SENDER_CPU_GOAL = { bound: 'max', ratio: 1.3 } as const

export interface RoomsBenchConfig {
  peers: number
  /** Each round measures both modes, in alternating order. */
  rounds: number
  pacedMessages: number
  pacedRatePerS: number
  burstMessages: number
  textBytes: number
  warmupMessages: number
  drainMs: number
  readyTimeoutMs: number
  deadlineMs: number
  /** Writes a V8 CPU profile of one process (`--cpu-prof`) to `bench/results/prof/`. */
  cpuProfile: 'relay' | 'sender' | 'receiver' | undefined
}

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): RoomsBenchConfig {
  const int = (name: string, fallback: number, min: number): number => {
    const raw = env[name]
    if (raw === undefined || raw === '') return fallback
    const value = Number(raw)
    if (!Number.isInteger(value) || value < min) throw new RangeError(`${name} must be an integer ≥ ${min}, got ${raw}`)
    return value
  }
  const profile = env.BENCH_CPU_PROF
  if (profile !== undefined && profile !== '' && !['relay', 'sender', 'receiver'].includes(profile)) {
    throw new RangeError(`BENCH_CPU_PROF must be relay, sender or receiver, got ${profile}`)
  }
  return {
    peers: int('BENCH_PEERS', DEFAULT_PEERS, 2),
    rounds: int('BENCH_ROUNDS', DEFAULT_ROUNDS, 1),
    pacedMessages: int('BENCH_MESSAGES', DEFAULT_PACED_MESSAGES, 1),
    pacedRatePerS: int('BENCH_RATE', DEFAULT_PACED_RATE_PER_S, 1),
    burstMessages: int('BENCH_BURST', DEFAULT_BURST_MESSAGES, 1),
    textBytes: int('BENCH_TEXT_BYTES', DEFAULT_TEXT_BYTES, 32),
    warmupMessages: int('BENCH_WARMUP', DEFAULT_WARMUP_MESSAGES, 1),
    drainMs: int('BENCH_DRAIN_MS', DEFAULT_DRAIN_MS, 1),
    readyTimeoutMs: int('BENCH_READY_TIMEOUT_MS', DEFAULT_READY_TIMEOUT_MS, 1),
    deadlineMs: int('BENCH_DEADLINE_MS', DEFAULT_DEADLINE_MS, 1),
    cpuProfile: profile === undefined || profile === '' ? undefined : (profile as RoomsBenchConfig['cpuProfile']),
  }
}

export async function run(config: RoomsBenchConfig = configFromEnv()): Promise<BenchRecord[]> {
  const group = new ChildGroup()
  const onSignal = (): void => {
    group.killAll()
    process.exit(130)
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  // Every wait is bounded; this bounds their sum, so a run on a starved machine fails clearly.
  const deadline = new AbortController()
  const timer = setTimeout(() => deadline.abort(), config.deadlineMs)
  const expired = new Promise<never>((_, reject) =>
    deadline.signal.addEventListener('abort', () =>
      reject(new Error(`the suite did not finish within ${config.deadlineMs} ms (BENCH_DEADLINE_MS)`)),
    ),
  )
  try {
    return await Promise.race([measure(group, config), expired])
  } catch (err) {
    group.killAll()
    throw err
  } finally {
    clearTimeout(timer)
    await group.stopAll()
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}

type Peer = Child<PeerCommands>

interface PhaseResult {
  sender: SendReport
  receivers: Measurement[]
  /** CPU time each process used during the phase, in µs: independent of other load on the machine. */
  cpuUs: { relay: number; sender: number; receivers: number[] }
  /** Receivers that got every message before the drain timeout. */
  complete: number
}

async function measure(group: ChildGroup, config: RoomsBenchConfig): Promise<BenchRecord[]> {
  const log = (line: string): void => console.log(`rooms: ${line}`)
  // Other work on the machine skews every figure here: say how busy it was.
  const load = (): string =>
    loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')
  log(`${config.peers} peers + 1 relay on ${availableParallelism()} cores, load average ${load()}`)
  const t0 = performance.now()
  const profileDir = fileURLToPath(new URL('./results/prof/', import.meta.url))
  if (config.cpuProfile !== undefined) mkdirSync(profileDir, { recursive: true })
  const profiled = (who: 'relay' | 'sender' | 'receiver' | undefined) =>
    who !== undefined && config.cpuProfile === who ? { cpuProfileDir: profileDir } : {}

  // Topology: one relay, then every peer dials it.
  const relay = group.spawn<RelayCommands>('relay', './relay.ts', profiled('relay'))
  const { multiaddr } = await relay.request({ type: 'start' }, { timeoutMs: START_TIMEOUT_MS })
  const peers: Peer[] = Array.from({ length: config.peers }, (_, i) =>
    group.spawn<PeerCommands>(
      `peer ${i}`,
      './peer.ts',
      profiled(i === 0 ? 'sender' : i === 1 ? 'receiver' : undefined),
    ),
  )
  // Processes load in parallel, then start one after the other, at most four a second: a
  // libp2p node refuses more than 5 inbound connections per second from one host
  // (`inboundConnectionThreshold`), and every peer here is 127.0.0.1.
  await Promise.all(peers.map((peer) => peer.request({ type: 'hello' }, { timeoutMs: START_TIMEOUT_MS })))
  const started: Array<{ peerId: string }> = []
  for (const peer of peers) {
    const spacing = delay(START_SPACING_MS)
    started.push(
      await peer.request(
        { type: 'start', bootstrap: multiaddr, timeoutMs: START_TIMEOUT_MS },
        { timeoutMs: START_TIMEOUT_MS + COMMAND_TIMEOUT_MS },
      ),
    )
    await spacing
  }
  const peerIds = started.map((s) => s.peerId)
  const [sender, ...receivers] = peers as [Peer, ...Peer[]]
  log(`relay and ${peers.length} peers up in ${Math.round(performance.now() - t0)} ms`)

  const { invite, topic: roomTopic } = await sender.request({ type: 'create-room' }, { timeoutMs: COMMAND_TIMEOUT_MS })
  await Promise.all(receivers.map((peer) => peer.request({ type: 'join', invite }, { timeoutMs: COMMAND_TIMEOUT_MS })))
  await relay.request({ type: 'subscribe', topic: BARE_TOPIC }, { timeoutMs: COMMAND_TIMEOUT_MS })
  await Promise.all(
    peers.map((peer) => peer.request({ type: 'subscribe-bare', topic: BARE_TOPIC }, { timeoutMs: COMMAND_TIMEOUT_MS })),
  )

  let phase = 0
  const cmd = { timeoutMs: COMMAND_TIMEOUT_MS }
  const readyTimeout = { timeoutMs: config.readyTimeoutMs }
  const payload: PayloadSize = { textBytes: config.textBytes, bareBytes: 0 }
  const topics: Record<Mode, string> = { room: roomTopic, bare: BARE_TOPIC }

  /** Probes until every receiver got a message and has a mesh, and the relay's mesh holds every peer. */
  const ready = async (mode: Mode): Promise<void> => {
    const probe = ++phase
    await Promise.all(receivers.map((peer) => peer.request({ type: 'arm', mode, phase: probe, expected: 0 }, cmd)))
    await sender.request({ type: 'warmup-start', mode, phase: probe, intervalMs: PROBE_INTERVAL_MS, payload }, cmd)
    try {
      await Promise.all(receivers.map((peer) => peer.waitFor({ type: 'ready', phase: probe }, readyTimeout)))
      const mesh = await relay.request(
        { type: 'await-mesh', topic: topics[mode], peers: peerIds, timeoutMs: config.readyTimeoutMs },
        { timeoutMs: config.readyTimeoutMs + COMMAND_TIMEOUT_MS },
      )
      if (mesh.timedOut) log(`${mode}: the relay's mesh holds ${mesh.inMesh} of ${mesh.wanted} peers (timed out)`)
    } finally {
      await sender.request({ type: 'warmup-stop' }, cmd)
    }
  }

  const cpuSnapshot = async (): Promise<{ relay: number; peers: number[] }> => {
    const [relayCpu, ...peerCpu] = await Promise.all([
      relay.request({ type: 'cpu' }, cmd),
      ...peers.map((peer) => peer.request({ type: 'cpu' }, cmd)),
    ])
    return { relay: relayCpu!.cpuUs, peers: peerCpu.map((c) => c.cpuUs) }
  }

  const runPhase = async (
    kind: 'paced' | 'burst',
    mode: Mode,
    count: number,
    sizeRecords = false,
  ): Promise<PhaseResult> => {
    const current = ++phase
    await Promise.all(
      receivers.map((peer) => peer.request({ type: 'arm', mode, phase: current, expected: count, sizeRecords }, cmd)),
    )
    const cpuBefore = await cpuSnapshot()
    const sendMs = kind === 'paced' ? (count * 1000) / config.pacedRatePerS : 0
    const budget = { timeoutMs: sendMs + COMMAND_TIMEOUT_MS }
    const completions = receivers.map((peer) =>
      peer
        .waitFor({ type: 'complete', phase: current }, { timeoutMs: sendMs + config.drainMs + COMMAND_TIMEOUT_MS })
        .then(
          () => true,
          (err: unknown) => {
            if (peer.exited) throw err
            return false
          },
        ),
    )
    const report =
      kind === 'paced'
        ? await sender.request(
            { type: 'paced', mode, phase: current, count, rate: config.pacedRatePerS, payload },
            budget,
          )
        : await sender.request({ type: 'burst', mode, phase: current, count, payload }, budget)
    // Once the sender is done, receivers get `drainMs` for the rest.
    const drain = new AbortController()
    const drained = await Promise.race([
      Promise.all(completions),
      delay(config.drainMs, undefined, { signal: drain.signal }).catch(() => undefined),
    ])
    drain.abort()
    const complete = drained === undefined ? 0 : drained.filter(Boolean).length
    const measurements = await Promise.all(receivers.map((peer) => peer.request({ type: 'collect' }, cmd)))
    const cpuAfter = await cpuSnapshot()
    const cpuUs = {
      relay: cpuAfter.relay - cpuBefore.relay,
      sender: cpuAfter.peers[0]! - cpuBefore.peers[0]!,
      receivers: cpuAfter.peers.slice(1).map((us, i) => us - cpuBefore.peers[i + 1]!),
    }
    return { sender: report, receivers: measurements, complete, cpuUs }
  }

  // Setup: the room first, so its record size is known before the bare payload is sized.
  const readyStart = performance.now()
  await ready('room')
  const roomWarm = await runPhase('paced', 'room', config.warmupMessages, true)
  payload.bareBytes = Math.max(...roomWarm.receivers.map((m) => m.maxRoomRecordBytes))
  if (payload.bareBytes === 0) throw new Error('no room record was seen: cannot size the bare payload')
  await ready('bare')
  await runPhase('paced', 'bare', config.warmupMessages)
  log(`mesh ready and warm in ${Math.round(performance.now() - readyStart)} ms; record ${payload.bareBytes} B`)

  // Rounds alternate the order (bare, room, then room, bare, …) so that drift in the machine's
  // load or in the processes' state does not favour one mode.
  const results: Record<'paced' | 'burst', Record<Mode, PhaseResult[]>> = {
    paced: { bare: [], room: [] },
    burst: { bare: [], room: [] },
  }
  for (const kind of ['paced', 'burst'] as const) {
    const count = kind === 'paced' ? config.pacedMessages : config.burstMessages
    for (let round = 0; round < config.rounds; round++) {
      const order: Mode[] = round % 2 === 0 ? ['bare', 'room'] : ['room', 'bare']
      for (const mode of order) {
        // A connection lost in the previous phase (see connections_closed) is back before this one.
        await ready(mode)
        const result = await runPhase(kind, mode, count)
        results[kind][mode].push(result)
        log(`${kind} ${mode} round ${round + 1}: ${summary([result], count)}`)
      }
    }
  }
  // Re-publish overhead: every member acknowledges in its heartbeat; until then a message may still be re-published.
  const outgoing = await sender.request(
    { type: 'await-acknowledged', timeoutMs: ACKNOWLEDGE_TIMEOUT_MS },
    { timeoutMs: ACKNOWLEDGE_TIMEOUT_MS + COMMAND_TIMEOUT_MS },
  )
  log(
    `sender's outgoing buffer: ${outgoing.sent} sent, ${outgoing.republished} re-published, ${outgoing.unacknowledged} given up, ${outgoing.pending} still awaiting acknowledgement${outgoing.timedOut ? ' (timed out)' : ''}`,
  )
  const stats = await relay.request({ type: 'stats' }, cmd)
  log(`load average ${load()}`)
  log(`relay: ${stats.connections} connections, ${stats.accepted} room records accepted, ${stats.rejected} rejected`)

  const { paced, burst } = results
  const latency = (r: PhaseResult[], p: number): number => percentile(latencies(r), p)
  const records: BenchRecord[] = [
    compared({
      name: 'rooms.paced.latency.p50',
      unit: 'ms',
      value: latency(paced.room, 0.5),
      baseline: latency(paced.bare, 0.5),
      goal: LATENCY_GOAL,
    }),
    compared({
      name: 'rooms.paced.latency.p99',
      unit: 'ms',
      value: latency(paced.room, 0.99),
      baseline: latency(paced.bare, 0.99),
      goal: LATENCY_GOAL,
    }),
    compared({
      name: 'rooms.paced.delivery',
      unit: 'fraction',
      value: delivery(paced.room, config.pacedMessages),
      baseline: delivery(paced.bare, config.pacedMessages),
    }),
    compared({
      name: 'rooms.burst.throughput',
      unit: 'msg/s',
      value: throughput(burst.room),
      baseline: throughput(burst.bare),
      goal: THROUGHPUT_GOAL,
    }),
    compared({
      name: 'rooms.burst.delivery',
      unit: 'fraction',
      value: delivery(burst.room, config.burstMessages),
      baseline: delivery(burst.bare, config.burstMessages),
    }),
    // Every message to every receiver in every round: the worst round, not the mean.
    compared({
      name: 'rooms.paced.delivery.worst_round',
      unit: 'fraction',
      value: worstRound(paced.room, config.pacedMessages),
      baseline: worstRound(paced.bare, config.pacedMessages),
    }),
    compared({
      name: 'rooms.burst.delivery.worst_round',
      unit: 'fraction',
      value: worstRound(burst.room, config.burstMessages),
      baseline: worstRound(burst.bare, config.burstMessages),
    }),
    // Extra records per message sent: re-publishes of what members did not acknowledge in time
    // (`rooms/outgoing-buffer.ts`); 0 when nothing is lost and heartbeats keep up.
    { name: 'rooms.republish.overhead', unit: 'msg/msg', value: outgoing.republished / outgoing.sent },
    { name: 'rooms.republish.unacknowledged', unit: 'messages', value: outgoing.unacknowledged + outgoing.pending },
    compared({
      name: 'rooms.burst.publish_rate',
      unit: 'msg/s',
      value: publishRate(burst.room),
      baseline: publishRate(burst.bare),
    }),
    // Connections receivers lost while measuring (libp2p's connection monitor drops a connection
    // whose ping waits behind a long queue): a count, often 0, so no ratio.
    {
      name: 'rooms.connections_closed.room',
      unit: 'connections',
      value: connectionsClosed([...paced.room, ...burst.room]),
    },
    {
      name: 'rooms.connections_closed.bare',
      unit: 'connections',
      value: connectionsClosed([...paced.bare, ...burst.bare]),
    },
    compared({
      name: 'rooms.cpu.relay',
      unit: 'µs/msg',
      value: cpuPerMessage([...paced.room, ...burst.room], (c) => c.relay),
      baseline: cpuPerMessage([...paced.bare, ...burst.bare], (c) => c.relay),
    }),
    compared({
      name: 'rooms.cpu.receiver',
      unit: 'µs/msg',
      value: cpuPerMessage([...paced.room, ...burst.room], meanReceiver),
      baseline: cpuPerMessage([...paced.bare, ...burst.bare], meanReceiver),
      goal: RECEIVER_CPU_GOAL,
    }),
    compared({
      name: 'rooms.cpu.sender',
      unit: 'µs/msg',
      value: cpuPerMessage([...paced.room, ...burst.room], (c) => c.sender),
      baseline: cpuPerMessage([...paced.bare, ...burst.bare], (c) => c.sender),
      goal: SENDER_CPU_GOAL,
    }),
    {
      name: 'rooms.undecryptable',
      unit: 'messages',
      value: undecryptable([...paced.room, ...burst.room]),
    },
    { name: 'rooms.record.bytes', unit: 'B', value: payload.bareBytes },
    { name: 'rooms.peers', unit: 'processes', value: config.peers },
    { name: 'rooms.relay.rejected', unit: 'records', value: stats.rejected },
  ]
  // One line to compare runs by: room/bare ratios of CPU per message, latency and throughput.
  const ratio = (name: string): number | undefined => {
    const r = records.find((record) => record.name === name)
    return r?.ratio === undefined ? undefined : Number(r.ratio.toFixed(3))
  }
  log(
    `ratios ${JSON.stringify({
      cpu: {
        receiver: ratio('rooms.cpu.receiver'),
        sender: ratio('rooms.cpu.sender'),
        relay: ratio('rooms.cpu.relay'),
      },
      pacedLatencyP50: ratio('rooms.paced.latency.p50'),
      burstThroughput: ratio('rooms.burst.throughput'),
      loadAverage: loadavg().map((l) => Number(l.toFixed(2))),
    })}`,
  )
  return records
}

/** Nearest-rank percentile; NaN when nothing was measured. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = Float64Array.from(values).sort()
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!
}

function latencies(results: PhaseResult[]): number[] {
  return results.flatMap((r) => r.receivers.flatMap((m) => m.latenciesMs))
}

function delivered(result: PhaseResult): number {
  return result.receivers.reduce((sum, m) => sum + m.received, 0)
}

/** Deliveries over what every receiver should have got, over all rounds. */
function delivery(results: PhaseResult[], count: number): number {
  const expected = results.reduce((sum, r) => sum + count * r.receivers.length, 0)
  return results.reduce((sum, r) => sum + delivered(r), 0) / expected
}

/** The lowest delivery of any one round. */
function worstRound(results: PhaseResult[], count: number): number {
  return Math.min(...results.map((r) => delivery([r], count)))
}

/** From the first publish to the last receipt anywhere. */
function durationS(result: PhaseResult): number {
  const last = Math.max(...result.receivers.map((m) => m.lastAtMs ?? Number.NEGATIVE_INFINITY))
  const seconds = (last - result.sender.startAtMs) / 1000
  return Number.isFinite(seconds) && seconds > 0 ? seconds : Number.NaN
}

/** Messages per receiver per second, over all rounds; 0 when nothing arrived. */
function throughput(results: PhaseResult[]): number {
  const timed = results.filter((r) => !Number.isNaN(durationS(r)))
  if (timed.length === 0) return 0
  const perReceiver = timed.reduce((sum, r) => sum + delivered(r) / r.receivers.length, 0)
  return perReceiver / timed.reduce((sum, r) => sum + durationS(r), 0)
}

/** How fast the sender published, over all rounds. */
function publishRate(results: PhaseResult[]): number {
  const sent = results.reduce((sum, r) => sum + r.sender.sent, 0)
  return sent / results.reduce((sum, r) => sum + (r.sender.endAtMs - r.sender.startAtMs) / 1000, 0)
}

/** CPU time of one process (or the mean receiver) per message sent, over all phases. */
function cpuPerMessage(results: PhaseResult[], pick: (cpu: PhaseResult['cpuUs']) => number): number {
  const sent = results.reduce((sum, r) => sum + r.sender.sent, 0)
  return results.reduce((sum, r) => sum + pick(r.cpuUs), 0) / sent
}

function meanReceiver(cpu: PhaseResult['cpuUs']): number {
  return cpu.receivers.reduce((a, b) => a + b, 0) / cpu.receivers.length
}

function undecryptable(results: PhaseResult[]): number {
  return results.reduce((sum, r) => sum + r.receivers.reduce((n, m) => n + m.undecryptable, 0), 0)
}

function connectionsClosed(results: PhaseResult[]): number {
  return results.reduce((sum, r) => sum + r.receivers.reduce((n, m) => n + m.connectionsClosed, 0), 0)
}

function summary(results: PhaseResult[], count: number): string {
  const all = latencies(results)
  const failed = results.reduce((sum, r) => sum + r.sender.failed, 0)
  const unrouted = results.reduce((sum, r) => sum + r.sender.unrouted, 0)
  const complete = results.reduce((sum, r) => sum + r.complete, 0)
  const receivers = results.reduce((sum, r) => sum + r.receivers.length, 0)
  return [
    `p50 ${percentile(all, 0.5).toFixed(2)} ms`,
    `p99 ${percentile(all, 0.99).toFixed(2)} ms`,
    `${throughput(results).toFixed(0)} msg/s per receiver`,
    `delivery ${(delivery(results, count) * 100).toFixed(1)}%`,
    `${complete}/${receivers} receivers complete`,
    `cpu per message: relay ${cpuPerMessage(results, (c) => c.relay).toFixed(0)} µs, receiver ${cpuPerMessage(results, meanReceiver).toFixed(0)} µs, sender ${cpuPerMessage(results, (c) => c.sender).toFixed(0)} µs`,
    connectionsClosed(results) > 0 ? `${connectionsClosed(results)} connections closed` : '',
    undecryptable(results) > 0 ? `${undecryptable(results)} undecryptable` : '',
    failed > 0 ? `${failed} publishes failed` : '',
    unrouted > 0 ? `${unrouted} publishes reached no neighbour` : '',
  ]
    .filter(Boolean)
    .join(', ')
}
