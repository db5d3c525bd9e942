/**
 * The moderation commands against a relay process with a store: the owner's CLI bans a member (a device of the
 * owner's wallet signs), the owner's other device applies it live, a plain member's ban is refused with the log's
 * reason, and a newcomer's `room log` prints the log it caught up from the store, in JSON and as text; `mute --for`,
 * `unmute`, `lock --read-only`, `unlock` and `remove --author` reach a member's device; `gate set|open` change the
 * gate, the owner's alone; and `listen --json` prints a
 * mute and a moderator's removal as they come.
 */
import type { RoomModerationChange } from '@securechat/sdk/types'
import { Wallet } from 'ethers'
import { describe, expect, it } from 'vitest'
import {
  type JsonLine,
  killAfterEach,
  nextJsonLine,
  runCli,
  spawnCli,
  startRelayRoom,
  tempDir,
  untilStderr,
  writeCli,
} from './helpers/cli.ts'
import { startDevice } from './helpers/device.ts'
import { nextMemberEvent } from './helpers/member-events.ts'
import { startStoreRelay, stopAfterEach } from './helpers/stoppers.ts'

const stoppers = stopAfterEach()
const track = killAfterEach()

/** A relay with a store, a room its owner created, and a member joined to it (each seen by the other). */
async function ownerAndMember() {
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
  const memberRoom = await member.client.joinRoom(invite)
  await memberRoom.waitForPeers()
  await joined
  return { relay, ownerWallet, member, room, invite, memberRoom }
}

describe('securechat moderation commands', () => {
  it('behavior: the owner bans from the CLI, a member cannot, and room log prints the log and its state', async () => {
    const { relay, ownerWallet, member, room, invite, memberRoom } = await ownerAndMember()

    // A mistyped address is refused before anything joins, in words, with what an address looks like.
    const typo = await runCli(['ban', '0x1234', '--room', invite], { SECURECHAT_PRIVATE_KEY: ownerWallet.privateKey })
    expect(typo.code).toBe(1)
    expect(typo.stderr).toContain('the address "0x1234" is not a wallet address')
    expect(typo.stderr).toContain('40 hexadecimal digits')
    expect(typo.stderr).not.toContain('catching up')
    expect(typo.stderr).not.toMatch(/\n\s+at /)

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
    // The banned device is told so when it sends, not left to think it was heard (every member drops its records).
    await expect.poll(() => memberRoom.moderation.isBanned(member.client.address)).toBe(true)
    await expect(memberRoom.send('still here?')).rejects.toThrow('you are banned from this room')
    // What it still sends (its presence, every interval) the relay drops, and counts for its operator.
    await expect
      .poll(() => relay.node.stats().limits.refused['sanctioned-record'] ?? 0, { timeout: 45_000 })
      .toBeGreaterThan(0)
    // Nor is the room handed to it: a banned owner could never act again.
    const transfer = await runCli(['owner', 'transfer', member.client.address, '--room', invite], {
      SECURECHAT_PRIVATE_KEY: ownerWallet.privateKey,
    })
    expect(transfer.code).not.toBe(0)
    expect(transfer.stderr).toContain(`${member.client.address} is banned: unban it first`)

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
        muted: [],
        head: printed.event,
      },
    ])
    const text = await runCli(['room', 'log', '--room', invite], { SECURECHAT_PRIVATE_KEY: reader.privateKey })
    expect(text.code, text.stderr).toBe(0)
    expect(text.stdout).toMatch(new RegExp(`\\d{4}-.*  ${ownerWallet.address}  ban  ${member.client.address}`))
    expect(text.stdout).toContain(`owner ${ownerWallet.address}; moderators: none; banned: ${member.client.address}`)
  }, 180_000)

  it('behavior: mute --for, lock --read-only and remove from the CLI reach a member; room log prints them', async () => {
    const { ownerWallet, member, invite, memberRoom } = await ownerAndMember()
    const asOwner = { SECURECHAT_PRIVATE_KEY: ownerWallet.privateKey }
    const applied = (action: string) =>
      new Promise<RoomModerationChange>((resolve) =>
        memberRoom.addEventListener('moderation:changed', (event) => {
          if (event.detail.event.action === action) resolve(event.detail)
        }),
      )
    const run = async (args: string[]): Promise<Record<string, unknown>> => {
      const result = await runCli([...args, '--room', invite], asOwner)
      expect(result.code, result.stderr).toBe(0)
      return JSON.parse(result.stdout) as Record<string, unknown>
    }

    const tooLong = await runCli(['mute', member.client.address, '--for', '31d', '--room', invite], asOwner)
    expect(tooLong.code).not.toBe(0)
    expect(tooLong.stderr).toContain('a mute lasts from 1 second to 30 days')
    const muted = applied('mute')
    const mute = await run(['mute', member.client.address, '--for', '2h'])
    expect(mute).toMatchObject({ action: 'mute', target: member.client.address, status: 'applied' })
    expect((await muted).hash).toBe(mute.event)
    expect(memberRoom.sendRestriction()).toMatchObject({
      reason: 'muted',
      hint: `wait until ${mute.until}, or ask a moderator to unmute you`,
    })
    const unmuted = applied('unmute')
    await run(['unmute', member.client.address])
    await unmuted
    expect(memberRoom.sendRestriction()).toBeUndefined()

    const locked = applied('lock')
    expect(await run(['lock', '--read-only'])).toMatchObject({ action: 'lock', readOnly: true, status: 'applied' })
    await locked
    expect(memberRoom.sendRestriction()).toMatchObject({ reason: 'read-only' })
    const unlocked = applied('unlock')
    await run(['unlock'])
    await unlocked

    // The owner's CLI device never held the message (it joins after it was sent): it names the author.
    const sent = await memberRoom.send('removed from the CLI')
    const removedHere = new Promise<void>((resolve) =>
      memberRoom.addEventListener('message:updated', (event) => {
        if (event.detail.message.id === sent.id && event.detail.message.removedBy === ownerWallet.address) resolve()
      }),
    )
    const remove = await run(['remove', sent.id, '--author', member.client.address])
    expect(remove).toMatchObject({ action: 'remove', message: sent.id, target: member.client.address })
    await removedHere
    expect(memberRoom.message(sent.id)?.text).toBeUndefined()

    const text = await runCli(['room', 'log', '--room', invite], {
      SECURECHAT_PRIVATE_KEY: Wallet.createRandom().privateKey,
    })
    expect(text.code, text.stderr).toBe(0)
    expect(text.stdout).toContain(`mute  ${member.client.address}  until ${mute.until}`)
    expect(text.stdout).toMatch(/lock {2}read-only, admitting \d+ members/)
    expect(text.stdout).toContain(`remove  ${member.client.address}  message ${sent.id}`)
    expect(text.stdout).toContain('muted: none')
  }, 240_000)

  it('error: a member muted while away is refused on its next send from the same data dir, which remembered the room', async () => {
    const relay = await startStoreRelay(stoppers)
    const ownerWallet = Wallet.createRandom()
    const owner = await startDevice({ wallet: ownerWallet, bootstrap: [relay.multiaddrs[0]!] })
    stoppers.push(owner.close)
    const { room, invite } = await owner.client.createRoom({ name: 'moderated' })
    await room.waitForPeers()
    const memberWallet = Wallet.createRandom()
    const asMember = { SECURECHAT_PRIVATE_KEY: memberWallet.privateKey, SECURECHAT_VAULT_PASSPHRASE: 'member only' }
    const dataDir = await tempDir('muted-member-')
    const before = await runCli(['send', '--room', invite, '--data-dir', dataDir, 'before the mute'], asMember)
    expect(before.code, before.stderr).toBe(0)
    const mute = await runCli(['mute', memberWallet.address, '--for', '2h', '--room', invite], {
      SECURECHAT_PRIVATE_KEY: ownerWallet.privateKey,
    })
    expect(mute.code, mute.stderr).toBe(0)
    // Its data dir knows the room and its log as they were: the stores' log, read before sending, has the mute.
    const after = await runCli(['send', '--room', invite, '--data-dir', dataDir, 'while muted'], asMember)
    expect(after.code).toBe(1)
    expect(after.stderr).toContain('you are muted in this room until')
    expect(after.stdout).toBe('')
  })

  it('behavior: gate set and gate open change the room’s token gate (the owner only); room log prints them', async () => {
    const { ownerWallet, invite, memberRoom } = await ownerAndMember()
    const contract = Wallet.createRandom().address
    const applied = (status: 'set' | 'open') =>
      new Promise<void>((resolve) =>
        memberRoom.addEventListener('moderation:changed', (event) => {
          if (event.detail.event.action === 'gate' && (event.detail.event.rule === undefined) === (status === 'open')) {
            resolve()
          }
        }),
      )
    const set = applied('set')
    const gated = await runCli(['gate', 'set', `erc721:${contract}`, '--room', invite], {
      SECURECHAT_PRIVATE_KEY: ownerWallet.privateKey,
    })
    expect(gated.code, gated.stderr).toBe(0)
    const rule = { type: 'erc721', chainId: 31337, contract, minBalance: '1' }
    expect(JSON.parse(gated.stdout)).toMatchObject({ action: 'gate', gate: rule, status: 'applied' })
    await set
    expect(memberRoom.gateRule).toEqual(rule)

    const refused = await runCli(['gate', 'open', '--room', invite], {
      SECURECHAT_PRIVATE_KEY: Wallet.createRandom().privateKey,
    })
    expect(refused.code).not.toBe(0)
    expect(refused.stderr).toContain('gate refused: gate needs the owner')
    const opened = applied('open')
    const open = await runCli(['gate', 'open', '--room', invite], { SECURECHAT_PRIVATE_KEY: ownerWallet.privateKey })
    expect(open.code, open.stderr).toBe(0)
    expect(JSON.parse(open.stdout)).toMatchObject({ action: 'gate', gate: 'open', status: 'applied' })
    await opened
    expect(memberRoom.gateRule).toBeUndefined()

    const text = await runCli(['room', 'log', '--room', invite], {
      SECURECHAT_PRIVATE_KEY: Wallet.createRandom().privateKey,
    })
    expect(text.code, text.stderr).toBe(0)
    expect(text.stdout).toContain(`gate  {"chainId":31337,"contract":"${contract}","minBalance":"1","type":"erc721"}`)
    expect(text.stdout).toMatch(/gate {2}open\n/)
    expect(text.stdout).toContain('; gate: open')
  }, 240_000)

  it("behavior: listen --json prints a mute and a moderator's removal as they come, and after a restart from its data dir only what is new", async () => {
    const [owner, alice, bob] = [Wallet.createRandom(), Wallet.createRandom(), Wallet.createRandom()]
    const { invite } = await startRelayRoom(track, 'moderated-listen', owner.privateKey)
    const asBob = { SECURECHAT_PRIVATE_KEY: bob.privateKey, SECURECHAT_VAULT_PASSPHRASE: 'bob only' }
    const dataDir = await tempDir('moderated-listen-bob-')
    const listenArgs = ['listen', '--room', invite, '--json', '--data-dir', dataDir]
    const listener = track(spawnCli(listenArgs, asBob))
    await untilStderr(listener, 'listening on room')
    const id = await writeCli(['send', 'said before the mute', '--room', invite], alice.privateKey)
    await nextJsonLine(listener, (line) => line.id === id)

    const asOwner = { SECURECHAT_PRIVATE_KEY: owner.privateKey }
    const mute = await runCli(['mute', alice.address, '--for', '1h', '--room', invite], asOwner)
    expect(mute.code, mute.stderr).toBe(0)
    const { until } = JSON.parse(mute.stdout) as { until: string }
    expect(await nextJsonLine(listener, (line) => line.type === 'moderation')).toMatchObject({
      action: 'mute',
      target: alice.address,
      author: owner.address,
      until,
      applied: true,
    })
    const remove = await runCli(['remove', id, '--author', alice.address, '--room', invite], asOwner)
    expect(remove.code, remove.stderr).toBe(0)
    expect(await nextJsonLine(listener, (line) => line.type === 'delete')).toMatchObject({
      target: id,
      sender: owner.address,
      message: { id, deleted: true, removedBy: owner.address },
    })

    // Its data dir kept the log: the stores' copy of the mute and the removal is no news to the listener restarted.
    listener.kill('SIGTERM')
    expect(await listener.exited).toBe(0)
    const again = track(spawnCli(listenArgs, asBob))
    await untilStderr(again, ' — done')
    const unmute = await runCli(['unmute', alice.address, '--room', invite], asOwner)
    expect(unmute.code, unmute.stderr).toBe(0)
    expect(await nextJsonLine(again, (line) => line.type === 'moderation')).toMatchObject({
      action: 'unmute',
      target: alice.address,
      applied: true,
    })
    const printed = again.lines.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as JsonLine)
    expect(printed.filter((line) => line.type === 'moderation').map((line) => line.action)).toEqual(['unmute'])
    expect(printed.filter((line) => line.type === 'delete')).toEqual([])
  }, 240_000)

  it('behavior: a banned wallet listening is told so once its catch-up ends, and told again when unbanned', async () => {
    const [owner, carol] = [Wallet.createRandom(), Wallet.createRandom()]
    const { invite } = await startRelayRoom(track, 'banned-listen', owner.privateKey)
    const asOwner = { SECURECHAT_PRIVATE_KEY: owner.privateKey }
    const ban = await runCli(['ban', carol.address, '--room', invite], asOwner)
    expect(ban.code, ban.stderr).toBe(0)
    const listener = track(spawnCli(['listen', '--room', invite], { SECURECHAT_PRIVATE_KEY: carol.privateKey }))
    await untilStderr(listener, 'note: you are banned from this room: nobody receives what you send here')
    const unban = await runCli(['unban', carol.address, '--room', invite], asOwner)
    expect(unban.code, unban.stderr).toBe(0)
    await untilStderr(listener, 'note: you may send in this room again')
    expect(listener.stderr().match(/note: /g)).toHaveLength(2)
    // Unbanned twice: nothing to undo, and the hint says where to look, not who may moderate.
    const twice = await runCli(['unban', carol.address, '--room', invite], asOwner)
    expect(twice.code).toBe(1)
    expect(twice.stderr).toContain(`unban refused: ${carol.address} is not banned`)
    expect(twice.stderr).toContain("the room's log says who is banned or muted")
  }, 180_000)
})
