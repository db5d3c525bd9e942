/**
 * Presence that goes stale within a moment of a device leaving (issue 14): a member that stops says so in a signed
 * `leaving` presence; one that vanishes (a killed process) is reported by its relay's departure notice
 * (`client/departures.ts`). The watching device's presence timeout is ten minutes here, so only those two paths can
 * mark the member away within the test. What nobody else can do: leave for a member (a presence naming its
 * certificate from another PeerId), or have a relay it never went through report it gone.
 */
import { WIRE_VERSION } from '@securechat/sdk/constants'
import { encodeRecord, memberList, type Room } from '@securechat/sdk/rooms'
import { Wallet } from 'ethers'
import { describe, expect, it } from 'vitest'
import { spawnCli } from './helpers/cli.ts'
import { startDevice } from './helpers/device.ts'
import { nextMemberEvent } from './helpers/member-events.ts'
import { startRelay, stopAfterEach } from './helpers/stoppers.ts'

const stoppers = stopAfterEach()

/** Longer than any test here runs: a member marked away within the test was not timed out. */
const WATCHER_PRESENCE_TIMEOUT_MS = 10 * 60_000

async function watcherRoom(relayAddress: string): Promise<{ room: Room; invite: string }> {
  const alice = await startDevice({
    wallet: Wallet.createRandom(),
    bootstrap: [relayAddress],
    presenceTimeoutMs: WATCHER_PRESENCE_TIMEOUT_MS,
  })
  stoppers.push(alice.close)
  const { room, invite } = await alice.client.createRoom({ name: 'presence' })
  await room.waitForPeers()
  return { room, invite }
}

function isPresent(room: Room, peerId: string): boolean {
  return room.members().some((member) => member.peerId === peerId)
}

describe('presence: a member that leaves is seen away at once', () => {
  it('behavior: a member that stops sends a signed leaving presence; the others list it away, last seen then', async () => {
    const relay = await startRelay(stoppers)
    const { room, invite } = await watcherRoom(relay.multiaddrs[0]!)
    const bob = await startDevice({ wallet: Wallet.createRandom(), bootstrap: [relay.multiaddrs[0]!] })
    stoppers.push(bob.close)
    const bobPeer = bob.client.peerId.toString()
    const joined = nextMemberEvent(room, 'member:joined', bobPeer)
    await (await bob.client.joinRoom(invite)).waitForPeers()
    await joined

    const left = nextMemberEvent(room, 'member:left', bobPeer)
    const stoppedAtMs = Date.now()
    await bob.close()
    await left
    console.info(`clean leave seen away after ${Date.now() - stoppedAtMs} ms`)

    expect(isPresent(room, bobPeer)).toBe(false)
    const entry = (await memberList(room)).find((e) => e.peerIds.includes(bobPeer))
    expect(entry).toMatchObject({ status: 'away', roles: [] })
    expect(entry!.lastSeenMs).toBeGreaterThanOrEqual(stoppedAtMs)
  }, 60_000)

  it('behavior: a member whose process is killed is reported by its relay; the others list it away', async () => {
    const relay = await startRelay(stoppers)
    const { room, invite } = await watcherRoom(relay.multiaddrs[0]!)
    const bobWallet = Wallet.createRandom()
    const joined = new Promise<string>((resolve) =>
      room.addEventListener('member:joined', (event) => {
        if (event.detail.address === bobWallet.address) resolve(event.detail.peerId)
      }),
    )
    const cli = spawnCli(['listen', '--room', invite, '--json'], { SECURECHAT_PRIVATE_KEY: bobWallet.privateKey })
    stoppers.push(async () => {
      cli.kill('SIGKILL')
      await cli.exited
    })
    const bobPeer = await joined

    const left = nextMemberEvent(room, 'member:left', bobPeer)
    const killedAtMs = Date.now()
    cli.kill('SIGKILL')
    await left
    console.info(`killed process seen away after ${Date.now() - killedAtMs} ms`)
    expect(room.away().map((m) => m.peerId)).toContain(bobPeer)
  }, 60_000)
})

describe('presence: nobody leaves for someone else', () => {
  it('error: a leaving presence with bob’s certificate from another PeerId is refused; bob stays here', async () => {
    const relay = await startRelay(stoppers)
    const relayAddress = relay.multiaddrs[0]!
    const { room, invite } = await watcherRoom(relayAddress)
    const [bob, mallory] = await Promise.all(
      [0, 1].map(() => startDevice({ wallet: Wallet.createRandom(), bootstrap: [relayAddress] })),
    )
    stoppers.push(bob!.close, mallory!.close)
    const bobPeer = bob!.client.peerId.toString()
    const malloryPeer = mallory!.client.peerId.toString()
    const joined = Promise.all([
      nextMemberEvent(room, 'member:joined', bobPeer),
      nextMemberEvent(room, 'member:joined', malloryPeer),
    ])
    await Promise.all([bob, mallory].map(async (device) => (await device!.client.joinRoom(invite)).waitForPeers()))
    await joined

    // Refused by the first honest peer it reaches: the relay, or alice herself over a direct connection.
    const rejected = new Promise<string>((resolve) => {
      const onRejected = (event: CustomEvent<{ from: string; reason: string }>): void => {
        if (event.detail.from === malloryPeer) resolve(event.detail.reason)
      }
      relay.addEventListener('record:rejected', onRejected)
      room.addEventListener('message:rejected', onRejected)
    })
    const forged = encodeRecord({
      v: WIRE_VERSION,
      type: 'presence',
      room: room.id,
      cert: bob!.client.certificate,
      atMs: Date.now(),
      leaving: true,
    })
    await mallory!.client.libp2p.services.pubsub.publish(room.topic, forged)
    expect(await rejected).not.toBe('')
    expect(isPresent(room, bobPeer)).toBe(true)

    // A neighbour that never carried bob's presence (mallory, as if it were a relay) cannot report it gone either.
    room.departed(bobPeer, malloryPeer)
    expect(isPresent(room, bobPeer)).toBe(true)
  }, 60_000)
})
