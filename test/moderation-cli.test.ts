/**
 * `securechat ban` and `securechat room log` against a relay process with a store: the owner's CLI bans a member (a
 * device of the owner's wallet signs), the owner's other device applies it live, a plain member's ban is refused with
 * the log's reason, and a newcomer's `room log` prints the log it caught up from the store, in JSON and as text.
 */
import type { RoomModerationChange } from '@securechat/sdk/types'
import { Wallet } from 'ethers'
import { describe, expect, it } from 'vitest'
import { runCli } from './helpers/cli.ts'
import { startDevice } from './helpers/device.ts'
import { nextMemberEvent } from './helpers/member-events.ts'
import { startStoreRelay, stopAfterEach } from './helpers/stoppers.ts'

const stoppers = stopAfterEach()

describe('securechat ban and room log', () => {
  it('behavior: the owner bans from the CLI, a member cannot, and room log prints the log and its state', async () => {
    const relay = await startStoreRelay(stoppers)
    const relayAddress = relay.multiaddrs[0]!
    const ownerWallet = Wallet.createRandom()
    const owner = await startDevice({ wallet: ownerWallet, bootstrap: [relayAddress] })
    stoppers.push(owner.close)
    const member = await startDevice({ wallet: Wallet.createRandom(), bootstrap: [relayAddress] })
    stoppers.push(member.close)
    const { room, invite } = await owner.client.createRoom({ name: 'moderated' })
    await room.waitForPeers()
    const joined = nextMemberEvent(room, 'member:joined', member.client.peerId.toString())
    await (await member.client.joinRoom(invite)).waitForPeers()
    await joined

    const applied = new Promise<RoomModerationChange>((resolve) =>
      room.addEventListener('moderation:changed', (event) => resolve(event.detail), { once: true }),
    )
    const ban = await runCli(['ban', member.client.address, '--room', invite], {
      SECURECHAT_PRIVATE_KEY: ownerWallet.privateKey,
    })
    expect(ban.code, ban.stderr).toBe(0)
    const printed = JSON.parse(ban.stdout) as { action: string; target: string; event: string; status: string }
    expect(printed).toMatchObject({ action: 'ban', target: member.client.address, status: 'applied' })
    expect((await applied).hash).toBe(printed.event)
    expect(room.moderation.isBanned(member.client.address)).toBe(true)

    const refused = await runCli(['ban', ownerWallet.address, '--room', invite], {
      SECURECHAT_PRIVATE_KEY: Wallet.createRandom().privateKey,
    })
    expect(refused.code).not.toBe(0)
    expect(refused.stderr).toContain('ban refused: ban needs a moderator')

    const reader = Wallet.createRandom()
    const json = await runCli(['room', 'log', '--room', invite, '--json'], {
      SECURECHAT_PRIVATE_KEY: reader.privateKey,
    })
    expect(json.code, json.stderr).toBe(0)
    const lines = json.stdout.split('\n').map((line) => JSON.parse(line) as Record<string, unknown>)
    expect(lines).toEqual([
      expect.objectContaining({
        type: 'moderation',
        hash: printed.event,
        action: 'ban',
        target: member.client.address,
        author: ownerWallet.address,
        applied: true,
      }),
      {
        type: 'state',
        owner: ownerWallet.address,
        moderators: [],
        banned: [member.client.address],
        head: printed.event,
      },
    ])
    const text = await runCli(['room', 'log', '--room', invite], { SECURECHAT_PRIVATE_KEY: reader.privateKey })
    expect(text.code, text.stderr).toBe(0)
    expect(text.stdout).toMatch(new RegExp(`\\d{4}-.*  ${ownerWallet.address}  ban  ${member.client.address}`))
    expect(text.stdout).toContain(`owner ${ownerWallet.address}; moderators: none; banned: ${member.client.address}`)
  }, 180_000)
})
