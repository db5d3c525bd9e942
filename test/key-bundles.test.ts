import { fetchBundle, fetchCertificate, KeyBundleCache } from '@securechat/sdk/client'
import { verifyCertificateOffline } from '@securechat/sdk/identity'
import { silentLoggerFactory } from '@securechat/sdk/logger'
import type { RoomMessage } from '@securechat/sdk/types'
import { describe, expect, it } from 'vitest'
import { startClient } from './helpers/device.ts'
import { startRelay, stopAfterEach } from './helpers/stoppers.ts'

const stoppers = stopAfterEach()

describe('key bundles on demand', () => {
  it('behavior: presence carries no key bundle; members fetch each other’s once, through the relay, and read each other', async () => {
    const relay = await startRelay(stoppers)
    const presence: Array<Record<string, unknown>> = []
    relay.libp2p.services.pubsub.addEventListener('message', (event) => {
      const record = JSON.parse(new TextDecoder().decode(event.detail.data)) as Record<string, unknown>
      if (record.type === 'presence') presence.push(record)
    })
    const address = relay.multiaddrs[0]!
    const [alice, bob] = [await startClient(address, stoppers), await startClient(address, stoppers)]
    const { room: aliceRoom, invite } = await alice.createRoom({ name: 'bundles' })
    const bobRoom = await bob.joinRoom(invite)
    await Promise.all([aliceRoom.waitForPeers(), bobRoom.waitForPeers()])
    const received = new Promise<RoomMessage>((resolve) =>
      bobRoom.addEventListener('message:received', (event) => resolve(event.detail), { once: true }),
    )
    await aliceRoom.send('hello')
    expect((await received).text).toBe('hello')
    expect(presence.length).toBeGreaterThan(0)
    expect(presence.filter((record) => 'bundle' in record)).toEqual([])
  })

  it('error: a bundle that is not the one the certificate commits to is refused', async () => {
    const relay = await startRelay(stoppers)
    const address = relay.multiaddrs[0]!
    const [alice, bob, carol] = [
      await startClient(address, stoppers),
      await startClient(address, stoppers),
      await startClient(address, stoppers),
    ]
    const { room, invite } = await alice.createRoom({ name: 'bundles' })
    const bobRoom = await bob.joinRoom(invite)
    await Promise.all([room.waitForPeers(), bobRoom.waitForPeers()])
    // Carol asks the relay, which fetches Alice's bundle from Alice (its client) on demand.
    const relayId = relay.libp2p.peerId
    const aliceId = alice.peerId.toString()
    const aliceBundle = await fetchBundle(carol.libp2p, relayId, aliceId)
    const bobBundle = await fetchBundle(carol.libp2p, relayId, bob.peerId.toString())
    expect(aliceBundle).toBeDefined()
    expect(bobBundle).toBeDefined()
    const raw = await fetchCertificate(carol.libp2p, relayId, aliceId)
    const certificate = verifyCertificateOffline({ certificate: raw!, peerId: aliceId }).certificate
    const cache = new KeyBundleCache({
      libp2p: carol.libp2p,
      certificate: () => certificate,
      log: silentLoggerFactory('test'),
    })
    expect(await cache.add(aliceId, bobBundle!, certificate)).toBe(false)
    expect(await cache.add(aliceId, `${aliceBundle!.slice(0, -4)}AAAA`, certificate)).toBe(false)
    expect(await cache.add(aliceId, aliceBundle!, certificate)).toBe(true)
    // Nobody knows a bundle for a PeerId it has no certificate of.
    expect(
      await fetchBundle(carol.libp2p, relayId, '12D3KooWNobodyNobodyNobodyNobodyNobodyNobodyNobody'),
    ).toBeUndefined()
  })
})
