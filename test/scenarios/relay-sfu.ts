/**
 * The SFU's media path with a real relay, a real Janus and two real sdk clients, run by `test/relay-sfu.test.ts`
 * inside a network namespace of its own (`ip netns exec`): Janus's ICE gathers no candidate on loopback, so the
 * namespace has a veth interface (`helpers/netns.ts`) whose address is the only one media may use — nothing touches the machine's own
 * interfaces. Alice publishes an Opus offer and gets Janus's answer; Bob sees her feed and subscribes, answers
 * Janus's offer; Alice leaves, Bob is told; Bob leaves, the call's Janus room is destroyed. Prints one JSON line.
 *
 *   ip netns exec <ns> node test/scenarios/relay-sfu.ts <interface>
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { roomTopic } from '@securechat/sdk/rooms'
import { Wallet } from 'ethers'
import { createRelay } from '../../node/src/relay/create-relay.ts'
import { type SfuService, sfu } from '../../node/src/relay/sfu/sfu-service.ts'
import { startDevice } from '../helpers/device.ts'
import { openSfu, realPublisher, realSubscriber } from '../helpers/sfu.ts'

const [iface = 'sfu0'] = process.argv.slice(2)
const stops: Array<() => Promise<unknown>> = []
const out: Record<string, unknown> = {}
const t0 = Date.now()
const at = (): number => Date.now() - t0

async function until(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not in time`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

const MEDIA_LINES =
  /^(m=|a=(sendonly|recvonly|inactive|sendrecv|setup:|mid:|rtpmap:|end-of-candidates|group:|ice-options))/
const sdpLines = (sdp: string, prefix: RegExp): string[] => sdp.split(/\r?\n/).filter((line) => prefix.test(line))

try {
  const dataDir = await mkdtemp(join(tmpdir(), 'sfu-scenario-'))
  stops.push(() => rm(dataDir, { recursive: true, force: true }))
  const relay = createRelay({
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    dataDir,
    services: { sfu: sfu({ interface: iface }) },
  })
  await relay.start()
  stops.push(() => relay.stop())
  const service = relay.services.sfu as SfuService
  out.janusUp = service.stats().up
  const bootstrap = [relay.multiaddrs[0]!]
  const alice = await startDevice({ wallet: Wallet.createRandom(), bootstrap, presenceIntervalMs: 1_000 })
  stops.push(alice.close)
  const bob = await startDevice({ wallet: Wallet.createRandom(), bootstrap, presenceIntervalMs: 1_000 })
  stops.push(bob.close)
  const { room, invite } = await alice.client.createRoom({ name: 'larger call' })
  const bobRoom = await bob.client.joinRoom(invite)
  await Promise.all([room.waitForPeers(), bobRoom.waitForPeers()])
  const topic = roomTopic(room.id)
  const alicePeer = alice.client.peerId.toString()
  const bobPeer = bob.client.peerId.toString()
  await until(
    () => relay.node.isRoomClient(topic, alicePeer) && relay.node.isRoomClient(topic, bobPeer),
    'both are room clients',
  )
  out.peers = { alice: alicePeer, bob: bobPeer }
  const call = randomBytes(16).toString('hex')

  const a = await openSfu(alice.client.libp2p, relay.peerId)
  await a.send({ op: 'join', topic, call })
  out.aliceFirstFeeds = (await a.next('feeds')).feeds
  const publisher = await realPublisher()
  stops.push(async () => publisher.close())
  const publishAt = Date.now()
  await a.send({ op: 'publish', sdp: publisher.offer })
  const published = await a.next('published')
  out.publishMs = Date.now() - publishAt
  out.offerCandidates = sdpLines(publisher.offer, /^a=candidate:/)
  out.answer = {
    candidates: sdpLines(published.sdp, /^a=candidate:/),
    media: sdpLines(published.sdp, MEDIA_LINES),
  }
  await publisher.answer(published.sdp)
  out.publisherConnectedMs = Date.now() - publishAt
  out.aliceFeedsAfterPublish = (await a.next('feeds')).feeds
  out.feedsAfterPublishMs = Date.now() - publishAt

  const b = await openSfu(bob.client.libp2p, relay.peerId)
  await b.send({ op: 'join', topic, call })
  out.bobFirstFeeds = (await b.next('feeds')).feeds
  const subscribeAt = Date.now()
  await b.send({ op: 'subscribe', feeds: [1, 999] })
  const subscriberOffer = await b.next('offer')
  out.offerMs = Date.now() - subscribeAt
  out.offer = {
    streams: subscriberOffer.streams,
    candidates: sdpLines(subscriberOffer.sdp, /^a=candidate:/),
    media: sdpLines(subscriberOffer.sdp, MEDIA_LINES),
  }
  const subscriber = await realSubscriber(subscriberOffer.sdp)
  stops.push(async () => subscriber.close())
  await b.send({ op: 'answer', sdp: subscriber.answer })
  await subscriber.connected
  out.subscriberConnectedMs = Date.now() - subscribeAt
  // Opaque payloads (as SFrame frames are to Janus) from Alice's track; Bob's must come out byte for byte. Janus
  // forwards to a subscriber once its own side of the connection is up, a moment after Bob's: packets go until the
  // first arrives, then 100 are counted.
  const warmupAt = Date.now()
  while (subscriber.payloads.length === 0 && Date.now() - warmupAt < 15_000) await publisher.sendPackets(5)
  out.firstPacketMs = Date.now() - warmupAt
  const before = subscriber.payloads.length
  const sent = await publisher.sendPackets(100)
  await new Promise((resolve) => setTimeout(resolve, 1_000))
  const received = subscriber.payloads.slice(before)
  out.rtp = { sent: sent.length, received: received.length, identical: received.filter((p) => sent.includes(p)).length }
  // The same set again changes nothing in Janus: no new offer.
  await b.send({ op: 'subscribe', feeds: [1] })
  await new Promise((resolve) => setTimeout(resolve, 1_000))
  // Janus's `update`: unsubscribing everything, then subscribing again, each an offer to answer.
  await b.send({ op: 'subscribe', feeds: [] })
  const dropped = await b.next('offer')
  await b.send({ op: 'answer', sdp: subscriber.renegotiate(dropped.sdp) })
  await b.send({ op: 'subscribe', feeds: [1] })
  const again = await b.next('offer')
  await b.send({ op: 'answer', sdp: subscriber.renegotiate(again.sdp) })
  out.updates = {
    dropped: { streams: dropped.streams, media: sdpLines(dropped.sdp, MEDIA_LINES) },
    again: { streams: again.streams, media: sdpLines(again.sdp, MEDIA_LINES) },
  }
  await new Promise((resolve) => setTimeout(resolve, 500))
  out.statsInCall = service.stats()
  out.bobEventsBeforeLeave = b.events.map((event) => event.op)

  const offersBefore = b.events.filter((event) => event.op === 'offer').length
  await a.close()
  out.bobFeedsAfterAliceLeft = (await b.next('feeds')).feeds
  // Janus renegotiates by itself when a subscribed feed stops: what it sends, if anything, within 2 s.
  await new Promise((resolve) => setTimeout(resolve, 2_000))
  const later = b.events.filter((event) => event.op === 'offer').slice(offersBefore)
  out.offersAfterAliceLeft = later.map((event) => (event.op === 'offer' ? { streams: event.streams } : {}))
  await b.close()
  await until(() => service.stats().calls === 0 && service.stats().roomsDestroyed === 1, 'the call is destroyed')
  out.statsAfter = service.stats()
  out.ok = true
} catch (err) {
  out.ok = false
  out.error = String((err as Error).stack ?? err)
} finally {
  out.ms = at()
  for (const stop of stops.reverse()) await stop().catch(() => undefined)
  process.stdout.write(`${JSON.stringify(out)}\n`)
  process.exit(0)
}
