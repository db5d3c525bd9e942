import { setNewest } from './bounded-map.ts'
import { MAX_LATE_ARRIVALS } from './constants.ts'

/**
 * Where a message that is delivered late belongs. Every message names the records its sender sent or saw before it
 * (`deps`). One delivered after a message naming it is late — gossip took another path, gap repair fetched it, a
 * catch-up after a failover brought it, or it waited for its key or its decryption while the next one did not —
 * and a list shows it before the first message delivered here that named it (`before` of `message:received`), not
 * after everything (issue 12: "in order").
 *
 * Counted when a message is handed to the app, not when its record arrives: a room decrypts its messages
 * concurrently, and the app sees them in the order they are handed over.
 *
 * The clock is not the answer: a member who comes back states a low Lamport clock in its first message, which
 * would jump up the list; naming is what the sender saw, the order the list must keep.
 *
 * Keys are record ids (what `deps` name); what a list knows is message ids — the same in a room, chosen by the
 * sender inside the ciphertext in a DM. Bounded ({@link MAX_LATE_ARRIVALS} of each kind, oldest out): a place
 * forgotten only puts a very late message last.
 *
 * Naming is bounded too (three ids a message), so a room also says where a message goes by its own sender's order
 * (`sequence`): one device's messages carry a clock that rises with each and its send time, so one that comes after
 * a later one of the same device, and that nothing delivered named, goes before the first such that was handed over.
 * Both must agree: a device that lost its state starts its clock again, and its new messages, sent later, are not
 * raised above its old ones.
 *
 * `before` is the first delivered message that named it, which a list may have shown below another late one that
 * names it too (3 handed over, then 2 and 1, both named by 3): a list also keeps a message above what it names
 * (`web/src/state/late-placement.ts`).
 */
export class LateArrivals {
  /** Records handed to the app lately, with their message ids. */
  readonly #delivered = new Map<string, string>()
  /** A record not handed over yet → the message id of the first delivered message that named it. */
  readonly #namedBy = new Map<string, string>()
  /** By sending device: its messages handed over lately, in the order they were. */
  readonly #bySender = new Map<string, Sequenced[]>()

  /**
   * Record `recordId` (message `messageId`), naming `deps` as before it, is being handed to the app; returns the
   * message id it goes before when it comes late. Reactions, edits and deletes count too (a later text names them).
   */
  delivered(
    recordId: string,
    deps: readonly string[],
    messageId = recordId,
    sequence?: { sender: string; clock: number; sentAtMs: number },
  ): string | undefined {
    const before = this.#namedBy.get(recordId) ?? (sequence === undefined ? undefined : this.#followedBy(sequence))
    if (sequence !== undefined) this.#sequenced(sequence, messageId)
    this.#namedBy.delete(recordId)
    setNewest(this.#delivered, recordId, messageId, MAX_LATE_ARRIVALS)
    for (const dep of deps) {
      if (dep === recordId || this.#delivered.has(dep) || this.#namedBy.has(dep)) continue
      setNewest(this.#namedBy, dep, messageId, MAX_LATE_ARRIVALS)
    }
    return before === messageId ? undefined : before
  }

  /** The first message of `sequence.sender` handed over that it sent later (a higher clock and a later send time). */
  #followedBy(sequence: { sender: string; clock: number; sentAtMs: number }): string | undefined {
    return this.#bySender
      .get(sequence.sender)
      ?.find((later) => later.clock > sequence.clock && later.sentAtMs >= sequence.sentAtMs)?.messageId
  }

  #sequenced(sequence: { sender: string; clock: number; sentAtMs: number }, messageId: string): void {
    const list = this.#bySender.get(sequence.sender) ?? []
    list.push({ clock: sequence.clock, sentAtMs: sequence.sentAtMs, messageId })
    if (list.length > MAX_SEQUENCED_PER_SENDER) list.shift()
    setNewest(this.#bySender, sequence.sender, list, MAX_LATE_ARRIVALS)
  }

  /** The message ids of these records, those delivered lately (a DM's `deps` as its list knows them). */
  messageIdsOf(recordIds: readonly string[]): string[] {
    return recordIds.flatMap((id) => {
      const messageId = this.#delivered.get(id)
      return messageId === undefined ? [] : [messageId]
    })
  }

  /** The message id of record `recordId` when it was delivered lately, else the record id itself. */
  messageIdOf(recordId: string): string {
    return this.#delivered.get(recordId) ?? recordId
  }
}

interface Sequenced {
  clock: number
  sentAtMs: number
  messageId: string
}

/** Messages a sender's order is kept for: a late one meets the last this many of its sender. */
const MAX_SEQUENCED_PER_SENDER = 64
