import type { GossipSub, Message, TopicValidatorFn } from '@libp2p/gossipsub'

/**
 * Makes a real node lose live records: every record on `topic` for which `drop` is true is
 * ignored on arrival (neither delivered nor forwarded), as if the network had dropped it. Wraps
 * whatever validator the room installs when it joins, so it works from the first record.
 */
export function dropOnArrival(pubsub: GossipSub, topic: string, drop: (message: Message) => boolean): void {
  const validators = pubsub.topicValidators
  const set = validators.set.bind(validators)
  validators.set = (key: string, validator: TopicValidatorFn) => {
    if (key !== topic) return set(key, validator)
    return set(key, (peer, message) => (drop(message) ? ('ignore' as never) : validator(peer, message)))
  }
}
