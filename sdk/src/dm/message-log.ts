/**
 * Each DM conversation's messages as this device knows them — texts, versions, reactions, deletes, threads — folded
 * by `message-state.ts` and kept in the vault, one entry per conversation:
 *
 * ```
 * dm/messages/<address> = SavedMessageStates
 * ```
 *
 * A delete drops the text from the entry at the next save ({@link MESSAGE_STATES_SAVE_DELAY_MS}); the vault
 * rewrites it, so no copy of the old text stays there. The entries are read once, on start.
 */
import { MESSAGE_STATES_SAVE_DELAY_MS } from '../constants.ts'
import { utf8 } from '../encoding.ts'
import type { Logger } from '../logger.ts'
import { MessageStates, type MessageStatesFollower, savedMessageStatesSchema } from '../message-state.ts'
import type { Address } from '../types.ts'
import type { Vault } from '../vault/vault.ts'
import { checksumAddress } from './topics.ts'

/** Vault entry names of DM conversations' messages: this prefix and the other wallet's address. */
export const DM_MESSAGES_PREFIX = 'dm/messages/'
const PREFIX = DM_MESSAGES_PREFIX

export class DmMessageLog {
  readonly #vault: Vault | undefined
  readonly #log: Logger
  readonly #conversations = new Map<Address, MessageStates>()
  readonly #search: MessageStatesFollower | undefined

  constructor(init: { vault?: Vault | undefined; log: Logger; search?: MessageStatesFollower | undefined }) {
    this.#vault = init.vault
    this.#log = init.log
    this.#search = init.search
  }

  async load(): Promise<void> {
    const vault = this.#vault
    if (vault === undefined) return
    for (const name of await vault.list(PREFIX)) {
      try {
        const saved = await vault.getJson(name, savedMessageStatesSchema)
        if (saved !== undefined) this.#add(checksumAddress(name.slice(PREFIX.length)), new MessageStates({ saved }))
      } catch (err) {
        this.#log.warn('a DM conversation’s messages could not be read; it starts without them', {
          entry: name,
          error: String(err),
        })
      }
    }
  }

  /** The messages of the conversation with `peer`. */
  of(peer: Address): MessageStates {
    let states = this.#conversations.get(peer)
    if (states === undefined) {
      states = new MessageStates()
      this.#add(peer, states)
    }
    return states
  }

  /** The earliest time a message of any conversation expires (`message-state.ts`); undefined: none will. */
  nextExpiryMs(): number | undefined {
    let next: number | undefined
    for (const states of this.#conversations.values()) {
      const atMs = states.nextExpiryMs()
      if (atMs !== undefined && (next === undefined || atMs < next)) next = atMs
    }
    return next
  }

  /** Drops every message past its disappearing timer at `nowMs`: by conversation, the ids dropped (saved soon). */
  expire(nowMs: number): Array<{ conversation: Address; ids: string[] }> {
    const expired: Array<{ conversation: Address; ids: string[] }> = []
    for (const [conversation, states] of this.#conversations) {
      const ids = states.expire(nowMs)
      if (ids.length === 0) continue
      expired.push({ conversation, ids })
      this.save(conversation)
    }
    return expired
  }

  #add(peer: Address, states: MessageStates): void {
    this.#conversations.set(peer, states)
    this.#search?.follow(`dm:${peer}`, states)
  }

  /**
   * Writes every conversation's pending save now; resolves once durable. A ratchet session or a history position
   * saved after this never names a message the conversations' entries lack (`session-store.ts`).
   */
  async flush(): Promise<void> {
    await this.#vault?.flush(PREFIX)
  }

  /** Saves the conversation with `peer` soon (coalesced). */
  save(peer: Address): void {
    const vault = this.#vault
    const states = this.#conversations.get(peer)
    if (vault === undefined || states === undefined) return
    vault
      .putLatest(`${PREFIX}${peer}`, () => utf8.encode(JSON.stringify(states.serialize())), {
        delayMs: MESSAGE_STATES_SAVE_DELAY_MS,
      })
      .catch((err: unknown) => this.#log.warn('DM message states not saved', { error: String(err) }))
  }
}
