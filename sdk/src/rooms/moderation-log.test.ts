import { Wallet } from 'ethers'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { walletSigner } from '../identity/signer.ts'
import type { GateRule } from '../types.ts'
import { currentGateRule } from './current-gate.ts'
import {
  createModerationEvent,
  type ModerationAction,
  type ModerationActionFields,
  type ModerationEvent,
  moderationEventHash,
  moderationSigningText,
} from './moderation-event.ts'
import { ModerationLog } from './moderation-log.ts'

const ROOM = 'a'.repeat(64)
const OTHER_ROOM = 'b'.repeat(64)
const owner = new Wallet(Wallet.createRandom().privateKey)
const mod1 = new Wallet(Wallet.createRandom().privateKey)
const mod2 = new Wallet(Wallet.createRandom().privateKey)
const member = new Wallet(Wallet.createRandom().privateKey)
const spammer = new Wallet(Wallet.createRandom().privateKey)

let clock = 1_000
async function sign(
  by: Wallet,
  action: ModerationAction,
  target: Wallet,
  prev: string,
  room = ROOM,
  extra: ModerationActionFields = {},
): Promise<ModerationEvent> {
  const now = clock++
  return createModerationEvent({
    signer: walletSigner({ type: 'eoa', signer: by }),
    room,
    prev,
    action,
    target: target.address,
    now,
    ...(action === 'mute' && extra.until === undefined ? { until: now + 60_000 } : {}),
    ...(action === 'lock' && extra.members === undefined ? { members: [member.address] } : {}),
    ...extra,
  })
}

const newLog = () => new ModerationLog({ roomId: ROOM, owner: owner.address })

/** Appends to the log's head and expects it applied; returns the event. */
async function act(log: ModerationLog, by: Wallet, action: ModerationAction, target: Wallet): Promise<ModerationEvent> {
  const event = await sign(by, action, target, log.head)
  expect(log.add(event)).toMatchObject({ status: 'applied' })
  return event
}

describe('ModerationLog', () => {
  it('behavior: the owner appoints moderators, who ban and unban members; roles and bans follow the log', async () => {
    const log = newLog()
    expect(log.roleOf(owner.address)).toBe('owner')
    const first = await act(log, owner, 'mod-add', mod1)
    expect(first.prev).toBe(ROOM)
    expect(log.roleOf(mod1.address)).toBe('moderator')
    const ban = await act(log, mod1, 'ban', member)
    expect(ban.prev).toBe(moderationEventHash(first))
    expect(log.isBanned(member.address)).toBe(true)
    await act(log, mod1, 'unban', member)
    expect(log.isBanned(member.address)).toBe(false)
    const kick = await act(log, mod1, 'kick', member)
    expect(log.state.kicked.get(member.address as `0x${string}`)).toBe(moderationEventHash(kick))
    expect(log.events()).toHaveLength(4)
    expect(log.head).toBe(moderationEventHash(kick))
  })

  it('behavior: refusal says what a role may do now, by the rule a new event is judged by', async () => {
    const log = newLog()
    expect(log.refusal(owner.address, 'mod-add', mod1.address)).toBeUndefined()
    expect(log.refusal(member.address, 'kick', spammer.address)).toBe(
      `kick needs a moderator; ${member.address} is a member`,
    )
    await act(log, owner, 'mod-add', mod1)
    expect(log.refusal(mod1.address.toLowerCase(), 'ban', spammer.address)).toBeUndefined()
    expect(log.refusal(mod1.address, 'owner-transfer', spammer.address)).toContain('needs the owner')
    expect(log.refusal(mod1.address, 'kick', owner.address)).toBe('a moderator cannot kick an owner')
    expect(log.refusal(mod1.address, 'unban', spammer.address)).toBe(`${spammer.address} is not banned`)
    await act(log, mod1, 'ban', spammer)
    expect(log.refusal(mod1.address, 'unban', spammer.address)).toBeUndefined()
  })

  it('behavior: refuses, with the reason, a plain member, another room, a bad signature, a junk event and a moderator acting on a moderator', async () => {
    const log = newLog()
    await act(log, owner, 'mod-add', mod1)
    await act(log, owner, 'mod-add', mod2)
    expect(log.add(await sign(spammer, 'ban', member, log.head))).toEqual({
      status: 'refused',
      reason: `ban needs a moderator; ${spammer.address} is a member`,
    })
    expect(log.add(await sign(spammer, 'mod-add', spammer, log.head))).toMatchObject({
      status: 'refused',
      reason: expect.stringContaining('mod-add needs the owner'),
    })
    // A replay: the owner's genuine event of another room.
    const foreign = await sign(owner, 'ban', member, OTHER_ROOM, OTHER_ROOM)
    expect(log.add(foreign)).toEqual({ status: 'refused', reason: 'event names another room' })
    const forged = { ...(await sign(spammer, 'ban', member, log.head)), author: owner.address }
    expect(log.add(forged)).toEqual({ status: 'refused', reason: 'event is not signed by its author' })
    expect(log.add({ v: 1, type: 'moderation', room: ROOM })).toMatchObject({
      status: 'refused',
      reason: expect.stringContaining('malformed event'),
    })
    expect(log.add('junk')).toMatchObject({ status: 'refused' })
    expect(log.add(await sign(mod1, 'ban', mod2, log.head))).toEqual({
      status: 'refused',
      reason: 'a moderator cannot ban a moderator',
    })
    expect(log.add(await sign(mod1, 'kick', owner, log.head))).toMatchObject({ status: 'refused' })
    expect(log.events()).toHaveLength(2)
  })

  it('behavior: an event whose previous event is unknown waits for it (a broken chain until then)', async () => {
    const log = newLog()
    const a = await sign(owner, 'mod-add', mod1, ROOM)
    const b = await sign(mod1, 'ban', member, moderationEventHash(a))
    expect(log.add(b)).toEqual({ status: 'pending', hash: moderationEventHash(b) })
    expect(log.pendingCount).toBe(1)
    // Brought again (another store, a neighbour): held once.
    expect(log.add(b)).toEqual({ status: 'pending', hash: moderationEventHash(b) })
    expect(log.pendingCount).toBe(1)
    expect(log.add(a)).toMatchObject({ status: 'applied' })
    expect(log.pendingCount).toBe(0)
    expect(log.isBanned(member.address)).toBe(true)
    expect(log.add(b)).toEqual({ status: 'duplicate', hash: moderationEventHash(b) })
  })

  it('behavior: a removed moderator can act neither after its removal nor by forking from before it', async () => {
    const log = newLog()
    await act(log, owner, 'mod-add', mod1)
    const beforeRemoval = log.head
    await act(log, owner, 'mod-remove', mod1)
    expect(log.add(await sign(mod1, 'ban', member, log.head))).toMatchObject({
      status: 'refused',
      reason: expect.stringContaining('needs a moderator'),
    })
    // Signed against the state before its removal: kept (the chain allowed it), but void.
    const backdated = await sign(mod1, 'ban', member, beforeRemoval)
    expect(log.add(backdated)).toMatchObject({
      status: 'void',
      reason: expect.stringContaining("its author's role was revoked concurrently (mod-remove"),
    })
    expect(log.isBanned(member.address)).toBe(false)
  })

  it('behavior: after an ownership transfer the old owner is a member and the new one appoints', async () => {
    const log = newLog()
    await act(log, owner, 'owner-transfer', mod1)
    expect(log.roleOf(owner.address)).toBe('member')
    expect(log.add(await sign(owner, 'mod-add', mod2, log.head))).toMatchObject({ status: 'refused' })
    await act(log, mod1, 'mod-add', mod2)
    expect(log.roleOf(mod2.address)).toBe('moderator')
  })

  it('behavior: nobody hands the room or a role to a banned wallet — its records are dropped everywhere, so the room would have no owner who can act', async () => {
    const log = newLog()
    await act(log, owner, 'ban', member)
    for (const action of ['owner-transfer', 'mod-add'] as const) {
      expect(log.refusal(owner.address, action, member.address)).toBe(`${member.address} is banned: unban it first`)
      expect(log.add(await sign(owner, action, member, log.head))).toEqual({
        status: 'refused',
        reason: `${member.address} is banned: unban it first`,
      })
    }
    expect(log.roleOf(owner.address)).toBe('owner')
    await act(log, owner, 'unban', member)
    await act(log, owner, 'owner-transfer', member)
    expect(log.roleOf(member.address)).toBe('owner')
  })

  it('behavior: a moderator mutes and unmutes a member until a bounded time, never a moderator', async () => {
    const log = newLog()
    await act(log, owner, 'mod-add', mod1)
    await act(log, owner, 'mod-add', mod2)
    const mute = await sign(mod1, 'mute', member, log.head, ROOM, { until: clock + 3_600_000 })
    expect(log.add(mute)).toMatchObject({ status: 'applied' })
    expect(log.muteOf(member.address)).toEqual({
      atMs: mute.atMs,
      untilMs: mute.until,
      hash: moderationEventHash(mute),
    })
    expect(log.add(await sign(mod1, 'mute', mod2, log.head))).toEqual({
      status: 'refused',
      reason: 'a moderator cannot mute a moderator',
    })
    expect(log.add(await sign(spammer, 'mute', member, log.head))).toMatchObject({
      status: 'refused',
      reason: expect.stringContaining('mute needs a moderator'),
    })
    await act(log, mod2, 'unmute', member)
    expect(log.muteOf(member.address)).toBeUndefined()
    expect(log.add(await sign(mod2, 'unmute', member, log.head))).toEqual({
      status: 'refused',
      reason: `${member.address} is not muted`,
    })
    // Bounded, and per action: a mute without its end, past 30 days, or a kick carrying one is malformed.
    const unbounded = { ...(await sign(mod1, 'mute', member, log.head)), until: clock + 31 * 24 * 3_600_000 }
    expect(log.add(unbounded)).toMatchObject({ status: 'refused', reason: expect.stringContaining('a mute ends') })
    const { until: _, ...endless } = await sign(mod1, 'mute', member, log.head)
    expect(log.add(endless)).toMatchObject({ status: 'refused', reason: expect.stringContaining('mute needs until') })
    await expect(sign(mod1, 'kick', member, log.head, ROOM, { until: clock + 1 })).rejects.toThrow(
      'kick takes no until',
    )
  })

  it('behavior: a lock admits the members it lists and the roles; a kick while locked keeps out; unlock opens', async () => {
    const log = newLog()
    await act(log, owner, 'mod-add', mod1)
    const lock = await sign(mod1, 'lock', mod1, log.head, ROOM, { members: [member.address], readOnly: true })
    expect(log.add(lock)).toMatchObject({ status: 'applied' })
    expect(log.isLockedOut(spammer.address)).toBe(true)
    expect(log.isLockedOut(member.address)).toBe(false)
    expect(log.isLockedOut(owner.address)).toBe(false)
    expect(log.isSilencedByLock(member.address)).toBe(true)
    expect(log.isSilencedByLock(mod1.address)).toBe(false)
    await act(log, mod1, 'kick', member)
    expect(log.isLockedOut(member.address)).toBe(true)
    // A room action names its author; a member cannot lock.
    await expect(sign(mod1, 'unlock', member, log.head)).rejects.toThrow('unlock names its author as target')
    expect(log.add(await sign(spammer, 'unlock', spammer, log.head))).toMatchObject({ status: 'refused' })
    await act(log, owner, 'unlock', owner)
    expect(log.state.lock).toBeUndefined()
    expect(log.isLockedOut(spammer.address)).toBe(false)
    expect(log.add(await sign(owner, 'unlock', owner, log.head))).toEqual({
      status: 'refused',
      reason: 'the room is not locked',
    })
  })

  it("behavior: a moderator removes a member's message, not a moderator's; the event names the message", async () => {
    const log = newLog()
    await act(log, owner, 'mod-add', mod1)
    const message = 'd'.repeat(64)
    const removal = await sign(mod1, 'remove', member, log.head, ROOM, { message })
    expect(log.add(removal)).toMatchObject({ status: 'applied', event: { message, target: member.address } })
    expect(log.add(await sign(mod1, 'remove', owner, log.head, ROOM, { message }))).toMatchObject({
      status: 'refused',
      reason: 'a moderator cannot remove an owner',
    })
    await expect(sign(mod1, 'remove', member, log.head)).rejects.toThrow('remove needs message')
  })

  it("behavior: the owner alone changes the gate, to a rule on the manifest's chains or open; the log's rule then holds", async () => {
    const ruleA: GateRule = { type: 'erc721', chainId: 31337, contract: `0x${'1'.repeat(40)}`, minBalance: '1' }
    const ruleB: GateRule = { type: 'erc20', chainId: 31337, contract: `0x${'2'.repeat(40)}`, minBalance: '5' }
    const manifest = { access: { type: 'gated', rule: ruleA } } as Parameters<typeof currentGateRule>[0]
    const log = new ModerationLog({ roomId: ROOM, owner: owner.address, chainIds: [31337] })
    expect(currentGateRule(manifest, log)).toEqual(ruleA)
    await act(log, owner, 'mod-add', mod1)
    expect(log.refusal(mod1.address, 'gate', mod1.address)).toBe(`gate needs the owner; ${mod1.address} is a moderator`)
    const byMod = await sign(mod1, 'gate', mod1, log.head, ROOM, { rule: ruleB })
    expect(log.add(byMod)).toEqual({
      status: 'refused',
      reason: `gate needs the owner; ${mod1.address} is a moderator`,
    })
    const byMember = await sign(member, 'gate', member, log.head, ROOM, { rule: ruleB })
    expect(log.add(byMember)).toMatchObject({ status: 'refused', reason: expect.stringContaining('is a member') })
    const elsewhere = await sign(owner, 'gate', owner, log.head, ROOM, { rule: { ...ruleB, chainId: 1 } })
    expect(log.add(elsewhere)).toEqual({ status: 'refused', reason: "gate reads chain 1, not one of the room's" })
    // The rule is the manifest's schema: a zero minimum (everybody) or a target other than the author is malformed.
    expect(log.add({ ...byMod, author: owner.address, rule: { ...ruleB, minBalance: '0' } })).toMatchObject({
      status: 'refused',
      reason: expect.stringContaining('malformed'),
    })
    await expect(sign(owner, 'gate', member, log.head, ROOM, { rule: ruleB })).rejects.toThrow('names its author')
    const toB = await act(log, owner, 'gate', owner)
    expect(log.state.gate).toEqual({ hash: moderationEventHash(toB), rule: undefined })
    expect(currentGateRule(manifest, log)).toBeUndefined()
    const gated = await sign(owner, 'gate', owner, log.head, ROOM, { rule: ruleB })
    expect(log.add(gated)).toMatchObject({ status: 'applied' })
    expect(currentGateRule(manifest, log)).toEqual(ruleB)
  })

  it('behavior: the owner alone sets the disappearing-messages timer, to a timer or off; it follows an ownership transfer', async () => {
    const log = newLog()
    await act(log, owner, 'mod-add', mod1)
    const set = await sign(owner, 'timer', owner, log.head, ROOM, { seconds: 3600 })
    expect(log.add(set)).toMatchObject({ status: 'applied', event: { action: 'timer', seconds: 3600 } })
    expect(log.refusal(mod1.address, 'timer', mod1.address)).toBe(
      `timer needs the owner; ${mod1.address} is a moderator`,
    )
    expect(log.add(await sign(mod1, 'timer', mod1, log.head, ROOM, { seconds: 60 }))).toEqual({
      status: 'refused',
      reason: `timer needs the owner; ${mod1.address} is a moderator`,
    })
    expect(log.add(await sign(member, 'timer', member, log.head, ROOM, { seconds: 0 }))).toMatchObject({
      status: 'refused',
      reason: expect.stringContaining('is a member'),
    })
    // A timer the rules do not allow, or none, is malformed; the wallet is shown what it signs.
    expect(log.add({ ...set, seconds: 5 })).toMatchObject({
      status: 'refused',
      reason: expect.stringContaining('seconds'),
    })
    await expect(sign(owner, 'timer', owner, log.head)).rejects.toThrow('timer needs seconds')
    await expect(sign(owner, 'kick', member, log.head, ROOM, { seconds: 60 })).rejects.toThrow('kick takes no seconds')
    await expect(sign(owner, 'timer', member, log.head, ROOM, { seconds: 60 })).rejects.toThrow('names its author')
    expect(moderationSigningText(set)).toContain('disappearing messages: 1 hour')
    await act(log, owner, 'owner-transfer', mod1)
    expect(log.refusal(owner.address, 'timer', owner.address)).toMatch(/needs the owner/)
    expect(log.add(await sign(mod1, 'timer', mod1, log.head, ROOM, { seconds: 0 }))).toMatchObject({
      status: 'applied',
    })
  })

  it('behavior: an event signed before the new actions keeps its hash and signature', async () => {
    // Its canonical JSON has none of the optional fields: what main signed still verifies, with the same hash.
    const kick = await sign(owner, 'kick', member, ROOM)
    expect(Object.keys(kick).sort()).toEqual(['action', 'atMs', 'author', 'prev', 'room', 'sig', 'target', 'type', 'v'])
    expect(newLog().add(kick)).toEqual({ status: 'applied', hash: moderationEventHash(kick), event: kick })
  })

  it('property: concurrent events converge to one state whatever order they arrive in', async () => {
    // A log with forks: two moderators act on the same member at once, the owner removes one of them while it
    // bans someone, and a chain continues on one branch.
    const base = newLog()
    const e1 = await act(base, owner, 'mod-add', mod1)
    const e2 = await act(base, owner, 'mod-add', mod2)
    const fork = moderationEventHash(e2)
    const ban = await sign(mod1, 'ban', member, fork)
    const kick = await sign(mod2, 'kick', member, fork)
    const removal = await sign(owner, 'mod-remove', mod1, fork)
    const banBySoonRemoved = await sign(mod1, 'ban', spammer, moderationEventHash(ban))
    const ownerBan = await sign(owner, 'ban', member, fork)
    const after = await sign(mod2, 'unban', member, moderationEventHash(kick))
    // The new actions, concurrent too: a lock and an unlock at once, a mute by the soon-removed moderator, a
    // mute and an unmute crossing, a message removal.
    const lock = await sign(mod2, 'lock', mod2, fork, ROOM, { members: [member.address, spammer.address] })
    const unlock = await sign(owner, 'unlock', owner, moderationEventHash(lock))
    const relock = await sign(mod2, 'lock', mod2, moderationEventHash(lock), ROOM, { members: [], readOnly: true })
    const muteBySoonRemoved = await sign(mod1, 'mute', spammer, fork)
    const mute = await sign(mod2, 'mute', spammer, moderationEventHash(kick))
    const unmute = await sign(owner, 'unmute', spammer, moderationEventHash(mute))
    const mute2 = await sign(mod2, 'mute', member, moderationEventHash(lock))
    const remove = await sign(mod2, 'remove', member, fork, ROOM, { message: 'e'.repeat(64) })
    // Two gate changes by the owner on two branches: one rule stands, the same everywhere.
    const rule = { type: 'erc721', chainId: 31337, contract: `0x${'3'.repeat(40)}`, minBalance: '1' } as const
    const gate = await sign(owner, 'gate', owner, fork, ROOM, { rule })
    const open = await sign(owner, 'gate', owner, moderationEventHash(kick))
    const all = [
      e1,
      e2,
      ban,
      kick,
      removal,
      banBySoonRemoved,
      ownerBan,
      after,
      lock,
      unlock,
      relock,
      muteBySoonRemoved,
      mute,
      unmute,
      mute2,
      remove,
      gate,
      open,
    ]

    const fold = (order: readonly number[]) => {
      const log = newLog()
      for (const index of order) log.add(all[index])
      return {
        owner: log.state.owner,
        moderators: [...log.state.moderators].sort(),
        banned: [...log.state.banned].sort(),
        kicked: [...log.state.kicked].sort(),
        muted: [...log.state.muted].sort(),
        lock:
          log.state.lock === undefined
            ? undefined
            : { ...log.state.lock, admitted: [...log.state.lock.admitted].sort() },
        gate: log.state.gate,
        entries: log.entries().map((entry) => [entry.hash, entry.applied, entry.reason]),
        head: log.head,
        pending: log.pendingCount,
      }
    }
    const expected = fold(all.map((_, index) => index))
    expect(expected.pending).toBe(0)
    expect(expected.moderators).toEqual([mod2.address])
    // The owner's removal of mod1 voids mod1's concurrent bans; the owner's ban of member comes last and stands.
    expect(expected.banned).toEqual([member.address])
    // The owner's unlock and mod2's read-only relock are siblings: the owner's comes last, so the room is open.
    expect(expected.lock).toBeUndefined()
    expect(expected.muted.map(([address]) => address)).toEqual([member.address])
    // The owner's gate at the fork comes after the branch of mod2's kick, where the owner opened the room: it holds.
    expect(expected.gate).toEqual({ hash: moderationEventHash(gate), rule })
    fc.assert(
      fc.property(fc.shuffledSubarray([...all.keys()], { minLength: all.length, maxLength: all.length }), (order) => {
        expect(fold(order)).toEqual(expected)
      }),
      { numRuns: 25 },
    )
  })
})
