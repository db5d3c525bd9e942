/**
 * A relay that leaves a room nobody is in (its idle time) and joins it again when a member comes back keeps what the
 * room's moderation log said: no member sends the log again, and a relay that had forgotten it forwarded and stored a
 * muted member's records as anyone's (an outside probe's finding). A relay restarted on its data dir takes the log up
 * from its message store: with none, it ignored every later event as one of a broken chain — neither forwarded nor
 * kept. Real libp2p nodes over TCP.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { walletSigner } from '@securechat/sdk/identity'
import { Wallet } from 'ethers'
import { describe, expect, it } from 'vitest'
import { createRelay, type Relay } from '../node/src/relay/create-relay.ts'
import { type MessageStoreService, messageStore } from '../node/src/relay/store-service.ts'
import { startDevice } from './helpers/device.ts'
import { nextMemberEvent } from './helpers/member-events.ts'
import { startRelay, stopAfterEach, tcpAddressOf } from './helpers/stoppers.ts'

const stoppers = stopAfterEach()

describe('a relay joining an idle room again', () => {
  it('behavior: keeps the room’s moderation log: a member muted before the relay left is still muted after', async () => {
    const relay = await startRelay(stoppers, { roomIdleMs: 200 })
    const bootstrap = [tcpAddressOf(relay)]
    const ownerWallet = Wallet.createRandom()
    const owner = await startDevice({ wallet: ownerWallet, bootstrap })
    stoppers.push(owner.close)
    const memberWallet = Wallet.createRandom()
    const member = await startDevice({ wallet: memberWallet, bootstrap })
    stoppers.push(member.close)
    const { room, invite } = await owner.client.createRoom({ name: 'moderated' })
    await room.waitForPeers()
    const joined = nextMemberEvent(room, 'member:joined', member.client.peerId.toString())
    await (await member.client.joinRoom(invite)).waitForPeers()
    await joined
    const untilMs = Date.now() + 3_600_000
    await room.moderate('mute', memberWallet.address, {
      signer: walletSigner({ type: 'eoa', signer: ownerWallet }),
      untilMs,
    })
    const topic = room.topic
    await expect.poll(() => relay.moderationLog(topic)?.muteOf(memberWallet.address)?.untilMs).toBe(untilMs)

    // Everyone goes; the relay leaves the room.
    await owner.close()
    await member.close()
    await expect.poll(() => relay.moderationLog(topic), { timeout: 20_000 }).toBeUndefined()

    // The member comes back alone, with a device that remembers nothing: the relay joins the room again, muted as it was.
    const back = await startDevice({ wallet: memberWallet, bootstrap })
    stoppers.push(back.close)
    await (await back.client.joinRoom(invite, { catchUp: 'no' })).waitForPeers()
    await expect.poll(() => relay.moderationLog(topic)?.muteOf(memberWallet.address)?.untilMs).toBe(untilMs)
  }, 120_000)

  it('behavior: a relay restarted on its data dir takes the log up from its store: what was muted stays muted, and a later event passes it and is kept', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'restarted-relay-'))
    stoppers.push(() => rm(dataDir, { recursive: true, force: true }))
    const privateKey = await generateKeyPair('Ed25519')
    const startStoreRelay = async (listen: string): Promise<Relay> => {
      const relay = createRelay({ privateKey, listen: [listen], dataDir, services: { store: messageStore() } })
      await relay.start()
      return relay
    }
    const first = await startStoreRelay('/ip4/127.0.0.1/tcp/0')
    stoppers.push(() => first.stop())
    const bootstrap = [tcpAddressOf(first.node)]
    const ownerWallet = Wallet.createRandom()
    const signer = walletSigner({ type: 'eoa', signer: ownerWallet })
    const owner = await startDevice({ wallet: ownerWallet, bootstrap })
    stoppers.push(owner.close)
    const memberWallet = Wallet.createRandom()
    const member = await startDevice({ wallet: memberWallet, bootstrap })
    stoppers.push(member.close)
    const { room, invite } = await owner.client.createRoom({ name: 'restarted' })
    await room.waitForPeers()
    const joined = nextMemberEvent(room, 'member:joined', member.client.peerId.toString())
    const memberRoom = await member.client.joinRoom(invite)
    await memberRoom.waitForPeers()
    await joined
    const untilMs = Date.now() + 3_600_000
    await room.moderate('mute', memberWallet.address, { signer, untilMs })
    const topic = room.topic
    await expect.poll(() => first.node.moderationLog(topic)?.muteOf(memberWallet.address)?.untilMs).toBe(untilMs)
    await (first.services.store as MessageStoreService).flush()
    await first.stop()

    // The same relay again, on its port and data dir: the members' devices dial it back.
    const second = await startStoreRelay(bootstrap[0]!.replace(/\/p2p\/.*$/, ''))
    stoppers.push(() => second.stop())
    await expect
      .poll(() => second.node.moderationLog(topic)?.muteOf(memberWallet.address)?.untilMs, { timeout: 30_000 })
      .toBe(untilMs)

    // The owner's next event names the head from before the restart: the relay judges it, forwards it and keeps it.
    const timer = await room.setDisappearing(3600, { signer })
    await expect.poll(() => second.node.moderationLog(topic)?.has(timer.hash), { timeout: 15_000 }).toBe(true)
    await expect.poll(() => memberRoom.disappearing()?.seconds, { timeout: 15_000 }).toBe(3600)
    // And kept: a newcomer learns it from the store, which is where a newcomer reads the log (members do not send it).
    await (second.services.store as MessageStoreService).flush()
    const newcomer = await startDevice({ wallet: Wallet.createRandom(), bootstrap })
    stoppers.push(newcomer.close)
    const newcomerRoom = await newcomer.client.joinRoom(invite)
    await expect.poll(() => newcomerRoom.disappearing()?.seconds, { timeout: 30_000 }).toBe(3600)
    expect(newcomerRoom.moderation.muteOf(memberWallet.address)?.untilMs).toBe(untilMs)
  }, 120_000)
})
