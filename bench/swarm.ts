/**
 * Benchmark child: many light SecureChat clients in one process (`light-client.ts`), for the scale
 * suites (`scale.ts`). Presence is sent every `presenceIntervalMs` at a random phase. Every client
 * has a wallet of its own (the relay's record budgets are per device and per wallet).
 *
 * What a client here does, as the relay sees it: its own TCP connection, Noise and Yamux, identify,
 * answers to the relay's pings, gossipsub's subscribe, graft and signed publish on `/meshsub/1.1.0`,
 * a wallet-signed certificate and presence, message and keys records in the sdk's wire format. What
 * it does not do (only the client would notice): ping the relay (`monitor: false`), run gossipsub's
 * heartbeat more than every `HEARTBEAT_MS`, or verify, cache, score and forward what it receives
 * (`drainRecords`). Receiving costs a client a look at the record's type (the first bytes of its
 * JSON); message records are decoded for the send time they carry, keys records searched for the
 * client's PeerId.
 */
import { randomBytes } from 'node:crypto'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { setTimeout as delay } from 'node:timers/promises'
import { WIRE_VERSION } from '@securechat/sdk/constants'
import { walletSigner } from '@securechat/sdk/identity'
import { encodeRecord, type SignedManifest } from '@securechat/sdk/rooms'
import { hexlify, Wallet } from 'ethers'
import { serve } from './child.ts'
import {
  drainRecords,
  enterRoom,
  type LightClient,
  type LightRoom,
  messageRecord,
  presenceRecord,
  startLightClient,
} from './light-client.ts'
import { cpuReport, nowMs, type RecordKind, type SwarmCommands, type SwarmCounters } from './protocol.ts'

/** Bytes of the header a bench message's ciphertext starts with: phase (u32), sequence (u32), send time (f64). */
const MESSAGE_HEADER_BYTES = 16
/**
 * Gossipsub's heartbeat on a simulated client: it has one peer, the relay, in its mesh; checking that
 * every second cost a client ~56 µs/s (a V8 profile of 200), the cost of a heartbeat at most.
 */
const HEARTBEAT_MS = 10_000
/** How long a client waits before announcing again when its first presence reached nobody (the relay was not subscribed yet). */
const REANNOUNCE_MS = 500

const clients: LightClient[] = []
let counters = emptyCounters()
/**
 * The clients that had the record naming them since `arm`, and the message sequences each had: a record that arrives
 * twice (a client that drains what arrives marks nothing seen, and a second copy can reach it) counts once, as a
 * client's gossipsub would take it once.
 */
let keysSeen = new Set<LightClient>()
let messagesSeen = new Map<LightClient, Set<number>>()
let armedPhase = -1
let seq = 0
/** Connections of clients that closed (to the relay or to peers gossipsub's peer exchange named). */
let closed = 0
const loopDelay = monitorEventLoopDelay({ resolution: 10 })
loopDelay.enable()
if (process.env.BENCH_TRACE === '1') {
  const traceDelay = monitorEventLoopDelay({ resolution: 10 })
  traceDelay.enable()
  const t0 = nowMs()
  setInterval(() => {
    console.error(
      `TRACE swarm pid=${process.pid} t=${((nowMs() - t0) / 1000).toFixed(1)} keys=${counters.records.keys} named=${counters.keysAtMs.length} loopMaxMs=${(traceDelay.max / 1e6).toFixed(0)} closed=${closed} cpu=${JSON.stringify(cpuReport())}`,
    )
    traceDelay.reset()
  }, 2_000).unref()
}

function emptyCounters(): SwarmCounters {
  return {
    records: { presence: 0, message: 0, keys: 0, other: 0 },
    bytes: { presence: 0, message: 0, keys: 0, other: 0 },
    latenciesMs: [],
    keysAtMs: [],
    duplicates: 0,
  }
}

function kindOf(data: Uint8Array): RecordKind {
  // encodeRecord writes `{"v":1,"type":"…`: the type's first letter is at a fixed offset.
  const letter = data[15]
  return letter === 112 ? 'presence' : letter === 109 ? 'message' : letter === 107 ? 'keys' : 'other'
}

function onRecord(client: LightClient, data: Uint8Array): void {
  const atMs = nowMs()
  const kind = kindOf(data)
  counters.records[kind] += 1
  counters.bytes[kind] += data.byteLength
  if (kind === 'message') {
    const record = JSON.parse(new TextDecoder().decode(data)) as { payload: { ct: string } }
    const header = Buffer.from(record.payload.ct, 'base64url')
    if (header.byteLength < MESSAGE_HEADER_BYTES || header.readUInt32BE(0) !== armedPhase) return
    const seen = messagesSeen.get(client) ?? new Set<number>()
    messagesSeen.set(client, seen)
    const sequence = header.readUInt32BE(4)
    if (seen.has(sequence)) {
      counters.duplicates += 1
      return
    }
    seen.add(sequence)
    counters.latenciesMs.push(atMs - header.readDoubleBE(8))
  } else if (kind === 'keys' && Buffer.from(data).includes(client.peerId)) {
    if (keysSeen.has(client)) {
      counters.duplicates += 1
      return
    }
    keysSeen.add(client)
    counters.keysAtMs.push(atMs)
  }
}

async function startClient(relay: string, timeoutMs: number): Promise<LightClient> {
  // A wallet per client, as people are: the relay's record budget is per wallet too (RELAY_RECORD_WALLET_FACTOR).
  const signer = walletSigner({ type: 'eoa', signer: new Wallet(hexlify(randomBytes(32))) })
  const client = await startLightClient({ relay, signer, timeoutMs, monitor: false, heartbeatMs: HEARTBEAT_MS })
  drainRecords(client, (data) => onRecord(client, data))
  client.libp2p.addEventListener('connection:close', () => {
    closed += 1
  })
  return client
}

/** Like `Room`: announced until a neighbour took it, then every interval. */
async function announce(client: LightClient, room: LightRoom, deadlineMs: number): Promise<boolean> {
  while (client.rooms.includes(room) && Date.now() < deadlineMs) {
    const { recipients } = await client.libp2p.services.pubsub.publish(
      room.topic,
      presenceRecord(client, undefined, room),
    )
    if (recipients.length > 0) return true
    await delay(REANNOUNCE_MS)
  }
  return false
}

function sender(): LightClient {
  const client = clients[0]
  if (client?.room === undefined) throw new Error('this process has no client in a room to send from')
  return client
}

/** Runs `work` over `items`, at most `concurrency` at a time; resolves with how many failed. */
async function pooled<T>(items: T[], concurrency: number, work: (item: T) => Promise<unknown>): Promise<number> {
  let next = 0
  let failed = 0
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T
      await work(item).catch(() => {
        failed += 1
      })
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, lane))
  return failed
}

serve<SwarmCommands>({
  hello: () => ({}),
  async connect({ relay, count, concurrency, timeoutMs }) {
    const started = performance.now()
    const failed = await pooled(Array.from({ length: count }), concurrency, async () => {
      clients.push(await startClient(relay, timeoutMs))
    })
    return { connected: clients.length, failed, ms: performance.now() - started }
  },
  async join({ manifests, roomIds, first, roomsEach = 1, presenceIntervalMs, timeoutMs }) {
    const deadlineMs = Date.now() + timeoutMs
    let announced = 0
    // Client `g` of the run is in rooms `g × roomsEach` to `g × roomsEach + roomsEach − 1` (modulo the rooms).
    const memberships = clients.flatMap((client, i) =>
      client.room === undefined
        ? Array.from({ length: roomsEach }, (_, r) => ({
            client,
            at: ((first + i) * roomsEach + r) % manifests.length,
          }))
        : [],
    )
    await pooled(memberships, memberships.length, async ({ client, at }) => {
      const topic = enterRoom(client, manifests[at] as SignedManifest, roomIds[at] as string)
      const room = client.rooms.find((r) => r.topic === topic) as LightRoom
      if (await announce(client, room, deadlineMs)) announced += 1
      if (!client.rooms.includes(room)) return
      const send = (): void => {
        void client.libp2p.services.pubsub
          .publish(topic, presenceRecord(client, presenceIntervalMs, room))
          .catch(() => undefined)
      }
      // Every client at its own phase, as independent devices are.
      room.timer = setTimeout(() => {
        send()
        room.timer = setInterval(send, presenceIntervalMs)
      }, Math.random() * presenceIntervalMs)
    })
    return { announced }
  },
  leave() {
    for (const client of clients) {
      for (const room of client.rooms) {
        clearTimeout(room.timer)
        client.libp2p.services.pubsub.unsubscribe(room.topic)
      }
      client.rooms = []
      delete client.room
    }
    return {}
  },
  peerIds: () => ({ peerIds: clients.map((client) => client.peerId) }),
  arm({ phase }) {
    armedPhase = phase
    counters = emptyCounters()
    keysSeen = new Set()
    messagesSeen = new Map()
    return {}
  },
  collect: () => counters,
  async send({ phase, count, ratePerS, textBytes }) {
    const client = sender()
    const room = client.room as NonNullable<LightClient['room']>
    const startAtMs = nowMs()
    for (let i = 0; i < count; i++) {
      const header = Buffer.alloc(Math.max(MESSAGE_HEADER_BYTES, textBytes))
      header.writeUInt32BE(phase, 0)
      header.writeUInt32BE(seq++, 4)
      header.writeDoubleBE(nowMs(), 8)
      await client.libp2p.services.pubsub.publish(room.topic, messageRecord(room.id, seq, header.toString('base64url')))
      await delay(Math.max(0, startAtMs + ((i + 1) * 1000) / ratePerS - nowMs()))
    }
    return { startAtMs, endAtMs: nowMs() }
  },
  async 'send-keys'({ epoch, members, entry, entryChars, perRecord }) {
    const client = sender()
    const room = client.room as NonNullable<LightClient['room']>
    const startAtMs = nowMs()
    let bytes = 0
    let records = 0
    let unsent = 0
    for (let i = 0; i < members.length; i += perRecord) {
      // Random bytes of an entry's size: the relay checks the record, not what the entries hold.
      const text = (): string => randomBytes(Math.floor((entryChars * 3) / 4)).toString('base64url')
      const to = members
        .slice(i, i + perRecord)
        .map((peer) => (entry === 'sealed' ? { peer, sealed: text() } : { peer, wrapped: text() }))
      const record = encodeRecord({ v: WIRE_VERSION, type: 'keys', room: room.id, epoch, to })
      bytes += record.byteLength
      records += 1
      const { recipients } = await client.libp2p.services.pubsub.publish(room.topic, record)
      if (recipients.length === 0) unsent += 1
    }
    return { startAtMs, endAtMs: nowMs(), records, bytes, unsent }
  },
  usage() {
    const memory = process.memoryUsage()
    const connected = clients.filter((client) => client.libp2p.getConnections().length > 0).length
    const result = {
      ...cpuReport(),
      rssBytes: memory.rss,
      clients: clients.length,
      connected,
      closed,
      loopDelayMaxMs: loopDelay.max / 1e6,
    }
    loopDelay.reset()
    return result
  },
  cpu: cpuReport,
  async stop() {
    await pooled(clients, 50, async (client) => {
      for (const room of client.rooms) clearTimeout(room.timer)
      await client.libp2p.stop()
    })
    return {}
  },
})
