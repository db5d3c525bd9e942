/**
 * A relay that refuses a client (a ban, a per-peer or per-address cap, a relay at its connection limit: it hangs up
 * once Noise names the client) is dialled again after a backoff that doubles, not in a loop: before, a banned client
 * redialled the relay hundreds of times in a few seconds (test/relay-record-rates.test.ts). The refusing relay is a
 * bare libp2p node whose connection gater refuses every encrypted inbound connection and notes when; the client is a
 * real sdk client with that relay as its only bootstrap.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { RELAY_REFUSED_BACKOFF_MAX_MS, RELAY_REFUSED_BACKOFF_MIN_MS } from '@securechat/sdk/constants'
import { Wallet } from 'ethers'
import { createLibp2p } from 'libp2p'
import { describe, expect, it } from 'vitest'
import { startDevice } from './helpers/device.ts'
import { stopAfterEach } from './helpers/stoppers.ts'

const stoppers = stopAfterEach()

/**
 * Refused attempts to wait for: the client's start dials its bootstrap relays once itself, then its relay pool dials;
 * the pool's four attempts make three gaps, the last at least four times the first.
 */
const ATTEMPTS = 5

describe('relay pool: a relay that refuses the client', () => {
  it('behavior: is redialled with a backoff that doubles from RELAY_REFUSED_BACKOFF_MIN_MS, not in a loop', async () => {
    const attempts: number[] = []
    let enough: () => void = () => undefined
    const refusedEnough = new Promise<void>((resolve) => {
      enough = resolve
    })
    const relay = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionGater: {
        // As the real relay refuses a banned device: after Noise, when the PeerId is known.
        denyInboundEncryptedConnection: () => {
          attempts.push(Date.now())
          if (attempts.length === ATTEMPTS) enough()
          return true
        },
      },
    })
    stoppers.push(async () => relay.stop())
    const address = relay.getMultiaddrs()[0]!.toString()

    const device = await startDevice({ wallet: Wallet.createRandom(), bootstrap: [address] })
    stoppers.push(device.close)
    await refusedEnough

    // Five connections in the client's first 14 s or more (before: hundreds a second). Each of the pool's gaps at least the backoff step it follows: 2 s, 4 s, 8 s (the redial tick may add to each,
    // never take away).
    const pool = attempts.slice(1)
    const gaps = pool.slice(1).map((at, i) => at - pool[i]!)
    console.log(`refused relay: the pool's attempts came ${gaps.join(' ms, ')} ms apart`)
    gaps.forEach((gap, i) => {
      expect(gap).toBeGreaterThanOrEqual(Math.min(RELAY_REFUSED_BACKOFF_MIN_MS * 2 ** i, RELAY_REFUSED_BACKOFF_MAX_MS))
    })
  }, 90_000)
})
