/**
 * An honest member's paced messages through a real `securechat relay` process with its default limits and scoring,
 * while sybils flood the room or not (issue 13's flood test, test/sybil-flood.test.ts, and the `sybil` bench suite).
 *
 * With `floods`, up to two phases, each from its own flooder process (test/helpers/sybil-flooder.ts) of `sybils` bare
 * js-libp2p peers, each during its share of the honest messages: `invalid`, records that fail validation, until every
 * flooder is graylisted or cut off; `valid`, valid records from devices of one signed-in wallet, until every device
 * is cut off — banned by the relay as a persistent flooder (it scores below the publish threshold before, once over
 * its device's or its wallet's rate) — or `timeoutMs` passed.
 * Without it, the same honest messages alone: the baseline.
 *
 * The result says what a test asserts and a bench reports: which honest messages arrived and how late, whether the
 * relay and the members came through (alive, `/healthz`, connected, a message after the flood arrives), the relay's
 * `/metrics` and log lines meanwhile, and its CPU time and memory.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import type { Room } from '@securechat/sdk/rooms'
import { Wallet } from 'ethers'
import { type CliProcess, type RelayProcess, spawnScript, startRelayProcess } from './cli.ts'
import { type Device, startDevice } from './device.ts'
import { metrics } from './relay-metrics.ts'
import type { FlooderLine, FloodMode } from './sybil-flooder.ts'

const FLOODER_PATH = resolve(import.meta.dirname, 'sybil-flooder.ts')
/** A flooder process starting its peers, dialling and waiting for the relay in the room, on a loaded machine. */
const FLOODER_READY_TIMEOUT_MS = 60_000
/** How often `/metrics` is read while waiting for the relay to say something (another process: nothing to await). */
const METRICS_POLL_MS = 100
/** Reads of `/metrics` in a row that may fail before the relay counts as not answering. */
const METRICS_ATTEMPTS = 3

export interface SybilFloodInit {
  /** The flood phases to run, in this order, each during an equal share of the honest messages; none: a clean run. */
  floods: FloodMode[]
  /** Flooding peers per phase. */
  sybils: number
  /** Honest messages, one every `paceMs`. */
  messages: number
  paceMs: number
  /** Each wait (a phase's end, the last honest message) gives up after this long. */
  timeoutMs: number
  /** Further `securechat relay` flags (its limits); its defaults without. */
  relayArgs?: string[]
  log?: (line: string) => void
}

export interface SybilFloodResult {
  sent: number
  /** Honest messages the other member received, and each one's latency (send to `message:received`), in ms. */
  received: number
  latenciesMs: number[]
  /** The relay process had not exited, `/healthz` answered 200, and both members still had the relay. */
  relayAlive: boolean
  healthz: number
  membersConnected: boolean
  /** A message sent after the flood reached the other member. */
  afterFloodDelivered: boolean
  /** The relay's `/metrics` at the end, as name{labels} → value. */
  metrics: Map<string, number>
  /** Peers below the graylist threshold while the invalid flooders were still connected (0 without that phase). */
  graylistedDuringInvalid: number
  /** Peers below the publish threshold while the valid flooders were still connected (0 without that phase). */
  scoredOutDuringValid: number
  /** The relay's log lines from the first flood record to the end of the last phase (all lines without flood). */
  relayLines: string[]
  /** Per phase: records each flooder sent, and which the relay cut off (PeerIds). */
  phases: Partial<Record<FloodMode, { peers: string[]; sent: Record<string, number>; cutOff: string[] }>>
  /** The relay's CPU time while the honest messages went, and its peak resident memory. */
  relayCpuMs: number
  relayPeakRssBytes: number
}

export async function runSybilFlood(init: SybilFloodInit): Promise<SybilFloodResult> {
  const log = init.log ?? (() => {})
  const cleanup: Array<() => Promise<unknown> | unknown> = []
  try {
    const relay = await startRelayProcess({ args: ['--http', '0', ...(init.relayArgs ?? [])] })
    cleanup.push(async () => {
      relay.kill('SIGKILL')
      await relay.exited
    })
    const address = relay.multiaddrs[0]!
    const device = async (): Promise<Device> => {
      const started = await startDevice({ wallet: Wallet.createRandom(), bootstrap: [address] })
      cleanup.push(started.close)
      return started
    }
    const alice = await device()
    const bob = await device()
    const { room, invite } = await alice.client.createRoom({ name: 'sybil-flood' })
    const bobRoom = await bob.client.joinRoom(invite)
    await Promise.all([room.waitForPeers(), bobRoom.waitForPeers()])
    const receiver = honestReceiver(bobRoom, init.messages)

    const phases: SybilFloodResult['phases'] = {}
    const floodStartLine = relay.lines.length
    const cpuBefore = cpuMs(relay)
    const share = (i: number): number => Math.round((init.messages * i) / Math.max(1, init.floods.length))
    let graylistedDuringInvalid = 0
    let scoredOutDuringValid = 0
    if (init.floods.length === 0) await sendHonest(room, receiver, 0, init.messages, init.paceMs)
    for (const [i, mode] of init.floods.entries()) {
      const flooder = await startFlooder(relay, room.id, init.sybils, mode, cleanup)
      log(`sybil: ${init.sybils} peers flooding ${mode} records`)
      await sendHonest(room, receiver, share(i), share(i + 1), init.paceMs)
      // Every flooder scored out or cut off by the relay: invalid records put their sender below the graylist (the
      // relay ignores what it sends); valid ones over a device's or its wallet's rate below the publish threshold (the
      // relay forwards it nothing).
      const threshold = mode === 'invalid' ? 'graylist' : 'publish'
      const scoredOut = await untilMetric(
        relay,
        (samples) => samples.get(`securechat_relay_peers_scored_out{threshold="${threshold}"}`) ?? 0,
        (value) => value + flooder.cutOff.size >= init.sybils,
        init.timeoutMs,
      )
      if (mode === 'invalid') graylistedDuringInvalid = scoredOut
      else {
        scoredOutDuringValid = scoredOut
        // Then banned while still flooding: the relay reads them no faster than it handles their records, so it
        // keeps up with the flood and finds each over its rate for the ban delay without a pause.
        await flooder.allCutOff(init.timeoutMs)
      }
      phases[mode] = { peers: flooder.peers, ...(await flooder.stop()) }
      log(`sybil: ${mode} phase over, ${scoredOut} peers below ${threshold}, ${phases[mode].cutOff.length} cut off`)
    }
    const relayLines = relay.lines.slice(floodStartLine)
    await Promise.race([receiver.all, new Promise((resolve) => setTimeout(resolve, init.timeoutMs))])
    const relayCpuMs = cpuMs(relay) - cpuBefore

    const relayAlive = relay.child.exitCode === null && relay.child.signalCode === null
    const healthz = await healthzOf(relay)
    const hasRelay = (d: Device): boolean =>
      d.client.libp2p.getConnections().some((c) => c.remotePeer.toString() === relay.peerId)
    const membersConnected = hasRelay(alice) && hasRelay(bob)
    const afterFloodDelivered = await deliversOne(room, bobRoom, init.timeoutMs)
    return {
      sent: init.messages,
      received: receiver.latenciesMs.size,
      latenciesMs: [...receiver.latenciesMs.values()],
      relayAlive,
      healthz,
      membersConnected,
      afterFloodDelivered,
      metrics: await metrics(relay).catch(() => metrics(relay)),
      graylistedDuringInvalid,
      scoredOutDuringValid,
      relayLines,
      phases,
      relayCpuMs,
      relayPeakRssBytes: peakRssBytes(relay),
    }
  } finally {
    for (const stop of cleanup.reverse()) await stop()
  }
}

interface HonestReceiver {
  /** Send times (`performance.now()`) by text. */
  sentAt: Map<string, number>
  latenciesMs: Map<string, number>
  all: Promise<void>
}

function honestReceiver(room: Room, expected: number): HonestReceiver {
  const sentAt = new Map<string, number>()
  const latenciesMs = new Map<string, number>()
  const all = new Promise<void>((resolve) => {
    room.addEventListener('message:received', (event) => {
      const at = sentAt.get(event.detail.text)
      if (at === undefined || latenciesMs.has(event.detail.text)) return
      latenciesMs.set(event.detail.text, performance.now() - at)
      if (latenciesMs.size === expected) resolve()
    })
  })
  return { sentAt, latenciesMs, all }
}

async function sendHonest(room: Room, receiver: HonestReceiver, from: number, to: number, paceMs: number) {
  for (let i = from; i < to; i++) {
    const text = `honest ${i}`
    receiver.sentAt.set(text, performance.now())
    await room.send(text)
    await new Promise((resolve) => setTimeout(resolve, paceMs))
  }
}

async function deliversOne(room: Room, to: Room, timeoutMs: number): Promise<boolean> {
  const text = 'after the flood'
  const heard = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs)
    to.addEventListener('message:received', (event) => {
      if (event.detail.text !== text) return
      clearTimeout(timer)
      resolve(true)
    })
  })
  await room.send(text, { signal: AbortSignal.timeout(timeoutMs) }).catch(() => undefined)
  return heard
}

interface Flooder {
  peers: string[]
  /** The peers the relay cut off so far. */
  cutOff: ReadonlySet<string>
  /** Resolves once the relay cut off every peer, or after `timeoutMs` (the result says which peers it cut off). */
  allCutOff(timeoutMs: number): Promise<void>
  /** Tells the flooder to stop; resolves with what it sent and which peers the relay cut off. */
  stop(): Promise<{ sent: Record<string, number>; cutOff: string[] }>
}

async function startFlooder(
  relay: RelayProcess,
  roomId: string,
  count: number,
  mode: FloodMode,
  cleanup: Array<() => unknown>,
): Promise<Flooder> {
  const env = mode === 'valid' ? { SYBIL_WALLET_KEY: Wallet.createRandom().privateKey } : {}
  const cli = spawnScript(FLOODER_PATH, [relay.multiaddrs[0]!, roomId, String(count), mode], env)
  cleanup.push(async () => {
    cli.kill('SIGKILL')
    await cli.exited
  })
  const ready = parse(await cli.waitForLine((line) => line.includes('"sybil:ready"'), FLOODER_READY_TIMEOUT_MS))
  const finished = async (timeoutMs: number) => {
    const done = parse(await cli.waitForLine((line) => line.includes('"sybil:done"'), timeoutMs))
    if (done.event !== 'sybil:done') throw new Error(`unexpected flooder line ${JSON.stringify(done)}`)
    return { sent: done.sent, cutOff: done.cutOff }
  }
  const cutOff = (): Set<string> =>
    new Set(cli.lines.flatMap((line) => parse(line)).flatMap((line) => (line.event === 'sybil:cut' ? [line.peer] : [])))
  return {
    peers: ready.event === 'sybil:ready' ? ready.peers : [],
    get cutOff() {
      return cutOff()
    },
    allCutOff: async (timeoutMs) => {
      // Looked at again with each line the flooder prints.
      await cli.waitForLine(() => cutOff().size >= count, timeoutMs).catch(() => undefined)
    },
    stop: async () => {
      cli.kill('SIGTERM')
      return finished(FLOODER_READY_TIMEOUT_MS).catch((err: unknown) => failed(cli, err))
    },
  }
}

function failed(cli: CliProcess, err: unknown): never {
  throw new Error(`the flooder did not finish: ${String(err)}; its last lines: ${cli.lines.slice(-3).join('\n')}`)
}

function parse(line: string): FlooderLine {
  return JSON.parse(line) as FlooderLine
}

/** Reads the relay's `/metrics` until `done(read(samples))`; returns the last value read. */
async function untilMetric(
  relay: RelayProcess,
  read: (samples: Map<string, number>) => number,
  done: (value: number) => boolean,
  timeoutMs: number,
): Promise<number> {
  const deadline = performance.now() + timeoutMs
  const sample = async (attempt = 1): Promise<number> => {
    try {
      return read(await metrics(relay))
    } catch (err) {
      // A kept-alive socket the relay closed just as it was reused (its event loop lags under the flood): again.
      if (attempt < METRICS_ATTEMPTS) return sample(attempt + 1)
      throw new Error(
        `the relay's /metrics did not answer (${String(err)}); exit ${relay.child.exitCode ?? relay.child.signalCode}; its stderr: ${relay.stderr().slice(-2_000)}`,
      )
    }
  }
  let value = await sample()
  while (!done(value) && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, METRICS_POLL_MS))
    value = await sample()
  }
  return value
}

/**
 * The relay's `/healthz` status, 0 if it does not answer: asked again on a failed request, as `/metrics` is (a
 * kept-alive socket the relay closed just as it was reused, its event loop lagging after a flood).
 */
async function healthzOf(relay: RelayProcess, attempt = 1): Promise<number> {
  const status = await fetch(new URL('/healthz', relay.web))
    .then((response) => response.status)
    .catch(() => 0)
  return status === 0 && attempt < METRICS_ATTEMPTS ? healthzOf(relay, attempt + 1) : status
}

/** Clock ticks per second of `/proc/<pid>/stat`. */
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim())

/** The relay process's CPU time (user + system) so far, from /proc (Linux). */
function cpuMs(relay: RelayProcess): number {
  const stat = readFileSync(`/proc/${relay.child.pid}/stat`, 'utf8')
  // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS
}

/** The relay process's peak resident memory (VmHWM), from /proc (Linux). */
function peakRssBytes(relay: RelayProcess): number {
  const status = readFileSync(`/proc/${relay.child.pid}/status`, 'utf8')
  const kib = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1]
  return kib === undefined ? Number.NaN : Number(kib) * 1024
}
