/**
 * `member:removed` across a real `securechat relay` process and sdk clients (docs/architecture.md, Rooms): a ban, a
 * kick and a lock that leaves a member out each tell the members once per removed wallet — a wallet with two devices
 * included — after the room dropped every device of it and rotated its sender key without them, so a message sent
 * from the listener itself is read by those who stay and not by the removed wallet. Members who stay are never named;
 * a removed device hears it of its own wallet; a ban names its target even when no device of it was ever here. The
 * token gate's removals are checked in gates.test.ts and gate-change.test.ts.
 */
import { walletSigner } from '@securechat/sdk/identity'
import { createModerationEvent, encodeRecord, type Room, roomTopic } from '@securechat/sdk/rooms'
import type { RoomSendResult } from '@securechat/sdk/types'
import { type HDNodeWallet, Wallet } from 'ethers'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { removalsTold, type ToldRemoved } from './helpers/member-events.ts'
import { lists, type ModeratedRoom, meetAll, type Peer, startModeratedRoom } from './helpers/moderated-room.ts'
import { Inbox, until } from './helpers/room-inbox.ts'

/** Deliveries cross a relay on a loaded 2-core machine: generous, never a speed check. */
const TIMEOUT_MS = 60_000

const wallet = (): HDNodeWallet => Wallet.createRandom()
const signer = (peer: Peer) => walletSigner({ type: 'eoa', signer: peer.wallet })

let space: ModeratedRoom
let owner: Peer
let watcher: Peer
/** One wallet, two devices. */
let banned: [Peer, Peer]
let kicked: Peer
let lockedOut: Peer
const told = new Map<Peer, ToldRemoved[]>()

function listen(peer: Peer): void {
  told.set(peer, removalsTold(peer.room, peer.client.peerId.toString()))
}

/** Sends `text` from `room`'s first `member:removed` listener, the moment the room tells it. */
function sendWhenTold(room: Room, text: string): Promise<RoomSendResult> {
  return new Promise((resolve, reject) => {
    room.addEventListener('member:removed', () => void room.send(text).then(resolve, reject), { once: true })
  })
}

beforeAll(async () => {
  space = await startModeratedRoom('removals')
  owner = await space.join(space.ownerWallet)
  watcher = await space.join(wallet())
  const bannedWallet = wallet()
  banned = [await space.join(bannedWallet), await space.join(bannedWallet)]
  kicked = await space.join(wallet())
  lockedOut = await space.join(wallet())
  const everyone = [owner, watcher, ...banned, kicked, lockedOut]
  await meetAll(everyone, TIMEOUT_MS)
  for (const peer of everyone) listen(peer)
}, 4 * TIMEOUT_MS)

afterAll(async () => {
  await space?.stop()
})

describe('member:removed', () => {
  it(
    'behavior: a ban tells each member once for the wallet of two devices, after its key rotated without them; the banned devices hear it of their own wallet',
    async () => {
      const address = banned[0].wallet.address
      const sent = sendWhenTold(watcher.room, 'sent as the ban was told')
      const ownerInbox = new Inbox(owner.room)
      const bannedInboxes = banned.map((peer) => new Inbox(peer.room))
      await owner.room.moderate('ban', address, { signer: signer(owner) })
      const { id } = await sent
      await ownerInbox.waitFor(['sent as the ban was told'], 'owner', TIMEOUT_MS)
      // It reached the banned devices (the relay forwards gossip to them) and neither could read it.
      for (const inbox of bannedInboxes) {
        await until(
          [[inbox.room, 'message:undecryptable']],
          () => inbox.undecryptable.some((u) => u.id === id),
          () => 'the banned device never got the message sent from the listener',
          TIMEOUT_MS,
        )
        expect(inbox.texts()).not.toContain('sent as the ban was told')
      }
      const once = [{ address, reason: 'ban', stillListed: false }]
      for (const peer of [owner, watcher, kicked, lockedOut, ...banned]) expect(told.get(peer)).toEqual(once)
    },
    3 * TIMEOUT_MS,
  )

  it(
    'behavior: a kick tells each member once, with the kicked wallet no longer listed; its return tells nothing',
    async () => {
      const address = kicked.wallet.address
      for (const peer of told.keys()) told.get(peer)!.length = 0
      await owner.room.moderate('kick', address, { signer: signer(owner) })
      await until(
        [[watcher.room, 'member:removed']],
        () => told.get(watcher)!.length > 0,
        () => 'the watcher was never told',
        TIMEOUT_MS,
      )
      await until(
        [[watcher.room, 'member:joined']],
        () => lists(watcher, kicked),
        () => 'the kicked member never came back',
        TIMEOUT_MS,
      )
      const once = [{ address, reason: 'kick', stillListed: false }]
      for (const peer of [owner, watcher, kicked]) expect(told.get(peer)).toEqual(once)
    },
    3 * TIMEOUT_MS,
  )

  it(
    'behavior: a ban of a wallet never seen here names it all the same, once (another member may have known it)',
    async () => {
      const stranger = wallet().address
      for (const peer of told.keys()) told.get(peer)!.length = 0
      await owner.room.moderate('ban', stranger, { signer: signer(owner) })
      const present = [owner, watcher, kicked, lockedOut]
      for (const peer of present) {
        await until(
          [[peer.room, 'member:removed']],
          () => told.get(peer)!.length > 0,
          () => 'never told',
          TIMEOUT_MS,
        )
      }
      for (const peer of present)
        expect(told.get(peer)).toEqual([{ address: stranger, reason: 'ban', stillListed: false }])
    },
    2 * TIMEOUT_MS,
  )

  it(
    'behavior: a lock tells each member once for the wallet it leaves out, and nothing of the banned one already gone',
    async () => {
      const address = lockedOut.wallet.address
      for (const peer of told.keys()) told.get(peer)!.length = 0
      // `moderate('lock')` lists every member its device knows; this one leaves one out, so it goes out raw.
      const lock = await createModerationEvent({
        signer: signer(owner),
        room: space.roomId,
        prev: owner.room.moderation.head,
        action: 'lock',
        target: owner.wallet.address,
        members: [owner, watcher, kicked].map((peer) => peer.wallet.address),
      })
      const sent = sendWhenTold(watcher.room, 'sent as the lock was told')
      const ownerInbox = new Inbox(owner.room)
      const lockedInbox = new Inbox(lockedOut.room)
      await owner.client.libp2p.services.pubsub.publish(roomTopic(space.roomId), encodeRecord(lock))
      const { id } = await sent
      await ownerInbox.waitFor(['sent as the lock was told'], 'owner', TIMEOUT_MS)
      await until(
        [[lockedOut.room, 'message:undecryptable']],
        () => lockedInbox.undecryptable.some((u) => u.id === id),
        () => 'the locked-out member never got the message sent from the listener',
        TIMEOUT_MS,
      )
      expect(lockedInbox.texts()).not.toContain('sent as the lock was told')
      const once = [{ address, reason: 'lock', stillListed: false }]
      for (const peer of [watcher, kicked, lockedOut]) expect(told.get(peer)).toEqual(once)
    },
    3 * TIMEOUT_MS,
  )
})
