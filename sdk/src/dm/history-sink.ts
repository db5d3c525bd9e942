import type { SignedMessage } from '@libp2p/gossipsub'
import { parseRatchetMessage } from '../crypto/double-ratchet.ts'
import { decodeInitialMessage } from '../crypto/pqxdh.ts'
import { bytesToHex } from '../crypto/primitives.ts'
import { base64urlDecode } from '../encoding.ts'
import type { DmHistoryProgress } from '../types.ts'
import type { AcceptedDmRecord } from './gatekeeper.ts'
import type { TopicPosition } from './history-state.ts'
import type { DmOutcome } from './sessions.ts'

/** A record a catch-up will hand to the DM layer: an initial message for this device, or a ratchet message. */
export type HandledDmRecord = Extract<AcceptedDmRecord, { type: 'init' | 'msg' | 'signal' }>

/**
 * What a DM catch-up (`history/dm-catch-up.ts`) needs of the DM layer, which keeps its checks, sessions and
 * positions private: the same gatekeeper and ratchet as live gossip. While the first catch-up after start
 * runs, live records wait, so that what was sent while this device was away comes first and in order.
 */
export interface DmHistorySink {
  /** This device's PeerId. */
  self: string
  /** The topics to ask for: this wallet's inbox first, then the pair topic of every session (now). */
  topics(): string[]
  /** Record types kept on a topic that are for this device to read (`init` on the inbox, `msg` on pairs). */
  types(topic: string): string[]
  /** Where to start asking `relay` for `topic`; undefined: from the start of the relay's retention. */
  position(relay: string, topic: string): TopicPosition | undefined
  /** Runs a fetched record through the DM gatekeeper, as a live one; undefined when it fails. */
  accept(message: SignedMessage): Promise<AcceptedDmRecord | undefined>
  /** True when the record was handled already (live, or by an earlier catch-up). */
  handled(recordId: string): boolean
  /** Decrypts and delivers one record, exactly as a live one (a new session from an initial message too). */
  handle(accepted: HandledDmRecord): Promise<DmOutcome>
  /** Everything fetched from `relay` on `topic` up to `position` is handled. */
  advance(relay: string, topic: string, position: TopicPosition): void
  progress(progress: DmHistoryProgress): void
  /** Saves the positions, sends the receipts due, and handles what arrived live meanwhile. */
  end(): Promise<void>
}

/**
 * Where a record stands in its sender's ratchet: the sending chain (its ratchet public key) and the message
 * number in it. A store orders by its receive time, and records stored in one write share it; within a chain
 * the number is the order they were sent in. Undefined for what does not parse (it fails when handled).
 */
export function ratchetPosition(accepted: HandledDmRecord): { chain: string; n: number } | undefined {
  try {
    const message =
      accepted.type !== 'init'
        ? base64urlDecode(accepted.record.ct)
        : decodeInitialMessage(base64urlDecode(accepted.record.msg)).payload
    const { header } = parseRatchetMessage(message)
    return { chain: `${accepted.from}/${bytesToHex(header.dh)}`, n: header.n }
  } catch {
    return undefined
  }
}
