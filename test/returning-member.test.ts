/**
 * A member its sender counted away gets what it missed meanwhile once it is back, even when those were the room's
 * last messages (issue 12; found by the 20-peer loss test: a partitioned peer missed the last messages sent around
 * the heal). Nothing else would bring them: no later message names them for gap repair, and a member whose
 * connection to its relay survived runs no catch-up. Real relay with a store, real clients; the cut is gossip
 * dropped on arrival at both ends.
 */
import type { Message } from '@libp2p/gossipsub'
import { describe, expect, it } from 'vitest'
import { startDevices } from './helpers/device.ts'
import { dropOnArrival } from './helpers/drop-gossip.ts'
import { until } from './helpers/room-inbox.ts'
import { startStoreRelay, stopAfterEach } from './helpers/stoppers.ts'

const stoppers = stopAfterEach()

/** Heartbeats of one second: the sender counts a silent member away after three, and re-publishes after two. */
const PRESENCE_INTERVAL_MS = 1_000
/** Each wait: a few heartbeats, on a loaded machine. */
const WAIT_MS = 30_000

describe('a member back after its sender counted it away', () => {
  it('behavior: what was sent while it was cut off, the last messages of the room, reaches it once it is back', async () => {
    const relay = await startStoreRelay(stoppers)
    const bootstrap = [relay.multiaddrs[0]!]
    // Carol is the rest of the room, never cut off: what Alice sends waits for her acknowledgement alone.
    const [alice, bob, carol] = await startDevices(3, { bootstrap, presenceIntervalMs: PRESENCE_INTERVAL_MS }, stoppers)
    const { room, invite } = await alice!.client.createRoom({ name: 'cut off' })
    const bobRoom = await bob!.client.joinRoom(invite)
    const carolRoom = await carol!.client.joinRoom(invite)
    await Promise.all([room.waitForPeers(), bobRoom.waitForPeers(), carolRoom.waitForPeers()])
    const received = new Set<string>()
    bobRoom.addEventListener('message:received', (event) => received.add(event.detail.id))
    const first = await room.send('before the cut')
    await until(
      [[bobRoom, 'message:received']],
      () => received.has(first.id),
      () => 'message:received',
      WAIT_MS,
    )

    // The cut: nothing of Alice reaches Bob, nothing of Bob reaches Alice.
    let cut = true
    const alicePeer = alice!.client.peerId
    const bobPeer = bob!.client.peerId
    const from = (peer: typeof alicePeer) => (m: Message) => cut && m.type === 'signed' && m.from.equals(peer)
    dropOnArrival(bob!.client.libp2p.services.pubsub, room.topic, from(alicePeer))
    dropOnArrival(alice!.client.libp2p.services.pubsub, room.topic, from(bobPeer))
    const bobAway = (): boolean => !room.members().some((m) => m.peerId === bobPeer.toString())
    await until([[room, 'member:left']], bobAway, () => 'member:left', WAIT_MS)

    // The room's last messages: nobody sends after them, so none names them. Carol acknowledges them, so Alice
    // has nothing left to re-publish (checked at each record she receives: Carol's presence acknowledges).
    const lost = [await room.send('while Bob is cut off'), await room.send('the last one')]
    await until(
      [[alice!.client.libp2p.services.pubsub as unknown as EventTarget, 'message']],
      () => room.outgoing.pending === 0,
      () => 'message',
      WAIT_MS,
    )
    const republished = room.outgoing.republished
    cut = false
    await until(
      [[room, 'member:joined']],
      () => !bobAway(),
      () => 'member:joined',
      WAIT_MS,
    )

    await until(
      [[bobRoom, 'message:received']],
      () => lost.every(({ id }) => received.has(id)),
      () => 'message:received',
      WAIT_MS,
    )
    // Alice sent them again for Bob once he was back.
    expect(room.outgoing.republished - republished).toBeGreaterThanOrEqual(lost.length)
  }, 120_000)
})
