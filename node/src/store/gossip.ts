import type { SignedMessage } from '@libp2p/gossipsub'
import type { AcceptedRecord } from '@securechat/sdk/rooms'
import type { StoreInput } from './types.ts'

/** What the relay's validation learned about a record, which the store keeps beside it. */
export type StoreFacts = Pick<StoreInput, 'type' | 'lamport' | 'supersedes'>

/**
 * The store's input for a gossip message the relay accepted: the message exactly as signed,
 * and what validation learned from its data (`type`, `lamport`, whether it is state).
 */
export function storeInputOf(message: SignedMessage, facts: StoreFacts): StoreInput {
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

/**
 * What a room record the relay accepted is to the store: messages are history (with their
 * Lamport clock), sender-key records are history (a member away during a rotation needs them),
 * presence and read positions are state (only a sender's latest is kept: the wallet's other devices
 * and members away learn it on their return), typing and call signals are nothing (undefined: not kept — a call's
 * signals are worth nothing once it is over, and its keys must not outlive it in a store).
 */
export function roomStoreFacts(accepted: AcceptedRecord): StoreFacts | undefined {
  if (accepted.type === 'message') return { type: 'message', lamport: accepted.record.lamport }
  if (accepted.type === 'presence' || accepted.type === 'read') return { type: accepted.type, supersedes: true }
  if (accepted.type === 'typing' || accepted.type === 'call') return undefined
  return { type: accepted.type }
}
