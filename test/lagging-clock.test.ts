import type { Room } from '@securechat/sdk/rooms'
import type { RoomMessage } from '@securechat/sdk/types'
import { memoryVaultBackend, type VaultBackend } from '@securechat/sdk/vault'
import { type HDNodeWallet, Wallet } from 'ethers'
import { afterEach, describe, expect, it } from 'vitest'
import { type Device, startDevice } from './helpers/device.ts'
import { dropOnArrival } from './helpers/drop-gossip.ts'
import { nextMemberEvent } from './helpers/member-events.ts'
import { startStoreRelay } from './helpers/stoppers.ts'

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

describe('catch-up of a sender whose clock lags', () => {
  it('behavior: a message stamped with a Lamport clock below the reader’s position is fetched on return', async () => {
    const relay = await startStoreRelay(cleanups)
    const relayAddress = relay.multiaddrs[0] as string

    const alice = await device(Wallet.createRandom(), [relayAddress])
    const bobWallet = Wallet.createRandom()
    const bobVault = memoryVaultBackend()
    const bob = await device(bobWallet, [relayAddress], bobVault)
    const { room, invite } = await alice.client.createRoom({ name: 'lagging' })
    const bobRoom = await bob.client.joinRoom(invite)
    // Carol's device hears none of Alice's records (dropped on arrival, as a network might):
    // its Lamport clock stays 0 while Bob's position climbs.
    const carol = await device(Wallet.createRandom(), [relayAddress])
    const alicePeer = alice.client.peerId
    dropOnArrival(
      carol.client.libp2p.services.pubsub,
      room.topic,
      (m) => m.type === 'signed' && m.from.equals(alicePeer),
    )
    const carolRoom = await carol.client.joinRoom(invite)
    const bobPeer = bob.client.peerId.toString()
    const knowsBob = nextMemberEvent(carolRoom, 'member:joined', bobPeer)
    await Promise.all([room.waitForPeers(), bobRoom.waitForPeers(), carolRoom.waitForPeers()])
    if (!carolRoom.members().some((m) => m.peerId === bobPeer)) await knowsBob

    // Bob reads eight of Alice's messages live: his position is Lamport 8.
    const eighth = messageNumber(bobRoom, 8)
    for (let i = 0; i < 8; i++) await room.send(`live ${i}`)
    expect((await eighth).lamport).toBe(8)

    const gone = [nextMemberEvent(room, 'member:left', bobPeer), nextMemberEvent(carolRoom, 'member:left', bobPeer)]
    await bob.close()
    await Promise.all(gone)
    const lagging = await carolRoom.send('from a device that heard nothing')
    const later = await room.send('after it')

    // Back, Bob reads them from the store only: gossip would still offer the last few live.
    const bobAgain = await device(bobWallet, [relayAddress], bobVault)
    const carolPeer = carol.client.peerId
    dropOnArrival(
      bobAgain.client.libp2p.services.pubsub,
      room.topic,
      (m) => m.type === 'signed' && (m.from.equals(alicePeer) || m.from.equals(carolPeer)),
    )
    const bobRoomAgain = await bobAgain.client.joinRoom(invite, { catchUp: 'later' })
    const received: RoomMessage[] = []
    bobRoomAgain.addEventListener('message:received', (event) => received.push(event.detail))
    const progress = await bobAgain.client.catchUp(bobRoomAgain)
    expect(received.map((m) => [m.text, m.lamport])).toEqual([
      ['from a device that heard nothing', 1],
      ['after it', 9],
    ])
    expect(received.map((m) => m.id)).toEqual([lagging.id, later.id])
    expect(progress).toMatchObject({ relays: 1, delivered: 2, undecryptable: 0, done: true })
  }, 60_000)
})

async function device(wallet: HDNodeWallet, bootstrap: string[], backend?: VaultBackend): Promise<Device> {
  const started = await startDevice({
    wallet,
    bootstrap,
    presenceIntervalMs: 1_000,
    ...(backend === undefined ? {} : { backend }),
  })
  cleanups.push(started.close)
  return started
}

function messageNumber(room: Room, n: number): Promise<RoomMessage> {
  let count = 0
  return new Promise((resolve) => {
    const listener = (event: CustomEvent<RoomMessage>): void => {
      if (++count < n) return
      room.removeEventListener('message:received', listener)
      resolve(event.detail)
    }
    room.addEventListener('message:received', listener)
  })
}
