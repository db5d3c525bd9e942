import type { SignedMessage } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import type { HistoryProgress } from '../types.ts'
import type { AcceptedRecord } from './gatekeeper.ts'
import type { SignalAccepted } from './room-signals.ts'

/** Where this device stands in a room's history: what catch-up starts from. */
export interface HistoryPosition {
  /** The highest Lamport clock of a message this device delivered, reported or sent. */
  lamport: number
  /** Ids of the messages it delivered, reported or sent last (bounded): catch-up skips these. */
  ids: string[]
  /**
   * This device's clock when it was last caught up and live in the room: catch-up asks the
   * relays for what they received since (less a margin for skew). Absent until a catch-up
   * completes (a position of version 1 has none): catch-up then asks from `lamport`.
   */
  liveAtMs?: number
}

export type HistoryDelivery = 'delivered' | 'seen' | 'undecryptable'

/**
 * What learning the room's members from the presence the relays kept needs of a room
 * (`history/catch-up.ts`): its gatekeeper, and where a member's presence goes.
 */
export interface RoomMembersSink {
  roomId: string
  topic: string
  self: string
  /** Runs a fetched record through the room's gatekeeper, as a live one; undefined when it fails. */
  accept(message: SignedMessage): Promise<AcceptedRecord | undefined>
  /**
   * A member's stored presence: its key bundle, fetched from `source` (a relay), for the keys it
   * sealed to this device; and, unless it left for good or is here, a member away that this
   * device seals its own keys to from now on (`absent-members.ts`).
   */
  learn(accepted: Extract<AcceptedRecord, { type: 'presence' }>, source: PeerId): Promise<void>
  /** Every stored presence is learned: a send waiting for the members to seal to goes on. */
  learned(): void
}

/**
 * What catch-up (`history/catch-up.ts`) needs of a room, which keeps its gossip checks,
 * sender keys and delivery private: the same gatekeeper and decryption as live gossip. While a
 * sink is open the room holds back live messages, delivered after it {@link end}s, so
 * what a catch-up delivers comes first and in order.
 */
export interface RoomHistorySink extends RoomMembersSink {
  /**
   * The catch-up starts: live messages held back are held at most `CATCH_UP_HOLD_LIVE_MS` from now, then delivered
   * and no longer held (what the catch-up still finds is delivered as it comes).
   */
  begin(): void
  position(): HistoryPosition
  /** Installs a sender key sealed to this device. */
  keys(accepted: Extract<AcceptedRecord, { type: 'keys' }>): Promise<void>
  /** A stored read position (each device's latest): this wallet's other devices' mark the room read here. */
  signal(accepted: SignalAccepted): Promise<void>
  /** Decrypts and delivers one message now (`message:received`), or reports it undecryptable. */
  deliver(accepted: Extract<AcceptedRecord, { type: 'message' }>): Promise<HistoryDelivery>
  progress(progress: HistoryProgress): void
  /**
   * Every relay's answer was complete (`untilMs` absent): the room is caught up as of the
   * sink's opening and, live from then on, keeps its position current. With `untilMs` (a
   * catch-up cut short by its bound), the next one goes on from that receive time.
   */
  caughtUp(untilMs?: number): void
  /**
   * Delivers what arrived live meanwhile (duplicates dropped by id). `cutShort`: relays failed mid-answer and none
   * answered in full — a message this device has no sender key for is left to the next catch-up, which reads it and
   * its key from the stores, instead of waiting for the key.
   */
  end(cutShort?: boolean): void
}
