/**
 * The relay pool's check (`client.relays.check()`, what the web app runs when the network may have changed under it):
 * a client reaches a real relay through a TCP proxy that a test can stall, as a path from an address the device no
 * longer has is stalled — nothing comes back, nothing says it closed. A check of a live connection closes nothing; a
 * check of a stalled one closes it within RELAY_CHECK_TIMEOUT_MS (libp2p's own ping would take up to 50 s), and once
 * the path is back the relay is connected again.
 */
import { RELAY_CHECK_TIMEOUT_MS } from '@securechat/sdk/constants'
import { Wallet } from 'ethers'
import { afterEach, describe, expect, it } from 'vitest'
import { startDevice } from './helpers/device.ts'
import { LossyLink } from './helpers/lossy-link.ts'
import { startRelay, stopAfterEach } from './helpers/stoppers.ts'

const stoppers = stopAfterEach()
const links: LossyLink[] = []
afterEach(async () => {
  for (const link of links.splice(0)) await link.stop()
})

describe('checking the relay connections (a network change)', () => {
  it('behavior: a live connection is kept; a stalled one is closed within the check’s timeout, and the relay connected again once the path is back', async () => {
    const relay = await startRelay(stoppers)
    const relayPeer = relay.peerId.toString()
    const [, , , , port] = relay.multiaddrs[0]!.toString().split('/')
    const link = new LossyLink({ host: '127.0.0.1', port: Number(port) })
    await link.start()
    links.push(link)
    const { client, close } = await startDevice({
      wallet: Wallet.createRandom(),
      bootstrap: [`/ip4/127.0.0.1/tcp/${link.port}/p2p/${relayPeer}`],
    })
    stoppers.push(close)
    expect(client.relays.connected()).toEqual([relayPeer])

    expect(await client.relays.check()).toEqual([])
    expect(client.relays.connected()).toEqual([relayPeer])

    link.partition()
    const stalledAt = Date.now()
    expect(await client.relays.check()).toEqual([relayPeer])
    const checkMs = Date.now() - stalledAt
    console.info(`a stalled relay connection closed by the check after ${checkMs} ms`)
    expect(checkMs).toBeLessThan(RELAY_CHECK_TIMEOUT_MS + 2_000)
    expect(client.relays.connected()).toEqual([])

    const connectedAgain = new Promise<void>((resolve) =>
      client.relays.addEventListener('relay:connected', () => resolve(), { once: true }),
    )
    link.heal()
    await connectedAgain
    expect(client.relays.connected()).toEqual([relayPeer])
  }, 60_000)
})
