import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Connection, PeerId } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { silentLoggerFactory } from '@securechat/sdk/logger'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { HistoryAdmission } from '../store/history-server.ts'
import { RelayLimits } from './limits.ts'
import { StoreQueryLimits } from './store-query-limits.ts'

async function peer(): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
}

/** A connection of `remotePeer` from `ip`; the limits read only those two. */
function connection(remotePeer: PeerId, ip: string): Connection {
  return { remotePeer, remoteAddr: multiaddr(`/ip4/${ip}/tcp/4001`) } as unknown as Connection
}

function setup(): { queries: StoreQueryLimits; limits: RelayLimits } {
  const limits = new RelayLimits({ log: silentLoggerFactory('test'), manyClientAddresses: ['10.0.0.9'] })
  const queries = new StoreQueryLimits({
    limits,
    queriesPerSecond: 1,
    queryBurst: 3,
    queriesPerSecondPerIp: 2,
    queryBurstPerIp: 5,
    queriesAtOncePerPeer: 2,
    queriesAtOncePerIp: 3,
  })
  return { queries, limits }
}

function admitted(admission: HistoryAdmission): () => void {
  if (!admission.admitted) throw new Error(`refused: ${admission.message}`)
  return admission.release
}

describe('StoreQueryLimits', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('behavior: a peer is held to its queries at once; a query answered gives its place back', async () => {
    const { queries, limits } = setup()
    const alice = connection(await peer(), '192.0.2.1')
    const releases = [admitted(queries.admit(alice)), admitted(queries.admit(alice))]
    expect(queries.admit(alice)).toMatchObject({ admitted: false, retryAfterMs: 1_000 })
    releases[0]!()
    releases[0]!() // Twice is once.
    admitted(queries.admit(alice))
    expect(queries.admit(alice)).toMatchObject({ admitted: false })
    expect(limits.stats().refused['store-queries-at-once-per-peer']).toBe(2)
  })

  it('behavior: a peer is held to its rate and burst, and told when to ask again; another peer is not', async () => {
    vi.useFakeTimers({ now: 0 })
    const { queries, limits } = setup()
    const alice = connection(await peer(), '192.0.2.1')
    for (let i = 0; i < 3; i++) admitted(queries.admit(alice))()
    expect(queries.admit(alice)).toMatchObject({ admitted: false, retryAfterMs: 1_000 })
    expect(limits.stats().refused['store-query-rate-per-peer']).toBe(1)
    admitted(queries.admit(connection(await peer(), '192.0.2.2')))()
    vi.advanceTimersByTime(1_000)
    admitted(queries.admit(alice))()
  })

  it('behavior: the peers of one address share its limits, unless the operator names it as carrying many clients', async () => {
    vi.useFakeTimers({ now: 0 })
    const { queries, limits } = setup()
    const neighbours = await Promise.all([peer(), peer(), peer()])
    const held = neighbours.map((p) => admitted(queries.admit(connection(p, '192.0.2.1'))))
    expect(queries.admit(connection(await peer(), '192.0.2.1'))).toMatchObject({ admitted: false })
    expect(limits.stats().refused['store-queries-at-once-per-ip']).toBe(1)
    for (const release of held) release()
    // Burst of the address: 5 in all, whoever asks.
    for (const p of [...neighbours, ...neighbours].slice(0, 2)) admitted(queries.admit(connection(p, '192.0.2.1')))()
    expect(queries.admit(connection(neighbours[2]!, '192.0.2.1'))).toMatchObject({ admitted: false })
    expect(limits.stats().refused['store-query-rate-per-ip']).toBe(1)
    // Behind the proxy: only each peer is counted.
    const behindProxy = await Promise.all([peer(), peer(), peer(), peer()])
    for (const p of behindProxy) admitted(queries.admit(connection(p, '10.0.0.9')))
  })
})
