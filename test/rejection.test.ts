/**
 * Adversarial records on a room topic, over real libp2p on loopback. The attacker is a bare
 * libp2p + gossipsub node (no SecureChat client) that dials the relay and one honest peer
 * directly, so both the relay's and a peer's gossip validation face it. Waits are
 * event-driven and time out.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import { RPC } from '@libp2p/gossipsub/message'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import {
  createClient,
  createSecureChatLibp2p,
  type SecureChatClient,
  type SecureChatLibp2p,
} from '@securechat/sdk/client'
import { MAX_MESSAGE_BYTES, WIRE_VERSION } from '@securechat/sdk/constants'
import { CertificateRegistry, createCertificate, walletSigner } from '@securechat/sdk/identity'
import { encodeRecord, messageIdOf, type Room, RoomGatekeeper } from '@securechat/sdk/rooms'
import type { Address, RoomMessage, SessionCertificate, UndecryptableMessage } from '@securechat/sdk/types'
import { type BaseWallet, Wallet } from 'ethers'
import fc from 'fast-check'
import { SiweMessage } from 'siwe'
import { afterEach, describe, expect, it } from 'vitest'
import { DEFAULT_CLI_DOMAIN, DEVNET_CHAIN_ID } from '../node/src/constants.ts'
import { RelayNode } from '../node/src/relay/relay.ts'
import { until } from './helpers/room-inbox.ts'

/** Longest wait for a delivery or a rejection; they take milliseconds when things work. */
const TIMEOUT_MS = 10_000
const HOUR_MS = 3_600_000

const cleanups: Array<() => Promise<void>> = []

afterEach(async () => {
  await Promise.allSettled(
    cleanups
      .splice(0)
      .reverse()
      .map((cleanup) => cleanup()),
  )
})

interface Honest {
  name: string
  client: SecureChatClient
  address: Address
  room: Room
  received: RoomMessage[]
  rejected: Array<{ from: string; reason: string }>
  undecryptable: UndecryptableMessage[]
}

interface Network {
  relay: RelayNode
  alice: Honest
  bob: Honest
  /** Listens on loopback: the attacker also dials her directly. */
  carol: Honest
  honest: Honest[]
  roomId: string
  topic: string
  /** Every record the relay accepted, as published: honest bytes for the attacker to replay. */
  relayRecords: Uint8Array[]
}

async function startClient(
  relay: RelayNode,
  options: { listen?: boolean; privateKey?: PrivateKey } = {},
): Promise<{ client: SecureChatClient; wallet: Wallet }> {
  const wallet = new Wallet(Wallet.createRandom().privateKey)
  const client = createClient({
    domain: DEFAULT_CLI_DOMAIN,
    chainId: DEVNET_CHAIN_ID,
    signer: walletSigner({ type: 'eoa', signer: wallet }),
    bootstrap: [relay.multiaddrs[0]!],
    ...(options.listen === true ? { listen: ['/ip4/127.0.0.1/tcp/0'] } : {}),
    ...(options.privateKey === undefined ? {} : { privateKey: options.privateKey }),
    // Quick heartbeats so that presence converges in a second whatever the join order.
    presenceIntervalMs: 1_000,
  })
  await client.start()
  cleanups.push(() => client.stop())
  return { client, wallet }
}

function track(name: string, client: SecureChatClient, wallet: Wallet, room: Room): Honest {
  const honest: Honest = {
    name,
    client,
    address: wallet.address as Address,
    room,
    received: [],
    rejected: [],
    undecryptable: [],
  }
  room.addEventListener('message:received', (event) => honest.received.push(event.detail))
  room.addEventListener('message:rejected', (event) => honest.rejected.push(event.detail))
  room.addEventListener('message:undecryptable', (event) => honest.undecryptable.push(event.detail))
  return honest
}

/** Waits until `h` lists exactly the wallets in `addresses` as present. */
function untilListed(h: Honest, addresses: string[]): Promise<void> {
  const listed = (): string =>
    h.room
      .members()
      .map((m) => m.address)
      .sort()
      .join()
  const expected = [...addresses].sort().join()
  return until(
    [
      [h.room as unknown as EventTarget, 'member:joined'],
      [h.room as unknown as EventTarget, 'member:left'],
    ],
    () => listed() === expected,
    () => `${h.name} lists ${listed()}, expected ${expected}`,
  )
}

/** A relay and three honest peers in one room, each listing the others as present. */
async function startNetwork(): Promise<Network> {
  const relay = new RelayNode({
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
  })
  await relay.start()
  cleanups.push(() => relay.stop())
  const relayRecords: Uint8Array[] = []
  relay.libp2p.services.pubsub.addEventListener('message', (event) => relayRecords.push(event.detail.data))
  const [a, b, c] = await Promise.all([startClient(relay), startClient(relay), startClient(relay, { listen: true })])
  const { room, invite } = await a.client.createRoom({ name: 'under attack' })
  await room.waitForPeers({ signal: AbortSignal.timeout(TIMEOUT_MS) })
  const alice = track('alice', a.client, a.wallet, room)
  const bob = track('bob', b.client, b.wallet, await b.client.joinRoom(invite))
  const carol = track('carol', c.client, c.wallet, await c.client.joinRoom(invite))
  const honest = [alice, bob, carol]
  await Promise.all(
    honest.map((h) =>
      untilListed(
        h,
        honest.map((m) => m.address),
      ),
    ),
  )
  return { relay, alice, bob, carol, honest, roomId: room.id, topic: room.topic, relayRecords }
}

/** A bare libp2p + gossipsub node that dials the relay and carol and subscribes to the room topic. */
async function startAttacker(net: Network): Promise<{ node: SecureChatLibp2p; key: PrivateKey; peerId: string }> {
  const key = await generateKeyPair('Ed25519')
  const node = await createSecureChatLibp2p({ privateKey: key })
  cleanups.push(async () => {
    await node.stop()
  })
  await node.dial(multiaddr(net.relay.multiaddrs[0]!))
  await node.dial(net.carol.client.libp2p.getMultiaddrs()[0]!)
  const pubsub = node.services.pubsub
  pubsub.subscribe(net.topic)
  const targets = [net.relay.libp2p.peerId.toString(), net.carol.client.peerId.toString()]
  const subscribers = (): string[] => pubsub.getSubscribers(net.topic).map((p) => p.toString())
  await until(
    [[pubsub as unknown as EventTarget, 'subscription-change']],
    () => targets.every((t) => subscribers().includes(t)),
    () => `the attacker sees subscribers ${JSON.stringify(subscribers())}`,
  )
  return { node, key, peerId: peerIdFromPrivateKey(key).toString() }
}

function presence(net: Network, cert: SessionCertificate, room = net.roomId): Uint8Array {
  return encodeRecord({ v: WIRE_VERSION, type: 'presence', room, cert, atMs: Date.now() })
}

/** `bytes` (a JSON record) with some fields replaced, still a well-formed record otherwise. */
function edited(bytes: Uint8Array, changes: Record<string, unknown>): Uint8Array {
  const record = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>
  return new TextEncoder().encode(JSON.stringify({ ...record, ...changes }))
}

async function certificateFor(
  wallet: BaseWallet,
  peerId: string,
  overrides: { domain?: string; chainId?: number; now?: number; lifetimeMs?: number } = {},
): Promise<SessionCertificate> {
  return createCertificate({
    signer: walletSigner({ type: 'eoa', signer: wallet }),
    peerId,
    domain: overrides.domain ?? DEFAULT_CLI_DOMAIN,
    chainId: overrides.chainId ?? DEVNET_CHAIN_ID,
    ...(overrides.now === undefined ? {} : { now: overrides.now }),
    ...(overrides.lifetimeMs === undefined ? {} : { lifetimeMs: overrides.lifetimeMs }),
  })
}

/** A certificate that only becomes valid in an hour (`notBefore`), as any SIWE client may write it. */
async function notYetValidCertificate(wallet: BaseWallet, peerId: string): Promise<SessionCertificate> {
  const now = Date.now()
  const text = new SiweMessage({
    domain: DEFAULT_CLI_DOMAIN,
    address: wallet.address,
    uri: `http://${DEFAULT_CLI_DOMAIN}`,
    version: '1',
    chainId: DEVNET_CHAIN_ID,
    nonce: 'abcdef0123456789',
    issuedAt: new Date(now).toISOString(),
    notBefore: new Date(now + HOUR_MS).toISOString(),
    expirationTime: new Date(now + 2 * HOUR_MS).toISOString(),
    resources: [`urn:securechat:peer:${peerId}`],
  }).prepareMessage()
  return { message: text, signature: await wallet.signMessage(text) }
}

/**
 * Waits for the relay and carol (whom the attacker reaches directly) to reject `count` more
 * records. The relay's count must match exactly. Carol may count more: messages she held back
 * while looking for their sender's certificate are judged again, and rejected, once a refused
 * certificate for that sender turns up.
 */
function rejectionCounter(net: Network): { expectMore: (count: number, what: string) => Promise<void> } {
  let relayExpected = net.relay.stats().rejected
  let carolExpected = net.carol.rejected.length
  return {
    async expectMore(count, what) {
      relayExpected += count
      carolExpected += count
      await until(
        [
          [net.relay as unknown as EventTarget, 'record:rejected'],
          [net.carol.room as unknown as EventTarget, 'message:rejected'],
        ],
        () => net.relay.stats().rejected >= relayExpected && net.carol.rejected.length >= carolExpected,
        () =>
          `${what}: relay rejected ${net.relay.stats().rejected}/${relayExpected}, carol ${net.carol.rejected.length}/${carolExpected}`,
      )
      expect(net.relay.stats().rejected, what).toBe(relayExpected)
      carolExpected = net.carol.rejected.length
    },
  }
}

/** `from` says `text`; every other honest peer receives it. Returns the record's bytes as published. */
async function honestRoundTrip(net: Network, from: Honest, text: string): Promise<Uint8Array> {
  const result = await from.room.send(text)
  expect(result.delivery.recipients.length).toBeGreaterThan(0)
  await Promise.all(
    net.honest
      .filter((h) => h !== from)
      .map((h) =>
        until(
          [[h.room as unknown as EventTarget, 'message:received']],
          () => h.received.some((m) => m.id === result.id && m.text === text && m.sender === from.address),
          () => `${h.name} has not received "${text}" (undecryptable: ${JSON.stringify(h.undecryptable)})`,
        ),
      ),
  )
  const bytes = net.relayRecords.find((record) => messageIdOf(record) === result.id)
  expect(bytes, 'the relay forwarded the record').toBeDefined()
  return bytes!
}

function expectNothingFrom(net: Network, peerId: string, address?: Address): void {
  for (const h of net.honest) {
    expect(h.received.filter((m) => m.senderPeerId === peerId)).toEqual([])
    expect(h.room.members().filter((m) => m.peerId === peerId || m.address === address)).toEqual([])
    if (address !== undefined) expect(h.received.filter((m) => m.sender === address)).toEqual([])
  }
}

async function publish(attacker: SecureChatLibp2p, net: Network, bytes: Uint8Array): Promise<void> {
  const { recipients } = await attacker.services.pubsub.publish(net.topic, bytes)
  expect(recipients.map((p) => p.toString()).sort()).toEqual(
    [net.relay.libp2p.peerId.toString(), net.carol.client.peerId.toString()].sort(),
  )
}

let seqnoCounter = BigInt(Date.now()) * 1_000_000n

/** A gossipsub message signed by `key` exactly as StrictSign does it (js-libp2p's buildRawMessage). */
async function signedMessage(key: PrivateKey, topic: string, data: Uint8Array): Promise<RPC.Message> {
  const seqno = new Uint8Array(8)
  seqnoCounter += 1n
  new DataView(seqno.buffer).setBigUint64(0, seqnoCounter)
  const unsigned: RPC.Message = { from: peerIdFromPrivateKey(key).toMultihash().bytes, data, seqno, topic }
  const prefix = new TextEncoder().encode('libp2p-pubsub:')
  const body = RPC.Message.encode(unsigned)
  const toSign = new Uint8Array(prefix.byteLength + body.byteLength)
  toSign.set(prefix)
  toSign.set(body, prefix.byteLength)
  // Ed25519 PeerIds embed their public key, so `key` is left out, as gossipsub does.
  return { ...unsigned, signature: await key.sign(toSign) }
}

/** Writes one RPC carrying `messages` straight onto the node's open gossipsub stream to `peer`. */
function pushRpc(node: SecureChatLibp2p, peer: PeerId, messages: RPC.Message[]): void {
  const { streamsOutbound } = node.services.pubsub as unknown as {
    streamsOutbound: Map<string, { push(bytes: Uint8Array): void }>
  }
  const stream = streamsOutbound.get(peer.toString())
  expect(stream, `no gossipsub stream to ${peer}`).toBeDefined()
  stream!.push(RPC.encode({ subscriptions: [], messages }))
}

/** Mallory: a real client, in good standing in the room, whose device key the test holds. */
async function startMallory(net: Network): Promise<{ mallory: Honest; key: PrivateKey }> {
  const key = await generateKeyPair('Ed25519')
  const { client, wallet } = await startClient(net.relay, { privateKey: key })
  const mallory = track('mallory', client, wallet, await client.joinRoom(net.alice.room.manifest))
  await mallory.room.waitForPeers({ signal: AbortSignal.timeout(TIMEOUT_MS) })
  const everyone = [...net.honest, mallory].map((h) => h.address)
  await Promise.all([...net.honest, mallory].map((h) => untilListed(h, everyone)))
  // A newcomer's very first message is sometimes unreadable to a member that got its sender key
  // late (see rooms.test.ts and the report); that is not what these tests are about, so mallory
  // says hello once and every member settles (reads it, or reports it unreadable) first.
  const hello = await mallory.room.send('mallory: hello')
  await Promise.all(
    net.honest.map((h) =>
      until(
        [
          [h.room as unknown as EventTarget, 'message:received'],
          [h.room as unknown as EventTarget, 'message:undecryptable'],
        ],
        () => h.received.some((m) => m.id === hello.id) || h.undecryptable.some((u) => u.id === hello.id),
        () => `${h.name} has not heard mallory's hello`,
      ),
    ),
  )
  return { mallory, key }
}

describe('rejected, never delivered', () => {
  it('error: presences with a replayed, expired, not-yet-valid, future, wrong-domain, wrong-chain or forged certificate', async () => {
    const net = await startNetwork()
    const { node: attacker, peerId } = await startAttacker(net)
    // Honest traffic before the attack; the attacker replays alice's record as its own below.
    const replayed = await honestRoundTrip(net, net.alice, 'before the attack')
    const mallory = Wallet.createRandom()
    const rejections = rejectionCounter(net)

    // A certificate copied from an honest peer's presence names that peer, not the attacker.
    await publish(attacker, net, presence(net, net.alice.client.certificate))
    await rejections.expectMore(1, 'replayed certificate of another PeerId')
    // No valid certificate: messages are ignored (not forwarded, not punished) while one is sought.
    await publish(attacker, net, replayed)

    const expired = await certificateFor(mallory, peerId, { now: Date.now() - 2 * HOUR_MS, lifetimeMs: HOUR_MS })
    await publish(attacker, net, presence(net, expired))
    await rejections.expectMore(1, 'expired certificate')

    await publish(attacker, net, presence(net, await notYetValidCertificate(mallory, peerId)))
    await rejections.expectMore(1, 'not-yet-valid certificate')

    await publish(attacker, net, presence(net, await certificateFor(mallory, peerId, { now: Date.now() + HOUR_MS })))
    await rejections.expectMore(1, 'certificate issued in the future')
    await publish(attacker, net, replayed)

    // Signed by another wallet: without a chain it could be a contract wallet, so it is ignored
    // (never accepted) rather than rejected; the next rejection shows it was processed first.
    const claimed = await certificateFor(Wallet.createRandom(), peerId)
    const forged = { message: claimed.message, signature: await mallory.signMessage(claimed.message) }
    await publish(attacker, net, presence(net, forged))
    await publish(attacker, net, replayed)

    // Valid signatures, but for a domain or a chain the room does not accept: the messages that
    // follow are rejected too, as their sender's certificate is known and refused.
    await publish(attacker, net, presence(net, await certificateFor(mallory, peerId, { domain: 'evil.example' })))
    await rejections.expectMore(1, 'wrong domain')
    await publish(attacker, net, replayed)
    await rejections.expectMore(1, 'message from a wrong-domain certificate')
    await publish(attacker, net, presence(net, await certificateFor(mallory, peerId, { chainId: 1 })))
    await rejections.expectMore(1, 'wrong chain')
    await publish(attacker, net, replayed)
    await rejections.expectMore(1, 'message from a wrong-chain certificate')

    // Nothing crashed: honest traffic still flows both ways, and none of the attacker's did.
    await honestRoundTrip(net, net.bob, 'after the attack')
    await honestRoundTrip(net, net.carol, 'carol is fine')
    expectNothingFrom(net, peerId, mallory.address as Address)
    for (const h of net.honest) {
      expect(h.received.filter((m) => m.text === 'before the attack')).toHaveLength(h === net.alice ? 0 : 1)
    }
    expect(new Set(net.carol.rejected.map((r) => r.from))).toEqual(new Set([peerId]))
    // The honest peers that only hear the relay never even saw the attacker's records.
    expect(net.alice.rejected).toEqual([])
    expect(net.bob.rejected).toEqual([])
  })

  it('error: random bytes, truncated records, oversize records, unknown versions and records of another room', async () => {
    const net = await startNetwork()
    const { node: attacker, peerId } = await startAttacker(net)
    const valid = await honestRoundTrip(net, net.bob, 'a record to mangle')
    const rejections = rejectionCounter(net)

    const random = fc.sample(fc.uint8Array({ minLength: 1, maxLength: 512 }), { numRuns: 5, seed: 42 })
    for (const bytes of random) await publish(attacker, net, bytes)
    await rejections.expectMore(random.length, 'random bytes')

    const truncated = [valid, presence(net, net.bob.client.certificate)].flatMap((bytes) =>
      [1, 10, Math.floor(bytes.byteLength / 2), bytes.byteLength - 1].map((length) => bytes.subarray(0, length)),
    )
    for (const bytes of truncated) await publish(attacker, net, bytes)
    await rejections.expectMore(truncated.length, 'truncated records')

    const json = new TextDecoder().decode(valid)
    await publish(attacker, net, new TextEncoder().encode(json.padEnd(MAX_MESSAGE_BYTES + 1, ' ')))
    await rejections.expectMore(1, 'a record larger than MAX_MESSAGE_BYTES')

    // A later protocol version is ignored, never a crash, and never delivered.
    await publish(attacker, net, edited(valid, { v: WIRE_VERSION + 1 }))

    // Records naming another room, published on this room's topic.
    const otherRoom = 'e'.repeat(64)
    await publish(attacker, net, edited(valid, { room: otherRoom }))
    await publish(attacker, net, presence(net, net.bob.client.certificate, otherRoom))
    await rejections.expectMore(2, 'records naming another room')

    await honestRoundTrip(net, net.alice, 'still here')
    await honestRoundTrip(net, net.carol, 'me too')
    expectNothingFrom(net, peerId)
    for (const h of net.honest) {
      expect(h.received.filter((m) => m.text === 'a record to mangle')).toHaveLength(h === net.bob ? 0 : 1)
    }
    expect(new Set(net.carol.rejected.map((r) => r.from))).toEqual(new Set([peerId]))
    expect(net.alice.rejected).toEqual([])
    expect(net.bob.rejected).toEqual([])
  })

  it('error: a message changed after signing, or claiming another author, fails the gossipsub signature', async () => {
    const net = await startNetwork()
    const { mallory, key } = await startMallory(net)
    const withMallory = { ...net, honest: [...net.honest, mallory] }
    const original = await honestRoundTrip(withMallory, mallory, 'mallory: pay 1 ETH')
    const relayId = net.relay.libp2p.peerId
    const rejectedBefore = net.relay.stats().rejected

    // The record signed as is, then changed in transit: one digit of its timestamp, so that it
    // is still a well-formed record that only the gossipsub signature can catch.
    const signed = await signedMessage(key, net.topic, original)
    const text = new TextDecoder().decode(original)
    const tamperedText = text.replace(
      /"sentAtMs":(\d+)/,
      (_, ms: string) => `"sentAtMs":${ms.slice(0, -1)}${(Number(ms.at(-1)) + 1) % 10}`,
    )
    const tampered = { ...signed, data: new TextEncoder().encode(tamperedText) }
    expect(tamperedText).not.toBe(text)
    expect(tampered.data.byteLength).toBe(original.byteLength)
    // Mallory's own signature over her record, presented as alice's.
    const forged = {
      ...(await signedMessage(key, net.topic, original)),
      from: net.alice.client.peerId.toMultihash().bytes,
    }
    pushRpc(mallory.client.libp2p, relayId, [tampered, forged])

    // What follows from mallory still arrives: the link is fine, only the forgeries were dropped.
    await honestRoundTrip(withMallory, mallory, 'mallory: that was all')
    await honestRoundTrip(net, net.bob, 'after the forgeries')
    for (const h of net.honest) {
      expect(h.received.filter((m) => m.text === 'mallory: pay 1 ETH')).toHaveLength(1)
      expect(h.received.map((m) => m.id)).not.toContain(messageIdOf(tampered.data))
      expect(h.received.map((m) => m.senderPeerId)).not.toContain(net.alice.client.peerId.toString())
      // Not even seen as an unreadable message: the room never got it.
      const ids = [messageIdOf(tampered.data), messageIdOf(original)]
      expect(h.undecryptable.filter((u) => ids.includes(u.id))).toEqual([])
    }
    // Dropped by gossipsub's signature check, before the room's validator saw them: the relay counted
    // both as rejected (`gossip-errors.ts`), and accepted neither the changed bytes nor a second copy.
    const decoder = new TextDecoder()
    const accepted = net.relayRecords.map((r) => decoder.decode(r))
    expect(net.relay.stats().rejected).toBe(rejectedBefore + 2)
    expect(accepted).not.toContain(tamperedText)
    expect(accepted.filter((r) => r === text)).toHaveLength(1)
  })

  // Fails today: gossipsub deduplicates by (from, seqno) only, so the same record published
  // again under a new sequence number reaches the room, whose sender-key ratchet refuses it and
  // reports an "undecryptable" message (with a reason about forward secrecy) for a message every
  // peer has already read. docs/architecture.md, Validation: receivers deduplicate by message id.
  it('behavior: a record published again under a new gossip sequence number is delivered once, silently', async () => {
    const net = await startNetwork()
    const { mallory, key } = await startMallory(net)
    const withMallory = { ...net, honest: [...net.honest, mallory] }
    const original = await honestRoundTrip(withMallory, mallory, 'mallory: once')
    pushRpc(mallory.client.libp2p, net.relay.libp2p.peerId, [await signedMessage(key, net.topic, original)])
    await honestRoundTrip(withMallory, mallory, 'mallory: barrier')
    for (const h of net.honest) {
      expect(h.received.filter((m) => m.text === 'mallory: once').map((m) => m.id)).toEqual([messageIdOf(original)])
      expect(
        h.undecryptable.filter((u) => u.id === messageIdOf(original)).map((u) => u.reason),
        h.name,
      ).toEqual([])
    }
  })

  it('behavior: a message whose sender has no known certificate is ignored, then accepted once it is known; at a relay it waits for the certificate', async () => {
    const net = await startNetwork()
    // A record exactly as a client writes it, taken off the wire.
    const data = await honestRoundTrip(net, net.alice, 'who am I?')
    const registry = new CertificateRegistry()
    const unknown: string[] = []
    const rejected: string[] = []
    const gatekeeper = new RoomGatekeeper({
      roomId: net.roomId,
      registry,
      manifest: net.alice.room.manifest,
      onUnknownSender: (m) => {
        unknown.push(m.from.toString())
      },
      onRejected: (from) => rejected.push(from),
    })
    const key = await generateKeyPair('Ed25519')
    const from = peerIdFromPrivateKey(key)
    const gossip = {
      type: 'signed' as const,
      from,
      topic: net.topic,
      data,
      sequenceNumber: 1n,
      signature: new Uint8Array(64),
      key: key.publicKey,
    }
    expect(gatekeeper.validate(from, gossip)).toBe(TopicValidatorResult.Ignore)
    expect(gatekeeper.accepted(gossip)).toBeUndefined()
    expect(gatekeeper.typeOf(gossip)).toBe('message')
    expect(unknown).toEqual([from.toString()])
    expect(rejected).toEqual([])
    // Once its certificate arrives, the held message is accepted, from that sender's wallet.
    const wallet = Wallet.createRandom()
    expect(registry.addOffline(from.toString(), await certificateFor(wallet, from.toString())).status).toBe('valid')
    const accepted = await gatekeeper.revalidate(gossip)
    expect(accepted?.type).toBe('message')
    expect(accepted?.certificate.address).toBe(wallet.address)
    expect(rejected).toEqual([])

    // A relay returns its fetch of the certificate: the record waits for it instead of being dropped (a sender key
    // that overtook its sender's first presence was lost for good on relays without a store).
    const relayRegistry = new CertificateRegistry()
    const certificate = await certificateFor(wallet, from.toString())
    const relay = new RoomGatekeeper({
      roomId: net.roomId,
      registry: relayRegistry,
      manifest: net.alice.room.manifest,
      onUnknownSender: async (m) => {
        const added = relayRegistry.addOffline(m.from.toString(), certificate)
        return added.status === 'valid' ? added.certificate : undefined
      },
    })
    expect(await relay.validate(from, gossip)).toBe(TopicValidatorResult.Accept)
    expect(relay.accepted(gossip)?.certificate.address).toBe(wallet.address)
    // A fetch that brought nothing: dropped, as without one.
    const empty = new RoomGatekeeper({
      roomId: net.roomId,
      registry: new CertificateRegistry(),
      manifest: net.alice.room.manifest,
      onUnknownSender: async () => undefined,
    })
    expect(await empty.validate(from, gossip)).toBe(TopicValidatorResult.Ignore)
  })
})
