/**
 * The relay's connection and reservation limits (issue 13, item 2), against a real `securechat relay` process on
 * loopback: throw-away libp2p peers open connections and circuit reservations in a loop — from one source address
 * and from many (`127.0.0.N`) — and are capped; every refusal is counted by reason in `/metrics` and logged once per
 * offender and reason; an honest newcomer still connects, reserves a slot, joins a room and chats meanwhile; and the
 * slots of peers that left are free again at once (not after the reservation's lifetime).
 *
 * The relay runs with small limits so that a test fills them in a few hundred connections; the defaults are the
 * same code with larger numbers (node/src/config.test.ts checks they are read). The limits in all (connections,
 * handshakes, slots) are checked on an in-process relay, where the test reads its figures directly.
 */
import { connect, type Socket } from 'node:net'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Libp2p } from '@libp2p/interface'
import type { RoomMessage } from '@securechat/sdk/types'
import { Wallet } from 'ethers'
import { describe, expect, it } from 'vitest'
import { RelayNode } from '../node/src/relay/relay.ts'
import { HOP_STATUS, reserve, reservingPeer, throwAwayPeer, tryConnect } from './helpers/attacker.ts'
import { killAfterEach, type RelayProcess, startRelayProcess, waitFor } from './helpers/cli.ts'
import { startDevice } from './helpers/device.ts'
import { nextMessage } from './helpers/member-events.ts'
import { metrics, refusalLines, refused } from './helpers/relay-metrics.ts'
import { stopAfterEach } from './helpers/stoppers.ts'

const track = killAfterEach()
const stoppers = stopAfterEach()

const LIMITS = {
  maxConnections: 120,
  maxConnectionsPerIp: 8,
  maxConnectionsPerPeer: 2,
  /** One new connection per 5 s per address after the burst: any loop is faster than that. */
  connectionRatePerIp: 0.2,
  maxReservations: 48,
  maxReservationsPerIp: 4,
}

async function startLimitedRelay(): Promise<RelayProcess & { address: string }> {
  const relay = track(
    await startRelayProcess({
      args: [
        '--http',
        '0',
        '--store',
        'none',
        '--max-connections',
        String(LIMITS.maxConnections),
        '--max-connections-per-ip',
        String(LIMITS.maxConnectionsPerIp),
        '--max-connections-per-peer',
        String(LIMITS.maxConnectionsPerPeer),
        '--connection-rate-per-ip',
        String(LIMITS.connectionRatePerIp),
        '--max-reservations',
        String(LIMITS.maxReservations),
        '--max-reservations-per-ip',
        String(LIMITS.maxReservationsPerIp),
      ],
    }),
  )
  return Object.assign(relay, { address: relay.multiaddrs[0]! })
}

/** A throw-away peer from `sourceIp`, stopped after the test. */
async function peerFrom(sourceIp: string): Promise<Libp2p> {
  const peer = await throwAwayPeer(sourceIp)
  stoppers.push(async () => peer.stop())
  return peer
}

/**
 * The attack of issue 13 from one source address: a fresh PeerId for each connection, which once connected reserves a
 * slot and holds both; at least `attempts` attempts, and on until `until()` holds. A refused attempt keeps its peer
 * for the next (refused before Noise, its PeerId never reached the relay).
 */
async function attackFrom(
  sourceIp: string,
  relay: string,
  attempts: number,
  until: () => boolean = () => true,
): Promise<{ attempts: number; connected: number; reserved: number }> {
  const result = { attempts: 0, connected: 0, reserved: 0 }
  let peer = await peerFrom(sourceIp)
  while (result.attempts < attempts || !until()) {
    result.attempts += 1
    if (!(await tryConnect(peer, relay))) continue
    result.connected += 1
    if ((await reserve(peer, relay)) === HOP_STATUS.OK) result.reserved += 1
    peer = await peerFrom(sourceIp)
  }
  return result
}

/** Two wallets meet in a new room over `relay` and one says something the other reads. */
async function honestChat(relay: string): Promise<RoomMessage> {
  const alice = await startDevice({ wallet: Wallet.createRandom(), bootstrap: [relay] })
  stoppers.push(alice.close)
  const bob = await startDevice({ wallet: Wallet.createRandom(), bootstrap: [relay] })
  stoppers.push(bob.close)
  const { room, invite } = await alice.client.createRoom({ name: 'under attack' })
  const bobRoom = await bob.client.joinRoom(invite)
  await Promise.all([room.waitForPeers(), bobRoom.waitForPeers()])
  const heard = nextMessage(bobRoom)
  await room.send('still here')
  return heard
}

describe('relay limits: connections and circuit reservations', () => {
  it('behavior: throw-away PeerIds from one address are capped per IP; their slots are free again as soon as they leave', async () => {
    const relay = await startLimitedRelay()
    const attempts = 30
    const attack = await attackFrom('127.0.0.2', relay.address, attempts)
    expect(attack).toEqual({ attempts, connected: LIMITS.maxConnectionsPerIp, reserved: LIMITS.maxReservationsPerIp })

    // An honest newcomer from its own address: connects, reserves, and chats (its wallet's devices) meanwhile.
    const newcomer = await reservingPeer('127.0.0.50', relay.address)
    stoppers.push(async () => newcomer.stop())
    expect((await honestChat(relay.address)).text).toBe('still here')

    let samples = await metrics(relay)
    expect(refused(samples, 'connections-per-ip')).toBe(attempts - LIMITS.maxConnectionsPerIp)
    expect(refused(samples, 'reservations-per-ip')).toBe(LIMITS.maxConnectionsPerIp - LIMITS.maxReservationsPerIp)
    expect(samples.get('securechat_relay_reservations')).toBe(LIMITS.maxReservationsPerIp + 1)
    // Logged once per offender and reason, though refused 22 + 4 times.
    expect(
      refusalLines(relay)
        .map(({ reason, offender }) => `${reason} ${offender}`)
        .sort(),
    ).toEqual(['connections-per-ip 127.0.0.2', 'reservations-per-ip 127.0.0.2'])

    // Everyone leaves: the slots are released with their holders' connections, not at the end of their lifetime.
    for (const stop of stoppers.splice(0).reverse()) await stop()
    while (samples.get('securechat_relay_reservations') !== 0) {
      // Another process: nothing to wait on but its /metrics.
      await new Promise((resolve) => setTimeout(resolve, 50))
      samples = await metrics(relay)
    }
  })

  it('behavior: an attack from many addresses is capped per IP, and an honest newcomer connects, reserves, joins and chats while it goes on', async () => {
    const relay = await startLimitedRelay()
    const sources = Array.from({ length: 8 }, (_, i) => `127.0.0.${10 + i}`)
    const attemptsPerSource = 12
    // Without the per-IP caps these attempts alone would take 96 connections and every one of the 48 slots.
    expect(sources.length * attemptsPerSource).toBeGreaterThan(LIMITS.maxReservations)
    let honestDone = false
    const attacking = Promise.all(
      sources.map((source) => attackFrom(source, relay.address, attemptsPerSource, () => honestDone)),
    )
    // The newcomer comes from an address of its own; its wallets' devices from loopback (not capped per IP: the
    // relay's own machine), so what they show is that the attack left room and time for them.
    const [newcomer, heard] = await Promise.all([
      reservingPeer('127.0.0.50', relay.address),
      honestChat(relay.address),
    ]).finally(() => {
      honestDone = true
    })
    stoppers.push(async () => newcomer.stop())
    expect(heard.text).toBe('still here')
    const attacks = await attacking
    for (const attack of attacks) {
      expect(attack).toMatchObject({ connected: LIMITS.maxConnectionsPerIp, reserved: LIMITS.maxReservationsPerIp })
    }
    const samples = await metrics(relay)
    const tried = attacks.reduce((sum, attack) => sum + attack.attempts, 0)
    expect(refused(samples, 'connections-per-ip')).toBe(tried - sources.length * LIMITS.maxConnectionsPerIp)
    expect(refused(samples, 'reservations-per-ip')).toBe(
      sources.length * (LIMITS.maxConnectionsPerIp - LIMITS.maxReservationsPerIp),
    )
    expect(refused(samples, 'connections-total')).toBe(0)
    expect(samples.get('securechat_relay_reservations')).toBe(sources.length * LIMITS.maxReservationsPerIp + 1)
    // One line per attacking address and reason.
    const lines = refusalLines(relay)
    expect(lines).toHaveLength(sources.length * 2)
    expect(new Set(lines.map(({ offender }) => offender))).toEqual(new Set(sources))
  })

  it('behavior: one PeerId opening connections in a loop is capped per peer; connect-and-leave in a loop meets the per-IP rate', async () => {
    const relay = await startLimitedRelay()
    const peer = await peerFrom('127.0.0.4')
    // The relay refuses a PeerId once Noise has named it: the dialer may see that connection open, then close.
    for (let i = 0; i < 6; i++) await tryConnect(peer, relay.address, { force: true })

    // Connect and leave at once, each time a new PeerId: never more than one connection, so only the rate holds it.
    let churned = 0
    const attempts = 20
    for (let i = 0; i < attempts; i++) {
      const churner = await throwAwayPeer('127.0.0.5')
      if (await tryConnect(churner, relay.address)) churned += 1
      await churner.stop()
    }
    // The burst, and at most a few tokens back while the loop ran (one every 5 s).
    expect(churned).toBeGreaterThanOrEqual(LIMITS.maxConnectionsPerIp)
    expect(churned).toBeLessThan(attempts)

    const samples = await metrics(relay)
    expect(refused(samples, 'connections-per-peer')).toBe(6 - LIMITS.maxConnectionsPerPeer)
    expect(samples.get('securechat_relay_inbound_connections')).toBe(LIMITS.maxConnectionsPerPeer)
    expect(refused(samples, 'connection-rate-per-ip')).toBe(attempts - churned)
    expect(refusalLines(relay).map(({ reason }) => reason)).toEqual(['connections-per-peer', 'connection-rate-per-ip'])
  })

  it('behavior: sockets that never finish their handshake are capped in all, and so are connections and slots in all', async () => {
    const relay = new RelayNode({
      privateKey: await generateKeyPair('Ed25519'),
      listen: ['/ip4/127.0.0.1/tcp/0'],
      limits: { maxConnections: 4, maxPendingConnections: 2, maxReservations: 2 },
    })
    await relay.start()
    stoppers.push(() => relay.stop())
    const address = `${relay.multiaddrs[0]}`
    const port = Number(/\/tcp\/(\d+)/.exec(address)![1])
    const limits = () => relay.stats().limits

    // A slow handshake: TCP up, never a byte of Noise. Two hold both places; the third is closed at once.
    const stalled = [rawSocket('127.0.0.6', port), rawSocket('127.0.0.7', port)]
    await waitFor(
      () => limits().pendingConnections === 2,
      () => JSON.stringify(limits()),
    )
    await new Promise((resolve) => rawSocket('127.0.0.8', port).once('close', resolve))
    expect(limits().refused['pending-connections']).toBe(1)
    for (const socket of stalled) socket.destroy()
    await waitFor(
      () => limits().inboundConnections === 0,
      () => JSON.stringify(limits()),
    )

    const peers = await Promise.all(Array.from({ length: 5 }, () => peerFrom('127.0.0.1')))
    const connected = []
    for (const peer of peers) connected.push(await tryConnect(peer, address))
    expect(connected).toEqual([true, true, true, true, false])
    expect(limits().refused['connections-total']).toBe(1)

    const statuses = []
    for (const peer of peers.slice(0, 3)) statuses.push(await reserve(peer, address))
    expect(statuses).toEqual([HOP_STATUS.OK, HOP_STATUS.OK, HOP_STATUS.PERMISSION_DENIED])
    expect(limits().refused['reservations-total']).toBe(1)
    // A holder leaves: its slot is free for the next at once.
    await peers[0]!.stop()
    await waitFor(
      () => limits().reservations === 1,
      () => JSON.stringify(limits()),
    )
    expect(await reserve(peers[2]!, address)).toBe(HOP_STATUS.OK)
  })
})

/** A TCP connection from `sourceIp` that never says anything; destroyed after the test. */
function rawSocket(sourceIp: string, port: number): Socket {
  const socket = connect({ host: '127.0.0.1', port, localAddress: sourceIp })
  socket.on('error', () => undefined)
  stoppers.push(async () => socket.destroy())
  return socket
}
