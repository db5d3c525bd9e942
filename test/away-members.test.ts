/**
 * Sealing to a member never met (issue 12, item 3): a device that was never online with a member
 * learns it from the room's presence the relays kept and fetches its key bundle from them, so what
 * it says while the member is away reaches the member's catch-up readable.
 */
import { rm } from 'node:fs/promises'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { ABSENT_MEMBER_KEYS_MS } from '@securechat/sdk/constants'
import { queryHistory } from '@securechat/sdk/history'
import { type Room, roomTopic } from '@securechat/sdk/rooms'
import type { RoomMessage } from '@securechat/sdk/types'
import { memoryVaultBackend } from '@securechat/sdk/vault'
import { Wallet } from 'ethers'
import { describe, expect, it } from 'vitest'
import { createRelay, type Relay } from '../node/src/relay/create-relay.ts'
import { type MessageStoreService, messageStore } from '../node/src/relay/store-service.ts'
import { openStore } from '../node/src/store/open.ts'
import { runCli, tempDir } from './helpers/cli.ts'
import { startDevice } from './helpers/device.ts'
import { nextMemberEvent } from './helpers/member-events.ts'
import { startStoreRelay, stopAfterEach } from './helpers/stoppers.ts'

const stoppers = stopAfterEach()

describe('sealing to a member never met', () => {
  it('behavior: a one-shot send without a data dir, while the reader is away, is read in the reader’s catch-up', async () => {
    const relay = await startStoreRelay(stoppers)
    const relayAddress = relay.multiaddrs[0] as string
    const readerWallet = Wallet.createRandom()
    const readerVault = memoryVaultBackend()

    // The reader creates the room, is seen by the relay (which keeps its presence), and goes away.
    const reader = await startDevice({ wallet: readerWallet, bootstrap: [relayAddress], backend: readerVault })
    stoppers.push(reader.close)
    const { room, invite } = await reader.client.createRoom({ name: 'never met' })
    await room.waitForPeers()
    await reader.close()
    await (relay.services.store as MessageStoreService).flush()

    // A newcomer's first and only run: nobody else online, no vault, no earlier run.
    const sent = await runCli(['send', '--room', invite, 'hello, whoever reads this'], {
      SECURECHAT_PRIVATE_KEY: Wallet.createRandom().privateKey,
    })
    expect(sent.code, sent.stderr).toBe(0)
    const { id } = JSON.parse(sent.stdout) as { id: string }

    // The reader returns and reads it in its catch-up.
    const back = await startDevice({ wallet: readerWallet, bootstrap: [relayAddress], backend: readerVault })
    stoppers.push(back.close)
    const roomAgain = await back.client.joinRoom(invite, { catchUp: 'later' })
    const { received, undecryptable } = collect(roomAgain)
    const progress = await back.client.catchUp(roomAgain)
    expect(undecryptable).toEqual([])
    expect(received.map((m) => [m.id, m.text])).toEqual([[id, 'hello, whoever reads this']])
    expect(progress).toMatchObject({ delivered: 1, undecryptable: 0 })
  }, 60_000)
})

describe('sealing to a member never met, the relay restarted meanwhile', () => {
  it('behavior: the bundle comes from the relay’s store, not its memory: the one-shot send is still read on return', async () => {
    const dataDir = await tempDir('away-members-relay-')
    stoppers.push(() => rm(dataDir, { recursive: true, force: true }))
    const privateKey = await generateKeyPair('Ed25519')
    const first = await storeRelay(dataDir, privateKey, '/ip4/127.0.0.1/tcp/0')
    const relayAddress = first.multiaddrs[0] as string
    const readerWallet = Wallet.createRandom()
    const readerVault = memoryVaultBackend()

    const reader = await startDevice({ wallet: readerWallet, bootstrap: [relayAddress], backend: readerVault })
    stoppers.push(reader.close)
    const readerPeerId = reader.client.peerId.toString()
    const verified = bundleVerified(first, readerPeerId)
    const { room, invite } = await reader.client.createRoom({ name: 'never met, relay restarted' })
    await room.waitForPeers()
    await verified
    await reader.close()
    await (first.services.store as MessageStoreService).flush()
    await first.stop()

    // The same relay again (its key, data dir and port): it remembers no certificate and no bundle, its store does.
    const again = await storeRelay(dataDir, privateKey, relayAddress.replace(/\/p2p\/.*$/, ''))
    const sent = await runCli(['send', '--room', invite, 'said after the restart'], {
      SECURECHAT_PRIVATE_KEY: Wallet.createRandom().privateKey,
    })
    expect(sent.code, sent.stderr).toBe(0)
    const { id } = JSON.parse(sent.stdout) as { id: string }
    expect(again.node.heldBundle(readerPeerId)).toBeUndefined()

    const back = await startDevice({ wallet: readerWallet, bootstrap: [relayAddress], backend: readerVault })
    stoppers.push(back.close)
    const roomAgain = await back.client.joinRoom(invite, { catchUp: 'later' })
    const { received, undecryptable } = collect(roomAgain)
    await back.client.catchUp(roomAgain)
    expect(undecryptable).toEqual([])
    expect(received.map((m) => [m.id, m.text])).toEqual([[id, 'said after the restart']])
  }, 60_000)
})

describe('sealing to a member never met, from a relay that lies about its bundle', () => {
  it('error: a bundle the relay swapped for another member’s (validly signed, by another PeerId) is refused: nothing is sealed to it', async () => {
    const dataDir = await tempDir('away-members-liar-')
    stoppers.push(() => rm(dataDir, { recursive: true, force: true }))
    const privateKey = await generateKeyPair('Ed25519')
    const first = await storeRelay(dataDir, privateKey, '/ip4/127.0.0.1/tcp/0')
    const relayAddress = first.multiaddrs[0] as string
    const readerWallet = Wallet.createRandom()
    const readerVault = memoryVaultBackend()

    // The reader and Mallory are both seen by the relay, and both go away.
    const reader = await startDevice({ wallet: readerWallet, bootstrap: [relayAddress], backend: readerVault })
    const mallory = await startDevice({ wallet: Wallet.createRandom(), bootstrap: [relayAddress] })
    stoppers.push(reader.close, mallory.close)
    const [readerPeerId, malloryPeerId] = [reader.client.peerId.toString(), mallory.client.peerId.toString()]
    const verified = [bundleVerified(first, readerPeerId), bundleVerified(first, malloryPeerId)]
    const { room, invite } = await reader.client.createRoom({ name: 'a lying relay' })
    const malloryRoom = await mallory.client.joinRoom(invite)
    await Promise.all([room.waitForPeers(), malloryRoom.waitForPeers(), ...verified])
    await mallory.close()
    await reader.close()
    await (first.services.store as MessageStoreService).flush()
    await first.stop()

    // The relay's store now answers Mallory's bundle for the reader.
    const store = await openStore({ dataDir })
    const malloryBundle = await store.getBundle(malloryPeerId)
    expect(malloryBundle).toBeDefined()
    await store.putBundles([{ peer: readerPeerId, bundle: malloryBundle! }])
    await store.close()
    const again = await storeRelay(dataDir, privateKey, relayAddress.replace(/\/p2p\/.*$/, ''))

    const sent = await runCli(['send', '--room', invite, 'not for mallory'], {
      SECURECHAT_PRIVATE_KEY: Wallet.createRandom().privateKey,
    })
    expect(sent.code, sent.stderr).toBe(0)

    // Sealed to Mallory (whose own bundle is honest), never to the reader under Mallory's keys.
    const back = await startDevice({ wallet: readerWallet, bootstrap: [relayAddress], backend: readerVault })
    stoppers.push(back.close)
    const keys = await queryHistory(back.client.libp2p, again.node.libp2p.peerId, {
      topic: roomTopic(room.id),
      range: { by: 'time' },
      types: ['keys'],
    })
    const newcomers = keys.records.filter(({ record }) => record.from !== readerPeerId && record.from !== malloryPeerId)
    const sealedTo = newcomers.flatMap(({ record }) =>
      (JSON.parse(new TextDecoder().decode(record.data)) as { to: Array<{ peer: string }> }).to.map((e) => e.peer),
    )
    expect(sealedTo).toContain(malloryPeerId)
    expect(sealedTo).not.toContain(readerPeerId)
    const roomAgain = await back.client.joinRoom(invite, { catchUp: 'later' })
    const { received, undecryptable } = collect(roomAgain)
    await back.client.catchUp(roomAgain)
    expect(received).toEqual([])
    expect(undecryptable).toEqual([expect.stringMatching(/never sealed to this device/)])
  }, 60_000)
})

describe('who a device that never met them does not seal to', () => {
  it('error: a member that left for good, and one whose last presence is older than ABSENT_MEMBER_KEYS_MS, get nothing; one merely away does', async () => {
    const relay = await startStoreRelay(stoppers)
    const relayAddress = relay.multiaddrs[0] as string
    const start = (now?: () => number) =>
      startDevice({ wallet: Wallet.createRandom(), bootstrap: [relayAddress], ...(now === undefined ? {} : { now }) })
    const away = await start()
    const leaver = await start()
    // Its clock says it was last here longer ago than members away are sealed keys.
    const stale = await start(() => Date.now() - ABSENT_MEMBER_KEYS_MS - 60 * 60 * 1000)
    stoppers.push(away.close, leaver.close, stale.close)
    const [awayId, leaverId, staleId] = [away, leaver, stale].map((d) => d.client.peerId.toString())
    const verified = [awayId, leaverId, staleId].map((peerId) => bundleVerified(relay, peerId))
    const { room, invite } = await away.client.createRoom({ name: 'who is a member' })
    const rooms = [room, await leaver.client.joinRoom(invite), await stale.client.joinRoom(invite)]
    await Promise.all([...rooms.map((r) => r.waitForPeers()), ...verified])
    // Its leave went through the relay (which stores it as it forwards it) before everyone goes.
    const left = nextMemberEvent(room, 'member:left', leaverId)
    await leaver.client.leaveRoom(room.id)
    await left
    await Promise.all([leaver.close(), stale.close(), away.close()])
    await (relay.services.store as MessageStoreService).flush()

    const sent = await runCli(['send', '--room', invite, 'for whoever is still a member'], {
      SECURECHAT_PRIVATE_KEY: Wallet.createRandom().privateKey,
    })
    expect(sent.code, sent.stderr).toBe(0)

    const observer = await start()
    stoppers.push(observer.close)
    const keys = await queryHistory(observer.client.libp2p, relay.node.libp2p.peerId, {
      topic: roomTopic(room.id),
      range: { by: 'time' },
      types: ['keys'],
    })
    const sealedTo = keys.records
      .filter(({ record }) => ![awayId, leaverId, staleId].includes(record.from))
      .flatMap(({ record }) =>
        (JSON.parse(new TextDecoder().decode(record.data)) as { to: Array<{ peer: string }> }).to.map((e) => e.peer),
      )
    expect(sealedTo).toContain(awayId)
    expect(sealedTo).not.toContain(leaverId)
    expect(sealedTo).not.toContain(staleId)
  }, 60_000)
})

async function storeRelay(dataDir: string, privateKey: PrivateKey, listen: string): Promise<Relay> {
  const relay = createRelay({ privateKey, listen: [listen], dataDir, services: { store: messageStore() } })
  await relay.start()
  stoppers.push(() => relay.stop())
  return relay
}

function bundleVerified(relay: Relay, peerId: string): Promise<void> {
  return new Promise((resolve) => {
    const listener = (event: CustomEvent<{ peerId: string }>): void => {
      if (event.detail.peerId !== peerId) return
      relay.node.removeEventListener('bundle:verified', listener)
      resolve()
    }
    relay.node.addEventListener('bundle:verified', listener)
  })
}

function collect(room: Room): { received: RoomMessage[]; undecryptable: string[] } {
  const received: RoomMessage[] = []
  const undecryptable: string[] = []
  room.addEventListener('message:received', (event) => received.push(event.detail))
  room.addEventListener('message:undecryptable', (event) => undecryptable.push(event.detail.reason))
  return { received, undecryptable }
}
