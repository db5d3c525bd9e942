/**
 * Presence thinned out with the room's size (docs/architecture.md, Presence and membership), between real clients
 * over a relay. A room is "large" here from one member on (`presenceFullRateMembers: 1`), so three members stretch a
 * 500 ms base to 1.5 s: each says so in its presence (`every`), and the others time it out by that, not by their own
 * 1.5 s timeout — which a presence every 1.5 s would miss half the time, marking members gone and back.
 */
import type { Message } from '@libp2p/gossipsub'
import { decodeRecord, type Room } from '@securechat/sdk/rooms'
import { describe, expect, it } from 'vitest'
import { startDevices } from './helpers/device.ts'
import { when } from './helpers/member-events.ts'
import { startRelay, stopAfterEach } from './helpers/stoppers.ts'

const stoppers = stopAfterEach()
const BASE_MS = 500

describe('presence stretched with the room', () => {
  it('behavior: members announce the stretched interval, and nobody is timed out between two of a member’s presences', async () => {
    const relay = await startRelay(stoppers)
    const devices = await startDevices(
      3,
      { bootstrap: [relay.multiaddrs[0]!], presenceIntervalMs: BASE_MS, presenceFullRateMembers: 1 },
      stoppers,
    )
    const [a, b, c] = devices.map((device) => device.client) as [
      (typeof devices)[0]['client'],
      (typeof devices)[0]['client'],
      (typeof devices)[0]['client'],
    ]
    const { room, invite } = await a.createRoom({ name: 'stretched' })
    const rooms: Room[] = [room, await b.joinRoom(invite), await c.joinRoom(invite)]
    await Promise.all(rooms.map((r) => when(r, 'member:joined', () => r.members().length === 3)))
    const left: string[] = []
    for (const r of rooms) r.addEventListener('member:left', (event) => left.push(event.detail.peerId))

    // What A hears of B's and C's presence from here on.
    const heard = new Map<string, number[]>()
    a.libp2p.services.pubsub.addEventListener('message', ({ detail }: CustomEvent<Message>) => {
      if (detail.topic !== room.topic || detail.type !== 'signed') return
      const decoded = decodeRecord(detail.data)
      if (decoded.status !== 'ok' || decoded.record.type !== 'presence') return
      const from = detail.from.toString()
      heard.set(from, [...(heard.get(from) ?? []), decoded.record.every ?? 0])
    })
    const others = [b.peerId.toString(), c.peerId.toString()]
    // Six presences each: some nine seconds, six of A's own timeouts (1.5 s) over.
    await when(a.libp2p.services.pubsub, 'message', () => others.every((peer) => (heard.get(peer)?.length ?? 0) >= 6))
    for (const peer of others) expect(heard.get(peer)).toContain(3 * BASE_MS)
    expect(left).toEqual([])
    for (const r of rooms) expect(r.members()).toHaveLength(3)
  }, 60_000)
})
