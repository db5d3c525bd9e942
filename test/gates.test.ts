/**
 * Token-gated rooms on Hardhat with the real demo contracts: peers and a relay in this process
 * over loopback libp2p, each reading the chain through its own gate evaluator. Waits are
 * event-driven and time out; "not delivered" is shown by a later message from a member that
 * arrives while the dropped one never did.
 */

import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Message, TopicValidatorResult } from '@libp2p/gossipsub'
import { createClient, type SecureChatClient } from '@securechat/sdk/client'
import { memberNftAbi, smartWalletAbi, smartWalletBytecode } from '@securechat/sdk/contracts'
import type { EligibilityChange, GateEvaluator, TokenRule } from '@securechat/sdk/gates'
import { walletSigner } from '@securechat/sdk/identity'
import { type Room, roomTopic } from '@securechat/sdk/rooms'
import type { RoomMessage } from '@securechat/sdk/types'
import { Contract, ContractFactory, getAddress, type Wallet } from 'ethers'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { DEFAULT_CLI_DOMAIN, DEVNET_CHAIN_ID } from '../node/src/constants.ts'
import { RelayNode } from '../node/src/relay/relay.ts'
import { startGateEvaluator, startTestChain, type TestChain } from './helpers/chain.ts'
import { LyingEvaluator } from './helpers/lying-evaluator.ts'
import { removalsTold } from './helpers/member-events.ts'
import { type RpcProxy, startRpcProxy } from './helpers/rpc-proxy.ts'

const DELIVERY_TIMEOUT_MS = 10_000
const PRESENCE_INTERVAL_MS = 1_000
/** Gate evaluators in these tests poll the chain this often (the default is GATE_POLL_INTERVAL_MS). */
const POLL_MS = 100

let chain: TestChain
let rule: TokenRule
const cleanups: Array<() => Promise<void> | void> = []

beforeAll(async () => {
  // Accounts 1 and 2 hold one MemberNFT each; the others hold none until a test mints one.
  chain = await startTestChain({ mintTo: [1, 2] })
  rule = { type: 'erc721', chainId: chain.chainId, contract: chain.addresses.memberNft, minBalance: '1' }
})

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

afterAll(async () => {
  await chain?.stop()
})

/** A started evaluator polling every {@link POLL_MS}, over `url` (the chain by default). */
function startEvaluator(init: { url?: string; now?: () => number; cacheTtlMs?: number } = {}): GateEvaluator {
  return startGateEvaluator(chain, { pollIntervalMs: POLL_MS, rpcTimeoutMs: 2_000, ...init }, cleanups)
}

async function startRelay(gates: GateEvaluator): Promise<RelayNode> {
  const relay = new RelayNode({
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    provider: chain.provider,
    gates,
  })
  await relay.start()
  cleanups.push(() => relay.stop())
  return relay
}

interface PeerInit {
  relay: RelayNode
  gates: GateEvaluator
  /** Index into the dev accounts, or a SmartWallet address with its owner's index. */
  account: number | { contract: string; owner: number }
  listen?: boolean
}

async function startPeer(init: PeerInit): Promise<SecureChatClient> {
  const signer =
    typeof init.account === 'number'
      ? walletSigner({ type: 'eoa', signer: chain.accounts[init.account]! as Wallet })
      : walletSigner({
          type: 'contract',
          address: init.account.contract,
          signer: chain.accounts[init.account.owner]! as Wallet,
        })
  const client = createClient({
    domain: DEFAULT_CLI_DOMAIN,
    chainId: DEVNET_CHAIN_ID,
    signer,
    bootstrap: [init.relay.multiaddrs[0]!],
    provider: chain.provider,
    gates: init.gates,
    presenceIntervalMs: PRESENCE_INTERVAL_MS,
    ...(init.listen === true ? { listen: ['/ip4/127.0.0.1/tcp/0'] } : {}),
  })
  await client.start()
  cleanups.push(() => client.stop())
  return client
}

async function join(client: SecureChatClient, invite: string): Promise<Room> {
  const room = await client.joinRoom(invite)
  await room.waitForPeers({ signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS) })
  return room
}

/** Resolves once every room lists every other room's wallet as a member. */
async function untilAllSeeEachOther(rooms: Room[], addresses: string[]): Promise<void> {
  await waitFor(
    () => rooms.every((room) => addresses.every((a) => room.members().some((m) => m.address === a))),
    () =>
      rooms
        .map((room) =>
          room
            .members()
            .map((m) => m.address)
            .join(','),
        )
        .join(' | '),
  )
}

async function waitFor(condition: () => boolean, state: () => string, timeoutMs = DELIVERY_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met in ${timeoutMs} ms: ${state()}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

/** Collects what `room` delivers. */
function inbox(room: Room): RoomMessage[] {
  const received: RoomMessage[] = []
  room.addEventListener('message:received', (event) => received.push(event.detail))
  return received
}

async function delivered(received: RoomMessage[], text: string): Promise<RoomMessage> {
  await waitFor(
    () => received.some((m) => m.text === text),
    () => `waiting for ${JSON.stringify(text)}; got ${JSON.stringify(received.map((m) => m.text))}`,
  )
  return received.find((m) => m.text === text)!
}

/** Counts what `client`'s own validator decided for `room`'s records from `peerId`. */
function validatorSpy(client: SecureChatClient, room: Room, peerId: string): Record<TopicValidatorResult, number> {
  const counts = { accept: 0, ignore: 0, reject: 0 } as Record<TopicValidatorResult, number>
  const { topicValidators } = client.libp2p.services.pubsub
  const inner = topicValidators.get(room.topic)!
  topicValidators.set(room.topic, (source, message: Message) => {
    const count = (result: TopicValidatorResult): TopicValidatorResult => {
      if (message.type === 'signed' && message.from.toString() === peerId) counts[result] += 1
      return result
    }
    const result = inner(source, message)
    return result instanceof Promise ? result.then(count) : count(result)
  })
  return counts
}

function untilChange(
  evaluator: GateEvaluator,
  type: 'member:eligible' | 'member:ineligible',
  address: string,
): Promise<EligibilityChange> {
  return new Promise((resolve) => {
    const listener = (event: CustomEvent<EligibilityChange>): void => {
      if (event.detail.address !== getAddress(address)) return
      evaluator.removeEventListener(type, listener)
      resolve(event.detail)
    }
    evaluator.addEventListener(type, listener)
  })
}

function nftAs(i: number): Contract {
  return new Contract(chain.addresses.memberNft, memberNftAbi, chain.accounts[i]!)
}

async function mintNft(to: string): Promise<bigint> {
  const id = (await nftAs(0).getFunction('nextTokenId')()) as bigint
  await (await nftAs(0).getFunction('mint')(to)).wait()
  return id
}

async function transferNft(from: number, to: string, id: bigint): Promise<number> {
  const tx = await nftAs(from).getFunction('transferFrom')(chain.accounts[from]!.address, to, id)
  return (await tx.wait()).blockNumber as number
}

describe('token-gated rooms', () => {
  it('behavior: holders chat; a non-holder is refused with a readable error, and its records are dropped by peers and the relay', async () => {
    const relayGates = startEvaluator()
    const relay = await startRelay(relayGates)
    const alice = await startPeer({ relay, gates: startEvaluator(), account: 1, listen: true })
    const bob = await startPeer({ relay, gates: startEvaluator(), account: 2 })

    const { room: aliceRoom, invite } = await alice.createRoom({ name: 'members', access: { type: 'gated', rule } })
    const aliceInbox = inbox(aliceRoom)
    await aliceRoom.waitForPeers({ signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS) })
    const bobRoom = await join(bob, invite)
    const bobInbox = inbox(bobRoom)
    await untilAllSeeEachOther([aliceRoom, bobRoom], [alice.address, bob.address])
    await bobRoom.send('hello from bob')
    await aliceRoom.send('hello from alice')
    expect((await delivered(aliceInbox, 'hello from bob')).sender).toBe(bob.address)
    expect((await delivered(bobInbox, 'hello from alice')).sender).toBe(alice.address)

    // An honest client refuses to join, saying why.
    const carol = await startPeer({ relay, gates: startEvaluator(), account: 3 })
    await expect(carol.joinRoom(invite)).rejects.toMatchObject({
      name: 'NotEligibleError',
      message: `this room requires 1 × SecureChat Member (${chain.addresses.memberNft}) on chain ${chain.chainId}; ${carol.address} holds 0`,
    })

    // A modified client joins anyway, also dialling alice directly: both paths must drop it.
    const intruder = await startPeer({ relay, gates: new LyingEvaluator(), account: 3 })
    await intruder.libp2p.dial(alice.libp2p.getMultiaddrs()[0]!)
    const aliceSaw = validatorSpy(alice, aliceRoom, intruder.peerId.toString())
    const intruderRoom = await join(intruder, invite)
    const intruderInbox = inbox(intruderRoom)
    const ciphertexts: Uint8Array[] = []
    intruder.libp2p.services.pubsub.addEventListener('message', (event) => {
      if (event.detail.topic === aliceRoom.topic) ciphertexts.push(event.detail.data)
    })
    await intruderRoom.send('let me in')
    await aliceRoom.send('members only')
    await bobRoom.send('after the intruder')
    await delivered(aliceInbox, 'after the intruder')
    await delivered(bobInbox, 'members only')
    await waitFor(
      () => aliceSaw.ignore > 0 && relay.stats().gateDropped > 0,
      () => `alice ${JSON.stringify(aliceSaw)}, relay ${JSON.stringify(relay.stats())}`,
    )
    expect(aliceSaw.accept).toBe(0)
    expect(aliceSaw.reject).toBe(0)
    expect([...aliceInbox, ...bobInbox].map((m) => m.text)).not.toContain('let me in')
    expect(aliceRoom.members().map((m) => m.address)).not.toContain(intruder.address)
    // The intruder receives the room's records (alice forwards to it) but no key: ciphertext only.
    await waitFor(
      () => ciphertexts.length > 0,
      () => 'no record reached the intruder',
    )
    expect(intruderInbox).toEqual([])
    for (const bytes of ciphertexts) expect(Buffer.from(bytes).includes('members only')).toBe(false)
  })

  it('behavior: a member who transfers the NFT away is dropped within the block that moved it, and keys rotate away from it', async () => {
    const relayGates = startEvaluator()
    const relay = await startRelay(relayGates)
    const aliceGates = startEvaluator()
    const alice = await startPeer({ relay, gates: aliceGates, account: 1 })
    const dave = await startPeer({ relay, gates: startEvaluator(), account: 4 })
    const id = await mintNft(dave.address)
    const bob = await startPeer({ relay, gates: startEvaluator(), account: 2 })

    const { room: aliceRoom, invite } = await alice.createRoom({ name: 'members', access: { type: 'gated', rule } })
    const aliceInbox = inbox(aliceRoom)
    await aliceRoom.waitForPeers({ signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS) })
    const daveRoom = await join(dave, invite)
    const bobRoom = await join(bob, invite)
    await untilAllSeeEachOther([aliceRoom, daveRoom, bobRoom], [alice.address, dave.address, bob.address])
    await daveRoom.send('while holding')
    await delivered(aliceInbox, 'while holding')
    // Dave's node keeps every record it is sent, to check later what he could read.
    const daveInbox = inbox(daveRoom)
    const daveWire: Array<{ from: string; record: Record<string, unknown> }> = []
    dave.libp2p.services.pubsub.addEventListener('message', (event) => {
      if (event.detail.type !== 'signed' || event.detail.topic !== roomTopic(aliceRoom.id)) return
      daveWire.push({
        from: event.detail.from.toString(),
        record: JSON.parse(new TextDecoder().decode(event.detail.data)) as Record<string, unknown>,
      })
    })
    await aliceRoom.send('before the sale')
    await delivered(daveInbox, 'before the sale')

    const aliceNoticed = untilChange(aliceGates, 'member:ineligible', dave.address)
    const relayNoticed = untilChange(relayGates, 'member:ineligible', dave.address)
    const rooms = [aliceRoom, bobRoom, daveRoom]
    const told = rooms.map((room, i) => removalsTold(room, [alice, bob, dave][i]!.peerId.toString()))
    const block = await transferNft(4, chain.accounts[5]!.address, id)
    const [atAlice, atRelay] = await Promise.all([aliceNoticed, relayNoticed])
    // Bounded: noticed in the very block of the transfer (no later block was needed).
    expect(atAlice.result.blockNumber).toBe(block)
    expect(atRelay.result.blockNumber).toBe(block)
    // Each room says so once, of Dave only (his own too: its evaluator watches his wallet), once it dropped him.
    await waitFor(
      () => told.every((heard) => heard.length > 0),
      () => `told ${JSON.stringify(told)}`,
    )

    const droppedBefore = relay.stats().gateDropped
    await daveRoom.send('after selling')
    await bobRoom.send('still a member')
    await delivered(aliceInbox, 'still a member')
    await waitFor(
      () => relay.stats().gateDropped > droppedBefore,
      () => JSON.stringify(relay.stats()),
    )
    expect(aliceInbox.map((m) => m.text)).not.toContain('after selling')

    // Alice rotated: her next message is under a new epoch whose key was sealed to Bob, not Dave.
    const bobInbox = inbox(bobRoom)
    await aliceRoom.send('after the sale')
    await delivered(bobInbox, 'after the sale')
    const alicePeer = alice.peerId.toString()
    await waitFor(
      () => daveWire.filter((w) => w.from === alicePeer && w.record.type === 'message').length >= 2,
      () => `Dave's node saw ${daveWire.length} records`,
    )
    const aliceMessages = daveWire.filter((w) => w.from === alicePeer && w.record.type === 'message')
    const epochOf = (w: { record: Record<string, unknown> }): number =>
      Buffer.from((w.record.payload as { ct: string }).ct, 'base64url').readUInt32BE(1)
    const epochAfter = epochOf(aliceMessages.at(-1)!)
    expect(epochAfter).not.toBe(epochOf(aliceMessages[0]!))
    const newKeys = daveWire.filter(
      (w) => w.from === alicePeer && w.record.type === 'keys' && w.record.epoch === epochAfter,
    )
    for (const { record } of newKeys) {
      const to = record.to as Array<{ peer: string }>
      expect(to.some((entry) => entry.peer === dave.peerId.toString())).toBe(false)
    }
    expect(daveInbox.map((m) => m.text)).not.toContain('after the sale')
    for (const heard of told) expect(heard).toEqual([{ address: dave.address, reason: 'gate', stillListed: false }])
  })

  it('behavior: transfer-after-check — one NFT moved between two wallets never admits both', async () => {
    const relay = await startRelay(startEvaluator())
    const alice = await startPeer({ relay, gates: startEvaluator(), account: 1 })
    const erin = await startPeer({ relay, gates: startEvaluator(), account: 6 })
    const frank = await startPeer({ relay, gates: startEvaluator(), account: 7 })
    const id = await mintNft(erin.address)

    const { room: aliceRoom, invite } = await alice.createRoom({ name: 'members', access: { type: 'gated', rule } })
    const aliceInbox = inbox(aliceRoom)
    await aliceRoom.waitForPeers({ signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS) })
    const erinRoom = await join(erin, invite)
    await untilAllSeeEachOther([aliceRoom, erinRoom], [alice.address, erin.address])
    await erinRoom.send('erin holds it')
    await delivered(aliceInbox, 'erin holds it')

    await transferNft(6, frank.address, id)
    const frankRoom = await join(frank, invite)
    await frankRoom.send('frank holds it now')
    await delivered(aliceInbox, 'frank holds it now')
    const droppedBefore = relay.stats().gateDropped
    await erinRoom.send('erin still here?')
    await frankRoom.send('frank again')
    await delivered(aliceInbox, 'frank again')
    await waitFor(
      () => relay.stats().gateDropped > droppedBefore,
      () => JSON.stringify(relay.stats()),
    )
    expect(aliceInbox.map((m) => m.text)).not.toContain('erin still here?')
  })

  it('behavior: a contract wallet (ERC-1271) that holds the NFT chats in the gated room', async () => {
    const factory = new ContractFactory(smartWalletAbi, smartWalletBytecode, chain.accounts[0]!)
    const deployed = await factory.deploy(chain.accounts[8]!.address)
    await deployed.waitForDeployment()
    const smartWallet = await deployed.getAddress()
    await mintNft(smartWallet)

    const relay = await startRelay(startEvaluator())
    const alice = await startPeer({ relay, gates: startEvaluator(), account: 1 })
    const dao = await startPeer({ relay, gates: startEvaluator(), account: { contract: smartWallet, owner: 8 } })
    expect(dao.address).toBe(smartWallet)

    const { room: aliceRoom, invite } = await alice.createRoom({ name: 'members', access: { type: 'gated', rule } })
    const aliceInbox = inbox(aliceRoom)
    await aliceRoom.waitForPeers({ signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS) })
    const daoRoom = await join(dao, invite)
    await untilAllSeeEachOther([aliceRoom, daoRoom], [alice.address, dao.address])
    await daoRoom.send('signed by a contract wallet')
    expect((await delivered(aliceInbox, 'signed by a contract wallet')).sender).toBe(smartWallet)
  })
})

describe('token-gated rooms when the RPC endpoint fails', () => {
  let proxy: RpcProxy

  beforeAll(async () => {
    proxy = await startRpcProxy(chain.rpcUrl)
  })

  afterAll(async () => {
    await proxy?.close()
  })

  it('behavior: fail closed — members keep chatting, nobody new is admitted, the error is reported', async () => {
    // One clock for every evaluator behind the proxy, so verdicts can be aged past their lifetime.
    let skewMs = 0
    const now = (): number => Date.now() + skewMs
    const behindProxy = (): GateEvaluator => startEvaluator({ url: proxy.url, now, cacheTtlMs: 5_000 })
    const relayGates = behindProxy()
    const aliceGates = behindProxy()
    const relay = await startRelay(relayGates)
    const alice = await startPeer({ relay, gates: aliceGates, account: 1 })
    const bob = await startPeer({ relay, gates: behindProxy(), account: 2 })
    const newcomer = await startPeer({ relay, gates: startEvaluator(), account: 9 })
    await mintNft(newcomer.address)

    const { room: aliceRoom, invite } = await alice.createRoom({ name: 'members', access: { type: 'gated', rule } })
    const aliceInbox = inbox(aliceRoom)
    await aliceRoom.waitForPeers({ signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS) })
    const bobRoom = await join(bob, invite)
    await untilAllSeeEachOther([aliceRoom, bobRoom], [alice.address, bob.address])
    await bobRoom.send('before the outage')
    await delivered(aliceInbox, 'before the outage')

    const reported = [relayGates, aliceGates].map(
      (gates) => new Promise((resolve) => gates.addEventListener('gate:unavailable', resolve, { once: true })),
    )
    proxy.cut()
    skewMs += 5_001
    await Promise.all(reported)
    expect(relayGates.unavailable?.hint).toMatch(/--rpc/)

    // A member verified before the outage keeps chatting though its verdict is now stale.
    await bobRoom.send('during the outage')
    await delivered(aliceInbox, 'during the outage')

    // A newcomer that holds the NFT (its own chain view says so) is not admitted by those who cannot check.
    const newcomerRoom = await join(newcomer, invite)
    await newcomerRoom.send('newcomer during the outage')
    await bobRoom.send('bob again')
    await delivered(aliceInbox, 'bob again')
    await waitFor(
      () => relay.stats().gateUnavailable > 0,
      () => JSON.stringify(relay.stats()),
    )
    expect(aliceInbox.map((m) => m.text)).not.toContain('newcomer during the outage')

    // A client that cannot reach the chain says so when it tries to join.
    const stranded = await startPeer({ relay, gates: behindProxy(), account: 2 })
    const err = await stranded.joinRoom(invite).catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'GateUnavailableError' })
    expect((err as Error).message).toMatch(/^this room requires .*; it cannot be checked now: cannot read chain/)
    expect((err as { hint?: string }).hint).toMatch(/--rpc/)
  })
})
