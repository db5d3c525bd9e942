/**
 * The owner changes a room's token gate (docs/architecture.md, Moderation) on Hardhat with the real demo contracts: a
 * `securechat relay` process with its store reading the chain, and sdk peers each reading it through their own gate
 * evaluator. A room gated on the MemberNFT (A) moves to the DemoToken (B): a member holding only A is dropped by the
 * relay and the peers (each saying `member:removed` once, of him only) and reads nothing sent after; a newcomer
 * holding only B joins (its join catches up the log from the relay's store); a gate event from a moderator or a
 * member is refused by the relay and the peers.
 */

import { createClient, type SecureChatClient } from '@securechat/sdk/client'
import { demoTokenAbi, memberNftAbi } from '@securechat/sdk/contracts'
import { NotEligibleError } from '@securechat/sdk/errors'
import type { TokenRule } from '@securechat/sdk/gates'
import { walletSigner } from '@securechat/sdk/identity'
import { createModerationEvent, encodeRecord, roomTopic } from '@securechat/sdk/rooms'
import { Contract, type Wallet } from 'ethers'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEFAULT_CLI_DOMAIN } from '../node/src/constants.ts'
import { startGateEvaluator, startTestChain, type TestChain } from './helpers/chain.ts'
import { type RelayProcess, startRelayProcess } from './helpers/cli.ts'
import { removalsTold } from './helpers/member-events.ts'
import { Inbox, until } from './helpers/room-inbox.ts'

const TIMEOUT_MS = 15_000

let chain: TestChain
let relay: RelayProcess
const cleanups: Array<() => Promise<void> | void> = []

beforeAll(async () => {
  chain = await startTestChain()
  relay = await startRelayProcess({
    args: ['--http', '0', '--rpc', chain.rpcUrl, '--chain-id', String(chain.chainId)],
  })
}, 90_000)

afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  relay?.kill('SIGKILL')
  await chain?.stop()
})

async function startPeer(account: number): Promise<SecureChatClient> {
  const client = createClient({
    domain: DEFAULT_CLI_DOMAIN,
    chainId: chain.chainId,
    signer: walletSigner({ type: 'eoa', signer: chain.accounts[account]! as Wallet }),
    bootstrap: [relay.multiaddrs[0]!],
    provider: chain.provider,
    gates: startGateEvaluator(chain, { pollIntervalMs: 100, rpcTimeoutMs: 2_000 }, cleanups),
    presenceIntervalMs: 1_000,
  })
  await client.start()
  cleanups.push(() => client.stop())
  return client
}

async function relayMetric(name: string): Promise<number> {
  const metrics = await (await fetch(new URL('/metrics', relay.web))).text()
  return Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(metrics)?.[1] ?? Number.NaN)
}

describe('the owner changes the token gate', () => {
  it('behavior: a member holding only the old token is dropped and reads nothing after; a holder of the new one joins; a moderator or member cannot change it', async () => {
    const deployer = chain.accounts[0]!
    const nft = new Contract(chain.addresses.memberNft, memberNftAbi, deployer)
    const token = new Contract(chain.addresses.demoToken, demoTokenAbi, deployer)
    const [alice, bob, dave, erin] = [1, 2, 3, 4].map((i) => chain.accounts[i]!.address)
    // A: Alice (owner), Bob and Dave; B: Alice, Bob and Erin.
    for (const to of [alice, bob, dave]) await (await nft.getFunction('mint')(to)).wait()
    for (const to of [alice, bob, erin]) await (await token.getFunction('mint')(to, 10n)).wait()
    const ruleA: TokenRule = {
      type: 'erc721',
      chainId: chain.chainId,
      contract: chain.addresses.memberNft,
      minBalance: '1',
    }
    const ruleB: TokenRule = {
      type: 'erc20',
      chainId: chain.chainId,
      contract: chain.addresses.demoToken,
      minBalance: '1',
    }

    const aliceClient = await startPeer(1)
    const bobClient = await startPeer(2)
    const daveClient = await startPeer(3)
    const { room: aliceRoom, invite } = await aliceClient.createRoom({
      name: 'gate change',
      access: { type: 'gated', rule: ruleA },
    })
    const bobRoom = await bobClient.joinRoom(invite)
    const daveRoom = await daveClient.joinRoom(invite)
    const rooms = [aliceRoom, bobRoom, daveRoom]
    await until(
      rooms.map((room) => [room, 'member:joined']),
      () => rooms.every((room) => room.members().length === 3),
      () => rooms.map((room) => room.members().length).join(','),
      TIMEOUT_MS,
    )
    // An erin of B alone is refused while the room asks for A, after its join looked for a newer gate in the log.
    const erinClient = await startPeer(4)
    await expect(erinClient.joinRoom(invite)).rejects.toBeInstanceOf(NotEligibleError)

    const aliceInbox = new Inbox(aliceRoom)
    const bobInbox = new Inbox(bobRoom)
    const daveInbox = new Inbox(daveRoom)
    await daveRoom.send('holding A')
    await bobInbox.waitFor(['holding A'], 'bob', TIMEOUT_MS)
    await aliceRoom.moderate('mod-add', bob, {
      signer: walletSigner({ type: 'eoa', signer: chain.accounts[1] as Wallet }),
    })
    await until(
      [[bobRoom, 'moderation:changed']],
      () => bobRoom.moderation.roleOf(bob) === 'moderator',
      () => 'bob is no moderator yet',
      TIMEOUT_MS,
    )

    // Forged gate events, published raw (a node does not validate its own): a moderator's and a member's.
    const rejectedBefore = await relayMetric('securechat_relay_records_rejected_total')
    for (const [client, account] of [
      [bobClient, 2],
      [daveClient, 3],
    ] as const) {
      const event = await createModerationEvent({
        signer: walletSigner({ type: 'eoa', signer: chain.accounts[account] as Wallet }),
        room: aliceRoom.id,
        prev: aliceRoom.moderation.head,
        action: 'gate',
        target: chain.accounts[account]!.address,
        rule: ruleB,
      })
      expect(aliceRoom.moderation.add(event)).toMatchObject({
        status: 'refused',
        reason: expect.stringMatching(/gate needs the owner/),
      })
      await client.libp2p.services.pubsub.publish(roomTopic(aliceRoom.id), encodeRecord(event))
    }
    await expect
      .poll(() => relayMetric('securechat_relay_records_rejected_total'), { timeout: TIMEOUT_MS })
      .toBeGreaterThanOrEqual(rejectedBefore + 2)
    expect(aliceRoom.gateRule).toEqual(ruleA)

    // The owner's change: B from now on.
    const droppedBefore = await relayMetric('securechat_relay_records_gate_dropped_total')
    const bobSaw = new Promise<void>((resolve) =>
      bobRoom.addEventListener('moderation:changed', ({ detail }) => {
        if (detail.event.action === 'gate') resolve()
      }),
    )
    const daveToldOut = new Promise<boolean>((resolve) =>
      daveRoom.addEventListener('access:changed', ({ detail }) => resolve(detail.eligible)),
    )
    // Told once, of Dave only, after each room dropped him (the room's own chain read of each member decides).
    const told = [
      removalsTold(aliceRoom, aliceClient.peerId.toString()),
      removalsTold(bobRoom, bobClient.peerId.toString()),
      removalsTold(daveRoom, daveClient.peerId.toString()),
    ]
    const daveGone = new Promise<void>((resolve) =>
      bobRoom.addEventListener('member:left', ({ detail }) => {
        if (detail.address === dave) resolve()
      }),
    )
    await aliceRoom.moderate('gate', undefined, {
      signer: walletSigner({ type: 'eoa', signer: chain.accounts[1] as Wallet }),
      rule: ruleB,
    })
    expect(aliceRoom.gateRule).toEqual(ruleB)
    await bobSaw
    expect(bobRoom.gateRule).toEqual(ruleB)
    expect(await daveToldOut).toBe(false)
    await daveGone
    for (const [i, room] of rooms.entries()) {
      await until(
        [[room, 'member:removed']],
        () => told[i]!.length > 0,
        () => `room ${i} never said member:removed`,
        TIMEOUT_MS,
      )
    }

    // Dave's records go nowhere: the relay drops them, and the peers would.
    await daveRoom.send('after the change')
    await bobRoom.send('still here')
    await aliceInbox.waitFor(['still here'], 'alice', TIMEOUT_MS)
    await expect
      .poll(() => relayMetric('securechat_relay_records_gate_dropped_total'), { timeout: TIMEOUT_MS })
      .toBeGreaterThan(droppedBefore)
    expect(aliceInbox.texts()).not.toContain('after the change')
    expect(bobInbox.texts()).not.toContain('after the change')

    // Alice's key rotated without Dave: his node gets her next message (gossip still reaches it) and cannot read it.
    let daveGotCiphertext = false
    daveClient.libp2p.services.pubsub.addEventListener('message', (event) => {
      if (event.detail.type !== 'signed' || !event.detail.from.equals(aliceClient.peerId)) return
      const record = JSON.parse(new TextDecoder().decode(event.detail.data)) as { type: string }
      if (record.type === 'message') daveGotCiphertext = true
    })
    await aliceRoom.send('after the gate change')
    await bobInbox.waitFor(['after the gate change'], 'bob', TIMEOUT_MS)
    await until(
      [[daveClient.libp2p.services.pubsub, 'message']],
      () => daveGotCiphertext,
      () => "Dave's node saw nothing from Alice",
      TIMEOUT_MS,
    )
    expect(daveInbox.texts()).not.toContain('after the gate change')

    // Erin, holding only B, joins now: the log from the relay's store tells her join the room's current gate.
    const erinRoom = await erinClient.joinRoom(invite)
    expect(erinRoom.gateRule).toEqual(ruleB)
    const erinInbox = new Inbox(erinRoom)
    await until(
      [
        [aliceRoom, 'member:joined'],
        [erinRoom, 'member:joined'],
      ],
      () => aliceRoom.members().some((m) => m.address === erin) && erinRoom.members().some((m) => m.address === alice),
      () => 'erin and alice do not see each other',
      TIMEOUT_MS,
    )
    await erinRoom.send('hello from B')
    await aliceInbox.waitFor(['hello from B'], 'alice', TIMEOUT_MS)
    await aliceRoom.send('welcome, B holder')
    await erinInbox.waitFor(['welcome, B holder'], 'erin', TIMEOUT_MS)
    // Nobody else was named, Dave only once, and Erin's arrival named nobody.
    for (const heard of told) expect(heard).toEqual([{ address: dave, reason: 'gate', stillListed: false }])
    // The forged events are in no log.
    for (const room of [aliceRoom, bobRoom, erinRoom]) {
      expect(room.moderation.entries().map((entry) => entry.event.author)).not.toContain(dave)
      expect(room.moderation.entries().filter((entry) => entry.event.action === 'gate')).toHaveLength(1)
    }
  }, 120_000)
})
