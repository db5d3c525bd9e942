/**
 * Call signalling (docs/architecture.md, Calls: signalling) between real sdk clients through a real relay: in a room,
 * `call` records under the sender key that every member reads, an offer reaching only the device it names, none kept
 * by the relay's store and none readable on the wire; a member banned from the room reads no call started after and
 * is heard in none; in a DM, `here`, offer and answer over the pair's ephemeral `signal` records, and a call that rings
 * a wallet never written to (its `here` opens the session).
 */

import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Message } from '@libp2p/gossipsub'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { newCallId } from '@securechat/sdk/calls'
import { createSecureChatLibp2p, type SecureChatClient } from '@securechat/sdk/client'
import { isDmTopic } from '@securechat/sdk/dm'
import { queryHistory } from '@securechat/sdk/history'
import { walletSigner } from '@securechat/sdk/identity'
import { decodeRecord, type Room, roomTopic } from '@securechat/sdk/rooms'
import type { CallSignalEvent, CallSignalInput } from '@securechat/sdk/types'
import { Wallet } from 'ethers'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  answerSignal,
  callKeyOf,
  hereSignal,
  offerSignal,
  signalInput,
  TEST_SDP_MARK,
  testSdp,
} from './helpers/call-signals.ts'
import { startDevice } from './helpers/device.ts'
import { lists, type ModeratedRoom, meetAll, type Peer, startModeratedRoom } from './helpers/moderated-room.ts'
import { until } from './helpers/room-inbox.ts'
import { startStoreRelay, stopAfterEach } from './helpers/stoppers.ts'

/** Deliveries cross a relay on a loaded 2-core machine: generous, never a speed check. */
const TIMEOUT_MS = 60_000
/** How long a record that should not arrive is given to arrive anyway, after one sent later did. */
const SETTLE_MS = 1_500

const stoppers = stopAfterEach()

/** A `here` of `call` as a device sends it, under a key of its own (`fill`) when the test tells senders apart. */
const here = (call: string, fill = 1): CallSignalInput => signalInput(hereSignal({ call, key: callKeyOf(fill) }))
/** An offer or answer of `call` to `to`, carrying `who`'s {@link testSdp}. */
const sdpTo = (op: 'offer' | 'answer', call: string, to: string, who: string): CallSignalInput =>
  signalInput((op === 'offer' ? offerSignal : answerSignal)(to, { call, sdp: testSdp(who) }))

/** Every `call:signal` a target (a room, `client.dms`, a conversation) tells, in order. */
function heard(target: EventTarget): CallSignalEvent[] {
  const events: CallSignalEvent[] = []
  target.addEventListener('call:signal', (event) => events.push((event as CustomEvent<CallSignalEvent>).detail))
  return events
}

/**
 * Sends `send` again every second until `done` (or the timeout): as an app repeats `here` every
 * `CALL_HERE_INTERVAL_MS`, since a signal that arrives before its sender key is dropped, never waited for.
 */
async function repeatUntil(send: () => Promise<void>, done: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + TIMEOUT_MS
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`)
    await send()
    const until = Date.now() + 1_000
    while (!done() && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

describe('call signalling in a room, through a relay with a store', () => {
  it('behavior: a `here` reaches every member, an offer only the device it names, the answer its offerer; the relay keeps none and reads none', async () => {
    const relay = await startStoreRelay(stoppers)
    const address = relay.multiaddrs[0]!
    const member = async (): Promise<SecureChatClient> => {
      const { client, close } = await startDevice({
        wallet: Wallet.createRandom(),
        bootstrap: [address],
        presenceIntervalMs: 1_000,
      })
      stoppers.push(close)
      return client
    }
    const [alice, bob, carol] = await Promise.all([member(), member(), member()])
    const { room: aliceRoom, invite } = await alice.createRoom({ name: 'call' })
    const [bobRoom, carolRoom] = await Promise.all([bob.joinRoom(invite), carol.joinRoom(invite)])
    const rooms: Array<[SecureChatClient, Room]> = [
      [alice, aliceRoom],
      [bob, bobRoom],
      [carol, carolRoom],
    ]
    for (const [self, room] of rooms) {
      const others = rooms.map(([client]) => client).filter((client) => client !== self)
      await until(
        [[room, 'member:joined']],
        () => others.every((other) => room.members().some((m) => m.peerId === other.peerId.toString())),
        () => 'the members never met',
        TIMEOUT_MS,
      )
    }
    // What the relay forwarded: every `call` record it accepted, as published.
    const forwarded: Message[] = []
    relay.node.addEventListener('record:accepted', (event) => {
      if (event.detail.record.type === 'call') forwarded.push(event.detail.message)
    })
    const bobHeard = heard(bobRoom)
    const carolHeard = heard(carolRoom)
    const aliceHeard = heard(aliceRoom)
    const alicePeer = alice.peerId.toString()
    const bobPeer = bob.peerId.toString()
    const call = newCallId()

    await repeatUntil(
      () => aliceRoom.sendCallSignal(here(call)),
      () => bobHeard.length > 0 && carolHeard.length > 0,
      'bob and carol never heard alice’s here',
    )
    expect(bobHeard[0]).toMatchObject({
      conversation: aliceRoom.id,
      sender: alice.address,
      senderPeerId: alicePeer,
      signal: { v: 1, kind: 'call', op: 'here', call, muted: false, key: { kid: 1 } },
    })
    expect(carolHeard[0]).toMatchObject({ sender: alice.address, signal: { op: 'here', call } })

    await aliceRoom.sendCallSignal(sdpTo('offer', call, bobPeer, 'alice'))
    await until(
      [[bobRoom, 'call:signal']],
      () => bobHeard.some((e) => e.signal.op === 'offer'),
      () => 'bob never got the offer',
      TIMEOUT_MS,
    )
    const offer = bobHeard.find((e) => e.signal.op === 'offer')!
    expect(offer).toMatchObject({
      sender: alice.address,
      senderPeerId: alicePeer,
      signal: { to: bobPeer, sdp: testSdp('alice') },
    })

    await bobRoom.sendCallSignal(sdpTo('answer', call, alicePeer, 'bob'))
    await until(
      [[aliceRoom, 'call:signal']],
      () => aliceHeard.some((e) => e.signal.op === 'answer'),
      () => 'alice never got the answer',
      TIMEOUT_MS,
    )
    expect(aliceHeard.find((e) => e.signal.op === 'answer')).toMatchObject({
      sender: bob.address,
      senderPeerId: bobPeer,
      signal: { to: alicePeer, sdp: testSdp('bob') },
    })

    // Carol received the offer's record (the relay forwarded it to every member) and dropped it: it names bob's device.
    await sleep(SETTLE_MS)
    expect(carolHeard.map((e) => e.signal.op)).not.toContain('offer')
    expect(carolHeard.map((e) => e.signal.op)).not.toContain('answer')
    expect(carolHeard.every((e) => e.signal.op === 'here')).toBe(true)

    // On the wire: `call` records, their content ciphertext — no SDP, key or op in the clear.
    expect(forwarded.length).toBeGreaterThanOrEqual(3)
    for (const message of forwarded) {
      const text = new TextDecoder().decode(message.data)
      const decoded = decodeRecord(message.data)
      expect(decoded).toMatchObject({ status: 'ok', record: { type: 'call', payload: { enc: 'sender-key' } } })
      for (const clear of [TEST_SDP_MARK, '"sdp"', '"key"', '"op"', call, callKeyOf(1).key]) {
        expect(text).not.toContain(clear)
      }
    }

    // The store: a message sent after the call's signals is kept (the store is up to date), no `call` record is.
    await aliceRoom.send('after the call')
    const reader = await createSecureChatLibp2p({
      privateKey: await generateKeyPair('Ed25519'),
      listen: [],
      transports: [tcp()],
    })
    stoppers.push(async () => {
      await reader.stop()
    })
    const served = multiaddr(address)
    const topic = roomTopic(aliceRoom.id)
    const stored = async (types: string[]) =>
      (await queryHistory(reader, served, { topic, range: { by: 'time' }, types })).records.map(
        ({ record }) => record.type,
      )
    const deadline = Date.now() + TIMEOUT_MS
    while (!(await stored(['message'])).includes('message')) {
      if (Date.now() > deadline) throw new Error('the store never kept the message')
      await sleep(200)
    }
    expect(await stored(['call'])).toEqual([])
    const everything = await stored(['presence', 'keys', 'message', 'typing', 'read', 'call'])
    expect(everything).toContain('message')
    expect(everything).not.toContain('call')
  })
})

describe('call signalling and a member banned from the room', () => {
  let space: ModeratedRoom
  let owner: Peer
  let watcher: Peer
  let banned: Peer

  beforeAll(async () => {
    space = await startModeratedRoom('banned-from-calls')
    owner = await space.join(space.ownerWallet)
    watcher = await space.join(Wallet.createRandom())
    banned = await space.join(Wallet.createRandom())
    await meetAll([owner, watcher, banned], TIMEOUT_MS)
  }, 4 * TIMEOUT_MS)

  afterAll(async () => {
    await space?.stop()
  })

  it(
    'behavior: a banned member reads no signal of a call started after its ban (the room rotated), and its own `here` reaches nobody',
    async () => {
      // Before the ban it is a member like any: it hears a call.
      const bannedHeard = heard(banned.room)
      const watcherHeard = heard(watcher.room)
      const before = newCallId()
      await repeatUntil(
        () => owner.room.sendCallSignal(here(before)),
        () => bannedHeard.some((e) => e.signal.call === before),
        'the member never heard the call before its ban',
      )

      const verdict = await owner.room.moderate('ban', banned.wallet.address, {
        signer: walletSigner({ type: 'eoa', signer: owner.wallet }),
      })
      expect(verdict.status).toBe('applied')
      await until(
        [
          [watcher.room, 'moderation:changed'],
          [watcher.room, 'member:left'],
        ],
        () => watcher.room.moderation.isBanned(banned.wallet.address) && !lists(watcher, banned),
        () => 'the watcher never applied the ban',
        TIMEOUT_MS,
      )
      await until(
        [[banned.room, 'moderation:changed']],
        () => banned.room.moderation.isBanned(banned.wallet.address),
        () => 'the banned member never heard of its ban',
        TIMEOUT_MS,
      )

      // A call started after the ban: the watcher hears it, the banned member (still on the topic) reads none of it.
      const reachedBanned: Message[] = []
      banned.client.libp2p.services.pubsub.addEventListener('message', (event) => {
        const decoded = decodeRecord(event.detail.data)
        if (
          event.detail.topic === roomTopic(space.roomId) &&
          decoded.status === 'ok' &&
          decoded.record.type === 'call'
        ) {
          reachedBanned.push(event.detail)
        }
      })
      const after = newCallId()
      await repeatUntil(
        () => owner.room.sendCallSignal(here(after, 2)),
        () => watcherHeard.some((e) => e.signal.call === after),
        'the watcher never heard the call after the ban',
      )
      await owner.room.sendCallSignal(sdpTo('offer', after, banned.client.peerId.toString(), 'owner'))

      // The banned member's own `here` goes nowhere: the relay and every member drop its records.
      const fromBanned = newCallId()
      await banned.room.sendCallSignal(here(fromBanned, 3)).catch(() => undefined)
      // Sent after it, the owner's next `here` reaches the watcher: anything the banned member's could, it had.
      const count = watcherHeard.length
      await repeatUntil(
        () => owner.room.sendCallSignal(here(after, 2)),
        () => watcherHeard.length > count,
        'the watcher never heard the owner again',
      )
      await sleep(SETTLE_MS)
      // The records reached it; it could open none.
      expect(reachedBanned.length).toBeGreaterThan(0)
      expect(bannedHeard.filter((e) => e.signal.call === after)).toEqual([])
      expect(watcherHeard.filter((e) => e.signal.call === fromBanned)).toEqual([])
    },
    6 * TIMEOUT_MS,
  )
})

describe('call signalling in a DM', () => {
  /** alice's and bob's devices on a relay with a store, and the DM records it forwarded. */
  async function twoWallets(): Promise<{ alice: SecureChatClient; bob: SecureChatClient; forwarded: Message[] }> {
    const relay = await startStoreRelay(stoppers)
    const address = relay.multiaddrs[0]!
    const forwarded: Message[] = []
    relay.node.libp2p.services.pubsub.addEventListener('message', (event) => {
      if (isDmTopic(event.detail.topic)) forwarded.push(event.detail)
    })
    const device = async (): Promise<SecureChatClient> => {
      const { client, close } = await startDevice({ wallet: Wallet.createRandom(), bootstrap: [address] })
      stoppers.push(close)
      await client.dms.ready()
      return client
    }
    const [alice, bob] = await Promise.all([device(), device()])
    return { alice, bob, forwarded }
  }

  it('behavior: a `here`, an offer and its answer between two wallets’ devices, over ephemeral `signal` records', async () => {
    const { alice, bob, forwarded } = await twoWallets()
    const alicePeer = alice.peerId.toString()
    const bobPeer = bob.peerId.toString()

    // Like typing, a call signal rides an established session only: a message first.
    const established = until(
      [[alice.dms, 'session:established']],
      () => alice.dm(bob.address).devices().length > 0,
      () => 'bob never answered the session',
      TIMEOUT_MS,
    )
    const received = new Promise<void>((resolve) => bob.dms.addEventListener('message:received', () => resolve()))
    await alice.dm(bob.address).send('shall we call?')
    await Promise.all([received, established])

    const bobHeard = heard(bob.dms)
    const bobConversationHeard = heard(bob.dm(alice.address))
    const aliceHeard = heard(alice.dm(bob.address))
    const call = newCallId()
    await alice.dm(bob.address).sendCallSignal(here(call))
    await alice.dm(bob.address).sendCallSignal(sdpTo('offer', call, bobPeer, 'alice'))
    await until(
      [[bob.dms, 'call:signal']],
      () => bobHeard.some((e) => e.signal.op === 'offer'),
      () => `bob heard ${bobHeard.map((e) => e.signal.op).join(', ') || 'nothing'}`,
      TIMEOUT_MS,
    )
    expect(bobHeard).toMatchObject([
      { conversation: alice.address, sender: alice.address, senderPeerId: alicePeer, signal: { op: 'here', call } },
      {
        conversation: alice.address,
        sender: alice.address,
        signal: { op: 'offer', to: bobPeer, sdp: testSdp('alice') },
      },
    ])
    expect(bobConversationHeard).toEqual(bobHeard)

    await bob.dm(alice.address).sendCallSignal(sdpTo('answer', call, alicePeer, 'bob'))
    await until(
      [[alice.dm(bob.address), 'call:signal']],
      () => aliceHeard.some((e) => e.signal.op === 'answer'),
      () => 'alice never got the answer',
      TIMEOUT_MS,
    )
    expect(aliceHeard).toMatchObject([
      {
        conversation: bob.address,
        sender: bob.address,
        senderPeerId: bobPeer,
        signal: { op: 'answer', to: alicePeer },
      },
    ])

    // On the wire they were `signal` records (never stored), their content inside the ratchet.
    const signals = forwarded.filter((m) => new TextDecoder().decode(m.data).includes('"type":"signal"'))
    expect(signals.length).toBeGreaterThanOrEqual(3)
    for (const message of forwarded) {
      const text = new TextDecoder().decode(message.data)
      for (const clear of [TEST_SDP_MARK, '"sdp"', '"op"', call]) expect(text).not.toContain(clear)
    }
  })

  it('behavior: a call rings a wallet never written to — its `here` opens the session, the other answers on it', async () => {
    const { alice, bob, forwarded } = await twoWallets()
    const alicePeer = alice.peerId.toString()
    const bobPeer = bob.peerId.toString()
    expect(alice.dm(bob.address).devices()).toEqual([])

    // alice's first word to bob is the call: she finds his device and opens the session with the `here` itself.
    const bobHeard = heard(bob.dms)
    const aliceHeard = heard(alice.dm(bob.address))
    const call = newCallId()
    await alice.dm(bob.address).sendCallSignal(here(call))
    await until(
      [[bob.dms, 'call:signal']],
      () => bobHeard.some((e) => e.signal.op === 'here'),
      () => `bob heard ${bobHeard.map((e) => e.signal.op).join(', ') || 'nothing'}`,
      TIMEOUT_MS,
    )
    expect(bobHeard[0]).toMatchObject({
      conversation: alice.address,
      sender: alice.address,
      senderPeerId: alicePeer,
      signal: { op: 'here', call },
    })
    expect(
      bob
        .dm(alice.address)
        .devices()
        .map((d) => d.peerId),
    ).toEqual([alicePeer])

    // bob joins (his `here`) and offers on the session alice opened; alice answers on it.
    await bob.dm(alice.address).sendCallSignal(here(call, 2))
    await bob.dm(alice.address).sendCallSignal(sdpTo('offer', call, alicePeer, 'bob'))
    await until(
      [[alice.dm(bob.address), 'call:signal']],
      () => aliceHeard.some((e) => e.signal.op === 'offer'),
      () => `alice heard ${aliceHeard.map((e) => e.signal.op).join(', ') || 'nothing'}`,
      TIMEOUT_MS,
    )
    await alice.dm(bob.address).sendCallSignal(sdpTo('answer', call, bobPeer, 'alice'))
    await until(
      [[bob.dms, 'call:signal']],
      () => bobHeard.some((e) => e.signal.op === 'answer'),
      () => 'bob never got the answer',
      TIMEOUT_MS,
    )
    expect(bobHeard.find((e) => e.signal.op === 'answer')).toMatchObject({
      signal: { to: bobPeer, sdp: testSdp('alice') },
    })

    // The `here` rode an initial message (kept, as a first text's); the rest went as `signal` records. None in clear.
    const types = forwarded.map((m) => /"type":"(\w+)"/.exec(new TextDecoder().decode(m.data))?.[1])
    expect(types).toContain('init')
    expect(types.filter((t) => t === 'signal').length).toBeGreaterThanOrEqual(3)
    for (const message of forwarded) {
      const text = new TextDecoder().decode(message.data)
      for (const clear of [TEST_SDP_MARK, '"sdp"', '"op"', call]) expect(text).not.toContain(clear)
    }
  })
})
