import type { GossipSub, Message, TopicValidatorFn } from '@libp2p/gossipsub'
import type { RPC } from '@libp2p/gossipsub/message'

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

/**
 * Makes a real node lose what it sends: every message it would send to peer `to` for which `drop` is true is
 * left out of the RPC (forwards, answers to IWANT and own publishes alike), as if the link had dropped it. The
 * node itself has it, validated and kept (a relay's store too). gossipsub has no hook for this: `sendRpc` is its
 * one way out to a peer.
 */
export function dropOnSend(pubsub: GossipSub, drop: (to: string, message: RPC.Message) => boolean): void {
  const internals = pubsub as unknown as { sendRpc(id: string, rpc: RPC): boolean }
  const send = internals.sendRpc.bind(pubsub)
  internals.sendRpc = (id, rpc) => {
    const messages = rpc.messages.filter((message) => !drop(id, message))
    return send(id, messages.length === rpc.messages.length ? rpc : { ...rpc, messages })
  }
}

/**
 * Makes a real node late with what it sends: a message it would send to peer `to` for which `hold` gives a promise
 * is left out of the RPC and sent alone once that promise settles, as if it had taken a slower path. The rest goes
 * out at once, so what the node sends after it overtakes it.
 */
export function holdOnSend(
  pubsub: GossipSub,
  hold: (to: string, message: RPC.Message) => Promise<void> | undefined,
): void {
  const internals = pubsub as unknown as { sendRpc(id: string, rpc: RPC): boolean }
  const send = internals.sendRpc.bind(pubsub)
  internals.sendRpc = (id, rpc) => {
    const messages = rpc.messages.filter((message) => {
      const until = hold(id, message)
      if (until === undefined) return true
      void until.then(() => send(id, { subscriptions: [], messages: [message] }))
      return false
    })
    return send(id, messages.length === rpc.messages.length ? rpc : { ...rpc, messages })
  }
}
