/**
 * Members on slow links do not hold up a relay's other members. A relay sends a member nothing — not that it is in
 * the room, not a record — until it has opened its own gossip stream to it, and gossipsub opened those streams one
 * after another, each waiting for the member to answer (a round trip). In the scale benchmark (1,000 members on one
 * relay) the relay had a stream to 734 members four minutes after they connected, and the rest got none of a sender
 * key's records (sdk `gossip-streams.ts`). Here members on a slow link (a phone on a poor network: 800 ms each way,
 * through `LossyLink`) connect first; two members on a good link join after them and one sends the other a sender
 * key. And a member whose link stalls altogether (it reads nothing more) does not keep the others from a whole
 * first distribution: gossipsub writes to each neighbour without waiting for any other, and what the stalled member
 * does not read waits in the relay's buffers for it alone. Light clients (`bench/light-client.ts`): real libp2p
 * nodes, certificates and records over a real relay.
 */
import type { Message } from '@libp2p/gossipsub'
import { WIRE_VERSION } from '@securechat/sdk/constants'
import { encodeRecord } from '@securechat/sdk/rooms'
import { describe, expect, it } from 'vitest'
import {
  enterRoom,
  type LightClient,
  newWalletSigner,
  presenceRecord,
  publicRoom,
  startLightClient,
} from '../bench/light-client.ts'
import { LossyLink } from './helpers/lossy-link.ts'
import { until } from './helpers/room-inbox.ts'
import { lightClients, startRelay, stopAfterEach, tcpAddressOf } from './helpers/stoppers.ts'

/** Members on the slow link: one after another, their round trips added up to more than a minute. */
const SLOW_MEMBERS = 40
/** One way, so a stream's protocol negotiation takes 1.6 s with each of them. */
const SLOW_LATENCY_MS = 800
/** How long a member on a good link waits for the relay, then for the sender key. */
const STEP_TIMEOUT_MS = 30_000
const CONNECT_TIMEOUT_MS = 60_000

const stoppers = stopAfterEach()

describe('members on slow links', () => {
  it('behavior: members who join after many members on a slow link hear the relay in the room and get a sender key', async () => {
    const relay = await startRelay(stoppers)
    const direct = tcpAddressOf(relay)
    const port = Number(/\/tcp\/(\d+)/.exec(direct)?.[1])
    const link = new LossyLink({ host: '127.0.0.1', port }, { latencyMs: SLOW_LATENCY_MS })
    await link.start()
    stoppers.push(() => link.stop())
    const clients = lightClients(stoppers)
    const slowAddress = `/ip4/127.0.0.1/tcp/${link.port}/p2p/${relay.peerId}`
    const signer = newWalletSigner()
    const { manifest, roomId } = await publicRoom('slow links', signer)
    const pubsub = relay.libp2p.services.pubsub

    // The slow members connect (each on its own wallet, as people are) and the relay knows them as gossip neighbours.
    const slow = await Promise.all(
      Array.from({ length: SLOW_MEMBERS }, () =>
        startLightClient({
          relay: slowAddress,
          signer: newWalletSigner(),
          timeoutMs: CONNECT_TIMEOUT_MS,
        }),
      ),
    )
    clients.push(...slow)
    await until(
      [[pubsub, 'gossipsub:heartbeat']],
      () => slow.every((client) => pubsub.getPeers().some((peer) => peer.toString() === client.peerId)),
      () => `${pubsub.getPeers().length} of ${SLOW_MEMBERS} slow members known to the relay's gossip`,
      CONNECT_TIMEOUT_MS,
    )
    for (const client of slow) enterRoom(client, manifest, roomId)

    // Two members on a good link join.
    const [sender, receiver] = await Promise.all(
      [0, 1].map(() =>
        startLightClient({
          relay: direct,
          signer: newWalletSigner(),
          timeoutMs: CONNECT_TIMEOUT_MS,
        }),
      ),
    )
    if (sender === undefined || receiver === undefined) throw new Error('no members on the good link')
    clients.push(sender, receiver)
    const topic = enterRoom(sender, manifest, roomId)
    enterRoom(receiver, manifest, roomId)
    for (const client of [sender, receiver]) {
      const own = client.libp2p.services.pubsub
      await until(
        [[own, 'subscription-change']],
        () => own.getSubscribers(topic).length > 0,
        () => 'the relay in the room, as a member on a good link hears it',
        STEP_TIMEOUT_MS,
      )
    }
    const accepted = new Set<string>()
    relay.addEventListener('record:accepted', (event) => accepted.add(event.detail.record.from))
    for (const client of [sender, receiver]) await client.libp2p.services.pubsub.publish(topic, presenceRecord(client))
    await until(
      [[relay, 'record:accepted']],
      () => accepted.has(sender.peerId) && accepted.has(receiver.peerId),
      () => 'both presences accepted',
      STEP_TIMEOUT_MS,
    )

    // The sender key, sealed to the receiver, reaches it.
    const record = encodeRecord({
      v: WIRE_VERSION,
      type: 'keys',
      room: roomId,
      epoch: 1,
      to: [{ peer: receiver.peerId, sealed: 'A'.repeat(1_734) }],
    })
    let got = false
    receiver.libp2p.services.pubsub.addEventListener('message', (event: CustomEvent<Message>) => {
      if (event.detail.topic === topic && event.detail.data.byteLength === record.byteLength) got = true
    })
    const { recipients } = await sender.libp2p.services.pubsub.publish(topic, record)
    expect(recipients.map(String)).toContain(relay.peerId)
    await until(
      [[receiver.libp2p.services.pubsub, 'message']],
      () => got,
      () => 'the sender key at the receiver',
      STEP_TIMEOUT_MS,
    )
    expect(got).toBe(true)
  }, 240_000)

  it('behavior: a member whose link stalls does not keep the others from a sender key of many large records', async () => {
    const relay = await startRelay(stoppers)
    const direct = tcpAddressOf(relay)
    const port = Number(/\/tcp\/(\d+)/.exec(direct)?.[1])
    const link = new LossyLink({ host: '127.0.0.1', port })
    await link.start()
    stoppers.push(() => link.stop())
    const clients = lightClients(stoppers)
    const signer = newWalletSigner()
    const { manifest, roomId } = await publicRoom('stall', signer)
    const member = (address: string): Promise<LightClient> =>
      startLightClient({
        relay: address,
        signer: newWalletSigner(),
        timeoutMs: CONNECT_TIMEOUT_MS,
      })
    const [sender, receiver, stalled] = await Promise.all([
      member(direct),
      member(direct),
      member(`/ip4/127.0.0.1/tcp/${link.port}/p2p/${relay.peerId}`),
    ])
    if (sender === undefined || receiver === undefined || stalled === undefined) throw new Error('no members')
    clients.push(sender, receiver, stalled)
    const topic = enterRoom(sender, manifest, roomId)
    const accepted = new Set<string>()
    relay.addEventListener('record:accepted', (event) => accepted.add(event.detail.record.from))
    for (const client of [receiver, stalled, sender]) {
      if (client !== sender) enterRoom(client, manifest, roomId)
      const own = client.libp2p.services.pubsub
      await until(
        [[own, 'subscription-change']],
        () => own.getSubscribers(topic).length > 0,
        () => 'the relay in the room',
        STEP_TIMEOUT_MS,
      )
      await own.publish(topic, presenceRecord(client))
    }
    await until(
      [[relay, 'record:accepted']],
      () => accepted.size === 3,
      () => `${accepted.size} of 3 presences accepted`,
      STEP_TIMEOUT_MS,
    )

    // One member's link stalls (it reads nothing more); the sender seals a sender key to 1,024 members, as
    // `RoomKeys` makes it: 32 records of 32 entries, some 55 KiB each, everything the relay must push to each member.
    link.partition()
    const records = Array.from({ length: 32 }, (_, i) =>
      encodeRecord({
        v: WIRE_VERSION,
        type: 'keys',
        room: roomId,
        epoch: 1,
        to: Array.from({ length: 32 }, (_, j) => ({
          peer: i === 0 && j === 0 ? receiver.peerId : `member-${i}-${j}`,
          sealed: 'A'.repeat(1_734),
        })),
      }),
    )
    const sizes = new Set(records.map((record) => record.byteLength))
    let got = 0
    receiver.libp2p.services.pubsub.addEventListener('message', (event: CustomEvent<Message>) => {
      if (event.detail.topic === topic && sizes.has(event.detail.data.byteLength)) got += 1
    })
    for (const record of records) await sender.libp2p.services.pubsub.publish(topic, record)
    await until(
      [[receiver.libp2p.services.pubsub, 'message']],
      () => got === records.length,
      () => `${got} of ${records.length} keys records at the member whose link works`,
      STEP_TIMEOUT_MS,
    )
    expect(got).toBe(records.length)
  }, 120_000)
})
