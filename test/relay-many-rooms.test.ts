/**
 * A relay carrying many rooms (issue 13: 1,000 rooms on one relay). Gossipsub tells every connected peer of each
 * topic its node subscribes to, and a relay joins a room's topic for whoever subscribes to it: so every client of the
 * relay was told of every room it carried — 1,000 rooms joined with 2,000 clients connected were 2,000,000
 * subscription messages, which held the relay's event loop for minutes (`bench/scale-rooms.ts`). And a peer's
 * gossipsub keeps at most 1 MiB of one neighbour's topics (`maxTopicBytesPerPeer`, 1,107 bytes a room topic: ~947
 * rooms), so a member of a room the relay joined after that many never learned that the relay carries it: what the
 * member published there reached nobody. A relay now tells a room only to its members and to other relays
 * (`room-announcements.ts`). Light clients (`bench/light-client.ts`): real libp2p nodes, certificates and records.
 */
import { randomBytes } from 'node:crypto'
import { roomTopic } from '@securechat/sdk/rooms'
import { describe, expect, it } from 'vitest'
import {
  enterRoom,
  type LightClient,
  newWalletSigner,
  presenceRecord,
  publicRoom,
  startLightClient,
} from '../bench/light-client.ts'
import { until } from './helpers/room-inbox.ts'
import { lightClients, startRelay, stopAfterEach, tcpAddressOf } from './helpers/stoppers.ts'

/** More rooms than the ~947 topics of one neighbour a peer's gossipsub keeps. */
const ROOMS = 1_000
const STEP_TIMEOUT_MS = 60_000
/** How often the member announces itself until the relay took it, as a `Room` does (`REANNOUNCE_MS` in bench/swarm.ts). */
const REANNOUNCE_MS = 500

const stoppers = stopAfterEach()

describe('a relay carrying many rooms', () => {
  it(`behavior: a member of the last of ${ROOMS} rooms a relay joined is heard there, and no client is told of rooms it is not in`, async () => {
    const relay = await startRelay(stoppers)
    const clients = lightClients(stoppers)
    const address = tcpAddressOf(relay)
    const signer = newWalletSigner()
    const start = (): Promise<LightClient> => startLightClient({ relay: address, signer, timeoutMs: STEP_TIMEOUT_MS })
    // The member is connected before the relay carries any room, as a client of a community's relay is.
    const member = await start()
    const others = [await start(), await start()]
    clients.push(member, ...others)
    const { manifest, roomId } = await publicRoom('the last room', signer)
    const topic = roomTopic(roomId)

    // Two other clients bring the relay into ROOMS rooms (each within its own topic budget at the relay), ours last.
    const elsewhere = Array.from({ length: ROOMS - 1 }, () => roomTopic(randomBytes(32).toString('hex')))
    elsewhere.forEach((other, i) => {
      others[i % 2]?.libp2p.services.pubsub.subscribe(other)
    })
    others[1]?.libp2p.services.pubsub.subscribe(topic)
    const pubsub = relay.libp2p.services.pubsub
    await until(
      [[pubsub, 'subscription-change']],
      () => relay.servesRoom(topic) === true && relay.stats().rooms === ROOMS,
      () => `the relay in ${relay.stats().rooms} of ${ROOMS} rooms`,
      STEP_TIMEOUT_MS,
    )

    // The member joins the room and announces itself until the relay takes its presence.
    enterRoom(member, manifest, roomId)
    let accepted = false
    const onAccepted = (event: CustomEvent<{ record: { from: string } }>): void => {
      if (event.detail.record.from === member.peerId) accepted = true
    }
    relay.addEventListener('record:accepted', onAccepted)
    const deadline = Date.now() + STEP_TIMEOUT_MS / 2
    while (!accepted && Date.now() < deadline) {
      await member.libp2p.services.pubsub.publish(topic, presenceRecord(member)).catch(() => undefined)
      await new Promise((resolve) => setTimeout(resolve, REANNOUNCE_MS))
    }
    relay.removeEventListener('record:accepted', onAccepted)
    expect(accepted, "the relay took the member's presence in the room it joined last").toBe(true)

    // What the member was told of the relay's rooms: its own, none of the others.
    const own = member.libp2p.services.pubsub
    const relayId = relay.peerId
    const told = elsewhere.filter((other) => own.getSubscribers(other).some((peer) => peer.toString() === relayId))
    expect(told.length, 'rooms the member is not in that it was told the relay carries').toBe(0)
    expect(own.getSubscribers(topic).map(String)).toContain(relayId)
  }, 180_000)

  it('behavior: a member that left a room is told when the relay leaves it too', async () => {
    const relay = await startRelay(stoppers, { roomIdleMs: 100 })
    const member = await startLightClient({
      relay: tcpAddressOf(relay),
      signer: newWalletSigner(),
      timeoutMs: STEP_TIMEOUT_MS,
    })
    lightClients(stoppers).push(member)
    const topic = roomTopic(randomBytes(32).toString('hex'))
    const own = member.libp2p.services.pubsub
    const relayCarries = (): boolean => own.getSubscribers(topic).some((peer) => peer.toString() === relay.peerId)
    own.subscribe(topic)
    await until(
      [[own, 'subscription-change']],
      relayCarries,
      () => 'the relay never said it carries the room',
      STEP_TIMEOUT_MS,
    )

    // The member leaves; nothing keeps the relay there, and it leaves too — which the member, told it joined, hears.
    own.unsubscribe(topic)
    await until(
      [[own, 'subscription-change']],
      () => !relayCarries(),
      () => `the member still takes the relay to be in the room it left; the relay is in ${relay.stats().rooms} rooms`,
      STEP_TIMEOUT_MS,
    )
    expect(relay.servesRoom(topic)).toBe(false)
  }, 120_000)
})
