/**
 * The moderation log against the chain, on Hardhat's network with the real AuditLog and a real relay (anchoring, its
 * message store, its IPFS node): the relay anchors each event it keeps in its next batch; the log as every member holds
 * it verifies, event by event; a log with an event removed, its tail withheld, or its history re-signed in another
 * order does not; a moderator anchors the log from its own wallet through the sdk; and `securechat verify
 * --moderation` fetches the log from the relay's store and says the same, exiting 1 on a cut log.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import {
  anchorModerationLog,
  auditLogReader,
  createAuditIpfs,
  decodeLeafList,
  describeModerationAudit,
  type FoundBatch,
  fetchAnchoredBatches,
  isModerationLeaf,
  ModerationAuditFailure,
  verifyModerationLog,
} from '@securechat/sdk/audit'
import { createClient, createSecureChatLibp2p, type SecureChatClient } from '@securechat/sdk/client'
import { walletSigner } from '@securechat/sdk/identity'
import { createModerationEvent, type ModerationEvent, moderationEventHash, type Room } from '@securechat/sdk/rooms'
import { type HDNodeWallet, Wallet } from 'ethers'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { anchoring as anchoringService, type RelayAnchoring } from '../node/src/audit/relay-anchoring.ts'
import { DEFAULT_CLI_DOMAIN, DEVNET_CHAIN_ID } from '../node/src/constants.ts'
import { createRelay, type Relay } from '../node/src/relay/create-relay.ts'
import { messageStore } from '../node/src/relay/store-service.ts'
import { startTestChain, type TestChain } from './helpers/chain.ts'
import { runCli, tempDir } from './helpers/cli.ts'
import { until } from './helpers/room-inbox.ts'

const TIMEOUT_MS = 30_000

let chain: TestChain
let relay: Relay
let anchoring: RelayAnchoring
let ownerWallet: HDNodeWallet
let client: SecureChatClient
let room: Room
let invite: string
/** The events as the owner's room holds them, in the log's order, once the relay anchored them all. */
let events: ModerationEvent[]
const closers: Array<() => Promise<void>> = []

const member = (): string => Wallet.createRandom().address

beforeAll(async () => {
  chain = await startTestChain()
  closers.push(() => chain.stop())
  relay = createRelay({
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    dataDir: await tempDir('modanchor-relay-'),
    services: {
      store: messageStore(),
      anchoring: anchoringService({
        rpcUrl: chain.rpcUrl,
        chainId: chain.chainId,
        auditLog: chain.addresses.auditLog,
        wallet: new Wallet(chain.accounts[5]!.privateKey),
        // Batches are cut by the test (flush), never by the clock.
        intervalMs: 3_600_000,
        receiptPollIntervalMs: 50,
      }),
    },
  })
  await relay.start()
  closers.push(() => relay.stop())
  anchoring = relay.services.anchoring as RelayAnchoring
  ownerWallet = Wallet.createRandom()
  client = createClient({
    domain: DEFAULT_CLI_DOMAIN,
    chainId: DEVNET_CHAIN_ID,
    signer: walletSigner({ type: 'eoa', signer: ownerWallet }),
    bootstrap: [relay.multiaddrs[0]!],
    presenceIntervalMs: 1_000,
  })
  await client.start()
  closers.push(() => client.stop())
  ;({ room, invite } = await client.createRoom({ name: 'moderated' }))
  await room.waitForPeers({ signal: AbortSignal.timeout(TIMEOUT_MS) })
  const signer = walletSigner({ type: 'eoa', signer: ownerWallet })
  const moderator = chain.accounts[7]!.address
  const banned = member()
  for (const [action, target] of [
    ['mod-add', moderator],
    ['ban', banned],
    ['kick', member()],
    ['unban', banned],
  ] as const) {
    await room.moderate(action, target, { signer })
  }
  // The anchoring service adds a leaf as the relay accepts each event (a listener before this one).
  const pending = (): number => anchoring.anchorer.stats().pendingLeaves
  await until(
    [[relay.node, 'record:accepted']],
    () => pending() === 4,
    () => `the relay's anchorer holds ${pending()} of 4 leaves`,
    TIMEOUT_MS,
  )
  await anchoring.anchorer.flush()
  expect(anchoring.anchorer.stats().leavesAnchored).toBe(4)
  events = room.moderation.events()
}, 120_000)

afterAll(async () => {
  for (const close of closers.splice(0).reverse()) await close().catch(() => undefined)
})

/** The relay's batches as anyone fetches them: `Anchored` events, leaf lists over bitswap from the relay. */
async function anchoredBatches(): Promise<FoundBatch[]> {
  const libp2p = await createSecureChatLibp2p({ privateKey: await generateKeyPair('Ed25519') })
  await libp2p.dial(relay.node.libp2p.getMultiaddrs()[0]!)
  const ipfs = await createAuditIpfs({ libp2p })
  try {
    return await fetchAnchoredBatches({ reader: reader(), ipfs, roomId: room.id })
  } finally {
    await ipfs.stop()
    await libp2p.stop()
  }
}

const reader = () => auditLogReader({ runner: chain.provider, address: chain.addresses.auditLog })

const verify = async (log: readonly unknown[], batches: readonly FoundBatch[]) =>
  verifyModerationLog({ roomId: room.id, owner: ownerWallet.address, events: log, batches, reader: reader() })

const failures = (audit: { problems: Array<{ failure: string }> }): string[] => [
  ...new Set(audit.problems.map((p) => p.failure)),
]

describe('the moderation log against the chain', () => {
  it('behavior: the relay anchors each event it keeps, and the log verifies event by event', async () => {
    const batches = await anchoredBatches()
    const leaves = batches.flatMap(({ batch }) => batch.leaves.filter(isModerationLeaf))
    expect(leaves).toHaveLength(4)
    // Each leaf names the event, its author, and the count of the relay's log with it: at least its place.
    for (const [i, event] of events.entries()) {
      const leaf = leaves.find((l) => l.messageId === `0x${moderationEventHash(event)}`)
      expect(leaf?.timestampMs).toBeGreaterThanOrEqual(i + 1)
    }
    expect(new Set(leaves.map((leaf) => leaf.sender))).toEqual(new Set([ownerWallet.address]))

    const audit = await verify(events, batches)
    expect(audit.problems).toEqual([])
    expect(audit.ok).toBe(true)
    expect(audit.events.map((e) => e.action)).toEqual(['mod-add', 'ban', 'kick', 'unban'])
    expect(audit.events.every((e) => e.role === 'owner' && e.applied)).toBe(true)
    for (const event of audit.events) {
      expect(event.anchor?.through).toBeUndefined()
      expect(event.anchor?.anchorer).toBe(chain.accounts[5]!.address)
      expect(event.anchor?.timestamp).toBeGreaterThan(0)
    }
    const lines = describeModerationAudit(audit).join('\n')
    expect(lines).toContain(`1. mod-add ${chain.accounts[7]!.address} by ${ownerWallet.address} (owner)`)
    expect(lines).toContain('VERIFIED')
    // Given in any order (a store's pages, a file), the log is read in its own.
    expect((await verify([...events].reverse(), batches)).ok).toBe(true)
  })

  it('error: a log with an event removed, or its tail withheld, does not verify', async () => {
    const batches = await anchoredBatches()
    const removed = await verify([events[0], events[2], events[3]], batches)
    expect(removed.ok).toBe(false)
    // The event after the gap names a `prev` the log lacks; the anchors name the one removed.
    expect(failures(removed)).toEqual(
      expect.arrayContaining([ModerationAuditFailure.brokenChain, ModerationAuditFailure.missingAnchored]),
    )
    const withheld = await verify(events.slice(0, 3), batches)
    expect(withheld.ok).toBe(false)
    // The chain of what is left is whole: only the anchor of the last event tells.
    expect(failures(withheld)).toContain(ModerationAuditFailure.missingAnchored)
    expect(failures(withheld).filter((f) => f !== ModerationAuditFailure.fewerEvents)).toEqual([
      ModerationAuditFailure.missingAnchored,
    ])
    expect(withheld.problems[0]!.message).toContain('--bootstrap')
    expect(describeModerationAudit(withheld).join('\n')).toContain('FAILED')
  })

  it('error: a log re-signed in another order — every signature and link valid — does not verify against its anchors', async () => {
    const batches = await anchoredBatches()
    // The owner rewrites history: the same actions, kick before ban, each signed again after the one before.
    const signer = walletSigner({ type: 'eoa', signer: ownerWallet })
    const reordered: ModerationEvent[] = []
    let prev = room.id
    for (const original of [events[0]!, events[2]!, events[1]!, events[3]!]) {
      const event = await createModerationEvent({
        signer,
        room: room.id,
        prev,
        action: original.action,
        target: original.target,
        now: original.atMs,
      })
      reordered.push(event)
      prev = moderationEventHash(event)
    }
    // Alone, it is a valid log: without the chain, nothing tells the rewrite.
    expect(failures(await verify(reordered, []))).toEqual([ModerationAuditFailure.unanchored])
    const audit = await verify(reordered, batches)
    expect(audit.ok).toBe(false)
    expect(failures(audit)).toEqual([ModerationAuditFailure.missingAnchored])
    // All four anchored events are missing but the first, whose chain did not change.
    expect(audit.problems).toHaveLength(3)
  })

  it('behavior: a moderator anchors the log from its own wallet; the batch of its tips covers every event', async () => {
    const moderator = chain.accounts[7]!
    expect(room.moderation.roleOf(moderator.address)).toBe('moderator')
    const anchored = await anchorModerationLog({
      log: room.moderation,
      signer: moderator,
      address: chain.addresses.auditLog,
    })
    expect(anchored.result.status).toBe('anchored')
    // One tip (a linear log): one leaf, the head, with the log's count.
    expect(anchored.batch.count).toBe(1)
    expect(anchored.batch.leaves[0]!.timestampMs).toBe(4)
    const batch = await decodeLeafList(anchored.bytes, { expectedRoot: anchored.batch.root })
    const found: FoundBatch = {
      event: {
        root: batch.root,
        anchorer: anchored.result.anchor.anchorer,
        count: batch.count,
        cid: anchored.cid,
        blockNumber: anchored.result.anchor.blockNumber,
        transactionHash: anchored.result.status === 'anchored' ? anchored.result.transactionHash : '',
      },
      batch,
    }
    const audit = await verify(events, [found])
    expect(audit.ok).toBe(true)
    expect(audit.events.every((e) => e.anchor?.anchorer === moderator.address)).toBe(true)
    // The head by its own leaf, the rest through the hash chain to it.
    expect(audit.events.map((e) => e.anchor?.through)).toEqual([
      audit.events[3]!.hash,
      audit.events[3]!.hash,
      audit.events[3]!.hash,
      undefined,
    ])
    expect((await verify(events.slice(0, 3), [found])).ok).toBe(false)
  })

  it('behavior: `securechat verify --moderation` checks the log a relay stores; a cut log file exits 1, with --json too', async () => {
    const dir = await tempDir('modanchor-cli-')
    const inviteFile = join(dir, 'room.invite')
    await writeFile(inviteFile, `${invite}\n`)
    // The relay's batches only: the moderator's own list above was handed to no relay, so nobody serves it.
    const relayAnchors = ['--anchorer', chain.accounts[5]!.address]
    const ok = await runCli(['verify', '--moderation', '--room', inviteFile, '--rpc', chain.rpcUrl, ...relayAnchors])
    expect(ok.stderr).toContain('4 moderation event(s)')
    expect(ok.code).toBe(0)
    expect(ok.stdout).toContain('moderation log of room')
    expect(ok.stdout).toContain(`2. ban `)
    expect(ok.stdout).toContain('VERIFIED')
    const cut = join(dir, 'cut.json')
    await writeFile(cut, JSON.stringify([events[0], events[1], events[3]]))
    const failed = await runCli([
      'verify',
      '--moderation',
      '--room',
      inviteFile,
      '--file',
      cut,
      '--rpc',
      chain.rpcUrl,
      '--json',
      ...relayAnchors,
    ])
    expect(failed.code).toBe(1)
    const audit = JSON.parse(failed.stdout)
    expect(audit).toMatchObject({ ok: false, roomId: room.id })
    expect(failures(audit)).toEqual(
      expect.arrayContaining([ModerationAuditFailure.brokenChain, ModerationAuditFailure.missingAnchored]),
    )
    // What to do next, in the error's hint.
    expect(failed.stderr).toContain('--bootstrap')
  })
})
