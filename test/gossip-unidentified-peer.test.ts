/**
 * A peer that opens a gossip stream without ever identifying — a bare libp2p node with no identify service, as anyone
 * can write — is forgotten by gossipsub when it disconnects (`disconnected-gossip-peers.ts`). Before, it stayed a
 * neighbour for the life of the relay: subscribed to its topics, so a relay's `/healthz` said it forwarded nothing
 * to anyone once that ghost scored low, and one more was kept for each connection such a peer made.
 * Real libp2p nodes over loopback TCP; the relay side is the node every SecureChat peer runs.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { RPC } from '@libp2p/gossipsub/message'
import type { PeerId } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { lpStream } from '@libp2p/utils'
import { createSecureChatLibp2p, type SecureChatLibp2p } from '@securechat/sdk/client'
import { createLibp2p, type Libp2p } from 'libp2p'
import { afterEach, describe, expect, it } from 'vitest'
import { until } from './helpers/room-inbox.ts'

const TOPIC = '/securechat/test/unidentified'
const ROOM_TOPIC = `/securechat/1/room/${'ab'.repeat(32)}`
const stops: Array<() => unknown> = []

afterEach(async () => {
  await Promise.all(stops.splice(0).map(async (stop) => stop()))
})

async function relayNode(): Promise<SecureChatLibp2p> {
  const node = await createSecureChatLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
  })
  stops.push(() => node.stop())
  return node
}

/** A bare libp2p node: TCP, Noise, Yamux and nothing else — no identify, no gossipsub of its own. */
async function barePeer(): Promise<Libp2p> {
  const node = await createLibp2p({ transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] })
  stops.push(() => node.stop())
  return node
}

describe('a gossip peer that never identified', () => {
  it('behavior: leaves the relay’s topics and peers when it disconnects', async () => {
    const relay = await relayNode()
    const pubsub = relay.services.pubsub
    pubsub.subscribe(TOPIC)
    const ghosts: string[] = []
    for (let i = 0; i < 3; i++) {
      const bare = await barePeer()
      const id = bare.peerId.toString()
      ghosts.push(id)
      const stream = await bare.dialProtocol(relay.getMultiaddrs()[0]!, '/meshsub/1.1.0')
      await lpStream(stream).write(RPC.encode({ subscriptions: [{ subscribe: true, topic: TOPIC }], messages: [] }))
      await until(
        [[pubsub, 'subscription-change']],
        () => pubsub.getSubscribers(TOPIC).some((peer) => peer.toString() === id),
        () => 'the relay never saw the bare peer subscribe',
      )
      const gone = new Promise<void>((resolve) =>
        relay.addEventListener('peer:disconnect', (event) => event.detail.toString() === id && resolve()),
      )
      await bare.stop()
      await gone
    }
    expect(pubsub.getSubscribers(TOPIC).map(String)).toEqual([])
    expect(
      pubsub
        .getPeers()
        .map(String)
        .filter((peer) => ghosts.includes(peer)),
    ).toEqual([])
  })

  it('behavior: what a peer gossipsub no longer holds said on its stream is not heard: its subscription is not kept', async () => {
    const relay = await relayNode()
    const pubsub = relay.services.pubsub
    // A peer whose identify lists no gossip protocol is dropped as a neighbour by libp2p's registrar, while frames
    // it already sent on its gossip stream may still wait to be handled (seen with a relay process and a bare peer:
    // its /healthz counted the peer in a room after it left). Handled then, as gossipsub's reader would:
    const gone = await barePeer()
    const internals = pubsub as unknown as { handleReceivedRpc: (from: PeerId, rpc: RPC) => Promise<void> }
    await internals.handleReceivedRpc(gone.peerId, {
      subscriptions: [{ subscribe: true, topic: ROOM_TOPIC }],
      messages: [],
    })
    expect(pubsub.getSubscribers(ROOM_TOPIC).map(String)).toEqual([])
  })
})
