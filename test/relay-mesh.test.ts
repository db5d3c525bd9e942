/**
 * A room larger than gossipsub's mesh, every member connected to one relay only (a star, as
 * browsers are). With gossipsub's default degree the relay kept at most 12 of them in its mesh and
 * told the others of a record only by gossip (IHAVE to 6 random peers a heartbeat, for 3
 * heartbeats): in the scale benchmark a sender key published once reached 72–86 % of a 30-member
 * room. A relay now keeps every subscriber of a topic in its mesh (`RELAY_MESH_MAX_PEERS`). Light clients
 * (`bench/light-client.ts`): real libp2p nodes, certificates and records, no room logic — so
 * nothing re-publishes or repairs what gossip missed, and what arrives is what the relay forwarded.
 */
import type { Message } from '@libp2p/gossipsub'
import { describe, expect, it } from 'vitest'
import {
  enterRoom,
  type LightClient,
  messageRecord,
  newWalletSigner,
  presenceRecord,
  publicRoom,
  startLightClient,
} from '../bench/light-client.ts'
import { until } from './helpers/room-inbox.ts'
import { lightClients, startRelay, stopAfterEach, tcpAddressOf } from './helpers/stoppers.ts'

/**
 * Far more than gossipsub's default upper mesh degree (Dhi, 12): of the 28 members outside a bounded mesh, each
 * heard of a record by gossip with a chance of about 1 − (3/4)³ = 58 %.
 */
const MEMBERS = 40
const STEP_TIMEOUT_MS = 60_000
const DIALS_AT_ONCE = 5

const stoppers = stopAfterEach()

describe('a relay in a large room', () => {
  it(`behavior: a record published once reaches every one of ${MEMBERS} members connected only to the relay`, async () => {
    const relay = await startRelay(stoppers)
    const clients = lightClients(stoppers)
    const address = tcpAddressOf(relay)
    const signer = newWalletSigner()
    const { manifest, roomId } = await publicRoom('large', signer)
    // A few handshakes at a time: forty at once overran libp2p's upgrade timeout on a loaded machine.
    for (let i = 0; i < MEMBERS; i += DIALS_AT_ONCE) {
      const batch = Math.min(DIALS_AT_ONCE, MEMBERS - i)
      clients.push(
        ...(await Promise.all(
          Array.from({ length: batch }, () => startLightClient({ relay: address, signer, timeoutMs: STEP_TIMEOUT_MS })),
        )),
      )
    }
    const topics = clients.map((client) => enterRoom(client, manifest, roomId))
    const topic = topics[0] as string
    const pubsub = relay.libp2p.services.pubsub

    // The relay joins the room on the first subscription and tells every member; then every member's presence is accepted.
    await until(
      [[pubsub, 'subscription-change']],
      () => pubsub.getSubscribers(topic).length === MEMBERS,
      () => 'subscriptions',
      STEP_TIMEOUT_MS,
    )
    for (const client of clients) {
      const own = client.libp2p.services.pubsub
      await until(
        [[own, 'subscription-change']],
        () => own.getSubscribers(topic).length > 0,
        () => 'the relay in the room',
        STEP_TIMEOUT_MS,
      )
    }
    const accepted = new Set<string>()
    relay.addEventListener('record:accepted', (event) => accepted.add(event.detail.record.from))
    for (const client of clients) await client.libp2p.services.pubsub.publish(topic, presenceRecord(client))
    await until(
      [[relay, 'record:accepted']],
      () => accepted.size === MEMBERS,
      () => 'every presence accepted',
      STEP_TIMEOUT_MS,
    )
    // Two heartbeats: the relay has grafted (and, with a bounded degree, pruned) its mesh.
    let heartbeats = 0
    await until(
      [[pubsub, 'gossipsub:heartbeat']],
      () => ++heartbeats > 2,
      () => 'two heartbeats',
      STEP_TIMEOUT_MS,
    )

    const [sender, ...receivers] = clients as [LightClient, ...LightClient[]]
    const record = messageRecord(roomId, 1, 'AAAA')
    const got = new Set<string>()
    const arrivals = receivers.map(
      (client) =>
        new Promise<void>((resolve) => {
          client.libp2p.services.pubsub.addEventListener('message', (event: CustomEvent<Message>) => {
            if (event.detail.topic !== topic || event.detail.data.byteLength !== record.byteLength) return
            got.add(client.peerId)
            resolve()
          })
        }),
    )
    await sender.libp2p.services.pubsub.publish(topic, record)
    // Gossip announces a record for three heartbeats: if it has not arrived after ten, it will not.
    heartbeats = 0
    await Promise.race([
      Promise.all(arrivals),
      until(
        [[pubsub, 'gossipsub:heartbeat']],
        () => ++heartbeats > 10,
        () => 'ten heartbeats',
        STEP_TIMEOUT_MS,
      ).catch(() => undefined),
    ])
    expect(got.size, `${got.size} of ${receivers.length} members got the record`).toBe(receivers.length)
  }, 180_000)
})
