import type { GossipSub } from '@libp2p/gossipsub'
import type { Libp2p, PeerId, PeerUpdate } from '@libp2p/interface'
import { RELAY_HINTS_PROTOCOL, ROOM_TOPIC_PREFIX } from '@securechat/sdk/constants'

/** Gossipsub's implementation has these; its public interface does not declare them. */
interface GossipSubInternals {
  sendSubscriptions(toPeer: string, topics: string[], subscribe: boolean): void
  readonly topics: Map<string, Set<string>>
  readonly subscriptions: Set<string>
}

/**
 * Which peers hear that the relay carries a room. Gossipsub tells every connected peer of each topic its node
 * subscribes to — at once when it joins one, and the whole list when a peer connects. A relay joins a room's topic
 * when a member subscribes to it, so it told every one of its clients of every room it carried: joining 1,000 rooms
 * with 2,000 clients connected was 2,000,000 subscription messages written and read, which held the relay's event
 * loop and its clients' for minutes (`bench/scale-rooms.ts`, docs/benchmarks.md), and a client's gossipsub keeps
 * at most 1 MiB of topics per peer (~950 room topics), so past that a member of a room the relay joined late never
 * learned that the relay carries it, and what it published there reached nobody. It also told every client which
 * rooms the relay carries.
 *
 * Now a relay tells a room topic to the peers subscribed to it (its members, who need to know the relay carries it to
 * publish there: when the relay joins, and when a member subscribes to a room the relay already carries) and to other
 * relays (peers that serve {@link RELAY_HINTS_PROTOCOL}: relays join the rooms their neighbours carry, so that a room
 * spans relays, a relay with no member of its own between two others included). Other topics (DM inboxes, which a
 * sender publishes to without subscribing) are told to everyone, as before.
 */
export class RoomAnnouncements {
  readonly #libp2p: Libp2p
  readonly #pubsub: GossipSubInternals
  readonly #send: GossipSubInternals['sendSubscriptions']
  /** Connected peers that serve relay hints: relays, told of every room. */
  readonly #relays = new Set<string>()

  constructor(init: { libp2p: Libp2p; pubsub: GossipSub }) {
    this.#libp2p = init.libp2p
    this.#pubsub = init.pubsub as unknown as GossipSubInternals
    this.#send = this.#pubsub.sendSubscriptions.bind(init.pubsub)
  }

  start(): void {
    this.#pubsub.sendSubscriptions = (toPeer, topics, subscribe) => {
      const told = this.#relays.has(toPeer) ? topics : topics.filter((topic) => this.#tells(toPeer, topic))
      if (told.length > 0) this.#send(toPeer, told, subscribe)
    }
    this.#libp2p.addEventListener('peer:update', this.#onPeerUpdate)
    this.#libp2p.addEventListener('peer:disconnect', this.#onDisconnect)
  }

  stop(): void {
    delete (this.#pubsub as Partial<GossipSubInternals>).sendSubscriptions
    this.#libp2p.removeEventListener('peer:update', this.#onPeerUpdate)
    this.#libp2p.removeEventListener('peer:disconnect', this.#onDisconnect)
    this.#relays.clear()
  }

  /**
   * `peer` subscribed to `topic`, a room the relay already carries: tells it so, which gossipsub does not (it told
   * everyone when it joined). When the relay joins for this subscription, joining tells it. Not to a relay: it was told
   * of every room when the relay joined and when it connected, and gossipsub reports a repeated subscription as a
   * change, so two relays answering each other's would never stop (and each answer keeps the room from going idle).
   */
  memberSubscribed(peer: string, topic: string): void {
    if (this.#relays.has(peer) || !this.#pubsub.subscriptions.has(topic)) return
    this.#pubsub.sendSubscriptions(peer, [topic], true)
  }

  /** Whether `peer`, if not a relay, is told of the relay's own subscription to `topic`. */
  #tells(peer: string, topic: string): boolean {
    return !topic.startsWith(ROOM_TOPIC_PREFIX) || this.#pubsub.topics.get(topic)?.has(peer) === true
  }

  readonly #onPeerUpdate = (event: CustomEvent<PeerUpdate>): void => {
    const { peer } = event.detail
    const id = peer.id.toString()
    if (this.#relays.has(id) || !peer.protocols.includes(RELAY_HINTS_PROTOCOL)) return
    if (this.#libp2p.getConnections(peer.id).length === 0) return
    this.#relays.add(id)
    // Its gossip stream may have opened before identify said it is a relay: the rooms it was not told then.
    const rooms = [...this.#pubsub.subscriptions].filter((topic) => !this.#tells(id, topic))
    if (rooms.length > 0) this.#send(id, rooms, true)
  }

  readonly #onDisconnect = (event: CustomEvent<PeerId>): void => {
    this.#relays.delete(event.detail.toString())
  }
}
