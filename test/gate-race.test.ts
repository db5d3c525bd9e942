/**
 * The gate race (docs/token-gates.md, What is promised after a transfer): a record that reaches a relay or a
 * member after its RPC endpoint serves block N, the block of the transfer that took the sender's token, is
 * refused by the relay (counted in `/metrics`) and not shown by the member; a record that reached them before
 * block N is shown, even while the transfer waits in the mempool. Hardhat with the real contracts, a real relay
 * component with its HTTP server, real clients over loopback libp2p.
 *
 * No evaluator here polls during the test (their poll interval is an hour): only the records themselves make
 * the relay and the members read the chain, so a record judged on a cached verdict would be forwarded and
 * shown, and the test would fail. The seller is a modified client that keeps sending after the sale (an honest
 * one would too: nothing stops it); it is also dialled straight to one member, so that member's own check is
 * tested, not only the relay's.
 */

import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Message } from '@libp2p/gossipsub'
import { createClient, type SecureChatClient } from '@securechat/sdk/client'
import { memberNftAbi } from '@securechat/sdk/contracts'
import type { EligibilityChange, GateEvaluator, TokenRule } from '@securechat/sdk/gates'
import { walletSigner } from '@securechat/sdk/identity'
import type { Room } from '@securechat/sdk/rooms'
import type { RoomMessage } from '@securechat/sdk/types'
import { Contract, getAddress, type Wallet } from 'ethers'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { DEFAULT_CLI_DOMAIN, DEVNET_CHAIN_ID } from '../node/src/constants.ts'
import { createRelay, type Relay } from '../node/src/relay/create-relay.ts'
import { httpServer } from '../node/src/relay/http/service.ts'
import { startGateEvaluator, startTestChain, type TestChain } from './helpers/chain.ts'
import { tempDir } from './helpers/cli.ts'
import { LyingEvaluator } from './helpers/lying-evaluator.ts'
import { metrics } from './helpers/relay-metrics.ts'

const DELIVERY_TIMEOUT_MS = 15_000
const PRESENCE_INTERVAL_MS = 1_000
/** Longer than the test: no evaluator learns of a block from its own poll. */
const NO_POLL_MS = 3_600_000

let chain: TestChain
let rule: TokenRule
const cleanups: Array<() => Promise<void> | void> = []

beforeAll(async () => {
  chain = await startTestChain({ mintTo: [1, 2] })
  rule = { type: 'erc721', chainId: chain.chainId, contract: chain.addresses.memberNft, minBalance: '1' }
})

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

afterAll(async () => {
  await chain?.stop()
})

function startEvaluator(): GateEvaluator {
  return startGateEvaluator(chain, { pollIntervalMs: NO_POLL_MS }, cleanups)
}

async function startRelay(gates: GateEvaluator): Promise<Relay> {
  const relay = createRelay({
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    provider: chain.provider,
    gates,
    services: { http: httpServer({ port: 0, webRoot: await tempDir('gate-race-web-') }) },
  })
  await relay.start()
  cleanups.push(() => relay.stop())
  return relay
}

async function startPeer(
  relay: Relay,
  gates: GateEvaluator,
  account: number,
  listen = false,
): Promise<SecureChatClient> {
  const client = createClient({
    domain: DEFAULT_CLI_DOMAIN,
    chainId: DEVNET_CHAIN_ID,
    signer: walletSigner({ type: 'eoa', signer: chain.accounts[account]! as Wallet }),
    bootstrap: [relay.node.multiaddrs[0]!],
    provider: chain.provider,
    gates,
    presenceIntervalMs: PRESENCE_INTERVAL_MS,
    ...(listen ? { listen: ['/ip4/127.0.0.1/tcp/0'] } : {}),
  })
  await client.start()
  cleanups.push(() => client.stop())
  return client
}

async function waitFor(condition: () => boolean, state: () => string): Promise<void> {
  const deadline = Date.now() + DELIVERY_TIMEOUT_MS
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met in ${DELIVERY_TIMEOUT_MS} ms: ${state()}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

function inbox(room: Room): RoomMessage[] {
  const received: RoomMessage[] = []
  room.addEventListener('message:received', (event) => received.push(event.detail))
  return received
}

async function delivered(received: RoomMessage[], text: string): Promise<void> {
  await waitFor(
    () => received.some((m) => m.text === text),
    () => `waiting for ${JSON.stringify(text)}; got ${JSON.stringify(received.map((m) => m.text))}`,
  )
}

/** The verdicts a node's validator gave `peerId`'s chat messages (not its presence or keys), in order. */
function messageVerdicts(libp2p: SecureChatClient['libp2p'], topic: string, peerId: string): string[] {
  const verdicts: string[] = []
  const { topicValidators } = libp2p.services.pubsub
  const inner = topicValidators.get(topic)!
  topicValidators.set(topic, (source, message: Message) => {
    const isMessage =
      message.type === 'signed' &&
      message.from.toString() === peerId &&
      (JSON.parse(new TextDecoder().decode(message.data)) as { type?: string }).type === 'message'
    const note = <T extends string>(result: T): T => {
      if (isMessage) verdicts.push(result)
      return result
    }
    const result = inner(source, message)
    return result instanceof Promise ? result.then(note) : note(result)
  })
  return verdicts
}

function untilIneligible(evaluator: GateEvaluator, address: string): Promise<EligibilityChange> {
  return new Promise((resolve) => {
    const listener = (event: CustomEvent<EligibilityChange>): void => {
      if (event.detail.address !== getAddress(address)) return
      evaluator.removeEventListener('member:ineligible', listener)
      resolve(event.detail)
    }
    evaluator.addEventListener('member:ineligible', listener)
  })
}

describe('the gate race', () => {
  it('behavior: records that arrive once the endpoint serves the transfer’s block are refused by the relay and hidden by members; earlier ones are shown', async () => {
    const nft = new Contract(chain.addresses.memberNft, memberNftAbi, chain.accounts[0]!)
    const id = (await nft.getFunction('nextTokenId')()) as bigint
    await (await nft.getFunction('mint')(chain.accounts[4]!.address)).wait()

    const relayGates = startEvaluator()
    const relay = await startRelay(relayGates)
    const aliceGates = startEvaluator()
    const alice = await startPeer(relay, aliceGates, 1, true)
    const bob = await startPeer(relay, startEvaluator(), 2)
    const dave = await startPeer(relay, new LyingEvaluator(), 4)
    await dave.libp2p.dial(alice.libp2p.getMultiaddrs()[0]!)

    const { room: aliceRoom, invite } = await alice.createRoom({ name: 'members', access: { type: 'gated', rule } })
    const aliceInbox = inbox(aliceRoom)
    await aliceRoom.waitForPeers({ signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS) })
    const bobRoom = await bob.joinRoom(invite)
    const bobInbox = inbox(bobRoom)
    const daveRoom = await dave.joinRoom(invite)
    await waitFor(
      () =>
        [aliceRoom, bobRoom].every((room) =>
          [alice, bob, dave].every((c) => room.members().some((m) => m.address === c.address)),
        ),
      () => `alice sees ${aliceRoom.members().length}, bob sees ${bobRoom.members().length}`,
    )
    const relaySaw = messageVerdicts(relay.node.libp2p, aliceRoom.topic, dave.peerId.toString())
    const aliceSaw = messageVerdicts(alice.libp2p, aliceRoom.topic, dave.peerId.toString())

    await daveRoom.send('while holding')
    await delivered(aliceInbox, 'while holding')
    await delivered(bobInbox, 'while holding')

    // The sale waits in the mempool: block N is not served yet, so what arrives now is judged at N - 1.
    await chain.provider.send('evm_setAutomine', [false])
    cleanups.push(() => chain.provider.send('evm_setAutomine', [true]))
    const sale = await nft.connect(chain.accounts[4]!).getFunction('transferFrom')(
      chain.accounts[4]!.address,
      chain.accounts[5]!.address,
      id,
    )
    const pendingHead = await chain.provider.getBlockNumber()
    await daveRoom.send('while the sale is pending')
    await delivered(aliceInbox, 'while the sale is pending')
    await delivered(bobInbox, 'while the sale is pending')
    // Every chat record of dave's the relay judged so far it forwarded (a re-sent copy would count too).
    expect(relaySaw.length).toBeGreaterThanOrEqual(2)
    expect(new Set(relaySaw)).toEqual(new Set(['accept']))
    const relayBefore = relaySaw.length
    const aliceBefore = aliceSaw.length

    // Block N is mined; the very next record is sent at once, before anything could poll.
    const relayNoticed = untilIneligible(relayGates, dave.address)
    const aliceNoticed = untilIneligible(aliceGates, dave.address)
    await chain.provider.send('evm_mine', [])
    const block = (await sale.wait()).blockNumber as number
    expect(block).toBe(pendingHead + 1)
    const droppedBefore = (await metrics(relay.services.http!.url)).get('securechat_relay_records_gate_dropped_total')!
    await daveRoom.send('right after the block')

    // The relay refuses it and alice, who got it straight from dave, does not show it: each judged it at block N.
    await waitFor(
      () => relaySaw.length > relayBefore && aliceSaw.length > aliceBefore,
      () => `relay ${JSON.stringify(relaySaw)}, alice ${JSON.stringify(aliceSaw)}`,
    )
    expect(relaySaw.slice(relayBefore)).toEqual(relaySaw.slice(relayBefore).map(() => 'ignore'))
    expect(aliceSaw.slice(aliceBefore)).toEqual(aliceSaw.slice(aliceBefore).map(() => 'ignore'))
    expect((await relayNoticed).result.blockNumber).toBe(block)
    expect((await aliceNoticed).result.blockNumber).toBe(block)
    const after = await metrics(relay.services.http!.url)
    expect(after.get('securechat_relay_records_gate_dropped_total')).toBeGreaterThan(droppedBefore)
    expect(after.get('securechat_relay_gate_head_block')).toBeGreaterThanOrEqual(block)

    // A member's later message arrives everywhere; dave's never did.
    await bobRoom.send('bob after the sale')
    await delivered(aliceInbox, 'bob after the sale')
    const relayNow = relaySaw.length
    await daveRoom.send('still talking')
    await aliceRoom.send('alice after the sale')
    await delivered(bobInbox, 'alice after the sale')
    await waitFor(
      () => relaySaw.length > relayNow,
      () => `relay ${JSON.stringify(relaySaw)}`,
    )
    expect(relaySaw.slice(relayBefore)).toEqual(relaySaw.slice(relayBefore).map(() => 'ignore'))
    for (const received of [aliceInbox, bobInbox]) {
      const texts = received.map((m) => m.text)
      expect(texts).toContain('while the sale is pending')
      expect(texts).not.toContain('right after the block')
      expect(texts).not.toContain('still talking')
    }
  })
})
