import type { Vault } from '@securechat/sdk/vault'
import { z } from 'zod'

const pendingSchema = z.object({
  /** `pending:<uuid>`: never a message id (those are 64 hex digits), so the two cannot meet in a list. */
  id: z.string().startsWith('pending:'),
  /** A room's id or a DM's address, as in `ConversationView.id`. */
  conversation: z.string(),
  text: z.string(),
  /** A reply's: the message it answers (sent in that message's thread). */
  parentId: z.string().optional(),
  writtenAtMs: z.number(),
})
/** A message written on this device and not handed to the network yet. */
export type PendingMessage = z.infer<typeof pendingSchema>

/** What a pending change does to message `target` (a message already sent: its id). */
const changeSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('react'), target: z.string(), emoji: z.string(), remove: z.boolean() }),
  z.object({ kind: z.literal('edit'), target: z.string(), text: z.string() }),
  z.object({ kind: z.literal('delete'), target: z.string() }),
])
export type MessageChangeRequest = z.infer<typeof changeSchema>

const pendingChangeSchema = z.object({
  id: z.string().startsWith('pending:'),
  conversation: z.string(),
  change: changeSchema,
  writtenAtMs: z.number(),
})
/** A reaction, edit or delete made on this device and not handed to the network yet. */
export type PendingChange = z.infer<typeof pendingChangeSchema>

export type OutboxItem = PendingMessage | PendingChange

/** Entries of older versions are messages only: they read as before. */
const itemSchema = z.union([pendingChangeSchema, pendingSchema])

const OUTBOX = 'web/outbox'

/**
 * What the composer took and the network has not yet (offline, relay gone, room not joined again yet) — messages,
 * and reactions, edits and deletes of messages already sent — in the encrypted vault: a reload or a closed tab
 * loses none of it. Items leave it in the order they were written, once sent (`Conversations` sends them).
 */
export class Outbox {
  readonly #vault: Vault
  #items: OutboxItem[]
  /** Whole-list writes, one after another, so the vault ends with the last. */
  #writes: Promise<unknown> = Promise.resolve()

  private constructor(vault: Vault, items: OutboxItem[]) {
    this.#vault = vault
    this.#items = items
  }

  static async open(vault: Vault): Promise<Outbox> {
    return new Outbox(vault, (await vault.getJson(OUTBOX, z.array(itemSchema))) ?? [])
  }

  get all(): readonly OutboxItem[] {
    return this.#items
  }

  /** The messages waiting in `conversation`, oldest first. */
  of(conversation: string): PendingMessage[] {
    return this.#items.filter((item): item is PendingMessage => item.conversation === conversation && !isChange(item))
  }

  /** The reactions, edits and deletes waiting in `conversation`, oldest first. */
  changesOf(conversation: string): PendingChange[] {
    return this.#items.filter((item): item is PendingChange => item.conversation === conversation && isChange(item))
  }

  /** Resolves once the change is in the vault. */
  async addChange(conversation: string, change: MessageChangeRequest): Promise<PendingChange> {
    const item: PendingChange = {
      id: `pending:${crypto.randomUUID()}`,
      conversation,
      change,
      writtenAtMs: Date.now(),
    }
    this.#items = [...this.#items, item]
    await this.#save()
    return item
  }

  /** Resolves once the message is in the vault. */
  async add(conversation: string, text: string, parentId?: string): Promise<PendingMessage> {
    const item: PendingMessage = {
      id: `pending:${crypto.randomUUID()}`,
      conversation,
      text,
      ...(parentId === undefined ? {} : { parentId }),
      writtenAtMs: Date.now(),
    }
    this.#items = [...this.#items, item]
    await this.#save()
    return item
  }

  /** Forgets items by id (sent) or by conversation (left). */
  async remove(test: (item: OutboxItem) => boolean): Promise<void> {
    const kept = this.#items.filter((item) => !test(item))
    if (kept.length === this.#items.length) return
    this.#items = kept
    await this.#save()
  }

  #save(): Promise<void> {
    const items = this.#items
    const write = this.#writes.then(() => this.#vault.putJson(OUTBOX, items))
    this.#writes = write.catch(() => {})
    return write
  }
}

export function isChange(item: OutboxItem): item is PendingChange {
  return 'change' in item
}
