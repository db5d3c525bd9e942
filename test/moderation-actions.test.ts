/**
 * Mute, message removal and lock across a real `securechat relay` process and four or five sdk clients: a muted
 * member's messages are dropped by the relay and every peer until the mute ends (judged by each one's own clock, so
 * a muted member whose clock runs ahead gets nothing through), then flow again; a moderator's removal of a member's
 * message reaches every member; a lock keeps a new eligible member out (its presence goes nowhere, its client says
 * why) while an existing member comes back, and the unlock lets the newcomer in; a raw libp2p node publishes a plain
 * member's mute, a moderator's mute of a moderator and another room's lock, which the relay refuses as peers do.
 */
import { sleep } from '@securechat/sdk/async'
import { walletSigner } from '@securechat/sdk/identity'
import { createModerationEvent, encodeRecord } from '@securechat/sdk/rooms'
import type { RoomMessage, RoomMessageUpdate, RoomModerationChange } from '@securechat/sdk/types'
import { type HDNodeWallet, Wallet } from 'ethers'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { lists, type ModeratedRoom, meetAll, type Peer, startModeratedRoom } from './helpers/moderated-room.ts'
import { until } from './helpers/room-inbox.ts'

/** Deliveries cross a relay on a loaded 2-core machine: generous, never a speed check. */
const TIMEOUT_MS = 60_000
/** Long enough for the mute to reach everyone and the muted member to try, on a loaded machine. */
const MUTE_MS = 30_000

const wallet = (): HDNodeWallet => Wallet.createRandom()
const signer = (peer: Peer) => walletSigner({ type: 'eoa', signer: peer.wallet })

let space: ModeratedRoom
let owner: Peer
let mod: Peer
let alice: Peer
let bob: Peer
/** How far Bob's clock runs ahead of the others'. */
let bobAheadMs = 0

beforeAll(async () => {
  space = await startModeratedRoom('moderated actions')
  owner = await space.join(space.ownerWallet)
  mod = await space.join(wallet())
  alice = await space.join(wallet())
  bob = await space.join(wallet(), { now: () => Date.now() + bobAheadMs })
  await meetAll([owner, mod, alice, bob], TIMEOUT_MS)
  await owner.room.moderate('mod-add', mod.wallet.address, { signer: signer(owner) })
  await until(
    [[mod.room, 'moderation:changed']],
    () => mod.room.moderation.roleOf(mod.wallet.address) === 'moderator',
    () => 'the moderator never learned its role',
    TIMEOUT_MS,
  )
}, 4 * TIMEOUT_MS)

afterAll(async () => {
  await space?.stop()
})

/** Resolves once `peer` has applied an event that makes `test` true. */
function learns(peer: Peer, test: () => boolean, what: string): Promise<void> {
  return until([[peer.room, 'moderation:changed']], test, () => `${what} never reached it`, TIMEOUT_MS)
}

function heardBy(peer: Peer): Array<RoomMessage & { atMs: number }> {
  const heard: Array<RoomMessage & { atMs: number }> = []
  peer.room.addEventListener('message:received', (event) => heard.push({ ...event.detail, atMs: Date.now() }))
  return heard
}

async function hears(peer: Peer, heard: RoomMessage[], text: string): Promise<void> {
  await until(
    [[peer.room, 'message:received']],
    () => heard.some((m) => m.text === text),
    () => `never heard "${text}"`,
    TIMEOUT_MS,
  )
}

describe('mute, removal and lock across peers and a relay', () => {
  it(
    'behavior: a muted member is refused by its own client, its messages are dropped until the mute ends, then flow',
    async () => {
      const heard = heardBy(alice)
      const untilMs = Date.now() + MUTE_MS
      const verdict = await mod.room.moderate('mute', bob.wallet.address, { signer: signer(mod), untilMs })
      expect(verdict).toMatchObject({ status: 'applied', event: { action: 'mute', until: untilMs } })
      const muted = (peer: Peer) => () => peer.room.moderation.muteOf(bob.wallet.address)?.untilMs === untilMs
      await Promise.all([learns(alice, muted(alice), 'the mute'), learns(bob, muted(bob), 'the mute')])

      // Its own client refuses, saying until when.
      expect(bob.room.sendRestriction()).toMatchObject({ reason: 'muted', untilMs })
      await expect(bob.room.send('refused by my own client')).rejects.toThrow(
        `you are muted in this room until ${new Date(untilMs).toISOString()}`,
      )
      // With its clock past the end, its client sends; the relay and the members judge by their own clocks and drop
      // it. Sent before the owner's marker, through the same relay: had it passed, Alice would have it by then.
      bobAheadMs = MUTE_MS * 2
      await bob.room.send('sent with my clock ahead')
      bobAheadMs = 0
      await owner.room.send('marker after the muted message')
      await hears(alice, heard, 'marker after the muted message')
      expect(heard.map((m) => m.text)).not.toContain('sent with my clock ahead')

      // The mute ends (a time, not an event: wait for it); Bob speaks again and is heard.
      await sleep(Math.max(0, untilMs - Date.now()))
      expect(bob.room.sendRestriction()).toBeUndefined()
      await bob.room.send('after the mute')
      await hears(alice, heard, 'after the mute')
      // Whatever of Bob's reached Alice reached her after the mute ended, by her clock.
      for (const message of heard.filter((m) => m.sender === bob.wallet.address)) {
        expect(message.atMs).toBeGreaterThanOrEqual(untilMs)
      }
    },
    4 * TIMEOUT_MS,
  )

  it(
    "behavior: a moderator's removal of a member's message reaches every member, shown as removed by a moderator",
    async () => {
      const heardByMod = heardBy(mod)
      const heardByOwner = heardBy(owner)
      const sent = await alice.room.send('a message the moderator removes')
      await Promise.all([
        hears(mod, heardByMod, 'a message the moderator removes'),
        hears(owner, heardByOwner, 'a message the moderator removes'),
      ])
      const updates = (peer: Peer): Promise<RoomMessageUpdate> =>
        new Promise((resolve) =>
          peer.room.addEventListener('message:updated', (event) => {
            if (event.detail.message.id === sent.id && event.detail.message.deleted) resolve(event.detail)
          }),
        )
      const reached = Promise.all([updates(owner), updates(alice), updates(bob)])
      const verdict = await mod.room.moderate('remove', sent.id, { signer: signer(mod) })
      expect(verdict).toMatchObject({ status: 'applied', event: { message: sent.id, target: alice.wallet.address } })
      for (const update of await reached) {
        expect(update.message).toMatchObject({ deleted: true, text: undefined, removedBy: mod.wallet.address })
      }
      expect(owner.room.message(sent.id)?.text).toBeUndefined()
      // A moderator cannot remove the owner's message.
      const ownerSent = await owner.room.send('the owner speaks')
      await hears(mod, heardByMod, 'the owner speaks')
      await expect(mod.room.moderate('remove', ownerSent.id, { signer: signer(mod) })).rejects.toThrow(
        'a moderator cannot remove an owner',
      )
    },
    3 * TIMEOUT_MS,
  )

  it(
    'behavior: a lock refuses a new eligible member and admits an existing one back; the unlock lets the newcomer in',
    async () => {
      const verdict = await owner.room.moderate('lock', undefined, { signer: signer(owner) })
      expect(verdict.event.members).toEqual(
        expect.arrayContaining([owner, mod, alice, bob].map((peer) => peer.wallet.address)),
      )
      await learns(mod, () => mod.room.moderation.state.lock !== undefined, 'the lock')

      // A newcomer learns the lock from the relay's store; its client says why it cannot take part.
      const carol = await space.join(wallet())
      await carol.client.catchUp(carol.room)
      expect(carol.room.sendRestriction()).toMatchObject({ reason: 'locked' })
      await expect(carol.room.send('let me in')).rejects.toThrow('the room is locked by its moderators')

      // Alice comes back on a new device: listed again. By then Carol's presence went out time and again.
      await alice.close()
      alice = await space.join(alice.wallet)
      const alicePeer = alice.client.peerId.toString()
      await until(
        [[mod.room, 'member:joined']],
        () => mod.room.members().some((m) => m.peerId === alicePeer),
        () => 'the existing member was not admitted back',
        TIMEOUT_MS,
      )
      expect(lists(mod, carol)).toBe(false)
      expect(lists(owner, carol)).toBe(false)

      await mod.room.moderate('unlock', undefined, { signer: signer(mod) })
      await until(
        [[owner.room, 'member:joined']],
        () => lists(owner, carol),
        () => 'the newcomer was not admitted after the unlock',
        TIMEOUT_MS,
      )
      // The unlock reaches the newcomer on its own way (the owner may list it first): then it may write.
      await learns(carol, () => carol.room.moderation.state.lock === undefined, 'the unlock')
      expect(carol.room.sendRestriction()).toBeUndefined()
    },
    4 * TIMEOUT_MS,
  )

  it(
    'behavior: a read-only lock lets only the owner and moderators send',
    async () => {
      const heard = heardBy(bob)
      await mod.room.moderate('lock', undefined, { signer: signer(mod), readOnly: true })
      await learns(alice, () => alice.room.moderation.state.lock?.readOnly === true, 'the read-only lock')
      await expect(alice.room.send('may I?')).rejects.toThrow('the room is read-only')
      await mod.room.send('moderators still speak')
      await hears(bob, heard, 'moderators still speak')
      await owner.room.moderate('unlock', undefined, { signer: signer(owner) })
      await learns(alice, () => alice.room.moderation.state.lock === undefined, 'the unlock')
      await alice.room.send('open again')
      await hears(bob, heard, 'open again')
    },
    3 * TIMEOUT_MS,
  )

  it(
    "error: a plain member's mute, a moderator's mute of a moderator and another room's lock are refused by the relay and peers",
    async () => {
      const mod2 = wallet()
      await owner.room.moderate('mod-add', mod2.address, { signer: signer(owner) })
      await learns(bob, () => bob.room.moderation.roleOf(mod2.address) === 'moderator', 'the second moderator')
      const head = bob.room.moderation.head
      const roomId = space.roomId
      const plain = await createModerationEvent({
        signer: walletSigner({ type: 'eoa', signer: wallet() }),
        room: roomId,
        prev: head,
        action: 'mute',
        target: alice.wallet.address,
        until: Date.now() + 60_000,
      })
      const onModerator = await createModerationEvent({
        signer: signer(mod),
        room: roomId,
        prev: head,
        action: 'mute',
        target: mod2.address,
        until: Date.now() + 60_000,
      })
      const otherRoom = 'c'.repeat(64)
      const replay = await createModerationEvent({
        signer: signer(owner),
        room: otherRoom,
        prev: otherRoom,
        action: 'lock',
        target: owner.wallet.address,
        members: [owner.wallet.address],
      })
      expect(bob.room.moderation.add(plain)).toMatchObject({
        status: 'refused',
        reason: expect.stringContaining('mute needs a moderator'),
      })
      expect(bob.room.moderation.add(onModerator)).toEqual({
        status: 'refused',
        reason: 'a moderator cannot mute a moderator',
      })
      expect(bob.room.moderation.add(replay)).toEqual({ status: 'refused', reason: 'event names another room' })

      const forger = await space.forger(TIMEOUT_MS)
      const before = await space.rejectedByRelay()
      const changes: RoomModerationChange[] = []
      bob.room.addEventListener('moderation:changed', (event) => changes.push(event.detail))
      for (const event of [plain, onModerator, replay]) await forger.publish(encodeRecord(event))
      await expect.poll(space.rejectedByRelay, { timeout: TIMEOUT_MS }).toBe(before + 3)
      // A later genuine event still reaches Bob, and it is the only change he saw.
      await owner.room.moderate('mod-remove', mod2.address, { signer: signer(owner) })
      await learns(bob, () => changes.length > 0, 'the mod-remove')
      expect(changes.map((change) => change.event.action)).toEqual(['mod-remove'])
      expect(bob.room.moderation.muteOf(alice.wallet.address)).toBeUndefined()
      expect(bob.room.moderation.state.lock).toBeUndefined()
      await forger.stop()
    },
    3 * TIMEOUT_MS,
  )
})
