/**
 * The relay's peer scoring as an operator sees it: `/healthz` says when the relay forwards
 * nothing (every room peer scored out), the default scoring does not punish many peers on one
 * address, and a record the relay rejects costs the peer that sent it. Real libp2p nodes on
 * loopback (bare gossipsub peers of the room topic: no SecureChat client is needed to be scored).
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { createSecureChatLibp2p, peerScore, type ScoringInit, type SecureChatLibp2p } from '@securechat/sdk/client'
import { ROOM_TOPIC_PREFIX } from '@securechat/sdk/constants'
import { describe, expect, it } from 'vitest'
import { RelayHttpServer } from '../node/src/relay/http/server.ts'
import { RelayNode } from '../node/src/relay/relay.ts'
import { tempDir } from './helpers/cli.ts'
import { stopAfterEach } from './helpers/stoppers.ts'

const stoppers = stopAfterEach()
const TOPIC = `${ROOM_TOPIC_PREFIX}${'ab'.repeat(32)}`
const TIMEOUT_MS = 10_000

async function startRelay(scoring?: ScoringInit): Promise<{ relay: RelayNode; healthz: URL }> {
  const relay = new RelayNode({
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    ...(scoring === undefined ? {} : { scoring }),
  })
  await relay.start()
  stoppers.push(() => relay.stop())
  const http = new RelayHttpServer({ relay, port: 0, webRoot: await tempDir('health-web-') })
  await http.start()
  stoppers.push(() => http.stop())
  return { relay, healthz: new URL('/healthz', http.url) }
}

/** A bare peer on loopback subscribed to the room topic, connected to the relay. */
async function roomPeer(relay: RelayNode): Promise<SecureChatLibp2p> {
  const libp2p = await createSecureChatLibp2p({ privateKey: await generateKeyPair('Ed25519') })
  stoppers.push(async () => libp2p.stop())
  libp2p.services.pubsub.subscribe(TOPIC)
  await libp2p.dial(multiaddr(relay.multiaddrs[0]!))
  return libp2p
}

/** Resolves once `condition()` holds, checked after each gossipsub heartbeat of `relay`. */
function untilHeartbeat(relay: RelayNode, condition: () => boolean, describe: () => string): Promise<void> {
  const pubsub = relay.libp2p.services.pubsub
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      pubsub.removeEventListener('gossipsub:heartbeat', check)
      reject(new Error(`timed out after ${TIMEOUT_MS} ms: ${describe()}`))
    }, TIMEOUT_MS)
    const check = (): void => {
      if (!condition()) return
      clearTimeout(timer)
      pubsub.removeEventListener('gossipsub:heartbeat', check)
      resolve()
    }
    pubsub.addEventListener('gossipsub:heartbeat', check)
    check()
  })
}

describe('relay health and scoring', () => {
  it('behavior: /healthz answers 503 "forwards-nothing" once every room peer scores below the gossip threshold', async () => {
    // An operator's colocation threshold of 1: three peers on 127.0.0.1 score −5 × 2² = −20 each.
    const { relay, healthz } = await startRelay({ colocationThreshold: 1 })
    await Promise.all([roomPeer(relay), roomPeer(relay), roomPeer(relay)])
    await untilHeartbeat(
      relay,
      () => !relay.health().ok,
      () => JSON.stringify(relay.health()),
    )
    const reply = await fetch(healthz)
    expect(reply.status).toBe(503)
    expect(await reply.json()).toMatchObject({
      status: 'unhealthy',
      health: { ok: false, reason: 'forwards-nothing', roomPeers: 3, hint: expect.stringContaining('colocation') },
    })
  })

  // Many more peers on one address: test/many-clients.test.ts, with real processes.
  it('behavior: the same peers under the default scoring score 0 and /healthz is ok', async () => {
    const { relay, healthz } = await startRelay()
    const peers = await Promise.all([roomPeer(relay), roomPeer(relay), roomPeer(relay)])
    await untilHeartbeat(
      relay,
      () => relay.libp2p.services.pubsub.getSubscribers(TOPIC).length === peers.length,
      () => `${relay.libp2p.services.pubsub.getSubscribers(TOPIC).length} subscribers`,
    )
    expect(peers.map((peer) => peerScore(relay.libp2p.services.pubsub, peer.peerId.toString()))).toEqual(
      peers.map(() => 0),
    )
    expect(relay.health()).toEqual({ ok: true, roomPeers: peers.length })
    const reply = await fetch(healthz)
    expect(reply.status).toBe(200)
    expect(await reply.json()).toMatchObject({ status: 'ok' })
  })

  it('behavior: a record the relay rejects lowers the score of the peer that forwarded it', async () => {
    const { relay } = await startRelay()
    const attacker = await roomPeer(relay)
    const relayPeer = relay.libp2p.peerId.toString()
    await untilHeartbeat(
      relay,
      () => attacker.services.pubsub.getSubscribers(TOPIC).some((peer) => peer.toString() === relayPeer),
      () => 'the relay never subscribed to the room topic',
    )
    await attacker.services.pubsub.publish(
      TOPIC,
      new TextEncoder().encode('{"v":1,"type":"message","room":"not a room"}'),
    )
    const score = (): number => peerScore(relay.libp2p.services.pubsub, attacker.peerId.toString())
    await untilHeartbeat(
      relay,
      () => relay.stats().rejected === 1 && score() < 0,
      () => `rejected ${relay.stats().rejected}, score ${score()}`,
    )
  })
})
