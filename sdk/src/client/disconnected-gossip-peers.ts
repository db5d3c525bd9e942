import type { GossipSub } from '@libp2p/gossipsub'
import type { Libp2p, PeerId } from '@libp2p/interface'

/** What of gossipsub's implementation this calls (17.x; private in its published types). */
interface GossipSubInternals {
  peers: Map<string, PeerId>
  onPeerDisconnected: (peerId: PeerId) => void
  handleReceivedRpc: (from: PeerId, rpc: unknown) => Promise<void>
}

/**
 * Forgets a neighbour in gossipsub once its last connection closes, whether or not it ever identified. Gossipsub
 * takes a peer on from its gossip stream alone, but lets it go only when libp2p's registrar reports the disconnect —
 * and the registrar reports it only for peers whose protocols identify learned. A peer that opened a gossip stream
 * without identifying (a bare libp2p node without the identify service, or one gone before identify finished) stayed
 * a neighbour after it left: subscribed to its topics (a relay's health and topic budgets counted it), scored, in
 * the meshes, for the life of the process — one more for every connection such a peer made. Gossipsub's own removal
 * does the forgetting; it does nothing for a peer already gone, so the registrar's report after this one is harmless.
 *
 * And what a gone peer said is not heard after it went: gossipsub handles an RPC read before the disconnect but
 * handled after it (a relay reading no faster than it validates holds some back) as from a neighbour, and a
 * subscription in it put the peer back in the topic's subscribers with nothing left to take it out again. A relay's
 * `/healthz` then counted it in the room: one peer that sent invalid records and left kept the relay "forwarding
 * nothing" with no connection at all. An RPC from a peer gossipsub does not hold is dropped.
 */
export function forgetGossipPeersOnDisconnect(libp2p: Libp2p<{ pubsub: GossipSub }>): void {
  const internals = libp2p.services.pubsub as unknown as GossipSubInternals
  if (
    typeof internals.onPeerDisconnected !== 'function' ||
    typeof internals.handleReceivedRpc !== 'function' ||
    !(internals.peers instanceof Map)
  ) {
    throw new Error('gossipsub has no onPeerDisconnected, handleReceivedRpc or peers: its implementation changed')
  }
  const handle = internals.handleReceivedRpc.bind(libp2p.services.pubsub)
  internals.handleReceivedRpc = async (from, rpc) => {
    if (internals.peers.has(from.toString())) await handle(from, rpc)
  }
  libp2p.addEventListener('peer:disconnect', (event) => {
    if (libp2p.getConnections(event.detail).length > 0) return // back already: its new streams are its state
    internals.onPeerDisconnected.call(libp2p.services.pubsub, event.detail)
  })
}
