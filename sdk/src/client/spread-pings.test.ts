import type { ComponentLogger, Connection } from '@libp2p/interface'
import { defaultLogger } from '@libp2p/logger'
import { afterEach, describe, expect, it } from 'vitest'
import { SpreadPings } from './spread-pings.ts'

const started: SpreadPings[] = []
afterEach(() => {
  for (const pings of started.splice(0)) pings.stop()
})

/**
 * A connection whose ping stream opens when asked — recording when — and whose peer refuses the ping protocol (alive,
 * as `pingConnection` counts it); or, `dead`, one whose stream never opens.
 */
function connection(pingedAtMs: number[], dead = false): Connection & { aborted: boolean } {
  const fake = {
    status: 'open',
    remotePeer: { toString: () => 'peer' },
    streams: [] as Array<{ direction: string; protocol: string }>,
    aborted: false,
    abort() {
      fake.aborted = true
      fake.status = 'closed'
    },
    newStream(_protocol: string, options: { signal: AbortSignal }) {
      pingedAtMs.push(Date.now())
      return new Promise((_resolve, reject) => {
        if (!dead) reject(Object.assign(new Error('no ping here'), { name: 'UnsupportedProtocolError' }))
        options.signal.addEventListener('abort', () => reject(options.signal.reason))
      })
    },
  }
  return fake as unknown as Connection & { aborted: boolean }
}

function start(connections: Connection[], init: { intervalMs: number; timeoutMs: number; tickMs: number }) {
  const pings = new SpreadPings(
    { connectionManager: { getConnections: () => connections }, logger: defaultLogger() as ComponentLogger },
    init,
  )
  started.push(pings)
  pings.start()
  return pings
}

describe('SpreadPings', () => {
  it('behavior: pings every connection once a round, a slice every tick — never all in one turn of the event loop', async () => {
    const pingedAtMs: number[][] = Array.from({ length: 60 }, () => [])
    const connections = pingedAtMs.map((times) => connection(times))
    start(connections, { intervalMs: 1000, timeoutMs: 500, tickMs: 100 })
    // The first round one interval after the start.
    await new Promise((resolve) => setTimeout(resolve, 950))
    expect(pingedAtMs.flat()).toEqual([])
    const startedAtMs = Date.now()
    await new Promise((resolve) => setTimeout(resolve, 1050))
    // One round: every connection once, none twice, none aborted (a peer that refuses the protocol is alive).
    expect(pingedAtMs.map((times) => times.length)).toEqual(pingedAtMs.map(() => 1))
    expect(connections.some((c) => (c as unknown as { aborted: boolean }).aborted)).toBe(false)
    // Spread over the round: at most ⌈60 / 9⌉ = 7 in any one tick, the last well after the first.
    const ticks = new Map<number, number>()
    for (const [at] of pingedAtMs) {
      const tick = Math.floor((at! - startedAtMs) / 100)
      ticks.set(tick, (ticks.get(tick) ?? 0) + 1)
    }
    expect(Math.max(...ticks.values())).toBeLessThanOrEqual(7)
    const times = pingedAtMs.map(([at]) => at!)
    expect(Math.max(...times) - Math.min(...times)).toBeGreaterThanOrEqual(700)
    // The next round pings them again.
    await new Promise((resolve) => setTimeout(resolve, 1000))
    expect(pingedAtMs.every((times) => times.length === 2)).toBe(true)
  })

  it('behavior: a connection that does not answer within the timeout is aborted; the others are not', async () => {
    const alive = connection([])
    const dead = connection([], true)
    start([alive, dead], { intervalMs: 1000, timeoutMs: 200, tickMs: 50 })
    await new Promise((resolve) => setTimeout(resolve, 1500))
    expect(dead.aborted).toBe(true)
    expect(alive.aborted).toBe(false)
  })

  it('behavior: a connection another ping is under way on is left to it — a second could not open, and would cut a live connection', async () => {
    const pinged: number[] = []
    const busy = connection(pinged, true)
    busy.streams.push({ direction: 'outbound', protocol: '/ipfs/ping/1.0.0' } as never)
    start([busy], { intervalMs: 400, timeoutMs: 200, tickMs: 50 })
    await new Promise((resolve) => setTimeout(resolve, 1000))
    expect(pinged).toEqual([])
    expect(busy.aborted).toBe(false)
  })

  it('error: a timeout as long as the interval is refused (the next ping would find the last still open)', () => {
    expect(() => start([], { intervalMs: 1000, timeoutMs: 1000, tickMs: 100 })).toThrow(RangeError)
  })
})
