import { MAX_POSITION_IDS } from '../constants.ts'
import type { HistoryPosition } from './history-sink.ts'

/**
 * Where this device stands in one room's history: the highest Lamport clock of a message it
 * delivered, reported or sent, the ids of the last of those, and when (its clock) it was last
 * caught up and live. Catch-up asks from it; its owner saves it (`save`, with the room's message
 * states: `room-store.ts`) so a restart asks only for what came after.
 *
 * `liveAtMs` moves only while the room is live after a complete catch-up: a device that lost its
 * relays, or is catching up, does not claim the time it may have missed.
 */
export class HistoryPositionKeeper {
  readonly #position: HistoryPosition
  /** `#position.ids` as a set: one lookup per delivery. */
  readonly #ids: Set<string>
  #save: (() => void) | undefined
  #live = false
  readonly #now: () => number

  /** `save`: called after each change (the owner coalesces the writes). */
  constructor(init: { now: () => number; save?: () => void; position?: HistoryPosition }) {
    this.#now = init.now
    this.#save = init.save
    const position = init.position ?? { lamport: 0, ids: [] }
    this.#position = { ...position, ids: position.ids.slice(-MAX_POSITION_IDS) }
    this.#ids = new Set(this.#position.ids)
  }

  get(): HistoryPosition {
    return { ...this.#position, ids: [...this.#position.ids] }
  }

  /** Moves past a message (once per id). */
  advance(lamport: number, id: string): void {
    if (this.#ids.has(id)) return
    const position = this.#position
    position.lamport = Math.max(position.lamport, lamport)
    position.ids.push(id)
    this.#ids.add(id)
    if (position.ids.length > MAX_POSITION_IDS) this.#ids.delete(position.ids.shift()!)
    if (this.#live) position.liveAtMs = this.#now()
    this.#save?.()
  }

  /**
   * A message taken but not delivered after all (it waits for its sender key, in memory): off the
   * ids again, so a restart meanwhile fetches it once more instead of skipping it.
   */
  withdraw(id: string): void {
    if (!this.#ids.delete(id)) return
    const at = this.#position.ids.indexOf(id)
    if (at >= 0) this.#position.ids.splice(at, 1)
    this.#save?.()
  }

  /**
   * A catch-up covered what the relays received until `sinceMs` (this device's clock); with
   * `live`, the room is live from then on and keeps `liveAtMs` current.
   */
  caughtUp(sinceMs: number, live: boolean): void {
    this.#live = live
    this.#position.liveAtMs = Math.max(this.#position.liveAtMs ?? 0, sinceMs)
    this.#save?.()
  }

  /** The room may miss records from now (its relays went away, or a catch-up began). */
  notLive(): void {
    this.#live = false
  }

  /** Saves the room live until now, when it is (it stops while connected). */
  touch(): void {
    if (!this.#live) return
    this.#position.liveAtMs = this.#now()
    this.#save?.()
  }

  /** Saves no more (the room stopped; leaving it deletes the entry). */
  detach(): void {
    this.#save = undefined
  }
}
