/**
 * `securechat members`: who is in a room as a device sees it once joined — the owner and another member here, one
 * that left away (learned from the presence the relay's store kept) with when it was last seen, the device itself
 * marked — in JSON and as text.
 */
import { Wallet } from 'ethers'
import { describe, expect, it } from 'vitest'
import { runCli } from './helpers/cli.ts'
import { startDevice } from './helpers/device.ts'
import { nextMemberEvent } from './helpers/member-events.ts'
import { startStoreRelay, stopAfterEach } from './helpers/stoppers.ts'

const stoppers = stopAfterEach()

interface MemberLine {
  type: string
  address: string
  status: 'here' | 'away'
  lastSeen: string
  roles: Array<{ kind: string }>
  devices: number
  you?: true
}

describe('securechat members', () => {
  it('behavior: lists the owner and a member here, one that left away with its last-seen time, and itself', async () => {
    const relay = await startStoreRelay(stoppers)
    const relayAddress = relay.multiaddrs[0]!
    const [alice, bob, carol] = await Promise.all(
      [0, 1, 2].map(async () => {
        const device = await startDevice({ wallet: Wallet.createRandom(), bootstrap: [relayAddress] })
        stoppers.push(device.close)
        return device
      }),
    )
    const { room, invite } = await alice!.client.createRoom({ name: 'who is here' })
    await room.waitForPeers()
    const carolJoiningAtMs = Date.now()
    for (const device of [bob!, carol!]) {
      const joined = nextMemberEvent(room, 'member:joined', device.client.peerId.toString())
      await (await device.client.joinRoom(invite)).waitForPeers()
      await joined
    }
    const carolLeft = nextMemberEvent(room, 'member:left', carol!.client.peerId.toString())
    await carol!.close()
    await carolLeft
    const carolLeftAtMs = Date.now()

    const dave = Wallet.createRandom()
    const json = await runCli(['members', '--room', invite, '--json'], { SECURECHAT_PRIVATE_KEY: dave.privateKey })
    expect(json.code, json.stderr).toBe(0)
    const lines = json.stdout.split('\n').map((line) => JSON.parse(line) as MemberLine)
    const of = (address: string) => lines.find((line) => line.address === address)
    expect(of(alice!.client.address)).toMatchObject({ type: 'member', status: 'here', roles: [{ kind: 'owner' }] })
    expect(of(bob!.client.address)).toMatchObject({ status: 'here', roles: [] })
    expect(of(dave.address)).toMatchObject({ status: 'here', you: true })
    const away = of(carol!.client.address)
    expect(away).toMatchObject({ status: 'away', roles: [] })
    // Its last presence the store kept (the leaving one, if the store had it already): while it was in the room.
    expect(Date.parse(away!.lastSeen)).toBeGreaterThanOrEqual(carolJoiningAtMs)
    expect(Date.parse(away!.lastSeen)).toBeLessThanOrEqual(carolLeftAtMs)
    // Here first.
    expect(lines.findIndex((line) => line.status === 'away')).toBe(lines.length - 1)

    const text = await runCli(['members', '--room', invite], { SECURECHAT_PRIVATE_KEY: dave.privateKey })
    expect(text.code, text.stderr).toBe(0)
    expect(text.stdout).toContain(`${alice!.client.address}  here  owner  here now`)
    expect(text.stdout).toContain(`${dave.address} (you)  here  member  here now`)
    expect(text.stdout).toMatch(new RegExp(`${carol!.client.address}  away  member  last seen \\d{4}-`))
  }, 120_000)
})
