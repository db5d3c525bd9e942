import { Wallet } from 'ethers'
import { describe, expect, it } from 'vitest'
import { walletSigner } from '../identity/signer.ts'
import { createModerationEvent, type ModerationEvent, moderationEventHash } from '../rooms/moderation-event.ts'
import { ModerationLog } from '../rooms/moderation-log.ts'
import type { Address, Bytes32 } from '../types.ts'
import { buildBatchSync } from './batch.ts'
import { MODERATION_LEAF_TAG } from './constants.ts'
import { leafOfMessage } from './leaf.ts'
import type { FoundBatch } from './lookup.ts'
import { describeModerationAudit, ModerationAuditFailure, verifyModerationLog } from './moderation-audit.ts'
import { isModerationLeaf, moderationLeaf, moderationTipLeaves } from './moderation-leaf.ts'

const ROOM = 'ab'.repeat(32)
const owner = Wallet.createRandom()
const moderator = Wallet.createRandom()
const sign = (
  wallet: Wallet | ReturnType<typeof Wallet.createRandom>,
  prev: string,
  action: ModerationEvent['action'],
  target: string,
) =>
  createModerationEvent({
    signer: walletSigner({ type: 'eoa', signer: wallet }),
    room: ROOM,
    prev,
    action,
    target,
    now: 1,
  })

/** A forked log: the owner appoints a moderator, then the owner and the moderator each kick someone at once. */
async function forkedLog(): Promise<{ log: ModerationLog; events: ModerationEvent[] }> {
  const first = await sign(owner, ROOM, 'mod-add', moderator.address)
  const ownerKick = await sign(owner, moderationEventHash(first), 'kick', Wallet.createRandom().address)
  const moderatorKick = await sign(moderator, moderationEventHash(first), 'kick', Wallet.createRandom().address)
  const log = new ModerationLog({ roomId: ROOM, owner: owner.address })
  for (const event of [first, ownerKick, moderatorKick]) expect(log.add(event).status).toBe('applied')
  return { log, events: [first, ownerKick, moderatorKick] }
}

const reader = {
  anchorOf: async (root: string) => ({
    root: root as Bytes32,
    anchorer: owner.address as Address,
    blockNumber: 7,
    timestamp: 1_700_000_000,
  }),
}

function found(leaves: Parameters<typeof buildBatchSync>[0]): FoundBatch {
  const batch = buildBatchSync(leaves)
  return {
    event: {
      root: batch.root,
      anchorer: owner.address as Address,
      count: batch.count,
      cid: 'bafy',
      blockNumber: 7,
      transactionHash: `0x${'11'.repeat(32)}`,
    },
    batch,
  }
}

describe('moderation leaves', () => {
  it('behavior: a message leaf is never a moderation leaf, and the tag is in the ciphertext hash field', () => {
    const message = leafOfMessage({
      roomId: ROOM,
      id: 'cd'.repeat(32),
      sender: owner.address,
      sentAtMs: 5,
      ciphertextHash: 'ef'.repeat(32),
    })
    expect(isModerationLeaf(message)).toBe(false)
    const leaf = moderationLeaf({ roomId: ROOM, hash: 'cd'.repeat(32), author: owner.address.toLowerCase(), count: 3 })
    expect(isModerationLeaf(leaf)).toBe(true)
    expect(leaf).toMatchObject({ ciphertextHash: MODERATION_LEAF_TAG, sender: owner.address, timestampMs: 3 })
    expect(() => moderationLeaf({ roomId: ROOM, hash: 'cd'.repeat(32), author: owner.address, count: 0 })).toThrow(
      /count/,
    )
  })

  it('behavior: the tips of a forked log are its two branches, and anchoring them covers every event', async () => {
    const { log, events } = await forkedLog()
    const tips = moderationTipLeaves(log)
    expect(tips).toHaveLength(2)
    expect(tips.every((leaf) => leaf.timestampMs === 3)).toBe(true)
    const audit = await verifyModerationLog({
      roomId: ROOM,
      owner: owner.address,
      events,
      batches: [found(tips)],
      reader,
    })
    expect(audit.problems).toEqual([])
    expect(
      audit.events.every((event) => event.anchor?.blockNumber === 7 && event.anchor.timestamp === 1_700_000_000),
    ).toBe(true)
    // The moderator's branch comes first, the owner's last (rank at a fork).
    expect(audit.events.map((event) => event.role)).toEqual(['owner', 'moderator', 'owner'])
  })

  it('error: a branch removed from a forked log is caught by its own anchor, or by the count of the head alone', async () => {
    const { log, events } = await forkedLog()
    const withoutBranch = events.filter((event) => event.author !== moderator.address)
    const byTips = await verifyModerationLog({
      roomId: ROOM,
      owner: owner.address,
      events: withoutBranch,
      batches: [found(moderationTipLeaves(log))],
      reader,
    })
    expect(byTips.problems.map((p) => p.failure)).toEqual([
      ModerationAuditFailure.missingAnchored,
      ModerationAuditFailure.fewerEvents,
    ])
    // Anchoring the head alone would not name the other branch: the count still tells that events are missing.
    const head = moderationLeaf({ roomId: ROOM, hash: log.head, author: owner.address, count: 3 })
    const byHead = await verifyModerationLog({
      roomId: ROOM,
      owner: owner.address,
      events: withoutBranch,
      batches: [found([head])],
      reader,
    })
    expect(byHead.problems.map((p) => p.failure)).toEqual([ModerationAuditFailure.fewerEvents])
  })

  it('error: events refused by the log — a member acting, a broken signature — are reported with the reason', async () => {
    const { events } = await forkedLog()
    const stranger = Wallet.createRandom()
    const byMember = await sign(stranger, moderationEventHash(events[0]!), 'ban', owner.address)
    const forged = { ...events[1]!, target: stranger.address }
    const audit = await verifyModerationLog({
      roomId: ROOM,
      owner: owner.address,
      events: [events[0], byMember, forged, 'junk'],
      batches: [],
      reader,
    })
    const failures = audit.problems.map((p) => p.failure)
    expect(failures.filter((f) => f === ModerationAuditFailure.refused)).toHaveLength(3)
    expect(audit.problems.map((p) => p.message).join('\n')).toMatch(/needs a moderator|cannot ban/)
    expect(audit.problems.map((p) => p.message).join('\n')).toContain('not signed by its author')
  })

  it('behavior: any action is audited alike — a mute with its end, a lock — from the event hashes alone', async () => {
    const signer = walletSigner({ type: 'eoa', signer: owner })
    const muted = Wallet.createRandom().address
    const mute = await createModerationEvent({
      signer,
      room: ROOM,
      prev: ROOM,
      action: 'mute',
      target: muted,
      until: 60_001,
      now: 1,
    })
    const lock = await createModerationEvent({
      signer,
      room: ROOM,
      prev: moderationEventHash(mute),
      action: 'lock',
      target: owner.address,
      members: [owner.address],
      now: 2,
    })
    const log = new ModerationLog({ roomId: ROOM, owner: owner.address })
    for (const event of [mute, lock]) expect(log.add(event).status).toBe('applied')
    const audit = await verifyModerationLog({
      roomId: ROOM,
      owner: owner.address,
      events: [lock, mute],
      batches: [found(moderationTipLeaves(log))],
      reader,
    })
    expect(audit.problems).toEqual([])
    expect(audit.events.map((event) => event.action)).toEqual(['mute', 'lock'])
    expect(describeModerationAudit(audit).join('\n')).toContain(`mute ${muted} until ${new Date(60_001).toISOString()}`)
  })
})
