import type { GossipSub } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'

/** What of gossipsub's implementation this wraps (17.x; private in its published types). */
interface GossipSubInternals {
  validateReceivedMessage: (
    from: PeerId,
    rpcMessage: { topic: string },
  ) => Promise<{ code: string; reason?: string; error?: string }>
}

/**
 * Tells of each record gossipsub itself refuses before any topic validator sees it — an invalid or missing gossip
 * signature, a bad sequence number or PeerId (gossipsub's `RejectReason.Error`) — with the neighbour it came from:
 * gossipsub scores that neighbour (P4) but says nothing, so a relay's refusals and log never named the peer sending
 * them. Records a topic validator rejects are told by the validator itself, not here.
 */
export function onGossipErrors(pubsub: GossipSub, onError: (from: string, error: string, topic: string) => void): void {
  const internals = pubsub as unknown as GossipSubInternals
  if (typeof internals.validateReceivedMessage !== 'function') {
    throw new Error('gossipsub has no validateReceivedMessage: its implementation changed')
  }
  const validate = internals.validateReceivedMessage.bind(pubsub)
  internals.validateReceivedMessage = async (from, rpcMessage) => {
    const result = await validate(from, rpcMessage)
    if (result.code === 'invalid' && result.reason === 'error') {
      onError(from.toString(), result.error ?? 'invalid', rpcMessage.topic)
    }
    return result
  }
}
