import type { GossipSub } from '@libp2p/gossipsub'
import type { Libp2p } from '@libp2p/interface'
import { raceSignal, withTimeout } from '../async.ts'
import { GOSSIP_DRAIN_WAIT_MS } from '../constants.ts'
import type { AbortOptions } from '../types.ts'
import { pacerOf } from './paced-validation.ts'

/**
 * Waits until the gossip streams to `topic`'s neighbours can take more (at most
 * {@link GOSSIP_DRAIN_WAIT_MS}): gossipsub writes whatever is published without backpressure, so a
 * sender in a loop queues megabytes while its neighbour validates, and never lets its own event
 * loop turn (each publish resolves at once). Its pings then wait behind that work, libp2p's
 * connection monitor aborts the connection, and everything queued on it is lost (issue 12,
 * catch-up bench). Waiting for a stream's `drain` bounds what is in flight to what the neighbour
 * reads, and yields to the event loop. Resolves, never rejects: a stream that closes meanwhile
 * has nothing left to wait for, and what it carried is the outgoing buffer's to send again.
 */
export async function gossipDrained(
  libp2p: Pick<Libp2p, 'getConnections'>,
  pubsub: GossipSub,
  topic: string,
  options: AbortOptions = {},
): Promise<void> {
  // A sender in a loop never waits on I/O while the streams take its records: let the event loop turn.
  await pacerOf(pubsub)?.turn()
  const signal = withTimeout(options.signal, GOSSIP_DRAIN_WAIT_MS)
  for (const peer of pubsub.getSubscribers(topic)) {
    for (const connection of libp2p.getConnections(peer)) {
      for (const stream of connection.streams) {
        if (stream.direction !== 'outbound' || !pubsub.protocols.includes(stream.protocol)) continue
        if (!stream.writableNeedsDrain || stream.status !== 'open') continue
        try {
          await raceSignal(stream.onDrain(), signal)
        } catch {
          // Closed, or waited long enough: the message is sent or the outgoing buffer has it.
          if (signal.aborted) return
        }
      }
    }
  }
}
