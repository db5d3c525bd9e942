import { MAX_POSITION_IDS } from '../constants.ts'
import type { Logger } from '../logger.ts'
import type { Vault } from '../vault/vault.ts'
import type { HistoryPosition } from './history-sink.ts'
import { saveHistoryPosition } from './room-store.ts'

/**
 * Where this device stands in one room's history: the highest Lamport clock of a message it
 * delivered, reported or sent, and the ids at that clock. Catch-up asks from it; with a vault it
 * is saved (coalesced, like the sender keys) so a restart asks only for what came after.
 */
export class HistoryPositionKeeper {
  #position: HistoryPosition
  #vault: Vault | undefined
  readonly #roomId: string
  readonly #log: Logger

  constructor(init: { roomId: string; log: Logger; vault?: Vault; position?: HistoryPosition }) {
    this.#roomId = init.roomId
    this.#log = init.log
    this.#vault = init.vault
    this.#position = init.position ?? { lamport: 0, ids: [] }
  }

  get(): HistoryPosition {
    return { lamport: this.#position.lamport, ids: [...this.#position.ids] }
  }

  /** Moves past a message; one older than the position changes nothing. */
  advance(lamport: number, id: string): void {
    const position = this.#position
    if (lamport < position.lamport) return
    if (lamport > position.lamport) this.#position = { lamport, ids: [id] }
    else if (!position.ids.includes(id)) position.ids = [...position.ids, id].slice(-MAX_POSITION_IDS)
    else return
    if (this.#vault === undefined) return
    saveHistoryPosition(this.#vault, this.#roomId, () => this.#position).catch((err: unknown) =>
      this.#log.warn('room history position not saved', { room: this.#roomId, error: String(err) }),
    )
  }

  /** Saves no more (the room stopped; leaving it deletes the entry). */
  detach(): void {
    this.#vault = undefined
  }
}
