/**
 * Token-tiered record rates (issue 13, item 2) on Hardhat with the real MemberNFT: a gated room's manifest gives
 * holders of 5 tokens four times the rate of the relay's own; a relay in this process, reading the chain through its
 * gate evaluator, holds a holder of 1 token to its own rate and burst and a holder of 5 to the tier's. Both flood the
 * room with one valid message re-published as fast as they can; the relay's accepted records are counted per sender.
 * And the sdk's side: a device paces itself by its own tier, so the relay drops nothing an honest sender sends.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createClient, type SecureChatClient } from '@securechat/sdk/client'
import { memberNftAbi } from '@securechat/sdk/contracts'
import type { GateEvaluator, TokenRule } from '@securechat/sdk/gates'
import { walletSigner } from '@securechat/sdk/identity'
import type { Room } from '@securechat/sdk/rooms'
import { Contract, type Wallet } from 'ethers'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { DEFAULT_CLI_DOMAIN, DEVNET_CHAIN_ID } from '../node/src/constants.ts'
import { RelayNode } from '../node/src/relay/relay.ts'
import { startGateEvaluator, startTestChain, type TestChain } from './helpers/chain.ts'
import { floodTemplate } from './helpers/flood.ts'
import { when } from './helpers/member-events.ts'

/** The relay's own rate: 1 message a second, 10 at once (ten seconds' worth). */
const BASE = { recordsPerSecond: 1, recordBurst: 10 }
/** The room's tier for holders of 5 tokens: 4 a second, so 40 at once. */
const TIER = { minBalance: '5', recordsPerSecond: 4 }
/** Messages each holder floods: above both bursts. */
const FLOOD = 80

let chain: TestChain
const cleanups: Array<() => Promise<void> | void> = []

beforeAll(async () => {
  // Accounts 1 and 2 hold one MemberNFT each; account 2 gets four more below.
  chain = await startTestChain({ mintTo: [1, 2] })
  const nft = new Contract(chain.addresses.memberNft, memberNftAbi, chain.accounts[0]!)
  for (let i = 0; i < 4; i++) await (await nft.getFunction('mint')(chain.accounts[2]!.address)).wait()
})

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

afterAll(async () => {
  await chain?.stop()
})

function startEvaluator(): GateEvaluator {
  return startGateEvaluator(chain, { pollIntervalMs: 100, rpcTimeoutMs: 2_000 }, cleanups)
}

/** `byTier: false`: a device that floods at the sdk's default pace whatever its tier, as one without the sdk would. */
async function startPeer(relay: RelayNode, account: number, byTier = true): Promise<SecureChatClient> {
  const client = createClient({
    publishPacing: { byTier },
    domain: DEFAULT_CLI_DOMAIN,
    chainId: DEVNET_CHAIN_ID,
    signer: walletSigner({ type: 'eoa', signer: chain.accounts[account]! as Wallet }),
    bootstrap: [relay.multiaddrs[0]!],
    provider: chain.provider,
    gates: startEvaluator(),
  })
  await client.start()
  cleanups.push(() => client.stop())
  return client
}

describe('token-tiered record rates in a gated room', () => {
  it('behavior: a holder of 1 token is held to the relay’s rate, a holder of 5 to the room’s higher tier', async () => {
    const relay = new RelayNode({
      privateKey: await generateKeyPair('Ed25519'),
      listen: ['/ip4/127.0.0.1/tcp/0'],
      provider: chain.provider,
      gates: startEvaluator(),
      // No ban while the test floods: it counts what passes.
      recordRates: { ...BASE, floodBanAfterMs: 600_000 },
    })
    await relay.start()
    cleanups.push(() => relay.stop())
    const rule: TokenRule = {
      type: 'erc721',
      chainId: chain.chainId,
      contract: chain.addresses.memberNft,
      minBalance: '1',
      rateTiers: [TIER],
    }
    const [one, five] = [await startPeer(relay, 1, false), await startPeer(relay, 2, false)]
    const { room, invite } = await one.createRoom({ name: 'tiered', access: { type: 'gated', rule } })
    const fiveRoom = await five.joinRoom(invite)
    await Promise.all([room, fiveRoom].map((r) => r.waitForPeers({ signal: AbortSignal.timeout(20_000) })))

    const accepted = new Map<string, number>()
    relay.addEventListener('record:accepted', ({ detail }) => {
      if (detail.record.type === 'message')
        accepted.set(detail.record.from, (accepted.get(detail.record.from) ?? 0) + 1)
    })
    const flood = async (client: SecureChatClient, r: Room): Promise<{ ms: number }> => {
      // The template is one message of the budget already: sent, then counted once it is in.
      const { record, publish } = await floodTemplate(r, client.libp2p, 'the tier template')
      const startedAt = performance.now()
      for (let i = 0; i < FLOOD; i++) {
        await publish(r.topic, record)
        // A macrotask between records: gossipsub writes without backpressure, and a stream whose buffer overflows
        // is dropped with what it held.
        await new Promise((resolve) => setImmediate(resolve))
      }
      return { ms: performance.now() - startedAt }
    }
    const [oneFlood, fiveFlood] = await Promise.all([flood(one, room), flood(five, fiveRoom)])
    const ids = [one.peerId.toString(), five.peerId.toString()]
    // Every record judged: accepted, or dropped and counted (nothing else is sent meanwhile but presence).
    const judged = (): number =>
      (accepted.get(ids[0]!) ?? 0) + (accepted.get(ids[1]!) ?? 0) + relay.stats().limits.refused['records-per-second']
    const deadline = Date.now() + 30_000
    while (judged() < 2 * (FLOOD + 1)) {
      if (Date.now() > deadline)
        throw new Error(`judged ${judged()} of ${2 * (FLOOD + 1)} records: ${JSON.stringify(relay.stats())}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    const [byOne, byFive] = ids.map((id) => accepted.get(id) ?? 0) as [number, number]
    console.log(
      `tiers: holder of 1 had ${byOne} of ${FLOOD + 1} accepted (${Math.round(oneFlood.ms)} ms), holder of 5 ${byFive} (${Math.round(fiveFlood.ms)} ms)`,
    )
    // What each bucket lets through: its burst, then its rate over the time the flood and its judging took.
    const slackSeconds = (Date.now() - deadline + 30_000) / 1000 + Math.max(oneFlood.ms, fiveFlood.ms) / 1000
    expect(byOne).toBeGreaterThanOrEqual(BASE.recordBurst)
    expect(byOne).toBeLessThanOrEqual(BASE.recordBurst + Math.ceil(slackSeconds * BASE.recordsPerSecond) + 1)
    const tierBurst = TIER.recordsPerSecond * (BASE.recordBurst / BASE.recordsPerSecond)
    expect(byFive).toBeGreaterThanOrEqual(Math.min(FLOOD + 1, tierBurst))
    expect(byFive).toBeLessThanOrEqual(tierBurst + Math.ceil(slackSeconds * TIER.recordsPerSecond) + 1)
    expect(byFive).toBeGreaterThan(byOne)
  }, 120_000)

  it('behavior: the sdk paces each device by its tier — the holder of 5 sends its messages at once, the holder of 1 is slowed, and the relay drops none', async () => {
    // Tiers only: the sdk paces a wallet that reaches none at its default, which this relay's own rate (1/s) is far
    // below. The relay's bursts are ten seconds of each tier (its own 10 at 1/s); the sdk's, five.
    const tiers = [
      { minBalance: '1', recordsPerSecond: 4 },
      { minBalance: '5', recordsPerSecond: 16 },
    ]
    const relay = new RelayNode({
      privateKey: await generateKeyPair('Ed25519'),
      listen: ['/ip4/127.0.0.1/tcp/0'],
      provider: chain.provider,
      gates: startEvaluator(),
      recordRates: { ...BASE, floodBanAfterMs: 600_000 },
    })
    await relay.start()
    cleanups.push(() => relay.stop())
    const rule: TokenRule = {
      type: 'erc721',
      chainId: chain.chainId,
      contract: chain.addresses.memberNft,
      minBalance: '1',
      rateTiers: tiers,
    }
    const [one, five] = [await startPeer(relay, 1), await startPeer(relay, 2)]
    const { room, invite } = await one.createRoom({ name: 'paced by tier', access: { type: 'gated', rule } })
    const fiveRoom = await five.joinRoom(invite)
    await Promise.all([room, fiveRoom].map((r) => r.waitForPeers({ signal: AbortSignal.timeout(20_000) })))
    // More than the relay lets the holder of 1 send at once (40): without its tier's pace, the rest is dropped.
    const SENT = 50
    const accepted = new Map<string, number>()
    relay.addEventListener('record:accepted', ({ detail }) => {
      if (detail.record.type === 'message')
        accepted.set(detail.record.from, (accepted.get(detail.record.from) ?? 0) + 1)
    })
    const received = (r: Room): Set<string> => {
      const texts = new Set<string>()
      r.addEventListener('message:received', ({ detail }) => texts.add(detail.text))
      return texts
    }
    const [byFive, byOne] = [received(room), received(fiveRoom)]
    const [idOne, idFive] = [one.peerId.toString(), five.peerId.toString()]
    const fiveDone = when(relay, 'record:accepted', () => (accepted.get(idFive) ?? 0) >= SENT).then(
      () => accepted.get(idOne) ?? 0,
    )
    const send = (r: Room, who: string) =>
      Promise.all(
        Array.from({ length: SENT }, (_, i) => r.send(`${who} ${i}`, { signal: AbortSignal.timeout(60_000) })),
      )
    await Promise.all([send(room, 'one'), send(fiveRoom, 'five')])
    // When the relay had all of the holder of 5's, the holder of 1 was still being paced.
    const oneAtFiveDone = await fiveDone
    expect(oneAtFiveDone).toBeLessThan(SENT)
    await when(room, 'message:received', () => byFive.size >= SENT)
    await when(fiveRoom, 'message:received', () => byOne.size >= SENT)
    expect(relay.stats().limits.refused['records-per-second']).toBe(0)
    expect(accepted.get(idOne)).toBe(SENT)
    expect(accepted.get(idFive)).toBe(SENT)
  }, 120_000)
})
