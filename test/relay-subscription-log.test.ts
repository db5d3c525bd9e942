/**
 * What a relay writes when peers subscribe to rooms: a line a room for the few a device joins, one line for a frame
 * naming many, nothing for topics that name no room — one frame of 900 made-up rooms wrote 1,800 lines before.
 * A real relay node and a bare libp2p peer writing gossip frames by hand, over loopback TCP.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { RPC } from '@libp2p/gossipsub/message'
import { tcp } from '@libp2p/tcp'
import { lpStream } from '@libp2p/utils'
import type { Logger } from '@securechat/sdk/logger'
import { createLibp2p } from 'libp2p'
import { afterEach, describe, expect, it } from 'vitest'
import { RelayNode } from '../node/src/relay/relay.ts'

const stops: Array<() => unknown> = []
afterEach(async () => {
  await Promise.all(stops.splice(0).map(async (stop) => stop()))
})

const roomTopic = (i: number): string => `/securechat/1/room/${i.toString(16).padStart(64, '0')}`

describe('a relay’s log of room subscriptions', () => {
  it('behavior: a line a room for a few, one line for a frame of 900, none for topics that name no room', async () => {
    const lines: Array<{ msg: string; fields?: Record<string, unknown> }> = []
    const record = (msg: string, fields?: Record<string, unknown>) => lines.push({ msg, ...(fields ? { fields } : {}) })
    const logger: Logger = { debug: () => {}, info: record, warn: record, error: record }
    const relay = new RelayNode({
      privateKey: await generateKeyPair('Ed25519'),
      listen: ['/ip4/127.0.0.1/tcp/0'],
      logger: () => logger,
    })
    await relay.start()
    stops.push(() => relay.stop())
    const bare = await createLibp2p({ transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] })
    stops.push(() => bare.stop())
    const lp = lpStream(await bare.dialProtocol(relay.libp2p.getMultiaddrs()[0]!, '/meshsub/1.1.0'))
    const subscribe = (topics: string[]) =>
      lp.write(RPC.encode({ subscriptions: topics.map((topic) => ({ subscribe: true, topic })), messages: [] }))
    const subscribed = () => lines.filter((line) => line.fields?.event === 'room:subscribed')
    const pubsub = relay.libp2p.services.pubsub
    const heard = (topic: string) => pubsub.getSubscribers(topic).some((peer) => peer.equals(bare.peerId))

    await subscribe([roomTopic(1), roomTopic(2)])
    await expect.poll(() => heard(roomTopic(2))).toBe(true)
    expect(subscribed().map((line) => line.fields?.room)).toEqual([roomTopic(1), roomTopic(2)].map((t) => t.slice(-64)))

    const many = Array.from({ length: 900 }, (_, i) => roomTopic(1_000 + i))
    // Topics with the room prefix that name no room: control characters, upper case, too short.
    const noRoom = [
      '/securechat/1/room/\u0000\u001b[31m',
      `/securechat/1/room/${'AB'.repeat(32)}`,
      '/securechat/1/room/ab',
    ]
    await subscribe([...many, ...noRoom])
    await expect.poll(() => heard(many.at(-1)!)).toBe(true)
    expect(subscribed()).toHaveLength(3)
    expect(subscribed()[2]!.fields).toMatchObject({ rooms: 900, peer: bare.peerId.toString() })
    const named = subscribed().flatMap((line) => [line.fields?.room ?? [], line.fields?.first ?? []].flat())
    expect(named.filter((room) => !/^[0-9a-f]{64}$/.test(String(room)))).toEqual([])
    expect(lines.length).toBeLessThan(10)
  })
})
