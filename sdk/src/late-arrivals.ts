import { setNewest } from './bounded-map.ts'
import { MAX_LATE_ARRIVALS } from './constants.ts'

/**
 * Where a message that arrives late belongs. Every message names the records its sender sent or saw before it
 * (`deps`). One that arrives after a message naming it is late — gossip took another path, gap repair fetched
 * it, a catch-up after a failover brought it — and a list shows it before the first message delivered here that
 * named it (`before` of `message:received`), not after everything (issue 12: "in order").
 *
 * The clock is not the answer: a member who comes back states a low Lamport clock in its first message, which
 * would jump up the list; naming is what the sender saw, the order the list must keep.
 *
 * Keys are record ids (what `deps` name); what a list knows is message ids — the same in a room, chosen by the
 * sender inside the ciphertext in a DM. Bounded ({@link MAX_LATE_ARRIVALS} of each kind, oldest out): a place
 * forgotten only puts a very late message last, as before.
 */
export class LateArrivals {
  /** A record not here yet → the message id of the first delivered message that named it. */
  readonly #namedBy = new Map<string, string>()
  /** A record that arrived late, not delivered yet → the message id it goes before. */
  readonly #places = new Map<string, string>()
  /** A record that arrived → its message id (only where the two differ: DMs). */
  readonly #messageIds = new Map<string, string>()

  /**
   * Record `recordId` (message `messageId`) arrived, naming `deps` as before it; `known` tells which records this
   * device has. Call it once per record, as it is taken.
   */
  arrived(recordId: string, deps: readonly string[], known: (recordId: string) => boolean, messageId = recordId): void {
    const before = this.#namedBy.get(recordId)
    if (before !== undefined) {
      this.#namedBy.delete(recordId)
      if (before !== messageId) setNewest(this.#places, recordId, before, MAX_LATE_ARRIVALS)
    }
    if (messageId !== recordId) setNewest(this.#messageIds, recordId, messageId, MAX_LATE_ARRIVALS)
    for (const dep of deps) {
      if (dep === recordId || known(dep) || this.#namedBy.has(dep)) continue
      setNewest(this.#namedBy, dep, messageId, MAX_LATE_ARRIVALS)
    }
  }

  /** The message id record `recordId` goes before, when it arrived late; asked once, as it is delivered. */
  placeOf(recordId: string): string | undefined {
    const before = this.#places.get(recordId)
    this.#places.delete(recordId)
    return before
  }

  /** The message ids of these records, those that arrived lately (a DM's `deps` as its list knows them). */
  messageIdsOf(recordIds: readonly string[]): string[] {
    return recordIds.flatMap((id) => {
      const messageId = this.#messageIds.get(id)
      return messageId === undefined ? [] : [messageId]
    })
  }

  /** The message id of record `recordId` when it arrived lately, else the record id itself. */
  messageIdOf(recordId: string): string {
    return this.#messageIds.get(recordId) ?? recordId
  }
}
