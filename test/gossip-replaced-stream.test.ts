/**
 * A device back on a new connection while its relay still holds the old one (a restart with the same PeerId, a
 * network change): when the old connection dies, the relay keeps the device's gossip state from the new one —
 * its subscriptions, and forwarding to it — instead of forgetting the device whole (`replaced-gossip-streams.ts`).
 * Real libp2p nodes over loopback TCP; the relay side is the node every SecureChat peer runs.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PeerId, PrivateKey, Stream } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { createSecureChatLibp2p, type SecureChatLibp2p } from '@securechat/sdk/client'
import { afterEach, describe, expect, it } from 'vitest'
import { until } from './helpers/room-inbox.ts'

const BEFORE = '/securechat/test/before'
const AFTER = '/securechat/test/after'
const nodes: SecureChatLibp2p[] = []

afterEach(async () => {
  await Promise.all(nodes.splice(0).map((node) => node.stop()))
})

async function start(privateKey: PrivateKey): Promise<SecureChatLibp2p> {
  const node = await createSecureChatLibp2p({ privateKey, listen: ['/ip4/127.0.0.1/tcp/0'] })
  nodes.push(node)
  return node
}

describe('a gossip stream replaced by a new connection', () => {
  it('behavior: the old connection dying leaves the device subscribed as it said on the new one', async () => {
    const relay = await start(await generateKeyPair('Ed25519'))
    const pubsub = relay.services.pubsub
    const deviceKey = await generateKeyPair('Ed25519')
    const device = peerIdFromPrivateKey(deviceKey).toString()
    const subscribed = (topic: string): boolean => pubsub.getSubscribers(topic).some((p) => p.toString() === device)

    const before = await start(deviceKey)
    await before.dial(relay.getMultiaddrs()[0]!)
    before.services.pubsub.subscribe(BEFORE)
    await until(
      [[pubsub, 'subscription-change']],
      () => subscribed(BEFORE),
      () => 'the relay never saw it subscribe',
    )

    // The same device (same key) again, on a new connection, while the relay still holds the first: its new stream
    // replaces the old one, and what it subscribes to comes on the new stream.
    const after = await start(deviceKey)
    after.services.pubsub.subscribe(AFTER)
    await after.dial(relay.getMultiaddrs()[0]!)
    await until(
      [[pubsub, 'subscription-change']],
      () => subscribed(AFTER),
      () => 'the relay never saw it again',
    )
    expect(relay.getConnections(after.peerId)).toHaveLength(2)

    // The relay cuts the old connection (stale, `stale-connections.ts`; or its pings timed out): reading its stream
    // fails, and gossipsub handles the failure (watched here, so the check below comes after it, not after a sleep).
    const internals = pubsub as unknown as { handlePeerReadStreamError: (err: unknown, peer: PeerId) => void }
    const handle = internals.handlePeerReadStreamError.bind(pubsub)
    const readFailed = new Promise<void>((resolve) => {
      internals.handlePeerReadStreamError = (err, peer) => {
        handle(err, peer)
        if (peer.toString() === device) resolve()
      }
    })
    const [oldest] = relay.getConnections(after.peerId).sort((a, b) => a.timeline.open - b.timeline.open)
    oldest!.abort(new Error('the device connected again and this connection did not answer a ping'))
    await readFailed
    // Forgotten, the device was subscribed to nothing.
    expect(subscribed(AFTER)).toBe(true)
    await until(
      [[relay, 'connection:close']],
      () => relay.getConnections(after.peerId).length === 1,
      () => 'the old connection stayed open',
    )
    expect(subscribed(AFTER)).toBe(true)
  }, 60_000)

  it('behavior: a device’s only gossip stream failing still forgets it, as gossipsub does', async () => {
    const relay = await start(await generateKeyPair('Ed25519'))
    const pubsub = relay.services.pubsub
    const device = await start(await generateKeyPair('Ed25519'))
    const subscribed = (): boolean => pubsub.getSubscribers(AFTER).some((p) => p.equals(device.peerId))
    device.services.pubsub.subscribe(AFTER)
    await device.dial(relay.getMultiaddrs()[0]!)
    await until([[pubsub, 'subscription-change']], subscribed, () => 'the relay never saw it subscribe')
    // The device resets its gossip stream (the connection stays): the relay's read of it fails.
    const outbound = (device.services.pubsub as unknown as { streamsOutbound: Map<string, { rawStream: Stream }> })
      .streamsOutbound
    outbound.get(relay.peerId.toString())!.rawStream.abort(new Error('reset'))
    // Forgetting a neighbour emits no subscription change: asked until it shows.
    await expect.poll(subscribed, { timeout: 5_000, interval: 50 }).toBe(false)
    expect(relay.getConnections(device.peerId)).toHaveLength(1)
  }, 60_000)
})
