/**
 * A room just joined holds live messages back while its first catch-up runs, so what was missed comes first — but at
 * most `CATCH_UP_HOLD_LIVE_MS` (issue 13: fifty members behind one address, their catch-ups crawling through a busy
 * relay, read none of a live conversation). Here a real relay process answers Bob's store queries one per ten
 * seconds (`limited`, wait and ask again), so his catch-up crawls: Alice's live message reaches him while it still runs.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { fetchHistory } from '@securechat/sdk/history'
import type { Room } from '@securechat/sdk/rooms'
import { Wallet } from 'ethers'
import { describe, expect, it } from 'vitest'
import { killAfterEach, startRelayProcess } from './helpers/cli.ts'
import { startDevice } from './helpers/device.ts'
import { when } from './helpers/member-events.ts'
import { stopAfterEach } from './helpers/stoppers.ts'

const track = killAfterEach()
const stoppers = stopAfterEach()

describe('catch-up holding live messages', () => {
  it('behavior: a catch-up crawling through refused store queries holds live messages back for a while, not until it ends', async () => {
    // One store query per peer per ten seconds: every query after the first waits for the relay's `limited` to pass.
    const relay = track(
      await startRelayProcess({
        args: ['--http', '0', '--store-queries-per-second', '0.1', '--store-query-burst', '1'],
        startTimeoutMs: 60_000,
      }),
    )
    const address = relay.multiaddrs[0]!
    const alice = await startDevice({ wallet: Wallet.createRandom(), bootstrap: [address] })
    stoppers.push(alice.close)
    const bob = await startDevice({ wallet: Wallet.createRandom(), bootstrap: [address] })
    stoppers.push(bob.close)

    const { room, invite } = await alice.client.createRoom({ name: 'crawling' })
    const bobPeer = bob.client.peerId.toString()
    const joined = when(room, 'member:joined', () => room.members().some((m) => m.peerId === bobPeer))
    // Live messages are held from the join on; the catch-up begins when Bob asks for it.
    const bobRoom: Room = await bob.client.joinRoom(invite, { catchUp: 'later' })
    await joined
    // Bob's one query for the next ten seconds, spent: each of his catch-up's queries waits ten seconds or more.
    await fetchHistory(bob.client.libp2p, peerIdFromString(relay.peerId), { topic: room.topic, ids: ['0'.repeat(64)] })
    let caughtUp = false
    const catchingUp = bob.client.catchUp(bobRoom).then((progress) => {
      caughtUp = true
      return progress
    })

    const received: string[] = []
    bobRoom.addEventListener('message:received', (event) => received.push(event.detail.id))
    const { id } = await room.send('live, while Bob catches up')
    await when(bobRoom, 'message:received', () => received.includes(id))
    // Delivered before the catch-up ended: live messages did not wait for it.
    expect(caughtUp).toBe(false)
    const progress = await catchingUp
    // The catch-up read it too (the relay stored it), and found it delivered already: it came live, not from the
    // catch-up's end (held until then, the catch-up would have delivered it itself).
    expect(progress).toMatchObject({ done: true, failed: 0, delivered: 0 })
    // Exactly once, whatever the catch-up read afterwards.
    expect(received.filter((each) => each === id)).toHaveLength(1)
  }, 120_000)
})
