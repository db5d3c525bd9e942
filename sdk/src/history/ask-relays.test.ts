import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PeerId } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { describe, expect, it } from 'vitest'
import { CATCH_UP_FAILOVER_WAIT_MS } from '../constants.ts'
import { askRelays } from './ask-relays.ts'
import type { HistorySource } from './catch-up.ts'

async function peers(count: number): Promise<PeerId[]> {
  return Promise.all(Array.from({ length: count }, async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519'))))
}

/** A source whose `another` hands out `spare` in turn, recording how long each caller would wait. */
function source(spare: PeerId[], waits: number[]): HistorySource {
  return {
    peers: async () => [],
    another: async (asked, options) => {
      waits.push(options.waitMs)
      return spare.find((peer) => !asked.has(peer.toString()))
    },
    query: () => Promise.reject(new Error('not used')),
    pages: () => {
      throw new Error('not used')
    },
  }
}

describe('askRelays', () => {
  it('behavior: a relay that fails hands its task, as far as it got, to another; a chain of failures walks on', async () => {
    const [a, b, c] = await peers(3)
    const waits: number[] = []
    const seen: Array<[string, number]> = []
    const counts = { relays: 0, failed: 0 }
    await askRelays(
      source([b!, c!], waits),
      [a!],
      () => ({ from: 0 }),
      async (peer, task) => {
        seen.push([peer.toString(), task.from])
        task.from += 10
        if (!peer.equals(c!)) throw new Error('died')
      },
      counts,
      {},
    )
    expect(seen).toEqual([
      [a!.toString(), 0],
      [b!.toString(), 10],
      [c!.toString(), 20],
    ])
    expect(counts).toEqual({ relays: 3, failed: 2 })
    // Nothing else answered: each failure may wait for another relay to connect.
    expect(waits).toEqual([CATCH_UP_FAILOVER_WAIT_MS, CATCH_UP_FAILOVER_WAIT_MS])
  })

  it('behavior: while another relay answered or still answers, a failure takes only a relay connected now', async () => {
    const [a, b] = await peers(2)
    const waits: number[] = []
    const counts = { relays: 0, failed: 0 }
    await askRelays(
      source([], waits),
      [a!, b!],
      () => undefined,
      async (peer) => {
        if (peer.equals(a!)) throw new Error('died')
      },
      counts,
      {},
    )
    expect(waits).toEqual([0])
    expect(counts).toEqual({ relays: 2, failed: 1 })
  })

  it('error: an aborted catch-up throws instead of failing over', async () => {
    const [a, b] = await peers(2)
    const waits: number[] = []
    const controller = new AbortController()
    const run = askRelays(
      source([b!], waits),
      [a!],
      () => undefined,
      async () => {
        controller.abort(new Error('stopped'))
        throw new Error('died')
      },
      { relays: 0, failed: 0 },
      { signal: controller.signal },
    )
    await expect(run).rejects.toThrow('stopped')
    expect(waits).toEqual([])
  })
})
