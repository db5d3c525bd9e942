import type { SignedMessage } from '@libp2p/gossipsub'
import type { StoreInput } from './types.ts'

/**
 * The store's input for a gossip message the relay accepted: the message exactly as signed,
 * and what validation learned from its data (`type`, `lamport`, whether it is state).
 */
export function storeInputOf(
  message: SignedMessage,
  facts: { type: string; lamport?: number; supersedes?: boolean },
): StoreInput {
  const seqno = new Uint8Array(8)
  new DataView(seqno.buffer).setBigUint64(0, message.sequenceNumber, false)
  return {
    topic: message.topic,
    from: message.from.toString(),
    seqno,
    signature: message.signature,
    data: message.data,
    ...facts,
  }
}
