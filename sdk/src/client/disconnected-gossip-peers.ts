import type { GossipSub } from '@libp2p/gossipsub'
import type { Libp2p, PeerId } from '@libp2p/interface'

/** What of gossipsub's implementation this calls (17.x; private in its published types). */
interface GossipSubInternals {
  onPeerDisconnected: (peerId: PeerId) => void
}

/**
 * Forgets a neighbour in gossipsub once its last connection closes, whether or not it ever identified. Gossipsub
 * takes a peer on from its gossip stream alone, but lets it go only when libp2p's registrar reports the disconnect —
 * and the registrar reports it only for peers whose protocols identify learned. A peer that opened a gossip stream
 * without identifying (a bare libp2p node without the identify service, or one gone before identify finished) stayed
 * a neighbour after it left: subscribed to its topics (a relay's health and topic budgets counted it), scored, in
 * the meshes, for the life of the process — one more for every connection such a peer made. Gossipsub's own removal
 * does the forgetting; it does nothing for a peer already gone, so the registrar's report after this one is harmless.
 */
export function forgetGossipPeersOnDisconnect(libp2p: Libp2p<{ pubsub: GossipSub }>): void {
  const internals = libp2p.services.pubsub as unknown as GossipSubInternals
  if (typeof internals.onPeerDisconnected !== 'function') {
    throw new Error('gossipsub has no onPeerDisconnected: its implementation changed')
  }
  libp2p.addEventListener('peer:disconnect', (event) => {
    if (libp2p.getConnections(event.detail).length > 0) return // back already: its new streams are its state
    internals.onPeerDisconnected.call(libp2p.services.pubsub, event.detail)
  })
}
