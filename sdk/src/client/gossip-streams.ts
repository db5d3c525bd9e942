import type { GossipSub } from '@libp2p/gossipsub'
import type { Connection, PeerId } from '@libp2p/interface'

export interface GossipStreamStats {
  /** Outbound gossip streams being opened now (the protocol negotiation under way). */
  opening: number
  /** Outbound gossip streams opened since start. */
  opened: number
}

interface QueueItem {
  peerId: PeerId
  connection: Connection
}

/** What of gossipsub's implementation this reads and replaces (17.x; not its published interface). */
interface GossipSubInternals {
  outboundInflightQueue: { push: (item: QueueItem) => unknown; end: () => unknown }
  streamsOutbound: Map<string, unknown>
  createOutboundStream: (peerId: PeerId, connection: Connection) => Promise<void>
  isStarted: () => boolean
}

/**
 * Opens the gossip stream to each new neighbour at once, instead of one after another. Gossipsub sends a neighbour
 * nothing — not its subscriptions, not a record — until it has opened its own stream to it, and it opens those
 * streams one at a time (its `outboundInflightQueue`), each waiting for the neighbour to answer the protocol
 * negotiation (a round trip, up to libp2p's negotiation timeout when the neighbour does not answer). On a relay that a
 * thousand members connect to, the last of them waits for the round trips of all the others: in the scale benchmark
 * (1,000 members on one relay, bench/scale-room.ts) the relay had a stream to 620 of them two minutes after they
 * connected and to 734 after four, and the members without one got none of a sender key's records, and never learnt
 * the relay was in the room. One neighbour on a slow link, or one that stops answering, held up all that came after
 * it.
 *
 * Every neighbour's stream is now negotiated as soon as it connects, concurrently with the others' (at most one
 * negotiation per neighbour: a neighbour whose stream is being opened is not asked again until that ends, and is
 * then asked again on the connection it came back with if the first attempt failed). Gossipsub's own
 * `createOutboundStream` does the opening, as before.
 *
 * Replaces the running instance's queue in place (gossipsub exports no class to extend): call it once gossipsub has
 * started (libp2p starts it when created); a gossipsub started again makes a new queue of its own.
 */
export function openGossipStreamsAtOnce(pubsub: GossipSub): { stats: () => GossipStreamStats } {
  const internals = pubsub as unknown as GossipSubInternals
  if (!internals.isStarted()) throw new Error('open gossip streams at once: gossipsub is not started')
  const queue = internals.outboundInflightQueue
  if (typeof queue?.push !== 'function' || typeof internals.createOutboundStream !== 'function') {
    throw new Error('gossipsub has no outboundInflightQueue or createOutboundStream: its implementation changed')
  }
  /** Neighbours whose stream is being opened, and the connection to try next if it was asked for meanwhile. */
  const opening = new Map<string, QueueItem | undefined>()
  let opened = 0
  let ended = false

  const open = (item: QueueItem): void => {
    const id = item.peerId.toString()
    if (opening.has(id)) {
      opening.set(id, item)
      return
    }
    if (internals.streamsOutbound.has(id)) return
    opening.set(id, undefined)
    void internals
      .createOutboundStream(item.peerId, item.connection)
      .catch(() => undefined)
      .finally(() => {
        const next = opening.get(id)
        opening.delete(id)
        if (internals.streamsOutbound.has(id)) opened += 1
        else if (next !== undefined && !ended) open(next)
      })
  }

  internals.outboundInflightQueue = {
    push: (item: QueueItem) => {
      if (!ended) open(item)
    },
    end: () => {
      ended = true
      // Ends gossipsub's own loop, which waits on the queue it made.
      return queue.end()
    },
  }
  return { stats: () => ({ opening: opening.size, opened }) }
}
