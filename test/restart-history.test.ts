/**
 * A device that stops abruptly — a crashed process, a tab closed or reloaded before its writes ran — ends, once
 * restarted, with every message of its rooms: each one kept in its vault or delivered again by its catch-up. A room
 * writes its history position with its message states, as one vault entry: written apart, the position reached the
 * vault first, and a restart in between skipped messages it never kept (how the web app lost a message over a
 * reload in CI). Real relay with its store, real clients; the crash is a copy of the vault's backend taken after
 * one of its writes, which the restarted device opens.
 */

import type { Room } from '@securechat/sdk/rooms'
import { loadHistoryPosition, loadMessageStates } from '@securechat/sdk/rooms'
import { openVault, VAULT_ARGON2ID_MIN } from '@securechat/sdk/vault'
import { Wallet } from 'ethers'
import { describe, expect, it } from 'vitest'
import { startDevice, startDevices } from './helpers/device.ts'
import { Inbox, until } from './helpers/room-inbox.ts'
import { startStoreRelay, stopAfterEach } from './helpers/stoppers.ts'
import { backendOf, crashPoints, type VaultCopy } from './helpers/vault-copies.ts'

const stoppers = stopAfterEach()

const MESSAGES = 40
const SEND_GAP_MS = 100
/** What the device helper unlocks its vaults with. */
const PASSPHRASE = 'only for this test'

describe('a device restarted after stopping abruptly', () => {
  it('behavior: whenever it stopped, its position names no message its vault did not keep, and the restart ends with every message', async () => {
    const relay = await startStoreRelay(stoppers)
    const bootstrap = [relay.multiaddrs[0]!]
    const [alice] = await startDevices(1, { bootstrap }, stoppers)
    const bobWallet = Wallet.createRandom()
    const { backend, copies } = crashPoints('room/')
    const bob = await startDevice({ wallet: bobWallet, bootstrap, backend })
    stoppers.push(bob.close)
    const { room, invite } = await alice!.client.createRoom({ name: 'abrupt' })
    const bobRoom = await bob.client.joinRoom(invite)
    await Promise.all([room.waitForPeers(), bobRoom.waitForPeers()])
    const inbox = new Inbox(bobRoom)
    const texts = Array.from({ length: MESSAGES }, (_, i) => `message ${i}`)
    // Paced past the vault's write delay: the room's entry is written several times while they come.
    for (const text of texts) {
      await room.send(text)
      await new Promise((resolve) => setTimeout(resolve, SEND_GAP_MS))
    }
    await inbox.waitFor(texts, 'bob')
    await bob.close()

    // Every write of the room's entries is a place the device may have stopped at.
    const roomCopies = copies.filter((copy) => copy.entries.has(`room/messages/${room.id}`))
    expect(roomCopies.length).toBeGreaterThan(1)
    const midway: VaultCopy[] = []
    for (const copy of roomCopies) {
      const vault = await openVault({
        backend: backendOf(copy),
        unlock: { type: 'passphrase', passphrase: PASSPHRASE },
        argon2id: VAULT_ARGON2ID_MIN,
      })
      const position = await loadHistoryPosition(vault, room.id)
      const kept = new Set((await loadMessageStates(vault, room.id))?.messages.map((m) => m.id) ?? [])
      await vault.close()
      expect(position?.ids.filter((id) => !kept.has(id)) ?? []).toEqual([])
      if (kept.size > 0 && kept.size < MESSAGES) midway.push(copy)
    }

    // Restarted from each copy taken mid-way: what it kept, and what its catch-up delivers and decrypts (its sender
    // keys on disk never ahead of its states), are every message.
    expect(midway.length, 'no copy was taken between the first message and the last').toBeGreaterThan(0)
    for (const [n, copy] of midway.entries()) {
      const again = await startDevice({ wallet: bobWallet, bootstrap, backend: backendOf(copy) })
      stoppers.push(again.close)
      const [saved] = await again.client.savedRooms()
      const roomAgain: Room = await again.client.joinRoom(saved!.manifest, { catchUp: 'later' })
      const delivered = new Inbox(roomAgain)
      await again.client.catchUp(roomAgain)
      const keptTexts = (): string[] => roomAgain.keptMessages().flatMap((m) => m.text ?? [])
      const missing = (): string[] => texts.filter((text) => !keptTexts().includes(text))
      await until(
        [[roomAgain as unknown as EventTarget, 'message:received']],
        () => missing().length === 0,
        () =>
          `restarted from copy ${n}, missing ${JSON.stringify(missing())}; undecryptable: ` +
          JSON.stringify(delivered.undecryptable.map((u) => u.reason)),
      )
      const deliveredIds = delivered.messages.map((m) => m.id)
      expect(new Set(deliveredIds).size).toBe(deliveredIds.length)
      expect(delivered.undecryptable).toEqual([])
      await again.close()
    }
  }, 240_000)
})
