import type { GossipSub } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import { LINKED_RELAY_TOPIC_BYTES, PEER_TOPIC_BYTES } from '../constants.ts'

/** Gossipsub's implementation has these; its public interface does not declare them. */
interface GossipSubInternals {
  handleReceivedSubscription(from: PeerId, topic: string, subscribe: boolean): boolean
  maxTopicBytesPerPeer: number
}

/**
 * How much of each neighbour's subscriptions the relay keeps. Gossipsub keeps one budget for every peer
 * (`maxTopicBytesPerPeer`, 1 MiB by default: ~950 topics) and ignores a subscription past it. A linked relay tells
 * of every topic its network carries, so past ~950 rooms and DM topics the relays of one network no longer knew which
 * rooms and inboxes the others carried, and records there stopped at the relay they reached first. The relays the
 * operator named (`isLinkedRelay`) now get {@link LINKED_RELAY_TOPIC_BYTES}; every other peer keeps gossipsub's
 * default, {@link PEER_TOPIC_BYTES} — a peer that merely says it is a relay is a stranger here, as it is to
 * `LinkedRelays`. Named by PeerId (an address with `/p2p/`): the budget is chosen before identify has said who a peer
 * is.
 */
export function budgetTopicsPerPeer(pubsub: GossipSub, isLinkedRelay: (peer: string) => boolean): void {
  const internals = pubsub as unknown as GossipSubInternals
  const handle = internals.handleReceivedSubscription.bind(pubsub)
  internals.handleReceivedSubscription = (from, topic, subscribe) => {
    internals.maxTopicBytesPerPeer = isLinkedRelay(from.toString()) ? LINKED_RELAY_TOPIC_BYTES : PEER_TOPIC_BYTES
    return handle(from, topic, subscribe)
  }
}
