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

const OUTBOX = 'web/outbox'

/**
 * What the composer took and the network has not yet (offline, relay gone, room not joined again yet), in the
 * encrypted vault: a reload or a closed tab loses none of it. Messages leave it in the order they were written,
 * once sent (`Conversations` sends them).
 */
export class Outbox {
  readonly #vault: Vault
  #items: PendingMessage[]
  /** Whole-list writes, one after another, so the vault ends with the last. */
  #writes: Promise<unknown> = Promise.resolve()

  private constructor(vault: Vault, items: PendingMessage[]) {
    this.#vault = vault
    this.#items = items
  }

  static async open(vault: Vault): Promise<Outbox> {
    return new Outbox(vault, (await vault.getJson(OUTBOX, z.array(pendingSchema))) ?? [])
  }

  get all(): readonly PendingMessage[] {
    return this.#items
  }

  of(conversation: string): PendingMessage[] {
    return this.#items.filter((item) => item.conversation === conversation)
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

  /** Forgets messages by id (sent) or by conversation (left). */
  async remove(test: (item: PendingMessage) => boolean): Promise<void> {
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
