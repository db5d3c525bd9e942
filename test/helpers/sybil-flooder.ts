/**
 * Sybil flooders, as their own process (test/helpers/sybil-flood.ts spawns it): `count` bare js-libp2p peers — TCP,
 * Noise, Yamux, identify and gossipsub with its defaults, none of the sdk (no publish pacing, no validators) — each
 * with a fresh PeerId, connected to one relay, publishing on one room topic (subscribed, as members are) as fast as they can
 * sign. Run apart from the honest members so that its signing loop does not starve their event loops.
 *
 *   node sybil-flooder.ts <relay multiaddr> <room id> <count> invalid|valid
 *
 * - `invalid`: message records that fail validation (a negative Lamport clock: malformed, so `Reject`), until the
 *   process is told to stop (SIGTERM).
 * - `valid`: devices of one signed-in wallet (`SYBIL_WALLET_KEY`, its private key): each announces its certificate in
 *   a presence record, then publishes valid message records (garbage ciphertext, which only members could tell),
 *   each a new record, until the relay closes its connection or the process is told to stop (SIGTERM).
 *
 * Each peer sends as fast as the relay reads (it waits for its stream to drain) and never closes its connection
 * itself (no connection monitor): whatever ends a connection is the relay's doing.
 *
 * Prints JSON lines: `sybil:ready` once every peer sees the relay in the room, `sybil:sent` every second,
 * `sybil:cut` when the relay closed a peer's last connection, and `sybil:done` with what each peer sent and which the
 * relay cut off.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { type GossipSub, gossipsub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import type { AbortOptions, Libp2p, Stream } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { WIRE_VERSION } from '@securechat/sdk/constants'
import { createCertificate, walletSigner } from '@securechat/sdk/identity'
import { encodeRecord, roomTopic } from '@securechat/sdk/rooms'
import { Wallet } from 'ethers'
import { createLibp2p } from 'libp2p'
import { messageRecord } from '../../bench/light-client.ts'
import { DEFAULT_CLI_DOMAIN, DEVNET_CHAIN_ID } from '../../node/src/constants.ts'

export type FloodMode = 'invalid' | 'valid'

/** What a flooder process prints, one JSON object a line. */
export type FlooderLine =
  | { event: 'sybil:ready'; peers: string[] }
  | { event: 'sybil:sent'; sent: Record<string, number> }
  | { event: 'sybil:cut'; peer: string; sent: number }
  | { event: 'sybil:done'; sent: Record<string, number>; cutOff: string[] }

/** Records each peer signs and sends before the loop lets the process's sockets run. */
const BATCH = 10
/** How long a peer waits at most for its stream to the relay to drain before it sends more anyway. */
const DRAIN_WAIT_MS = 1_000
/** A valid device re-announces itself this often (its control budget at the relay is 5 a second). */
const PRESENCE_INTERVAL_MS = 1_000

type Peer = Libp2p<{ pubsub: GossipSub; identify: unknown }>

const [relayAddress, roomId, countArg, mode] = process.argv.slice(2)
if (relayAddress === undefined || roomId === undefined || countArg === undefined || !isMode(mode)) {
  process.stderr.write('usage: sybil-flooder.ts <relay multiaddr> <room id> <count> invalid|valid\n')
  process.exit(2)
}
const topic = roomTopic(roomId)
const relayPeer = multiaddr(relayAddress)
  .getComponents()
  .findLast((c) => c.name === 'p2p')?.value
const wallet = mode === 'valid' ? new Wallet(requiredEnv('SYBIL_WALLET_KEY')) : undefined

const peers = await Promise.all(Array.from({ length: Number(countArg) }, () => startPeer()))
const sent = new Map(peers.map((peer) => [peer.peerId.toString(), 0]))
const cutOff = new Set<string>()
let stopping = false

for (const peer of peers) {
  // Cut off: no connection to the relay left (a duplicate connection closing is not it).
  peer.addEventListener('connection:close', (event) => {
    if (event.detail.remotePeer.toString() !== relayPeer) return
    if (peer.getConnections().some((c) => c.remotePeer.toString() === relayPeer)) return
    cutOff.add(peer.peerId.toString())
    print({ event: 'sybil:cut', peer: peer.peerId.toString(), sent: sent.get(peer.peerId.toString()) ?? 0 })
  })
}
const presences = wallet === undefined ? [] : await Promise.all(peers.map((peer) => presenceOf(peer, wallet)))
print({ event: 'sybil:ready', peers: peers.map((peer) => peer.peerId.toString()) })

const report = setInterval(() => print({ event: 'sybil:sent', sent: Object.fromEntries(sent) }), 1_000)
const announce =
  wallet === undefined
    ? undefined
    : setInterval(() => {
        for (const [i, peer] of peers.entries()) void publish(peer, presences[i]!)
      }, PRESENCE_INTERVAL_MS)
process.once('SIGTERM', () => {
  stopping = true
})

await Promise.all(peers.map((peer, i) => flood(peer, presences[i])))
clearInterval(report)
clearInterval(announce)
print({ event: 'sybil:done', sent: Object.fromEntries(sent), cutOff: [...cutOff] })
await Promise.all(peers.map((peer) => peer.stop()))
process.exit(0)

async function startPeer(): Promise<Peer> {
  const peer = (await createLibp2p({
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // A flooder does not check that the relay is alive: only the relay ends its connection.
    connectionMonitor: { enabled: false },
    services: {
      identify: identify(),
      pubsub: gossipsub({ globalSignaturePolicy: 'StrictSign', allowPublishToZeroTopicPeers: true }),
    },
  })) as unknown as Peer
  const pubsub = peer.services.pubsub
  // Subscribed, as a member is: a relay tells a room's topic only to the room's subscribers (and other relays), so a
  // peer that only publishes would never learn the relay carries it. What the room says arrives and is left unread.
  pubsub.subscribe(topic)
  await peer.dial(multiaddr(relayAddress!), { signal: AbortSignal.timeout(30_000) })
  // Published records go to the peers that announced the topic: wait until the relay has.
  await new Promise<void>((resolve) => {
    const check = (): void => {
      if (!pubsub.getSubscribers(topic).some((p) => p.toString() === relayPeer)) return
      pubsub.removeEventListener('subscription-change', check)
      resolve()
    }
    pubsub.addEventListener('subscription-change', check)
    check()
  })
  return peer
}

/** The peer's presence, with a certificate of `wallet` for its PeerId: what makes its records valid at the relay. */
async function presenceOf(peer: Peer, signer: Wallet): Promise<Uint8Array> {
  const cert = await createCertificate({
    signer: walletSigner({ type: 'eoa', signer }),
    peerId: peer.peerId.toString(),
    domain: DEFAULT_CLI_DOMAIN,
    chainId: DEVNET_CHAIN_ID,
  })
  const presence = encodeRecord({ v: WIRE_VERSION, type: 'presence', room: roomId!, cert, atMs: Date.now() })
  await publish(peer, presence)
  return presence
}

async function flood(peer: Peer, presence: Uint8Array | undefined): Promise<void> {
  const id = peer.peerId.toString()
  let lamport = 0
  while (!stopping && !(presence !== undefined && cutOff.has(id))) {
    // As fast as the relay reads, not faster: a queue of megabytes on the connection would only delay the relay's
    // pings until it gives up on the connection, and cost this process its memory.
    await toRelay(peer)
      ?.onDrain({ signal: AbortSignal.timeout(DRAIN_WAIT_MS) })
      .catch(() => undefined)
    for (let i = 0; i < BATCH; i++) {
      lamport += 1
      // Not awaited: gossipsub signs and queues a record synchronously, and a flooder waits for nothing.
      // A negative clock makes the record malformed: what the `invalid` mode floods.
      void publish(peer, messageRecord(roomId!, presence === undefined ? -lamport : lamport, 'f39n4rbAgEGbagE'))
    }
    sent.set(id, (sent.get(id) ?? 0) + BATCH)
    // Let the process's own I/O run: signing in a loop of microtasks would starve its sockets.
    await new Promise((resolve) => setImmediate(resolve))
  }
}

/** The peer's gossipsub stream to the relay; on gossipsub's implementation, not its published interface. */
function toRelay(peer: Peer): { onDrain(options: AbortOptions): Promise<void> } | undefined {
  const outbound = (peer.services.pubsub as unknown as { streamsOutbound: Map<string, { rawStream: Stream }> })
    .streamsOutbound
  return outbound.get(relayPeer ?? '')?.rawStream
}

async function publish(peer: Peer, data: Uint8Array): Promise<void> {
  await peer.services.pubsub.publish(topic, data).catch(() => undefined)
}

function print(line: FlooderLine): void {
  process.stdout.write(`${JSON.stringify(line)}\n`)
}

function isMode(value: string | undefined): value is FloodMode {
  return value === 'invalid' || value === 'valid'
}

function requiredEnv(name: string): string {
  const value = process.env[name]
  if (value === undefined || value === '') throw new Error(`${name} is not set`)
  return value
}
