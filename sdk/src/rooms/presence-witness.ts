import { setNewest } from '../bounded-map.ts'
import { MAX_PRESENCE_WITNESS_MEMBERS, MAX_PRESENCE_WITNESS_NEIGHBOURS } from '../constants.ts'

/**
 * What this device saw of each member's presence, to judge the two ways a member is marked away before its presence
 * times out (docs/architecture.md, Presence):
 *
 * - its own `leaving` presence, signed by its PeerId key (gossipsub StrictSign) so nobody else can write one — but a
 *   relay that kept an old one could send it again after the member came back: a leave stated earlier than a
 *   presence the member sent since is a replay, and refused;
 * - a neighbour's word that the member's connection closed (a relay's departure notice,
 *   `client/departures.ts`, or our own connection to it): believed only from a neighbour that carried the member's
 *   presence to us lately. That neighbour could already make the member look away by dropping what it sends; a
 *   relay it never went through cannot, and what follows is only `offline` (keys stay sealed to it; its next
 *   presence, through any path, brings it back).
 */
export class PresenceWitness {
  readonly #members = new Map<string, { atMs: number; via: Map<string, number> }>()
  readonly #windowMs: () => number
  readonly #now: () => number

  /** `windowMs`: how long a neighbour counts as carrying a member's presence (the presence timeout). */
  constructor(init: { windowMs: () => number; now?: () => number }) {
    this.#windowMs = init.windowMs
    this.#now = init.now ?? Date.now
  }

  /** A presence of `peer`, stated at `atMs` (its clock), came to us through the neighbour `via`. */
  heard(peer: string, atMs: number, via: string): void {
    const seen = this.#members.get(peer) ?? { atMs, via: new Map<string, number>() }
    seen.atMs = Math.max(seen.atMs, atMs)
    setNewest(seen.via, via, this.#now(), MAX_PRESENCE_WITNESS_NEIGHBOURS)
    setNewest(this.#members, peer, seen, MAX_PRESENCE_WITNESS_MEMBERS)
  }

  /** Whether a `leaving` presence of `peer` stated at `atMs` counts: not when it sent a later presence (a replay). */
  acceptsLeave(peer: string, atMs: number): boolean {
    const seen = this.#members.get(peer)
    if (seen === undefined) return true
    if (atMs < seen.atMs) return false
    // Kept: an older leave sent again after this one is as stale.
    seen.atMs = atMs
    seen.via.clear()
    return true
  }

  /** Whether `via` saying that `peer` went away counts: only when `via` carried its presence within the window. */
  acceptsDeparture(peer: string, via: string): boolean {
    const seen = this.#members.get(peer)
    const atMs = seen?.via.get(via)
    if (atMs === undefined || atMs < this.#now() - this.#windowMs()) return false
    seen!.via.clear()
    return true
  }

  /** `peer` left the room for good: nothing of it is kept. */
  forget(peer: string): void {
    this.#members.delete(peer)
  }
}
