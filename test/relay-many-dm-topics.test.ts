/**
 * A relay carrying many DM inboxes (issue 13). A relay joins the inbox of every wallet online through it, and
 * gossipsub tells every connected peer of each topic its node subscribes to — and a peer's gossipsub keeps at most
 * 1 MiB of one neighbour's topics (`maxTopicBytesPerPeer`, ~950). So once a relay carried about a thousand inboxes
 * (a thousand wallets online, or one peer subscribing to a thousand made-up ones), a device that connected then was
 * never told that the relay carries the inboxes it joined after those: it could not find a wallet there, nor send it
 * a first message. And every wallet coming online was a subscription message to every client. A relay now tells a
 * topic to its subscribers and to other relays (`topic-announcements.ts`); a sender subscribes to an inbox while it
 * looks for the wallet's devices. Real clients here, which ask the relay for its linked relays: the relay took every
 * peer that opened that protocol for a relay, and told it everything.
 */
import { randomBytes } from 'node:crypto'
import type { GossipSub } from '@libp2p/gossipsub'
import type { SecureChatClient } from '@securechat/sdk/client'
import { inboxTopic, isDmTopic } from '@securechat/sdk/dm'
import type { DirectMessage } from '@securechat/sdk/types'
import { getAddress } from 'ethers'
import { describe, expect, it } from 'vitest'
import { type LightClient, newWalletSigner, startLightClient } from '../bench/light-client.ts'
import type { RelayNode } from '../node/src/relay/relay.ts'
import { startDmDevice } from './helpers/device.ts'
import { until } from './helpers/room-inbox.ts'
import { lightClients, startRelay, stopAfterEach, tcpAddressOf } from './helpers/stoppers.ts'

/** More inboxes than the ~950 topics of one neighbour a peer's gossipsub keeps. */
const INBOXES = 1_000
const STEP_TIMEOUT_MS = 60_000

const stoppers = stopAfterEach()

/** Makes INBOXES made-up inboxes known to `relay` through two peers, each within its own topic budget there. */
async function fillInboxes(relay: RelayNode, others: LightClient[]): Promise<string[]> {
  const address = tcpAddressOf(relay)
  const signer = newWalletSigner()
  for (let i = 0; i < 2; i++)
    others.push(await startLightClient({ relay: address, signer, timeoutMs: STEP_TIMEOUT_MS }))
  const inboxes = Array.from({ length: INBOXES }, () => inboxTopic(getAddress(`0x${randomBytes(20).toString('hex')}`)))
  inboxes.forEach((topic, i) => {
    others.at(-1 - (i % 2))?.libp2p.services.pubsub.subscribe(topic)
  })
  return inboxes
}

/** Waits until `relay` carries at least `count` DM topics. */
async function carries(relay: RelayNode, count: number, name = 'the relay'): Promise<void> {
  const pubsub = relay.libp2p.services.pubsub
  const dmTopics = (): number => pubsub.getTopics().filter(isDmTopic).length
  await until(
    [[pubsub, 'subscription-change']],
    () => dmTopics() >= count,
    () => `${name} in ${dmTopics()} of ${count} inboxes`,
    STEP_TIMEOUT_MS,
  )
}

/** Bob's first message from Alice, sent now. */
async function firstContact(alice: SecureChatClient, bob: SecureChatClient): Promise<void> {
  const received = new Promise<DirectMessage>((resolve) =>
    bob.dms.addEventListener('message:received', (event) => resolve(event.detail), { once: true }),
  )
  const sent = await alice.dm(bob.address).send('hello bob')
  expect(sent.delivery).toMatchObject([{ address: bob.address, status: 'sent', handshake: true }])
  expect((await received).text).toBe('hello bob')
}

const startDevice = (relay: RelayNode): Promise<SecureChatClient> => startDmDevice(stoppers, relay)

/** The topics `pubsub` knows `peer` subscribes to. */
function topicsOf(pubsub: GossipSub, peer: string): string[] {
  const { topics } = pubsub as unknown as { topics: Map<string, Set<string>> }
  return [...topics].filter(([, peers]) => peers.has(peer)).map(([topic]) => topic)
}

describe('a relay carrying many DM inboxes', () => {
  it(`behavior: a newcomer's first DM reaches a wallet whose inbox the relay joined after ${INBOXES} others, and it is told of no inbox it does not use`, async () => {
    const relay = await startRelay(stoppers)
    const inboxes = await fillInboxes(relay, lightClients(stoppers))
    await carries(relay, INBOXES)

    // Two wallets come online after those and one writes to the other, first contact.
    const alice = await startDevice(relay)
    const bob = await startDevice(relay)
    await firstContact(alice, bob)

    // What Alice was told the relay carries: her inbox and Bob's, which she subscribed to while she looked for him.
    const told = topicsOf(alice.libp2p.services.pubsub, relay.peerId)
    expect(told.filter((topic) => inboxes.includes(topic))).toEqual([])
    expect(told).toEqual(expect.arrayContaining([inboxTopic(alice.address), inboxTopic(bob.address)]))
  }, 180_000)

  it(`behavior: between two linked relays, both carry all ${INBOXES} inboxes one brought, and a first DM crosses from one to the other after them`, async () => {
    const a = await startRelay(stoppers)
    const b = await startRelay(stoppers, { peers: [tcpAddressOf(a)] })
    await a.setPeers([tcpAddressOf(b)])
    await fillInboxes(a, lightClients(stoppers))
    await carries(a, INBOXES, 'relay A')
    await carries(b, INBOXES, 'relay B, linked to A,')

    const alice = await startDevice(a)
    const bob = await startDevice(b)
    await firstContact(alice, bob)

    // A peer the operator did not name keeps a client's budget, whatever it says it is.
    const stranger = await startLightClient({
      relay: tcpAddressOf(b),
      signer: newWalletSigner(),
      timeoutMs: STEP_TIMEOUT_MS,
    })
    lightClients(stoppers).push(stranger)
    const more = Array.from({ length: INBOXES }, () => inboxTopic(getAddress(`0x${randomBytes(20).toString('hex')}`)))
    for (const topic of more) stranger.libp2p.services.pubsub.subscribe(topic)
    const keptByB = (): string[] => topicsOf(b.libp2p.services.pubsub, stranger.peerId)
    await until(
      [[b.libp2p.services.pubsub, 'subscription-change']],
      () => keptByB().length > 900,
      () => `relay B keeps ${keptByB().length} of the stranger's topics`,
      STEP_TIMEOUT_MS,
    )
    // Leaving one frees room for one more: a last topic, behind all the others on the same stream. Once B keeps it,
    // B has read them all.
    const last = inboxTopic(getAddress(`0x${randomBytes(20).toString('hex')}`))
    stranger.libp2p.services.pubsub.unsubscribe(more[0]!)
    stranger.libp2p.services.pubsub.subscribe(last)
    await until(
      [[b.libp2p.services.pubsub, 'subscription-change']],
      () => keptByB().includes(last),
      () => `relay B never kept the stranger's last topic (it keeps ${keptByB().length})`,
      STEP_TIMEOUT_MS,
    )
    expect(keptByB().filter((topic) => more.includes(topic)).length).toBeLessThan(INBOXES - 1)
  }, 180_000)
})
