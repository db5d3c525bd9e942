import type { Connection, Libp2p, PeerId } from '@libp2p/interface'

/** What of libp2p's connection manager this replaces (3.x; not on its published interface). */
interface ConnectionManagerInternals {
  getConnections: (peerId?: PeerId) => Connection[]
  getConnectionsMap: () => { values: () => Iterable<Connection[]> }
}

/**
 * Lists a node's connections in one pass. libp2p 3.3's connection manager builds the list of every connection by
 * concatenating each peer's connections onto a new array in turn, so one call copies the list once per peer: work in
 * the square of the connections held. It makes that list twice for every inbound connection (the admission check
 * against `maxConnections` and the pruner after it), so each newcomer cost a relay more than the last: at 8,883
 * connections on our test machine the last 4,066 took 815 s to connect and a quarter of them timed out
 * (docs/benchmarks.md). The list is the same, in the same order; a peer's own connections are read as before.
 */
export function listConnectionsInOnePass(libp2p: Libp2p): void {
  const manager = (libp2p as unknown as { components?: { connectionManager?: ConnectionManagerInternals } }).components
    ?.connectionManager
  if (typeof manager?.getConnections !== 'function' || typeof manager.getConnectionsMap !== 'function') {
    throw new Error(
      'libp2p has no connection manager with getConnections and getConnectionsMap: its implementation changed',
    )
  }
  const ofPeer = manager.getConnections.bind(manager)
  manager.getConnections = (peerId) =>
    peerId == null ? [...manager.getConnectionsMap().values()].flat() : ofPeer(peerId)
}
