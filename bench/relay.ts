/**
 * Benchmark child: the community relay (`RelayNode`, exactly as `securechat relay` runs it) on
 * loopback TCP. It joins room topics by itself; for the bare baseline the parent has it
 * subscribe to a plain topic too, so both modes go through the same relay on the same mesh.
 * `start` may set the limits an operator sets with flags (the scale suites raise the total).
 */
import { readFileSync } from 'node:fs'
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { RELAY_MESH_MAX_PEERS } from '../node/src/constants.ts'
import { RelayNode } from '../node/src/relay/relay.ts'
import { pacerOf } from '../sdk/src/client/paced-validation.ts'
import { meshPeers, serve } from './child.ts'
import { cpuReport, nowMs, type RelayCommands, type RelayUsage } from './protocol.ts'

let node: RelayNode | undefined
const loopDelay = monitorEventLoopDelay({ resolution: 10 })
loopDelay.enable()
/** Whether the event loop's worst delay is a collection: the longest since the last report. */
let gcMaxMs = 0
new PerformanceObserver((entries) => {
  for (const entry of entries.getEntries()) gcMaxMs = Math.max(gcMaxMs, entry.duration)
}).observe({ entryTypes: ['gc'] })

function started(): RelayNode {
  if (node === undefined) throw new Error('relay not started')
  return node
}

/** Bytes this process read and wrote through system calls (sockets included), from `/proc/self/io`. */
function io(): { readBytes: number; writtenBytes: number } {
  const text = readFileSync('/proc/self/io', 'utf8')
  const field = (name: string): number => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(text)?.[1] ?? Number.NaN)
  return { readBytes: field('rchar'), writtenBytes: field('wchar') }
}

function usage(): RelayUsage {
  const memory = process.memoryUsage()
  const relay = started()
  const usage: RelayUsage = {
    ...cpuReport(),
    ...io(),
    atMs: nowMs(),
    rssBytes: memory.rss,
    heapUsedBytes: memory.heapUsed,
    externalBytes: memory.external + memory.arrayBuffers,
    connections: relay.libp2p.getConnections().length,
    stats: relay.stats(),
    loopDelayMs: {
      p50: loopDelay.percentile(50) / 1e6,
      p99: loopDelay.percentile(99) / 1e6,
      max: loopDelay.max / 1e6,
    },
    gcMaxMs,
  }
  loopDelay.reset()
  gcMaxMs = 0
  return usage
}

serve<RelayCommands>({
  async start({ limits, recordRates }) {
    node = new RelayNode({
      privateKey: await generateKeyPair('Ed25519'),
      listen: ['/ip4/127.0.0.1/tcp/0'],
      ...(limits === undefined ? {} : { limits }),
      ...(recordRates === undefined ? {} : { recordRates }),
    })
    const relay = node
    await relay.start()
    if (process.env.BENCH_TRACE === '1') {
      const t0 = nowMs()
      // Records of each neighbour being handled (from arrival to forwarding) and being validated, with when each began.
      const stages = { handling: new Map<object, number>(), validating: new Map<object, number>() }
      const internals = relay.libp2p.services.pubsub as unknown as Record<
        string,
        (...args: unknown[]) => Promise<unknown>
      >
      for (const [name, stage] of [
        ['handleReceivedMessage', stages.handling],
        ['validateReceivedMessage', stages.validating],
      ] as const) {
        const original = internals[name]?.bind(internals)
        if (original === undefined) continue
        internals[name] = async (...args: unknown[]) => {
          const key = {}
          stage.set(key, nowMs())
          try {
            return await original(...args)
          } finally {
            stage.delete(key)
          }
        }
      }
      const oldest = (stage: Map<object, number>): string =>
        `${stage.size}/${stage.size === 0 ? 0 : ((nowMs() - Math.min(...stage.values())) / 1000).toFixed(1)}s`
      setInterval(() => {
        const pubsub = relay.libp2p.services.pubsub as unknown as {
          streamsOutbound: Map<string, { rawStream: { writeBufferLength: number; sendWindowCapacity?: number } }>
        }
        let sum = 0
        let busy = 0
        let max = 0
        let zeroWindow = 0
        for (const { rawStream } of pubsub.streamsOutbound.values()) {
          const q = rawStream.writeBufferLength
          sum += q
          if (q > 0) busy += 1
          if (q > max) max = q
          if (rawStream.sendWindowCapacity === 0) zeroWindow += 1
        }
        const st = relay.stats()
        let muxQ = 0
        let tcpQ = 0
        let maxConnQ = 0
        for (const c of relay.libp2p.getConnections()) {
          const conn = c as unknown as {
            muxer?: { maConn?: { writeBufferLength?: number } }
            maConn?: { writeBufferLength?: number }
          }
          const a = conn.muxer?.maConn?.writeBufferLength ?? 0
          const b = conn.maConn?.writeBufferLength ?? 0
          muxQ += a
          tcpQ += b
          if (a + b > maxConnQ) maxConnQ = a + b
        }
        const m = process.memoryUsage()
        console.error(
          `TRACE relay t=${((nowMs() - t0) / 1000).toFixed(1)} accepted=${st.accepted} rejected=${st.rejected} conns=${st.connections} outStreams=${pubsub.streamsOutbound.size} opening=${st.gossipStreams.opening} queuedMiB=${(sum / 2 ** 20).toFixed(1)} busy=${busy} maxKiB=${(max / 1024).toFixed(0)} zeroWin=${zeroWindow} muxQMiB=${(muxQ / 2 ** 20).toFixed(1)} tcpQMiB=${(tcpQ / 2 ** 20).toFixed(1)} maxConnQKiB=${(maxConnQ / 1024).toFixed(0)} paused=${st.reads.pausedPeers} handling=${oldest(stages.handling)} validating=${oldest(stages.validating)} pacerWaiting=${pacerOf(relay.libp2p.services.pubsub)?.waiting} pauses=${st.reads.pauses} scoredOut=${JSON.stringify(st.scoredOut)} rssMiB=${(m.rss / 2 ** 20).toFixed(0)} extMiB=${((m.external + m.arrayBuffers) / 2 ** 20).toFixed(0)} io=${JSON.stringify(io())}`,
        )
      }, 2_000).unref()
    }
    const multiaddr = relay.multiaddrs.find((ma) => ma.includes('/tcp/') && !ma.includes('/ws'))
    if (multiaddr === undefined) throw new Error(`relay has no TCP address: ${relay.multiaddrs.join(', ')}`)
    return { multiaddr, peerId: relay.libp2p.peerId.toString() }
  },
  subscribe({ topic }) {
    started().libp2p.services.pubsub.subscribe(topic)
    return {}
  },
  async 'await-mesh'({ topic, peers, timeoutMs }) {
    const pubsub = started().libp2p.services.pubsub
    const wanted = new Set(peers)
    const count = (): number => meshPeers(pubsub, topic).filter((p) => wanted.has(p)).length
    const full = (): boolean => count() === wanted.size || meshPeers(pubsub, topic).length >= RELAY_MESH_MAX_PEERS
    if (full()) return { inMesh: count(), wanted: wanted.size, timedOut: false }
    const timedOut = await new Promise<boolean>((resolve) => {
      const check = (): void => {
        if (full()) done(false)
      }
      const timer = setTimeout(() => done(true), timeoutMs)
      const done = (result: boolean): void => {
        clearTimeout(timer)
        pubsub.removeEventListener('gossipsub:graft', check)
        pubsub.removeEventListener('gossipsub:heartbeat', check)
        resolve(result)
      }
      pubsub.addEventListener('gossipsub:graft', check)
      pubsub.addEventListener('gossipsub:heartbeat', check)
    })
    return { inMesh: count(), wanted: wanted.size, timedOut }
  },
  stats() {
    return started().stats()
  },
  usage({ gc }) {
    if (gc) (globalThis as { gc?: () => void }).gc?.()
    return usage()
  },
  cpu: cpuReport,
  async stop() {
    await node?.stop()
    return {}
  },
})
