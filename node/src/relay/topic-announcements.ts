import type { GossipSub, SubscriptionChangeData } from '@libp2p/gossipsub'
import type { IdentifyResult, Libp2p, PeerId } from '@libp2p/interface'
import { RELAY_HINTS_PROTOCOL } from '@securechat/sdk/constants'
import { TOPICS_PER_SUBSCRIPTION_MESSAGE } from '../constants.ts'

/** Gossipsub's implementation has these; its public interface does not declare them. */
interface GossipSubInternals {
  sendSubscriptions(toPeer: string, topics: string[], subscribe: boolean): void
  readonly topics: Map<string, Set<string>>
  readonly subscriptions: Set<string>
}

/**
 * Which peers hear that the relay carries a topic. Gossipsub tells every connected peer of each topic its node
 * subscribes to — at once when it joins one, and the whole list when a peer connects. A relay joins a room's topic
 * when a member subscribes to it, and a DM topic (a wallet's inbox, a pair of devices) when a device does, so it told
 * every one of its clients of every room and every inbox it carried: joining 1,000 rooms with 2,000 clients connected
 * was 2,000,000 subscription messages written and read, which held the relay's event loop and its clients' for
 * minutes (`bench/scale-rooms.ts`, docs/benchmarks.md). And a peer's gossipsub keeps at most 1 MiB of one
 * neighbour's topics (`maxTopicBytesPerPeer`, ~950 topics), so past that a client never learned that the relay
 * carries a room or an inbox it joined late: what the client published there — a member's presence, a sender's first
 * message to a wallet — reached nobody. A thousand wallets online, or one peer subscribing to a thousand made-up
 * inboxes, were enough.
 *
 * Now a relay tells a topic to the peers subscribed to it — when the relay joins, and when a peer subscribes to one
 * the relay already carries — and to other relays (peers that serve {@link RELAY_HINTS_PROTOCOL}: relays join the
 * topics their neighbours carry, so that rooms and inboxes span relays). A sender that writes to a wallet's inbox
 * subscribes to it while it does (`DmDiscovery`), so it is told too. That it left a topic is told to the peers told
 * it joined.
 */
export class TopicAnnouncements {
  readonly #libp2p: Libp2p
  readonly #pubsub: GossipSubInternals
  readonly #gossipsub: GossipSub
  readonly #send: GossipSubInternals['sendSubscriptions']
  /** Connected peers that serve relay hints: relays, told of every topic. */
  readonly #relays = new Set<string>()
  /** The topics each other connected peer was told the relay carries: told again on a new stream, and when it left. */
  readonly #told = new Map<string, Set<string>>()

  constructor(init: { libp2p: Libp2p; pubsub: GossipSub }) {
    this.#libp2p = init.libp2p
    this.#gossipsub = init.pubsub
    this.#pubsub = init.pubsub as unknown as GossipSubInternals
    this.#send = this.#pubsub.sendSubscriptions.bind(init.pubsub)
  }

  /** Before anything that joins topics listens to subscriptions (see `#onSubscriptionChange`). */
  start(): void {
    this.#pubsub.sendSubscriptions = (toPeer, topics, subscribe) => {
      const told = this.#relays.has(toPeer)
        ? topics
        : topics.filter((topic) => (subscribe ? this.#tells(toPeer, topic) : this.#forget(toPeer, topic)))
      for (let i = 0; i < told.length; i += TOPICS_PER_SUBSCRIPTION_MESSAGE) {
        this.#send(toPeer, told.slice(i, i + TOPICS_PER_SUBSCRIPTION_MESSAGE), subscribe)
      }
    }
    this.#gossipsub.addEventListener('subscription-change', this.#onSubscriptionChange)
    this.#libp2p.addEventListener('peer:identify', this.#onIdentify)
    this.#libp2p.addEventListener('peer:disconnect', this.#onDisconnect)
  }

  stop(): void {
    delete (this.#pubsub as Partial<GossipSubInternals>).sendSubscriptions
    this.#gossipsub.removeEventListener('subscription-change', this.#onSubscriptionChange)
    this.#libp2p.removeEventListener('peer:identify', this.#onIdentify)
    this.#libp2p.removeEventListener('peer:disconnect', this.#onDisconnect)
    this.#relays.clear()
    this.#told.clear()
  }

  /**
   * Whether `peer`, if not a relay, is told of the relay's own subscription to `topic`: if it subscribes to it, or was
   * told before. A peer told before is told again on a new gossip stream: it may have lost what it was told with the
   * old one, while gossipsub here lost what it subscribes to (a connection that died under a device whose network
   * changed takes the peer's whole gossip state with it, its new stream's included, `stale-connections.ts`).
   */
  #tells(peer: string, topic: string): boolean {
    let topics = this.#told.get(peer)
    if (this.#pubsub.topics.get(topic)?.has(peer) !== true && topics?.has(topic) !== true) return false
    if (topics === undefined) {
      topics = new Set()
      this.#told.set(peer, topics)
    }
    topics.add(topic)
    return true
  }

  /** Whether `peer` is told that the relay left `topic`: if it was told that it joined. */
  #forget(peer: string, topic: string): boolean {
    return this.#told.get(peer)?.delete(topic) === true
  }

  /**
   * A peer subscribed to a topic the relay already carries: it is told so, which gossipsub does not do (it told
   * everyone when it joined). Told again if told before: a peer says it subscribes again when its gossip stream is
   * new, and a device whose connection changed has forgotten what the relay told it on the old one while the relay,
   * not yet sure the old one is dead, still counts it as connected. When the relay joins for this subscription,
   * joining tells it: this listener is registered before those that join (`start` comes first), so such a topic is
   * not carried yet here. Not to a relay: it was told of every topic when the relay joined and when it connected, and
   * gossipsub reports a repeated subscription as a change, so two relays answering each other's would never stop (and
   * each answer keeps the topic from going idle).
   */
  readonly #onSubscriptionChange = (event: CustomEvent<SubscriptionChangeData>): void => {
    const peer = event.detail.peerId.toString()
    if (this.#relays.has(peer)) return
    const topics = event.detail.subscriptions
      .filter(({ topic, subscribe }) => subscribe && this.#pubsub.subscriptions.has(topic))
      .map(({ topic }) => topic)
    this.#pubsub.sendSubscriptions(peer, topics, true)
  }

  /**
   * A relay is a peer that says so in identify. Not one the peer store lists the protocol for: it adds every protocol
   * a peer opened a stream with, so every client that asked this relay for its linked relays was taken for a relay
   * and told of every topic — the flood and the lost topics all over again, for real clients.
   */
  readonly #onIdentify = (event: CustomEvent<IdentifyResult>): void => {
    const { peerId, protocols } = event.detail
    const id = peerId.toString()
    if (this.#relays.has(id) || !protocols.includes(RELAY_HINTS_PROTOCOL)) return
    if (this.#libp2p.getConnections(peerId).length === 0) return
    this.#relays.add(id)
    // Its gossip stream may have opened before identify said it is a relay: the topics it was not told then.
    const told = this.#told.get(id)
    this.#told.delete(id)
    const topics = [...this.#pubsub.subscriptions].filter((topic) => told?.has(topic) !== true)
    this.#pubsub.sendSubscriptions(id, topics, true)
  }

  readonly #onDisconnect = (event: CustomEvent<PeerId>): void => {
    this.#relays.delete(event.detail.toString())
    this.#told.delete(event.detail.toString())
  }
}
