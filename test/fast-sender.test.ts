/**
 * A fast sender alone in a room (issue 12, catch-up bench): what it sends is for the relays' stores
 * alone, so a record the relay never took — dropped, or queued on a connection that was aborted —
 * must be sent again until a store holds it, and a backlog must not stall either end's event loop
 * (libp2p's connection monitor aborts a connection whose pings wait behind it). Real relay with
 * its SQLite store, real clients.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { type Message, TopicValidatorResult } from '@libp2p/gossipsub'
import { tcp } from '@libp2p/tcp'
import { createSecureChatLibp2p, type SecureChatLibp2p } from '@securechat/sdk/client'
import { PACER_SLICE_MS } from '@securechat/sdk/constants'
import { messageIdOf } from '@securechat/sdk/rooms'
import { Wallet } from 'ethers'
import { describe, expect, it } from 'vitest'
import type { Relay } from '../node/src/relay/create-relay.ts'
import { startDevice } from './helpers/device.ts'
import { dropOnArrival } from './helpers/drop-gossip.ts'
import { startStoreRelay, stopAfterEach } from './helpers/stoppers.ts'

const stoppers = stopAfterEach()
/** Members re-publish after two presence intervals: short here, so recovery comes within the test. */
const PRESENCE_INTERVAL_MS = 500

describe('a sender alone in its room', () => {
  it('behavior: a message the relay never took is published again until its store holds it', async () => {
    const relay = await startStoreRelay(stoppers)
    const stored = storedMessageIds(relay)
    const alice = await startDevice({
      wallet: Wallet.createRandom(),
      bootstrap: relay.multiaddrs,
      presenceIntervalMs: PRESENCE_INTERVAL_MS,
    })
    stoppers.push(alice.close)
    const { room } = await alice.client.createRoom({ name: 'alone' })
    // The network loses the first copy of Alice's 2nd and 5th messages on their way to the relay.
    const firstCopies = new Set<string>()
    let messages = 0
    dropOnArrival(relay.node.libp2p.services.pubsub, room.topic, (message) => {
      if (!isMessageRecord(message)) return false
      const id = messageIdOf(message.data)
      if (firstCopies.has(id)) return false
      firstCopies.add(id)
      messages += 1
      return messages === 2 || messages === 5
    })
    await room.waitForPeers()

    const sent: string[] = []
    for (let i = 0; i < 8; i++) sent.push((await room.send(`alone ${i}`)).id)
    await stored.until(sent)
    expect(room.outgoing.republished).toBeGreaterThanOrEqual(2)
    expect(room.outgoing.unacknowledged).toBe(0)
  }, 60_000)

  it('behavior: what was queued on a connection aborted mid-burst reaches the store once the sender is back', async () => {
    const relay = await startStoreRelay(stoppers)
    const stored = storedMessageIds(relay)
    const alice = await startDevice({
      wallet: Wallet.createRandom(),
      bootstrap: relay.multiaddrs,
      presenceIntervalMs: PRESENCE_INTERVAL_MS,
    })
    stoppers.push(alice.close)
    const { room } = await alice.client.createRoom({ name: 'aborted' })
    await room.waitForPeers()
    // What libp2p's connection monitor does when a ping goes unanswered: abort, dropping what is queued.
    const alicePeer = alice.client.peerId
    let aborted = false
    relay.node.addEventListener('record:accepted', (event) => {
      if (aborted || event.detail.record.type !== 'message' || stored.size() < 50) return
      aborted = true
      for (const connection of relay.node.libp2p.getConnections(alicePeer)) connection.abort(new Error('ping timeout'))
    })

    const sent: string[] = []
    // Within the sdk's burst (`SEND_RECORD_BURST`), so sent at once; what was lost is sent again at the sdk's pace.
    for (let i = 0; i < 100; i++) sent.push((await room.send(`burst ${i}`)).id)
    await stored.until(sent)
    expect(aborted).toBe(true)
    expect(room.outgoing.unacknowledged).toBe(0)
  }, 60_000)
})

describe('a node receiving a backlog', () => {
  it('behavior: it validates in slices and lets its event loop turn between them (timers, sockets, pings)', async () => {
    const topic = 'backlog'
    const records = 1_000
    const [sender, receiver] = [await sdkNode(records), await sdkNode(records)]
    const costMs = 1
    // Every turn of the receiver's event loop, counted; and how many records it validated in each.
    let turn = 0
    let ticking = true
    const tick = (): void => {
      turn += 1
      if (ticking) setImmediate(tick)
    }
    stoppers.push(async () => {
      ticking = false
    })
    tick()
    const perTurn = new Map<number, number>()
    let validated = 0
    const { promise: allValidated, resolve } = Promise.withResolvers<void>()
    receiver.services.pubsub.topicValidators.set(topic, () => {
      // A relay busy with a burst: each record costs CPU to check.
      const until = performance.now() + costMs
      while (performance.now() < until) {}
      perTurn.set(turn, (perTurn.get(turn) ?? 0) + 1)
      if (++validated === records) resolve()
      return TopicValidatorResult.Accept
    })
    await subscribeBoth(sender, receiver, topic)

    // A sender publishing in a loop: the whole burst reaches the receiver at once.
    for (let i = 0; i < records; i++) {
      await sender.services.pubsub.publish(topic, new TextEncoder().encode(`record ${i} ${'x'.repeat(200)}`))
    }
    await allValidated
    // Without pacing, a read's worth of records (hundreds) is validated in one turn of the loop.
    const most = Math.max(...perTurn.values())
    expect(most).toBeLessThanOrEqual(2 * Math.ceil(PACER_SLICE_MS / costMs) + 1)
    expect(perTurn.size).toBeGreaterThan(records / most)
  }, 60_000)

  it("behavior: a message that arrives behind others' join records is validated before most of them", async () => {
    const topic = 'join'
    // A join's burst as it reaches a member: presence and keys records (a sealed key per newcomer is a few KB) from
    // some, then a message from another (one sender's own records keep their order).
    const joinRecords = 200
    const [joiners, speaker, receiver] = [await sdkNode(joinRecords), await sdkNode(1), await sdkNode(1)]
    const validated: string[] = []
    const { promise: allValidated, resolve } = Promise.withResolvers<void>()
    receiver.services.pubsub.topicValidators.set(topic, (_peer, message) => {
      const until = performance.now() + 1
      while (performance.now() < until) {}
      validated.push((JSON.parse(new TextDecoder().decode(message.data)) as { type: string }).type)
      if (validated.length === joinRecords + 1) resolve()
      return TopicValidatorResult.Accept
    })
    await subscribeBoth(joiners, receiver, topic)
    await subscribeBoth(speaker, receiver, topic)
    const record = (type: string, bytes: number) =>
      new TextEncoder().encode(JSON.stringify({ v: 1, type, pad: 'x'.repeat(bytes) }))
    for (let i = 0; i < joinRecords; i++) {
      await joiners.services.pubsub.publish(topic, record(i % 2 === 0 ? 'presence' : 'keys', 2_000))
    }
    await speaker.services.pubsub.publish(topic, record('message', 300))
    await allValidated
    // In arrival order it would be the last; it waits only for what was validated before it arrived.
    expect(validated.indexOf('message')).toBeLessThan(joinRecords / 2)
    expect(validated.filter((type) => type !== 'message')).toHaveLength(joinRecords)
  }, 60_000)
})

/** A node of the sdk whose own pace lets `records` go at once (the receiver is what is looked at). */
async function sdkNode(records: number): Promise<SecureChatLibp2p> {
  const libp2p = await createSecureChatLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    transports: [tcp()],
    publishPacing: { perSecond: records, burst: records },
  })
  stoppers.push(async () => {
    await libp2p.stop()
  })
  return libp2p
}

/** Both subscribed to `topic` and connected, once the sender knows the receiver carries it. */
async function subscribeBoth(sender: SecureChatLibp2p, receiver: SecureChatLibp2p, topic: string): Promise<void> {
  receiver.services.pubsub.subscribe(topic)
  sender.services.pubsub.subscribe(topic)
  const subscribed = new Promise<void>((done) =>
    sender.services.pubsub.addEventListener('subscription-change', () => {
      if (sender.services.pubsub.getSubscribers(topic).length > 0) done()
    }),
  )
  await sender.dial(receiver.getMultiaddrs()[0]!)
  await subscribed
}

function isMessageRecord(message: Message): boolean {
  if (message.type !== 'signed') return false
  try {
    return (JSON.parse(new TextDecoder().decode(message.data)) as { type?: string }).type === 'message'
  } catch {
    return false
  }
}

/** The message ids the relay accepted (and its store keeps), and a wait until it has all of some. */
function storedMessageIds(relay: Relay): { size: () => number; until: (ids: string[]) => Promise<void> } {
  const ids = new Set<string>()
  const waiters = new Set<() => void>()
  relay.node.addEventListener('record:accepted', (event) => {
    const { record } = event.detail
    if (record.type !== 'message') return
    ids.add(record.id)
    for (const wake of waiters) wake()
  })
  return {
    size: () => ids.size,
    until: (wanted) =>
      new Promise<void>((resolve) => {
        const wake = (): void => {
          if (!wanted.every((id) => ids.has(id))) return
          waiters.delete(wake)
          resolve()
        }
        waiters.add(wake)
        wake()
      }),
  }
}
