/**
 * Records per second per device and topic (issue 13, item 2), against a real `securechat relay` process on loopback:
 * two devices of one signed-in wallet flood a room with valid signed records far above the limit while an honest
 * member sends paced messages. The flooders' records over the limit are dropped and counted, the flooders are
 * disconnected and refused when they come back, each is logged once per reason; every honest message reaches the
 * other member.
 *
 * The relay runs with a small ban delay so that the test bans in seconds; the defaults are the same code with larger
 * numbers (node/src/config.test.ts checks they are read).
 */
import type { Libp2p } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import type { Room } from '@securechat/sdk/rooms'
import { type HDNodeWallet, Wallet } from 'ethers'
import { describe, expect, it } from 'vitest'
import { RELAY_REFUSAL_LOG_INTERVAL_MS } from '../node/src/constants.ts'
import { killAfterEach, type RelayProcess, startRelayProcess, waitFor } from './helpers/cli.ts'
import { type Device, startDevice } from './helpers/device.ts'
import { floodTemplate } from './helpers/flood.ts'
import { metrics, refusalLines, refused } from './helpers/relay-metrics.ts'
import { stopAfterEach } from './helpers/stoppers.ts'

const track = killAfterEach()
const stoppers = stopAfterEach()

const LIMITS = { recordsPerSecond: 40, recordBurst: 80, floodBanAfterMs: 2_000 }
/** The honest member: 200 messages, one every 50 ms asked for (past its burst the sdk paces it at 5 a second). */
const HONEST_MESSAGES = 200
const HONEST_PACE_MS = 50

async function startLimitedRelay(): Promise<RelayProcess> {
  return track(
    await startRelayProcess({
      args: [
        '--http',
        '0',
        '--store',
        'none',
        '--records-per-second',
        String(LIMITS.recordsPerSecond),
        '--record-burst',
        String(LIMITS.recordBurst),
        '--record-flood-ban-after-ms',
        String(LIMITS.floodBanAfterMs),
      ],
    }),
  )
}

/** A flooder publishes as fast as it can sign, not at the sdk's pace. */
const FLOODER_PACING = { perSecond: 1_000_000, burst: 1_000_000 }

async function device(wallet: HDNodeWallet, relay: string, publishPacing?: typeof FLOODER_PACING): Promise<Device> {
  const started = await startDevice({
    wallet,
    bootstrap: [relay],
    ...(publishPacing === undefined ? {} : { publishPacing }),
  })
  stoppers.push(started.close)
  return started
}

/**
 * Publishes one valid message record of `room` again and again as fast as the device can sign (each time a new gossip
 * message: gossipsub names a message by its sender and sequence number), until the relay hangs up on the device.
 */
async function flood(room: Room, libp2p: Libp2p, relayPeer: string): Promise<number> {
  const { record: template, publish } = await floodTemplate(room, libp2p, 'the template of the flood')
  const connected = () => libp2p.getConnections().some((c) => c.remotePeer.toString() === relayPeer)
  let sent = 0
  while (connected()) {
    for (let i = 0; i < 50; i++) await publish(room.topic, template)
    sent += 50
    // Let the device's own I/O run: signing in a loop of microtasks would starve its sockets.
    await new Promise((resolve) => setImmediate(resolve))
  }
  return sent
}

describe('relay limits: records per second per device and topic', () => {
  it('behavior: devices flooding a room with valid records are dropped, cut off, refused, counted and logged once; an honest member gets every message meanwhile', async () => {
    const startedAt = Date.now()
    const relay = await startLimitedRelay()
    const address = relay.multiaddrs[0]!
    const alice = await device(Wallet.createRandom(), address)
    const bob = await device(Wallet.createRandom(), address)
    const flooderWallet = Wallet.createRandom()
    const flooders = [
      await device(flooderWallet, address, FLOODER_PACING),
      await device(flooderWallet, address, FLOODER_PACING),
    ]

    const { room, invite } = await alice.client.createRoom({ name: 'flooded' })
    const bobRoom = await bob.client.joinRoom(invite)
    const flooderRooms = await Promise.all(flooders.map((f) => f.client.joinRoom(invite)))
    await Promise.all([room, bobRoom, ...flooderRooms].map((r) => r.waitForPeers()))

    const heard = new Set<string>()
    const allHeard = new Promise<void>((resolve) => {
      bobRoom.addEventListener('message:received', (event) => {
        if (event.detail.text.startsWith('honest ')) heard.add(event.detail.text)
        if (heard.size === HONEST_MESSAGES) resolve()
      })
    })

    const flooding = flooders.map((f, i) => flood(flooderRooms[i]!, f.client.libp2p, relay.peerId))
    for (let i = 0; i < HONEST_MESSAGES; i++) {
      await room.send(`honest ${i}`)
      await new Promise((resolve) => setTimeout(resolve, HONEST_PACE_MS))
    }
    const sent = await Promise.all(flooding)
    await allHeard
    expect(heard.size).toBe(HONEST_MESSAGES)
    // Far above the limit: each flooder sent more in its ban delay than the limit lets through in that time.
    for (const count of sent) {
      expect(count).toBeGreaterThan(LIMITS.recordBurst + (LIMITS.recordsPerSecond * LIMITS.floodBanAfterMs) / 1000)
    }

    // Cut off and refused: a flooder dialling again is refused once Noise names it (its dial may see the connection
    // open, then close).
    const flooderIds = flooders.map((f) => f.client.libp2p.peerId.toString())
    await flooders[0]!.client.libp2p
      .dial(multiaddr(address), { signal: AbortSignal.timeout(10_000), force: true })
      .catch(() => undefined)
    let samples = await metrics(relay)
    // Each banned once, and refused at least once when it dialled again. Another process: nothing to wait on but its
    // /metrics.
    while (!(refused(samples, 'record-flood') > flooders.length)) {
      await new Promise((resolve) => setTimeout(resolve, 50))
      samples = await metrics(relay)
    }
    expect(refused(samples, 'records-per-second')).toBeGreaterThan(0)
    // A refused dial can show its connection open on the flooder's side for a moment before the relay's close
    // reaches it.
    const toRelay = (d: Device) =>
      d.client.libp2p.getConnections().filter((c) => c.remotePeer.toString() === relay.peerId).length
    await waitFor(
      () => flooders.every((f) => toRelay(f) === 0),
      () => `a flooder still has ${flooders.map(toRelay).join(', ')} connection(s) to the relay`,
    )

    // One line per offender and reason in each log interval, though thousands of records were dropped (on a loaded
    // machine the test can outlast an interval); only the flooders are named.
    const intervals = Math.ceil((Date.now() - startedAt) / RELAY_REFUSAL_LOG_INTERVAL_MS)
    const lines = refusalLines(relay).filter(({ event }) => event === 'limit:refused')
    const perPair = new Map<string, number>()
    for (const { reason, offender } of lines)
      perPair.set(`${reason} ${offender}`, (perPair.get(`${reason} ${offender}`) ?? 0) + 1)
    expect(Math.max(...perPair.values())).toBeLessThanOrEqual(intervals)
    expect(new Set(lines.map(({ offender }) => offender))).toEqual(new Set(flooderIds))
    expect(new Set(lines.map(({ reason }) => reason))).toEqual(new Set(['records-per-second', 'record-flood']))

    // The honest members are still connected and chatting.
    await waitFor(
      () =>
        [alice, bob].every((d) =>
          d.client.libp2p.getConnections().some((c) => c.remotePeer.toString() === relay.peerId),
        ),
      () => 'an honest member lost its relay',
    )
    const last = new Promise<string>((resolve) =>
      bobRoom.addEventListener('message:received', (event) => resolve(event.detail.text), { once: true }),
    )
    await room.send('after the flood')
    expect(await last).toBe('after the flood')
  }, 180_000)
})
