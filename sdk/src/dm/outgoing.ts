/**
 * What this device sent each device, for as long as it matters (docs/architecture.md, Offline devices and
 * receipts): the ids of the last records, named in the next text's `deps` so the recipient sees a gap; and every
 * text no receipt has answered yet, re-published until a receipt comes or a relay's store holds it.
 *
 * Gossip keeps nothing: a record published while this device's link to its relays was down, or lost on that
 * link, reached no store, and no catch-up can find it. So a text that has no receipt from a device after
 * {@link DM_RESEND_AFTER_MS} is looked for in the connected stores by its record id; one that none holds (asked
 * twice, when a relay took it: a busy relay may not have written it yet) is published again byte for byte (the same ciphertext and record id, a new gossip sequence number: the
 * recipient drops a copy it has by id before decrypting, and its ratchet reads a copy it lacks with the
 * skipped key it kept), then after twice as long each time, {@link DM_MAX_RESENDS} times. One a store holds
 * is left to the recipient's catch-up and gap repair. A publish that reached no neighbour does not count, and
 * waiting ones are tried again at once when a neighbour subscribes to their topic or a store connects. The
 * waiting texts are kept in the vault (`dm/outgoing`, a little after each change and on stop), so they are
 * re-sent after a restart.
 */
import { z } from 'zod'
import { evictOldest } from '../bounded-map.ts'
import { CAUSAL_HISTORY_LENGTH, REPUBLISH_BATCH, REPUBLISH_BATCH_INTERVAL_MS } from '../constants.ts'
import { base64urlDecode, base64urlEncode } from '../encoding.ts'
import type { Logger } from '../logger.ts'
import type { AbortOptions, Address, DmDeviceStatus, OutgoingStats } from '../types.ts'
import type { Vault } from '../vault/vault.ts'
import {
  DM_HISTORY_SAVE_DELAY_MS,
  DM_MAX_PENDING_SENDS,
  DM_MAX_RESENDS,
  DM_RESEND_AFTER_MS,
  DM_RESEND_MAX_DELAY_MS,
} from './constants.ts'
import { dmRecordId } from './wire.ts'

const ENTRY = 'dm/outgoing'

/** Devices whose last records are remembered for `deps` (the most recently written to). */
const MAX_DEPS_DEVICES = 1_024

export interface DmOutgoingComponents {
  vault?: Vault | undefined
  log: Logger
  /** Which of these record ids of `topic` a connected store holds (none when no store answers). */
  held?: (topic: string, ids: string[], options: AbortOptions) => Promise<Set<string>>
  /** Publishes a record's bytes again on `topic`: how many gossip neighbours took it. */
  republish: (topic: string, record: Uint8Array) => Promise<number>
  /** Texts sent before a restart, loaded from the vault: each device's status is `sent` again. */
  onRestored: (conversation: Address, id: string, devices: DmDeviceStatus[]) => void
}

/** A text sent to one device, as published. */
export interface SentText {
  /** The DM's id (inside the ciphertext). */
  id: string
  /** The conversation it belongs to: the other wallet. */
  conversation: Address
  address: Address
  peerId: string
  /** Where the record went: the device pair's topic, or the device wallet's inbox for an initial message. */
  topic: string
  record: Uint8Array
  /** Gossip neighbours that took it. */
  recipients: number
}

interface Pending extends SentText {
  recordId: string
  /** Re-publishes that reached a neighbour. */
  resends: number
  /** Re-publishes tried (the backoff). */
  tries: number
  /** The last publish reached a neighbour (false after a restart: not published in this run). */
  heard: boolean
  /** The stores were asked for it once and lacked it. */
  missed: boolean
  dueAtMs: number
}

const b64 = z.string().regex(/^[A-Za-z0-9_-]+$/)
const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/)
const stateSchema = z
  .object({
    v: z.literal(1),
    pending: z
      .array(
        z
          .object({
            id: z.string().regex(/^[0-9a-f]{32}$/),
            conversation: address,
            address,
            peerId: z.string().min(1).max(128),
            topic: z.string().min(1).max(256),
            record: b64.max(200_000),
            resends: z.number().int().nonnegative(),
          })
          .strict(),
      )
      .max(DM_MAX_PENDING_SENDS),
  })
  .strict()

export class DmOutgoing {
  readonly #c: DmOutgoingComponents
  /** By `<id>/<peerId>`, in order of sending. */
  readonly #pending = new Map<string, Pending>()
  /** Per device, the record ids of the last texts sent to it (oldest first). */
  readonly #lastSent = new Map<string, string[]>()
  #timer: ReturnType<typeof setTimeout> | undefined
  #timerAtMs = Number.POSITIVE_INFINITY
  #saveTimer: ReturnType<typeof setTimeout> | undefined
  #busy = false
  #dirty = false
  #running = false
  readonly #stats = { sent: 0, republished: 0, unacknowledged: 0 }

  constructor(components: DmOutgoingComponents) {
    this.#c = components
  }

  /** Texts sent (one per device) since start, waiting now, re-published, and given up. */
  get stats(): OutgoingStats {
    return { ...this.#stats, pending: this.#pending.size }
  }

  /** Loads what waited when this device last stopped; it is re-sent once a neighbour or a store is there. */
  async start(): Promise<void> {
    const stored = await this.#c.vault?.getJson(ENTRY, stateSchema).catch((err: unknown) => {
      this.#c.log.warn('the DMs waiting for a receipt could not be read; they are not re-sent', { error: String(err) })
      return undefined
    })
    this.#running = true
    const restored = new Map<string, { conversation: Address; devices: DmDeviceStatus[] }>()
    for (const p of stored?.pending ?? []) {
      const record = base64urlDecode(p.record)
      const text = { ...p, conversation: p.conversation as Address, address: p.address as Address, record }
      const dueAtMs = Date.now() + DM_RESEND_AFTER_MS
      this.#add({
        ...text,
        recordId: dmRecordId(record),
        recipients: 0,
        tries: 0,
        heard: false,
        missed: false,
        dueAtMs,
      })
      const entry = restored.get(p.id) ?? { conversation: text.conversation, devices: [] }
      entry.devices.push({ address: text.address, peerId: p.peerId, status: 'sent' })
      restored.set(p.id, entry)
    }
    for (const [id, { conversation, devices }] of restored) this.#c.onRestored(conversation, id, devices)
    this.#dirty = false
  }

  /** Stops re-sending and saves what still waits. */
  async stop(): Promise<void> {
    this.#running = false
    clearTimeout(this.#timer)
    clearTimeout(this.#saveTimer)
    this.#timer = undefined
    this.#saveTimer = undefined
    await this.#save()
  }

  /** The record ids to name in the next text to `peerId` (`deps`), oldest first; undefined when none. */
  deps(peerId: string): string[] | undefined {
    const ids = this.#lastSent.get(peerId)
    return ids === undefined || ids.length === 0 ? undefined : [...ids]
  }

  /** A text just published to a device: named by the next one, and kept until a receipt or a store has it. */
  sent(text: SentText): void {
    const recordId = dmRecordId(text.record)
    const last = this.#lastSent.get(text.peerId) ?? []
    this.#lastSent.delete(text.peerId)
    this.#lastSent.set(text.peerId, [...last, recordId].slice(-CAUSAL_HISTORY_LENGTH))
    evictOldest(this.#lastSent, MAX_DEPS_DEVICES)
    const heard = text.recipients > 0
    this.#stats.sent += 1
    this.#add({
      ...text,
      recordId,
      resends: 0,
      tries: 0,
      heard,
      missed: false,
      dueAtMs: Date.now() + DM_RESEND_AFTER_MS,
    })
  }

  /** `peerId`'s receipt for text `id` came: nothing more to do for it. */
  delivered(id: string, peerId: string): void {
    if (this.#pending.delete(key(id, peerId))) this.#changed()
  }

  /**
   * A neighbour subscribed to `topic` (or, without one, a store connected): what went to nobody is tried again
   * now rather than after its backoff.
   */
  reachable(topic?: string): void {
    const now = Date.now()
    for (const p of this.#pending.values()) {
      if (!p.heard && (topic === undefined || p.topic === topic)) p.dueAtMs = Math.min(p.dueAtMs, now)
    }
    this.#arm(now)
  }

  #add(pending: Pending): void {
    this.#pending.set(key(pending.id, pending.peerId), pending)
    evictOldest(this.#pending, DM_MAX_PENDING_SENDS)
    this.#changed()
    this.#arm(pending.dueAtMs)
  }

  #arm(atMs: number): void {
    if (!this.#running || this.#busy || atMs >= this.#timerAtMs) return
    clearTimeout(this.#timer)
    this.#timerAtMs = atMs
    this.#timer = setTimeout(() => void this.#tick(), Math.max(0, atMs - Date.now()))
  }

  async #tick(): Promise<void> {
    this.#timer = undefined
    this.#timerAtMs = Number.POSITIVE_INFINITY
    this.#busy = true
    let more = false
    try {
      const now = Date.now()
      const due = [...this.#pending.values()].filter((p) => p.dueAtMs <= now)
      more = due.length > REPUBLISH_BATCH
      const byTopic = Map.groupBy(due.slice(0, REPUBLISH_BATCH), (p) => p.topic)
      for (const [topic, texts] of byTopic) {
        if (!this.#running) return
        await this.#resend(topic, texts)
      }
    } catch (err) {
      this.#c.log.debug('DM re-send round failed', { error: String(err) })
    } finally {
      this.#busy = false
    }
    let next = more ? Date.now() + REPUBLISH_BATCH_INTERVAL_MS : Number.POSITIVE_INFINITY
    if (!more) for (const p of this.#pending.values()) next = Math.min(next, p.dueAtMs)
    if (Number.isFinite(next)) this.#arm(next)
  }

  /** Texts of one topic whose time came: left to a store that holds them, or published again. */
  async #resend(topic: string, texts: Pending[]): Promise<void> {
    const held =
      (await this.#c
        .held?.(
          topic,
          texts.map((p) => p.recordId),
          {},
        )
        .catch(() => undefined)) ?? new Set<string>()
    for (const p of texts) {
      const k = key(p.id, p.peerId)
      // Answered meanwhile.
      if (this.#pending.get(k) !== p) continue
      if (held.has(p.recordId)) {
        this.#pending.delete(k)
        this.#changed()
        continue
      }
      if (p.resends >= DM_MAX_RESENDS) {
        this.#pending.delete(k)
        this.#changed()
        this.#stats.unacknowledged += 1
        this.#c.log.info('DM given up: no receipt and no store holds it', { peer: p.peerId, resends: p.resends })
        continue
      }
      p.tries += 1
      p.dueAtMs = Date.now() + Math.min(DM_RESEND_AFTER_MS * 2 ** p.tries, DM_RESEND_MAX_DELAY_MS)
      // A relay took it: a store that has not written it yet (a relay busy with a burst) gets one more backoff
      // before the same record comes again and adds to its load.
      if (p.heard && !p.missed) {
        p.missed = true
        continue
      }
      try {
        p.heard = (await this.#c.republish(topic, p.record)) > 0
        this.#stats.republished += 1
        if (p.heard) {
          p.resends += 1
          this.#changed()
        }
      } catch (err) {
        p.heard = false
        this.#c.log.debug('DM re-publish failed', { peer: p.peerId, error: String(err) })
      }
    }
  }

  #changed(): void {
    this.#dirty = true
    if (this.#c.vault === undefined || !this.#running) return
    this.#saveTimer ??= setTimeout(() => {
      this.#saveTimer = undefined
      void this.#save()
    }, DM_HISTORY_SAVE_DELAY_MS)
  }

  async #save(): Promise<void> {
    if (!this.#dirty || this.#c.vault === undefined) return
    this.#dirty = false
    try {
      await this.#c.vault.putJson(ENTRY, {
        v: 1,
        pending: [...this.#pending.values()].map((p) => ({
          id: p.id,
          conversation: p.conversation,
          address: p.address,
          peerId: p.peerId,
          topic: p.topic,
          record: base64urlEncode(p.record),
          resends: p.resends,
        })),
      } satisfies z.input<typeof stateSchema>)
    } catch (err) {
      this.#dirty = true
      this.#c.log.warn('the DMs waiting for a receipt could not be saved', { error: String(err) })
    }
  }
}

function key(id: string, peerId: string): string {
  return `${id}/${peerId}`
}
