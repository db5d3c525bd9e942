/**
 * `BENCH_SUITES=scale-room`: one large room on one relay (issue 13; 1,000 members with
 * `BENCH_SCALE=full`). Every member is a light client (`swarm.ts`) connected to the relay only.
 *
 * - Presence: what each member receives of the others' presence per minute, and what the relay
 *   spends (CPU, bytes written) forwarding it, while the room is otherwise idle.
 * - A sender key to every member: one member publishes keys records as `RoomKeys` makes them
 *   (`MAX_KEY_RECIPIENTS_PER_RECORD` entries each), first opening a channel to each member
 *   (`sealed`, the first distribution) and then as a rotation over open channels (`wrapped`). The
 *   entries are random bytes of the real size: the relay checks the record, not what it seals.
 *   Time: from the first publish until each member received the record naming it; bytes: what the
 *   sender published, and what members received in all (gossip delivers every keys record to
 *   every member, whether it names it or not).
 * - Message latency: one member sends paced message records; one-way latency at every other member.
 */
import { setTimeout as delay } from 'node:timers/promises'
import { MAX_KEY_RECIPIENTS_PER_RECORD, PRESENCE_INTERVAL_MS } from '@securechat/sdk/constants'
import { presenceIntervalFor } from '@securechat/sdk/rooms'
import type { SwarmCounters } from './protocol.ts'
import { between, envInt, fullScale, KIB, loadAverage, MIB, makeRooms, percentile, ScaleHarness } from './scale.ts'
import type { BenchRecord } from './types.ts'

export const DEFAULT_MEMBERS = 50
export const FULL_MEMBERS = 1_000
/**
 * A `sealed` entry: an X-Wing opening (2 + `XWING_CIPHERTEXT_BYTES` = 1,122 bytes) and the ~180-byte sealed
 * distribution (crypto/pairwise-channel.ts), 1,300 bytes in base64url.
 */
export const SEALED_ENTRY_CHARS = 1_734
/** A `wrapped` entry: about 200 bytes (`MAX_WRAPPED_KEY_CHARS`' note in the sdk's constants). */
export const WRAPPED_ENTRY_CHARS = 270
/**
 * Members per light-client process. Each receives every other member's presence; when a member still checked
 * each one's gossip signature (before `drainRecords`), 200 in one process fell 13.7 s behind at the first presence
 * round and the relay closed every connection, so processes held 25. Members that drain what arrives no longer check
 * signatures, and a process holds ten times as many.
 */
export const MEMBERS_PER_PROCESS = 250
export const DEFAULT_MESSAGES = 20
export const DEFAULT_MESSAGE_RATE_PER_S = 2
/**
 * The longest presence window: a room of 1,000 announces every 5 minutes (`presenceIntervalFor`), and since every
 * member announces at its own random phase, two minutes of it give the rate as well as four intervals would.
 */
const MAX_WINDOW_MS = 120_000
/** The longest wait after joining before measuring: the joining burst (each member's first presence) is over by then. */
const MAX_SETTLE_MS = 30_000
/**
 * How long a sender key or a message may take to reach everyone before the run reports what arrived
 * (`BENCH_SCALE_DELIVERY_MS` to change it). Gossip announces a record for three heartbeats, so a record lost
 * on the way does not arrive after that; but in a room of 1,000 a first distribution is some 1.7 GB for the relay
 * to send, which on this machine took longer than this, and records still queued then arrive in the next phase.
 */
export const DELIVERY_TIMEOUT_MS = 20_000
/** Polls without a keys byte arriving after which a sender key's distribution is over. */
const QUIET_POLLS = 4
/** How often the parent asks the swarms how far a delivery got. */
const POLL_MS = 500

export async function run(): Promise<BenchRecord[]> {
  const members = envInt('BENCH_SCALE_MEMBERS', fullScale() ? FULL_MEMBERS : DEFAULT_MEMBERS)
  // What members of a room this size announce at (docs/architecture.md, Presence), unless told otherwise.
  const presenceIntervalMs = envInt(
    'BENCH_SCALE_PRESENCE_MS',
    presenceIntervalFor({ baseMs: PRESENCE_INTERVAL_MS, members }),
  )
  const windowMs = envInt('BENCH_SCALE_WINDOW_MS', Math.min(4 * presenceIntervalMs, MAX_WINDOW_MS))
  const settleMs = Math.min(presenceIntervalMs, MAX_SETTLE_MS)
  const messages = envInt('BENCH_SCALE_MESSAGES', DEFAULT_MESSAGES)
  const deliveryMs = envInt('BENCH_SCALE_DELIVERY_MS', DELIVERY_TIMEOUT_MS)
  console.log(
    `scale-room: ${JSON.stringify({ members, presenceIntervalMs, windowMs, settleMs, messages, deliveryMs, loadAverage: loadAverage() })}`,
  )
  const harness = new ScaleHarness({ clientsPerProcess: envInt('BENCH_SCALE_PER_PROCESS', MEMBERS_PER_PROCESS) })
  try {
    await harness.startRelay({ maxConnections: members + 1_000 })
    const grown = await harness.growTo(members)
    const room = await makeRooms(1)
    const joined = await harness.join(room, { presenceIntervalMs, timeoutMs: 60_000 })
    console.log(
      `scale-room: ${JSON.stringify({ connected: harness.clients, connectFailed: grown.failed, announced: joined.announced })}`,
    )
    await delay(settleMs)

    // Presence in an idle room.
    await arm(harness, 0)
    const start = await harness.usage(false)
    await delay(windowMs)
    const end = await harness.usage(false)
    const idle = between(start, end)
    const presence = await collect(harness)
    const perMemberPerMin = (value: number): number => (value / harness.clients / idle.ms) * 60_000

    // A sender key to every member, then a rotation.
    const sender = harness.swarms[0]?.child
    if (sender === undefined) throw new Error('no clients')
    const peerIds = (
      await Promise.all(harness.swarms.map(({ child }) => child.request({ type: 'peerIds' }, { timeoutMs: 30_000 })))
    ).flatMap((r) => r.peerIds)
    const recipients = peerIds.slice(1)
    const keys: Record<string, KeysResult> = {}
    console.log(`scale-room: presence ${JSON.stringify(presence.records)}`)
    for (const [epoch, entry] of (['sealed', 'wrapped'] as const).entries()) {
      await arm(harness, 0)
      const before = await harness.usage(false)
      const sent = await sender.request(
        {
          type: 'send-keys',
          epoch: epoch + 1,
          members: recipients,
          entry,
          entryChars: entry === 'sealed' ? SEALED_ENTRY_CHARS : WRAPPED_ENTRY_CHARS,
          perRecord: MAX_KEY_RECIPIENTS_PER_RECORD,
        },
        { timeoutMs: deliveryMs },
      )
      // Once every member has its entry, or the wait is over: then until no more keys bytes arrive, so that what is
      // still queued does not arrive in the next phase and what arrived late still counts, as time to everyone.
      await until(harness, deliveryMs, (c) => c.keysAtMs.length >= recipients.length)
      const got = await quiet(harness, deliveryMs)
      const after = await harness.usage(false)
      const times = got.keysAtMs.map((at) => at - sent.startAtMs)
      keys[entry] = {
        reached: got.keysAtMs.length / recipients.length,
        p50Ms: percentile(times, 50),
        allMs: got.keysAtMs.length >= recipients.length ? Math.max(...times) : Number.NaN,
        records: sent.records,
        unsent: sent.unsent,
        duplicates: got.duplicates,
        publishedKiB: sent.bytes / KIB,
        receivedMiB: got.bytes.keys / MIB,
        relayWrittenMiB: (after.writtenBytes - before.writtenBytes) / MIB,
      }
      console.log(`scale-room: keys ${entry} ${JSON.stringify(keys[entry])}`)
    }

    // Message latency.
    await arm(harness, 7)
    const sent = await sender.request(
      { type: 'send', phase: 7, count: messages, ratePerS: DEFAULT_MESSAGE_RATE_PER_S, textBytes: 200 },
      { timeoutMs: deliveryMs },
    )
    const expected = messages * (harness.clients - 1)
    const got = await until(harness, deliveryMs, (c) => c.latenciesMs.length >= expected)
    const latency = {
      delivery: got.latenciesMs.length / expected,
      duplicates: got.duplicates,
      p50Ms: percentile(got.latenciesMs, 50),
      p99Ms: percentile(got.latenciesMs, 99),
      sendMs: sent.endAtMs - sent.startAtMs,
    }
    const held = await harness.usage(true)
    const swarm = await harness.swarmUsage()
    const result = {
      members: harness.clients,
      connectFailed: grown.failed,
      announced: joined.announced,
      presence: {
        receivedPerMemberPerMin: perMemberPerMin(presence.records.presence),
        receivedKiBPerMemberPerMin: perMemberPerMin(presence.bytes.presence) / KIB,
        relayCpuPercent: idle.cpuPercent,
        relayAcceptedPerS: idle.acceptedPerS,
        relayWrittenKiBPerS: idle.writtenBytesPerS / KIB,
        relayLoopP99Ms: end.loopDelayMs.p99,
      },
      keys,
      latency,
      relay: { rssMiB: held.rssBytes / MIB, heapMiB: held.heapUsedBytes / MIB, connections: held.connections },
      swarm: { connected: swarm.connected, closed: swarm.closed, loopDelayMaxMs: swarm.loopDelayMaxMs },
      loadAverage: loadAverage(),
    }
    console.log(`scale-room: ${JSON.stringify(result)}`)
    const n = `scale.room.${harness.clients}`
    return [
      { name: `${n}.presence.received`, unit: 'records/member/min', value: result.presence.receivedPerMemberPerMin },
      {
        name: `${n}.presence.received_bytes`,
        unit: 'KiB/member/min',
        value: result.presence.receivedKiBPerMemberPerMin,
      },
      { name: `${n}.presence.relay_cpu`, unit: '% of a core', value: result.presence.relayCpuPercent },
      { name: `${n}.presence.relay_written`, unit: 'KiB/s', value: result.presence.relayWrittenKiBPerS },
      ...Object.entries(keys).flatMap(([entry, k]) => [
        { name: `${n}.keys.${entry}.all`, unit: 'ms', value: k.allMs },
        { name: `${n}.keys.${entry}.p50`, unit: 'ms', value: k.p50Ms },
        { name: `${n}.keys.${entry}.published`, unit: 'KiB', value: k.publishedKiB },
        { name: `${n}.keys.${entry}.received`, unit: 'MiB', value: k.receivedMiB },
        { name: `${n}.keys.${entry}.relay_written`, unit: 'MiB', value: k.relayWrittenMiB },
      ]),
      { name: `${n}.latency.p50`, unit: 'ms', value: latency.p50Ms },
      { name: `${n}.latency.p99`, unit: 'ms', value: latency.p99Ms },
      { name: `${n}.delivery`, unit: 'ratio', value: latency.delivery },
      { name: `${n}.relay.rss`, unit: 'MiB', value: result.relay.rssMiB },
    ]
  } finally {
    await harness.stop()
  }
}

interface KeysResult {
  /** Of the members a record named, the share it reached. */
  reached: number
  p50Ms: number
  /** Until the last member had its entry (NaN when some never did within the timeout). */
  allMs: number
  records: number
  /** Records the sender's gossipsub published to no neighbour. */
  unsent: number
  /** Copies of a member's keys record that reached it again (counted once above). */
  duplicates: number
  publishedKiB: number
  receivedMiB: number
  relayWrittenMiB: number
}

async function arm(harness: ScaleHarness, phase: number): Promise<void> {
  await Promise.all(harness.swarms.map(({ child }) => child.request({ type: 'arm', phase }, { timeoutMs: 30_000 })))
}

/** Every swarm's counters, added up. */
async function collect(harness: ScaleHarness): Promise<SwarmCounters> {
  const all = await Promise.all(
    harness.swarms.map(({ child }) => child.request({ type: 'collect' }, { timeoutMs: 30_000 })),
  )
  const sum: SwarmCounters = {
    records: { presence: 0, message: 0, keys: 0, other: 0 },
    bytes: { presence: 0, message: 0, keys: 0, other: 0 },
    latenciesMs: [],
    keysAtMs: [],
    duplicates: 0,
  }
  for (const c of all) {
    sum.duplicates += c.duplicates
    for (const kind of Object.keys(sum.records) as Array<keyof SwarmCounters['records']>) {
      sum.records[kind] += c.records[kind]
      sum.bytes[kind] += c.bytes[kind]
    }
    sum.latenciesMs.push(...c.latenciesMs)
    sum.keysAtMs.push(...c.keysAtMs)
  }
  return sum
}

/** The swarms' counters once `done` holds, or when `timeoutMs` passed (asked every {@link POLL_MS}). */
/**
 * The swarms' counters once no keys bytes arrived for {@link QUIET_POLLS} polls in a row after the first did, or when
 * `timeoutMs` passed. Quiet before anything arrived is not the end: at 1,000 members the relay validated the sender's
 * records only after two minutes of presence queued before them, and they then arrived in the next phase.
 */
async function quiet(harness: ScaleHarness, timeoutMs: number): Promise<SwarmCounters> {
  let last = -1
  let still = 0
  return until(harness, timeoutMs, (c) => {
    still = c.bytes.keys === last ? still + 1 : 0
    last = c.bytes.keys
    return c.bytes.keys > 0 && still >= QUIET_POLLS
  })
}

async function until(
  harness: ScaleHarness,
  timeoutMs: number,
  done: (counters: SwarmCounters) => boolean,
): Promise<SwarmCounters> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const counters = await collect(harness)
    if (process.env.BENCH_TRACE === '1') {
      console.error(
        `TRACE parent keysRecords=${counters.records.keys} keysMiB=${(counters.bytes.keys / MIB).toFixed(1)} named=${counters.keysAtMs.length} messages=${counters.records.message} presence=${counters.records.presence} load=${loadAverage()[0]}`,
      )
    }
    if (done(counters) || performance.now() > deadline) return counters
    await delay(POLL_MS)
  }
}
