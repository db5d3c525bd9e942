/**
 * A relay that leaves a room nobody is in (its idle time) and joins it again when a member comes back keeps what the
 * room's moderation log said: no member sends the log again, and a relay that had forgotten it forwarded and stored a
 * muted member's records as anyone's (an outside probe's finding). Real libp2p nodes over TCP.
 */
import { walletSigner } from '@securechat/sdk/identity'
import { Wallet } from 'ethers'
import { describe, expect, it } from 'vitest'
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
})
