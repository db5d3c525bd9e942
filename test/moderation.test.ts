/**
 * Moderation across a real `securechat relay` process (with its message store) and four sdk clients: the owner bans
 * a member, whose records every peer and the relay then drop and who reads nothing sent after; a kicked member is
 * dropped and comes back with its next presence; a member joining late learns the ban from the relay's store; and a
 * raw libp2p node with a valid certificate publishes a plain member's forged ban and another room's genuine event,
 * which the relay refuses as every peer would.
 */
import { walletSigner } from '@securechat/sdk/identity'
import { createModerationEvent, encodeRecord } from '@securechat/sdk/rooms'
import type { RoomMessage, RoomModerationChange } from '@securechat/sdk/types'
import { type HDNodeWallet, Wallet } from 'ethers'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { lists, type ModeratedRoom, meetAll, type Peer, startModeratedRoom } from './helpers/moderated-room.ts'
import { until } from './helpers/room-inbox.ts'

/** Deliveries cross a relay on a loaded 2-core machine: generous, never a speed check. */
const TIMEOUT_MS = 60_000

const wallet = (): HDNodeWallet => Wallet.createRandom()

let space: ModeratedRoom
let roomId: string
let owner: Peer
let banned: Peer
let watcher: Peer
let kicked: Peer

beforeAll(async () => {
  space = await startModeratedRoom('moderated')
  roomId = space.roomId
  owner = await space.join(space.ownerWallet)
  banned = await space.join(wallet())
  watcher = await space.join(wallet())
  kicked = await space.join(wallet())
  await meetAll([owner, banned, watcher, kicked], TIMEOUT_MS)
}, 4 * TIMEOUT_MS)

afterAll(async () => {
  await space?.stop()
})

describe('moderation across peers and a relay', () => {
  it(
    'behavior: a banned member is dropped by every peer, its messages go nowhere, and it cannot read what is sent after',
    async () => {
      const watcherKnows = until(
        [[watcher.room, 'moderation:changed']],
        () => watcher.room.moderation.isBanned(banned.wallet.address),
        () => 'the watcher never applied the ban',
        TIMEOUT_MS,
      )
      const left = until(
        [[watcher.room, 'member:left']],
        () => !lists(watcher, banned),
        () => 'still listed',
        TIMEOUT_MS,
      )
      const verdict = await owner.room.moderate('ban', banned.wallet.address, {
        signer: walletSigner({ type: 'eoa', signer: owner.wallet }),
      })
      expect(verdict.status).toBe('applied')
      await Promise.all([watcherKnows, left])
      await until(
        [[banned.room, 'moderation:changed']],
        () => banned.room.moderation.isBanned(banned.wallet.address),
        () => 'the banned member never heard of its ban',
        TIMEOUT_MS,
      )

      // The banned member talks; the owner then says something the watcher receives. The relay dropped the banned
      // member's record at validation, so it reached nobody, and the owner's key was rotated without it.
      const heard: RoomMessage[] = []
      watcher.room.addEventListener('message:received', (event) => heard.push(event.detail))
      const undecryptable: string[] = []
      const unread = new Promise<void>((resolve) =>
        banned.room.addEventListener('message:undecryptable', (event) => {
          undecryptable.push(event.detail.id)
          resolve()
        }),
      )
      const receivedByBanned: string[] = []
      banned.room.addEventListener('message:received', (event) => receivedByBanned.push(event.detail.text))
      await banned.room.send('spam from the banned member').catch(() => undefined)
      const after = await owner.room.send('said after the ban')
      await until(
        [[watcher.room, 'message:received']],
        () => heard.some((m) => m.id === after.id),
        () => 'never heard',
        TIMEOUT_MS,
      )
      await unread
      expect(undecryptable).toContain(after.id)
      expect(receivedByBanned).not.toContain('said after the ban')
      expect(heard.map((m) => m.text)).not.toContain('spam from the banned member')
    },
    3 * TIMEOUT_MS,
  )

  it(
    'behavior: a kicked member is dropped and comes back with its next presence',
    async () => {
      const left = until(
        [[watcher.room, 'member:left']],
        () => !lists(watcher, kicked),
        () => 'the kicked member stayed',
        TIMEOUT_MS,
      )
      await owner.room.moderate('kick', kicked.wallet.address, {
        signer: walletSigner({ type: 'eoa', signer: owner.wallet }),
      })
      await left
      await until(
        [[watcher.room, 'member:joined']],
        () => lists(watcher, kicked),
        () => 'the kicked member never rejoined',
        TIMEOUT_MS,
      )
      expect(watcher.room.moderation.state.kicked.has(kicked.wallet.address as `0x${string}`)).toBe(true)
    },
    2 * TIMEOUT_MS,
  )

  it(
    'behavior: a member joining late learns the whole log from the relay store',
    async () => {
      const late = await space.join(wallet())
      await late.client.catchUp(late.room)
      expect(late.room.moderation.isBanned(banned.wallet.address)).toBe(true)
      expect(late.room.moderation.head).toBe(owner.room.moderation.head)
      expect(late.room.moderation.events()).toEqual(owner.room.moderation.events())
    },
    2 * TIMEOUT_MS,
  )

  it(
    'error: a forged ban from a plain member and a replay from another room are refused by the relay and peers',
    async () => {
      const forger = await space.forger(TIMEOUT_MS)
      const forgerWallet = wallet()
      const forged = await createModerationEvent({
        signer: walletSigner({ type: 'eoa', signer: forgerWallet }),
        room: roomId,
        prev: owner.room.moderation.head,
        action: 'ban',
        target: watcher.wallet.address,
      })
      const otherRoom = 'c'.repeat(64)
      const replay = await createModerationEvent({
        signer: walletSigner({ type: 'eoa', signer: owner.wallet }),
        room: otherRoom,
        prev: otherRoom,
        action: 'ban',
        target: watcher.wallet.address,
      })
      // Peers refuse both with the reason (the same log every relay runs).
      expect(watcher.room.moderation.add(forged)).toMatchObject({
        status: 'refused',
        reason: expect.stringContaining('needs a moderator'),
      })
      expect(watcher.room.moderation.add(replay)).toEqual({ status: 'refused', reason: 'event names another room' })
      const before = await space.rejectedByRelay()
      const changes: RoomModerationChange[] = []
      watcher.room.addEventListener('moderation:changed', (event) => changes.push(event.detail))
      await forger.publish(encodeRecord(forged))
      await forger.publish(encodeRecord(replay))
      await expect.poll(space.rejectedByRelay, { timeout: TIMEOUT_MS }).toBe(before + 2)
      // A later genuine event still reaches the watcher, and it is the only change it saw.
      await owner.room.moderate('unban', banned.wallet.address, {
        signer: walletSigner({ type: 'eoa', signer: owner.wallet }),
      })
      await until(
        [[watcher.room, 'moderation:changed']],
        () => changes.length > 0,
        () => 'the unban never came',
        TIMEOUT_MS,
      )
      expect(changes.map((change) => change.event.action)).toEqual(['unban'])
      expect(watcher.room.moderation.isBanned(watcher.wallet.address)).toBe(false)
      await forger.stop()
    },
    3 * TIMEOUT_MS,
  )
})
