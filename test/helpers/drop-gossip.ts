import type { GossipSub, Message, TopicValidatorFn } from '@libp2p/gossipsub'

/**
 * Makes a real node lose live records: every record on `topic` for which `drop` is true is
 * ignored on arrival (neither delivered nor forwarded), as if the network had dropped it. Wraps
 * the validator installed now (a DM pair topic already joined) and whatever validator the room
 * installs when it joins, so it works from the first record.
 */
export function dropOnArrival(pubsub: GossipSub, topic: string, drop: (message: Message) => boolean): void {
  const validators = pubsub.topicValidators
  const set = validators.set.bind(validators)
  const dropping =
    (validator: TopicValidatorFn): TopicValidatorFn =>
    (peer, message) =>
      drop(message) ? ('ignore' as never) : validator(peer, message)
  const installed = validators.get(topic)
  if (installed !== undefined) set(topic, dropping(installed))
  validators.set = (key: string, validator: TopicValidatorFn) =>
    set(key, key === topic ? dropping(validator) : validator)
}
