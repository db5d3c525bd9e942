import type { GossipSub } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'

/** What of gossipsub's implementation this reads and wraps (17.x; not its published interface). */
interface GossipSubInternals {
  streamsInbound: Map<string, { source: AsyncIterable<unknown> }>
  pipePeerReadStream: (peerId: PeerId, source: AsyncIterable<unknown>) => Promise<void>
  handlePeerReadStreamError: (err: unknown, peerId: PeerId) => void
}

/**
 * Keeps a neighbour whose old gossip stream fails after a new one replaced it. A device that comes back on a new
 * connection (a restart with the same PeerId, a network change) opens a new gossip stream, and gossipsub takes it as
 * the neighbour's stream in place of the old one. When the old connection then dies — closed as stale
 * (`stale-connections.ts` on a relay), or timed out by its pings — reading the old stream fails, and gossipsub
 * forgets the neighbour whole: its subscriptions, its place in every mesh, its score, and the new stream too, which it
 * closes. The relay then forwarded the device nothing on the live connection, and told it nothing, until one of them
 * connected again.
 *
 * A read error on a stream that is no longer the neighbour's current one now only ends that stream; one on the current
 * stream forgets the neighbour as before. Wraps the instance's methods in place (gossipsub exports no class to extend).
 */
export function keepPeersOnReplacedStreamErrors(pubsub: GossipSub): void {
  const internals = pubsub as unknown as GossipSubInternals
  if (typeof internals.pipePeerReadStream !== 'function' || typeof internals.handlePeerReadStreamError !== 'function') {
    throw new Error('gossipsub has no pipePeerReadStream or handlePeerReadStreamError: its implementation changed')
  }
  const pipe = internals.pipePeerReadStream.bind(pubsub)
  const handle = internals.handlePeerReadStreamError.bind(pubsub)
  /** Per neighbour, the stream whose read just failed: gossipsub's handler is called with the peer only. */
  const failed = new Map<string, AsyncIterable<unknown>>()
  internals.pipePeerReadStream = (peerId, source) => {
    const id = peerId.toString()
    async function* marked(): AsyncGenerator<unknown> {
      try {
        yield* source
      } catch (err) {
        failed.set(id, source)
        throw err
      }
    }
    return pipe(peerId, marked())
  }
  internals.handlePeerReadStreamError = (err, peerId) => {
    const id = peerId.toString()
    const source = failed.get(id)
    failed.delete(id)
    const current = internals.streamsInbound.get(id)
    if (source !== undefined && current !== undefined && current.source !== source) return
    handle(err, peerId)
  }
}
