/**
 * A node reads a gossip neighbour no faster than it handles that neighbour's records (sdk `read-backpressure.ts`):
 * past its records in flight, the neighbour's stream is paused, and the rest of what it sends waits on its own side of
 * the connection (yamux flow control), while another neighbour is read as before. Real libp2p nodes over loopback
 * TCP: a receiver whose validator holds the flooder's records until the test lets them go, a flooder publishing far
 * more than a stream window, and an honest sender.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { type GossipSub, gossipsub, TopicValidatorResult } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { READ_BACKPRESSURE_GOSSIPSUB_OPTIONS, readWithBackpressure } from '@securechat/sdk/client'
import { createLibp2p } from 'libp2p'
import { describe, expect, it } from 'vitest'
import { stopAfterEach } from './helpers/stoppers.ts'

const stoppers = stopAfterEach()

const TOPIC = 'read-backpressure'
const IN_FLIGHT = 4
/** yamux's initial stream window, kept as the receiver's largest: what a paused neighbour may still send. */
const WINDOW_BYTES = 256 * 1024
/** The flood: four windows' worth. */
const FLOOD_RECORDS = 128
const RECORD_BYTES = 8 * 1024

type Node = Libp2p<{ pubsub: GossipSub; identify: unknown }>

async function node(init: { receiver?: boolean } = {}): Promise<Node> {
  const created = (await createLibp2p({
    addresses: { listen: init.receiver === true ? ['/ip4/127.0.0.1/tcp/0'] : [] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux(init.receiver === true ? { streamOptions: { maxStreamWindowSize: WINDOW_BYTES } } : {})],
    connectionMonitor: { enabled: false },
    services: {
      identify: identify(),
      pubsub: gossipsub({
        globalSignaturePolicy: 'StrictSign',
        allowPublishToZeroTopicPeers: true,
        ...(init.receiver === true ? READ_BACKPRESSURE_GOSSIPSUB_OPTIONS : {}),
      }),
    },
  })) as unknown as Node
  stoppers.push(async () => created.stop())
  return created
}

/** Resolves once `peer` sees `receiver` subscribed to the topic. */
async function seesSubscribed(peer: Node, receiver: PeerId): Promise<void> {
  const pubsub = peer.services.pubsub
  await new Promise<void>((resolve) => {
    const check = (): void => {
      if (!pubsub.getSubscribers(TOPIC).some((p) => p.equals(receiver))) return
      pubsub.removeEventListener('subscription-change', check)
      resolve()
    }
    pubsub.addEventListener('subscription-change', check)
    check()
  })
}

describe('read backpressure', () => {
  it('behavior: a neighbour past its records in flight is read no further and held back on its side; another is read meanwhile; nothing is lost', async () => {
    const receiver = await node({ receiver: true })
    const reads = readWithBackpressure(receiver.services.pubsub, { recordsInFlight: IN_FLIGHT })
    const [flooder, honest] = [await node(), await node()]

    // The flooder's records wait in the validator until let go, then each for an event-loop turn (so that records can
    // pile up in validation if the receiver let them); the honest sender's pass at once.
    const held: Array<() => void> = []
    let letGo = false
    let inValidation = 0
    let mostInValidation = 0
    let heldEnough: () => void = () => undefined
    const fullyHeld = new Promise<void>((resolve) => {
      heldEnough = resolve
    })
    receiver.services.pubsub.topicValidators.set(TOPIC, async (from) => {
      if (!from.equals(flooder.peerId)) return TopicValidatorResult.Accept
      inValidation += 1
      mostInValidation = Math.max(mostInValidation, inValidation)
      if (inValidation === IN_FLIGHT) heldEnough()
      await new Promise<void>((resolve) => (letGo ? setImmediate(resolve) : held.push(resolve)))
      inValidation -= 1
      return TopicValidatorResult.Accept
    })
    const received = { flooder: 0, honest: 0 }
    let allFlooded: () => void = () => undefined
    const floodArrived = new Promise<void>((resolve) => {
      allFlooded = resolve
    })
    let honestArrived: () => void = () => undefined
    const honestHeard = new Promise<void>((resolve) => {
      honestArrived = resolve
    })
    receiver.services.pubsub.addEventListener('message', (event) => {
      if (event.detail.type !== 'signed') return
      if (event.detail.from.equals(honest.peerId)) {
        received.honest += 1
        honestArrived()
      } else if (event.detail.from.equals(flooder.peerId) && ++received.flooder === FLOOD_RECORDS) allFlooded()
    })
    receiver.services.pubsub.subscribe(TOPIC)
    for (const peer of [flooder, honest]) {
      await peer.dial(receiver.getMultiaddrs()[0]!)
      await seesSubscribed(peer, receiver.peerId)
    }

    for (let i = 0; i < FLOOD_RECORDS; i++) {
      void flooder.services.pubsub.publish(TOPIC, new Uint8Array(RECORD_BYTES).fill(i)).catch(() => undefined)
    }
    await fullyHeld
    // An honest record goes through while the flooder's wait.
    await honest.services.pubsub.publish(TOPIC, new TextEncoder().encode('honest'))
    await honestHeard
    expect(received).toEqual({ flooder: 0, honest: 1 })
    expect(reads.stats()).toMatchObject({ pausedPeers: 1 })
    expect(mostInValidation).toBe(IN_FLIGHT)
    // The flood is four windows: what the receiver did not let it send waits in the flooder's own buffer.
    const toReceiver = (
      flooder.services.pubsub as unknown as { streamsOutbound: Map<string, { rawStream: Stream }> }
    ).streamsOutbound.get(receiver.peerId.toString())!.rawStream
    expect(toReceiver.writeBufferLength).toBeGreaterThan(0)

    // Let the flooder's records go: every one arrives, never more than IN_FLIGHT validated at once.
    letGo = true
    for (const resolve of held.splice(0)) resolve()
    await floodArrived
    expect(received.flooder).toBe(FLOOD_RECORDS)
    expect(mostInValidation).toBe(IN_FLIGHT)
    expect(reads.stats()).toMatchObject({ pausedPeers: 0 })
    expect(reads.stats().pauses).toBeGreaterThan(0)
  }, 60_000)

  it("behavior: neighbours of one group share its records in flight: two devices of one wallet get one device's", async () => {
    const receiver = await node({ receiver: true })
    const [first, second] = [await node(), await node()]
    const wallet = new Set([first.peerId.toString(), second.peerId.toString()])
    const reads = readWithBackpressure(receiver.services.pubsub, {
      recordsInFlight: IN_FLIGHT,
      groupOf: (peer) => (wallet.has(peer) ? 'one wallet' : peer),
    })
    const held: Array<() => void> = []
    let inValidation = 0
    let mostInValidation = 0
    let heldEnough: () => void = () => undefined
    const fullyHeld = new Promise<void>((resolve) => {
      heldEnough = resolve
    })
    let secondArrived: () => void = () => undefined
    const secondValidated = new Promise<void>((resolve) => {
      secondArrived = resolve
    })
    receiver.services.pubsub.topicValidators.set(TOPIC, async (from) => {
      inValidation += 1
      mostInValidation = Math.max(mostInValidation, inValidation)
      if (inValidation === IN_FLIGHT) heldEnough()
      if (from.equals(second.peerId)) secondArrived()
      await new Promise<void>((resolve) => held.push(resolve))
      inValidation -= 1
      return TopicValidatorResult.Accept
    })
    receiver.services.pubsub.subscribe(TOPIC)
    for (const peer of [first, second]) {
      await peer.dial(receiver.getMultiaddrs()[0]!)
      await seesSubscribed(peer, receiver.peerId)
    }
    // Each device sends more than the group may have in flight; the second starts once the first filled it.
    const flood = (peer: Node): void => {
      for (let i = 0; i < 2 * IN_FLIGHT; i++) {
        void peer.services.pubsub.publish(TOPIC, new Uint8Array(RECORD_BYTES).fill(i)).catch(() => undefined)
      }
    }
    flood(first)
    await fullyHeld
    flood(second)
    // The second device's first record is handled (an RPC is handled whole), then it finds its group full and is
    // paused too: one record more than a group's budget, not a second budget.
    await secondValidated
    await new Promise((resolve) => setImmediate(resolve))
    expect(reads.stats().pausedPeers).toBe(2)
    expect(mostInValidation).toBe(IN_FLIGHT + 1)
    for (const resolve of held.splice(0)) resolve()
  }, 60_000)
})
