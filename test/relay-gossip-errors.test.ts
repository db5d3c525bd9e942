/**
 * Records gossipsub refuses before any validator — a forged gossip signature, an unsigned record — are counted among
 * the relay's refusals and name the neighbour that sent them (`gossip-errors.ts`); before, only its score knew.
 * A real relay node and a bare libp2p peer writing gossip frames by hand, over loopback TCP.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { RPC } from '@libp2p/gossipsub/message'
import { tcp } from '@libp2p/tcp'
import { lpStream } from '@libp2p/utils'
import { createLibp2p } from 'libp2p'
import { afterEach, describe, expect, it } from 'vitest'
import { RelayNode } from '../node/src/relay/relay.ts'

const stops: Array<() => unknown> = []
afterEach(async () => {
  await Promise.all(stops.splice(0).map(async (stop) => stop()))
})

const TOPIC = `/securechat/1/room/${'cd'.repeat(32)}`

describe('records gossipsub refuses itself', () => {
  it('error: a forged gossip signature and an unsigned record are refused as invalid records, by their sender', async () => {
    const relay = new RelayNode({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'] })
    await relay.start()
    stops.push(() => relay.stop())
    const rejected: Array<{ from: string; reason: string }> = []
    relay.addEventListener('record:rejected', (event) => rejected.push(event.detail))
    const bare = await createLibp2p({ transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] })
    stops.push(() => bare.stop())
    const lp = lpStream(await bare.dialProtocol(relay.libp2p.getMultiaddrs()[0]!, '/meshsub/1.1.0'))
    await lp.write(RPC.encode({ subscriptions: [{ subscribe: true, topic: TOPIC }], messages: [] }))
    await expect.poll(() => relay.libp2p.services.pubsub.getTopics()).toContain(TOPIC)

    const data = new TextEncoder().encode('{"v":1,"type":"message"}')
    const forged = {
      from: bare.peerId.toMultihash().bytes,
      data,
      seqno: crypto.getRandomValues(new Uint8Array(8)),
      topic: TOPIC,
      signature: crypto.getRandomValues(new Uint8Array(64)),
      key: publicKeyToProtobuf(bare.peerId.publicKey!),
    }
    await lp.write(RPC.encode({ subscriptions: [], messages: [forged, { data, topic: TOPIC }] }))
    await expect.poll(() => rejected.length).toBe(2)
    const sender = bare.peerId.toString()
    // Checked concurrently: in either order. An unsigned record has no sequence number either, which is checked first.
    expect(rejected.map((r) => `${r.from} ${r.reason}`).sort()).toEqual([
      `${sender} gossip invalid seqno`,
      `${sender} gossip invalid signature`,
    ])
    expect(relay.stats().rejected).toBe(2)
  })
})
