/**
 * Benchmark child: the community relay (`RelayNode`, exactly as `securechat relay` runs it) on
 * loopback TCP. It joins room topics by itself; for the bare baseline the parent has it
 * subscribe to a plain topic too, so both modes go through the same relay on the same mesh.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { RELAY_MESH_MAX_PEERS } from '../node/src/constants.ts'
import { RelayNode } from '../node/src/relay/relay.ts'
import { meshPeers, serve } from './child.ts'
import { cpuReport, type RelayCommands } from './protocol.ts'

const relay = new RelayNode({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'] })

serve<RelayCommands>({
  async start() {
    await relay.start()
    const multiaddr = relay.multiaddrs.find((ma) => ma.includes('/tcp/') && !ma.includes('/ws'))
    if (multiaddr === undefined) throw new Error(`relay has no TCP address: ${relay.multiaddrs.join(', ')}`)
    return { multiaddr, peerId: relay.libp2p.peerId.toString() }
  },
  subscribe({ topic }) {
    relay.libp2p.services.pubsub.subscribe(topic)
    return {}
  },
  async 'await-mesh'({ topic, peers, timeoutMs }) {
    const pubsub = relay.libp2p.services.pubsub
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
    return relay.stats()
  },
  cpu: cpuReport,
  async stop() {
    await relay.stop()
    return {}
  },
})
