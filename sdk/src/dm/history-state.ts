/**
 * What a device remembers of the relays' stores for its DM catch-up (`catch-up.ts`), in memory and in the vault:
 * per relay and topic, the relay's receive time of the last record fetched (that relay's clock, never a
 * sender's, so a sender with a wrong clock cannot hide a message) and the ids at exactly that time; and the ids of
 * the records this device handled lately, live or fetched, so that none is handled twice. A record still being
 * handled is not saved as handled, and a save writes the message states first (`beforeSave`): a restart never
 * skips a message its vault did not keep.
 */
import { z } from 'zod'
import { evictOldest, setNewest } from '../bounded-map.ts'
import type { Logger } from '../logger.ts'
import type { Vault } from '../vault/vault.ts'
import { DM_MAX_HANDLED_RECORDS, DM_MAX_HISTORY_RELAYS } from './constants.ts'

const ENTRY = 'dm/history'

/** Records at one receive time a position remembers at most (a burst stored in one write shares it). */
const MAX_IDS_AT_POSITION = 1_000

/** A record id is kept as its first 16 bytes (hex): enough to tell records apart, half the vault space. */
const ID_PREFIX_CHARS = 32

export interface TopicPosition {
  /** The relay's receive time of the last record fetched. */
  ms: number
  /** Ids of the records fetched at exactly {@link ms} (the next query starts there, inclusive). */
  ids: string[]
}

const id = z.string().regex(/^[0-9a-f]{32,64}$/)
const stateSchema = z
  .object({
    v: z.literal(1),
    relays: z
      .array(
        z
          .object({
            peer: z.string().min(1).max(128),
            topics: z
              .array(
                z
                  .object({
                    topic: z.string().min(1).max(256),
                    ms: z.number().int().nonnegative(),
                    ids: z.array(id).max(MAX_IDS_AT_POSITION),
                  })
                  .strict(),
              )
              .max(10_000),
          })
          .strict(),
      )
      .max(DM_MAX_HISTORY_RELAYS),
    handled: z.array(id).max(DM_MAX_HANDLED_RECORDS),
  })
  .strict()

export class DmHistoryState {
  readonly #vault: Vault | undefined
  readonly #log: Logger
  readonly #relays = new Map<string, Map<string, TopicPosition>>()
  readonly #handled = new Map<string, true>()
  /** Handled records not yet delivered (decrypting): handled here, not yet on disk. */
  readonly #handling = new Set<string>()
  readonly #beforeSave: (() => Promise<void>) | undefined
  #dirty = false

  constructor(init: { vault?: Vault | undefined; log: Logger; beforeSave?: () => Promise<void> }) {
    this.#vault = init.vault
    this.#log = init.log
    this.#beforeSave = init.beforeSave
  }

  async load(): Promise<void> {
    const stored = await this.#vault?.getJson(ENTRY, stateSchema).catch((err: unknown) => {
      this.#log.warn('the DM history position could not be read; catch-up starts over', { error: String(err) })
      return undefined
    })
    if (stored === undefined) return
    for (const relay of stored.relays) {
      this.#relays.set(relay.peer, new Map(relay.topics.map((t) => [t.topic, { ms: t.ms, ids: t.ids }])))
    }
    for (const handled of stored.handled) this.#handled.set(handled, true)
  }

  /** Where to start asking `relay` for `topic`; for a topic it never served, a little before where the others are. */
  position(relay: string, topic: string, marginMs: number): TopicPosition | undefined {
    const own = this.#relays.get(relay)?.get(topic)
    if (own !== undefined) return own
    const others = [...this.#relays.values()].flatMap((topics) => {
      const position = topics.get(topic)
      return position === undefined ? [] : [position.ms]
    })
    // Another relay's clock is not this one's: start early and let the ids tell what was handled.
    return others.length === 0 ? undefined : { ms: Math.max(0, Math.min(...others) - marginMs), ids: [] }
  }

  /** Records the last record fetched from `relay` on `topic` (called once what was fetched is handled). */
  advance(relay: string, topic: string, position: TopicPosition): void {
    const topics = this.#relays.get(relay) ?? new Map<string, TopicPosition>()
    topics.set(topic, { ms: position.ms, ids: position.ids.slice(-MAX_IDS_AT_POSITION) })
    setNewest(this.#relays, relay, topics, DM_MAX_HISTORY_RELAYS)
    this.#dirty = true
  }

  /** True when the record was handled (live or fetched) lately. */
  handled(recordId: string): boolean {
    return this.#handled.has(recordId.slice(0, ID_PREFIX_CHARS))
  }

  /** The record is being handled: {@link handled} from now on, saved as such once {@link settled}. */
  markHandled(recordId: string): void {
    const key = recordId.slice(0, ID_PREFIX_CHARS)
    this.#handled.set(key, true)
    this.#handling.add(key)
    evictOldest(this.#handled, DM_MAX_HANDLED_RECORDS)
    this.#dirty = true
  }

  /** The record was handled (delivered, or found unreadable or not for this device). */
  settled(recordId: string): void {
    this.#handling.delete(recordId.slice(0, ID_PREFIX_CHARS))
  }

  /** Saves to the vault when something changed since the last save. */
  async save(): Promise<void> {
    if (!this.#dirty || this.#vault === undefined) return
    // What is still being handled waits for the next save.
    this.#dirty = this.#handling.size > 0
    const state = {
      v: 1,
      relays: [...this.#relays].map(([peer, topics]) => ({
        peer,
        topics: [...topics].map(([topic, p]) => ({ topic, ms: p.ms, ids: p.ids })),
      })),
      handled: [...this.#handled.keys()].filter((id) => !this.#handling.has(id)),
    } satisfies z.input<typeof stateSchema>
    try {
      // Taken before the states are written: they hold every message handled by now.
      await this.#beforeSave?.()
      await this.#vault.putJson(ENTRY, state)
    } catch (err) {
      this.#dirty = true
      this.#log.warn('the DM history position could not be saved', { error: String(err) })
    }
  }
}
