/**
 * Benchmark child: one SecureChat peer (`createClient`: libp2p from `createSecureChatLibp2p`,
 * a wallet-signed session certificate, a room). The same libp2p node also subscribes to a
 * plain gossipsub topic for the bare baseline, so both modes share connections and mesh.
 *
 * Every message carries its phase, its sequence number and its send time; a receiver records
 * one-way latency against the same clock (every process runs on this machine).
 */
import { setTimeout as delay } from 'node:timers/promises'
import type { Message } from '@libp2p/gossipsub'
import { createClient, type SecureChatClient } from '@securechat/sdk/client'
import { walletSigner } from '@securechat/sdk/identity'
import { decodeRecord, type Room } from '@securechat/sdk/rooms'
import type { RoomMessage } from '@securechat/sdk/types'
import { Wallet } from 'ethers'
import { DEFAULT_CLI_DOMAIN, DEVNET_CHAIN_ID } from '../node/src/constants.ts'
import { emit, meshPeers, serve } from './child.ts'
import {
  cpuReport,
  type Measurement,
  type Mode,
  nowMs,
  type PayloadSize,
  type PeerCommands,
  type SendReport,
} from './protocol.ts'

/** Bytes of the bare header: phase (u32), sequence number (u32), send time (f64). */
export const BARE_HEADER_BYTES = 16
const ROOM_JOIN_TIMEOUT_MS = 10_000

let client: SecureChatClient | undefined
let room: Room | undefined
let bareTopic: string | undefined

interface Armed {
  mode: Mode
  phase: number
  expected: number
  seen: Set<number>
  measurement: Measurement
  signalled: boolean
  sizeRecords: boolean
}
let armed: Armed | undefined
let warmup: { timer: ReturnType<typeof setInterval>; report: SendReport } | undefined

function emptyMeasurement(): Measurement {
  return {
    latenciesMs: [],
    received: 0,
    firstAtMs: undefined,
    lastAtMs: undefined,
    maxRoomRecordBytes: 0,
    connectionsClosed: 0,
    undecryptable: 0,
  }
}

function started(): SecureChatClient {
  if (client === undefined) throw new Error('peer not started')
  return client
}

function pubsub() {
  return started().libp2p.services.pubsub
}

function topicOf(mode: Mode): string {
  const topic = mode === 'room' ? room?.topic : bareTopic
  if (topic === undefined) throw new Error(`no ${mode} topic joined yet`)
  return topic
}

// --- receiving -----------------------------------------------------------------------------

function record(mode: Mode, phase: number, seq: number, sentAtMs: number, atMs: number): void {
  const a = armed
  if (a === undefined || a.mode !== mode || a.phase !== phase || a.seen.has(seq)) return
  a.seen.add(seq)
  const m = a.measurement
  m.latenciesMs.push(atMs - sentAtMs)
  m.received += 1
  m.firstAtMs ??= atMs
  m.lastAtMs = atMs
  if (a.expected > 0 && m.received === a.expected) emit({ type: 'complete', phase })
  if (a.expected === 0) checkReady()
}

/** Readiness probe: a message of the phase arrived and this peer has a mesh for the topic. */
function checkReady(): void {
  const a = armed
  if (a === undefined || a.expected !== 0 || a.signalled || a.measurement.received === 0) return
  if (meshPeers(pubsub(), topicOf(a.mode)).length === 0) return
  a.signalled = true
  emit({ type: 'ready', phase: a.phase })
}

function onRoomMessage(event: CustomEvent<RoomMessage>): void {
  const atMs = nowMs()
  const [phase, seq, sentAt] = event.detail.text.split(' ', 3)
  record('room', Number(phase), Number(seq), Number(sentAt), atMs)
}

function onPubsubMessage(event: CustomEvent<Message>): void {
  const message = event.detail
  if (message.topic === bareTopic) {
    const atMs = nowMs()
    const view = new DataView(message.data.buffer, message.data.byteOffset, message.data.byteLength)
    if (message.data.byteLength < BARE_HEADER_BYTES) return
    record('bare', view.getUint32(0), view.getUint32(4), view.getFloat64(8), atMs)
  } else if (message.topic === room?.topic && armed?.sizeRecords === true) {
    // Message records only: presence records carry a certificate and the manifest.
    const decoded = decodeRecord(message.data)
    if (decoded.status === 'ok' && decoded.record.type === 'message') {
      armed.measurement.maxRoomRecordBytes = Math.max(armed.measurement.maxRoomRecordBytes, message.data.byteLength)
    }
  }
}

function attachRoom(joined: Room): string {
  room = joined
  joined.addEventListener('message:received', onRoomMessage)
  joined.addEventListener('message:undecryptable', () => {
    if (armed !== undefined) armed.measurement.undecryptable += 1
  })
  return joined.topic
}

// --- sending -------------------------------------------------------------------------------

function roomText(phase: number, seq: number, sentAtMs: number, textBytes: number): string {
  const head = `${phase} ${seq} ${sentAtMs.toFixed(3)} `
  return head.padEnd(textBytes, 'x')
}

function barePayload(phase: number, seq: number, sentAtMs: number, bytes: number): Uint8Array {
  const data = new Uint8Array(Math.max(bytes, BARE_HEADER_BYTES))
  const view = new DataView(data.buffer)
  view.setUint32(0, phase)
  view.setUint32(4, seq)
  view.setFloat64(8, sentAtMs)
  return data
}

/** Publishes one message; the send time is taken just before the sdk (or gossipsub) is called. */
/** Publishes one message and returns how many neighbours it went to. */
async function publish(mode: Mode, phase: number, seq: number, payload: PayloadSize): Promise<number> {
  if (mode === 'room') {
    if (room === undefined) throw new Error('no room joined')
    return (await room.send(roomText(phase, seq, nowMs(), payload.textBytes))).delivery.recipients.length
  }
  return (await pubsub().publish(topicOf('bare'), barePayload(phase, seq, nowMs(), payload.bareBytes))).recipients
    .length
}

function emptyReport(): SendReport {
  return { startAtMs: nowMs(), endAtMs: 0, sent: 0, failed: 0, unrouted: 0 }
}

function count(report: SendReport, recipients: number): void {
  report.sent += 1
  if (recipients === 0) report.unrouted += 1
}

async function sendAll(
  params: { mode: Mode; phase: number; count: number; payload: PayloadSize },
  intervalMs: number,
): Promise<SendReport> {
  const report = emptyReport()
  for (let seq = 0; seq < params.count; seq++) {
    // Pacing keeps a fixed schedule (no drift); a burst (interval 0) never waits.
    const waitMs = report.startAtMs + seq * intervalMs - nowMs()
    if (waitMs >= 1) await delay(waitMs)
    try {
      count(report, await publish(params.mode, params.phase, seq, params.payload))
    } catch {
      report.failed += 1
    }
  }
  report.endAtMs = nowMs()
  return report
}

serve<PeerCommands>({
  hello() {
    return {}
  },
  async start({ bootstrap, timeoutMs }) {
    client = createClient({
      domain: DEFAULT_CLI_DOMAIN,
      chainId: DEVNET_CHAIN_ID,
      signer: walletSigner({ type: 'eoa', signer: Wallet.createRandom() }),
      bootstrap: [bootstrap],
    })
    await client.start({ signal: AbortSignal.timeout(timeoutMs) })
    const libp2p = client.libp2p
    libp2p.services.pubsub.addEventListener('message', onPubsubMessage)
    libp2p.services.pubsub.addEventListener('gossipsub:heartbeat', checkReady)
    libp2p.services.pubsub.addEventListener('gossipsub:graft', checkReady)
    libp2p.addEventListener('connection:close', () => {
      if (armed !== undefined) armed.measurement.connectionsClosed += 1
    })
    return { peerId: client.peerId.toString(), address: client.address }
  },
  async 'create-room'() {
    const { room: created, invite } = await started().createRoom({ name: 'bench' })
    return { invite, topic: attachRoom(created) }
  },
  async join({ invite }) {
    const joined = await started().joinRoom(invite)
    await joined.waitForPeers({ signal: AbortSignal.timeout(ROOM_JOIN_TIMEOUT_MS) })
    return { topic: attachRoom(joined) }
  },
  'subscribe-bare'({ topic }) {
    bareTopic = topic
    pubsub().subscribe(topic)
    return {}
  },
  arm({ mode, phase, expected, sizeRecords }) {
    armed = {
      mode,
      phase,
      expected,
      seen: new Set(),
      signalled: false,
      sizeRecords: sizeRecords === true,
      measurement: emptyMeasurement(),
    }
    return {}
  },
  'warmup-start'({ mode, phase, intervalMs, payload }) {
    clearInterval(warmup?.timer)
    const report = emptyReport()
    let seq = 0
    const timer = setInterval(() => {
      publish(mode, phase, seq++, payload).then(
        (recipients) => count(report, recipients),
        () => (report.failed += 1),
      )
    }, intervalMs)
    warmup = { timer, report }
    return {}
  },
  'warmup-stop'() {
    clearInterval(warmup?.timer)
    const report = warmup?.report ?? emptyReport()
    report.endAtMs = nowMs()
    warmup = undefined
    return report
  },
  paced({ rate, ...params }) {
    return sendAll(params, 1000 / rate)
  },
  burst(params) {
    return sendAll(params, 0)
  },
  async 'await-acknowledged'({ timeoutMs }) {
    if (room === undefined) throw new Error('no room joined')
    const joined = room
    const pubsubEvents = pubsub()
    // Acknowledgements come in records (presence, messages): check after each one.
    const timedOut = await new Promise<boolean>((resolve) => {
      const check = (): void => {
        if (joined.outgoing.pending === 0) done(false)
      }
      const timer = setTimeout(() => done(true), timeoutMs)
      const done = (result: boolean): void => {
        clearTimeout(timer)
        pubsubEvents.removeEventListener('message', check)
        resolve(result)
      }
      pubsubEvents.addEventListener('message', check)
      check()
    })
    return { ...joined.outgoing, timedOut }
  },
  collect() {
    return armed?.measurement ?? emptyMeasurement()
  },
  cpu: cpuReport,
  async stop() {
    clearInterval(warmup?.timer)
    await client?.stop()
    return {}
  },
})
