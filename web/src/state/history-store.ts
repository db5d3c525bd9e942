import { parseFileManifest } from '@securechat/sdk/files'
import type { FileManifest } from '@securechat/sdk/types'
import type { Vault } from '@securechat/sdk/vault'
import { getBytes, hexlify } from 'ethers'
import { z } from 'zod'

/** Messages kept per conversation; older ones drop off (the relay store is where long history lives). */
export const HISTORY_LIMIT = 1_000
/**
 * Least time between two history writes: a busy spell (a catch-up's hundreds of messages a second) is one vault put
 * per this long, while the first write after a quiet spell goes at once.
 */
const SAVE_DELAY_MS = 250

/** A message's anchor as this browser verified it (`anchors.ts`): proof, root and chain all checked. */
const anchorSchema = z.object({
  /** The leaf's hash: what the relay was asked for a proof of. */
  leafHash: z.string(),
  root: z.string(),
  blockNumber: z.number(),
  /** Block time, seconds since the epoch. */
  timestamp: z.number(),
  anchorer: z.string(),
  chainId: z.number(),
  auditLog: z.string(),
  /** From the root's `Anchored` event, read from the chain. */
  cid: z.string().optional(),
  transactionHash: z.string().optional(),
  count: z.number().optional(),
  /** Whose Merkle proof was checked: the relay's (`/audit/proof`; also when absent), or this browser's own batch. */
  proofSource: z.enum(['relay', 'self']).optional(),
  verifiedAtMs: z.number(),
})
export type VerifiedAnchor = z.infer<typeof anchorSchema>

/** A file manifest as the sdk checks one at its boundary (strict, every field bounded): the vault is read the same way. */
const fileSchema = z.custom<FileManifest>((value) => {
  try {
    parseFileManifest(value)
    return true
  } catch {
    return false
  }
}, 'a file manifest')

const entrySchema = z.object({
  id: z.string(),
  sender: z.string(),
  text: z.string(),
  sentAtMs: z.number(),
  receivedAtMs: z.number(),
  mine: z.boolean(),
  /**
   * The file the message shares (its text is the caption). Its `key` reads the file: it lives here, in the encrypted
   * vault, and never in localStorage, a log or a URL. Gone when the message is deleted.
   */
  file: fileSchema.optional(),
  /** `undecryptable`: a verified sender's message this device cannot read (reason says why). */
  state: z.enum(['ok', 'undecryptable']),
  reason: z.string().optional(),
  /** Room messages: sha256 of the record's ciphertext, the one part of the audit leaf the rest does not give. */
  ciphertextHash: z.string().optional(),
  /** The message this one replies to: a reply is shown in its thread, not in the conversation. */
  parentId: z.string().optional(),
  /** Its sender edited it: `text` is the latest version (the sdk keeps every version). */
  edited: z.boolean().optional(),
  /** Its sender deleted it: `text` is empty, here and in the sdk's vault entry alike. */
  deleted: z.boolean().optional(),
  /** A moderator removed it (not its sender): that moderator's wallet. */
  removedBy: z.string().optional(),
  /** The wallets it mentions (`@0x…`, as the sdk kept them: `mentions.ts`); absent when none. */
  mentions: z.array(z.string()).optional(),
  anchor: anchorSchema.optional(),
  /** When it disappears (the conversation's timer, `disappearing.ts`): gone from the page and the vault then. */
  expiresAtMs: z.number().optional(),
  /** Not a message: a line saying the conversation's disappearing-messages timer changed (by `sender`). */
  notice: z.object({ kind: z.literal('timer'), seconds: z.number() }).optional(),
  /**
   * The outbox entry (`outbox.ts`) this message was sent from: a reload that finds that entry still in the outbox
   * (the vault kept the history, not yet the outbox without it) drops it instead of sending the message again.
   */
  sentFrom: z.string().optional(),
  /**
   * A DM this device sent: each of the other wallet's devices it went to, `sent` until that device's receipt
   * says `delivered` (receipts after a reload too: the sdk names the message's id).
   */
  delivery: z.array(z.object({ peerId: z.string(), status: z.enum(['sent', 'delivered', 'failed']) })).optional(),
})
export type ChatEntry = z.infer<typeof entrySchema>
export type DeviceDelivery = NonNullable<ChatEntry['delivery']>[number]

/**
 * What the app keeps of a conversation beside the sdk: a DM (the sdk keeps its sessions, not a list of them), or
 * how far a room was read. Which rooms there are is the sdk's (`client.savedRooms()`): an entry of a room it no
 * longer has is dropped. (Entries of older versions named a room's invite and name too: read, and not kept.)
 */
const conversationSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('room'),
    id: z.string(),
    lastReadMs: z.number(),
    /** A moderator removed (kicked) this wallet: the room stays stopped until it rejoins. */
    removed: z.object({ by: z.string(), atMs: z.number() }).optional(),
  }),
  z.object({ kind: z.literal('dm'), id: z.string(), name: z.string(), lastReadMs: z.number() }),
])
export type SavedConversation = z.infer<typeof conversationSchema>

const INDEX = 'web/conversations'
/**
 * The conversation open when the app was last used, brought back after a reload. In the vault, not in
 * localStorage: a room's id or a DM's address says who this wallet talks to, which the encrypted vault keeps to
 * itself and localStorage would show to anything that reads the browser profile.
 */
const LAST_OPEN = 'web/last-open'
const historyName = (id: string): string => `web/history/${id}`
/** Leaf lists of this wallet's own anchors that no relay has taken yet, hex: kept until one does. */
const PENDING_LEAF_LISTS = 'web/leaf-lists/pending'
const pendingSchema = z.array(z.string().regex(/^0x([0-9a-f]{2})*$/))

/**
 * The app's conversations and their messages, in the encrypted vault (IndexedDB): a reload,
 * or an offline start, shows them again before the network is back.
 */
export class HistoryStore {
  readonly #vault: Vault
  readonly #dirty = new Map<string, ChatEntry[]>()
  #timer: ReturnType<typeof setTimeout> | undefined
  #lastWriteMs = 0
  /** Read-modify-writes of the pending leaf lists, one after another. */
  #pendingWrites: Promise<unknown> = Promise.resolve()

  constructor(vault: Vault) {
    this.#vault = vault
  }

  async conversations(): Promise<SavedConversation[]> {
    return (await this.#vault.getJson(INDEX, z.array(conversationSchema))) ?? []
  }

  saveConversations(list: SavedConversation[]): Promise<void> {
    return this.#vault.putJson(INDEX, list)
  }

  async lastOpen(): Promise<string | undefined> {
    return (await this.#vault.getJson(LAST_OPEN, z.object({ id: z.string() })))?.id
  }

  /** `undefined`: no conversation open (the list, or a page such as New room). */
  saveLastOpen(id: string | undefined): Promise<void> {
    return id === undefined ? this.#vault.delete(LAST_OPEN) : this.#vault.putJson(LAST_OPEN, { id })
  }

  /** What the vault keeps of `id`, without a message past its disappearing time (which leaves the vault now). */
  async history(id: string): Promise<ChatEntry[]> {
    const saved = (await this.#vault.getJson(historyName(id), z.array(entrySchema))) ?? []
    const now = Date.now()
    const kept = saved.filter((entry) => entry.expiresAtMs === undefined || entry.expiresAtMs > now)
    if (kept.length < saved.length) this.saveHistory(id, kept)
    return kept
  }

  /** Schedules `entries` (the whole, capped history of `id`) to be written. */
  saveHistory(id: string, entries: ChatEntry[]): void {
    this.#dirty.set(id, entries.slice(-HISTORY_LIMIT))
    // Not a fixed delay after each message: a reload a moment after one came would lose it from the list for good
    // (the sdk has delivered it and, with no store to catch up from, never delivers it again).
    this.#timer ??= setTimeout(() => void this.flush(), Math.max(0, this.#lastWriteMs + SAVE_DELAY_MS - Date.now()))
  }

  async deleteHistory(id: string): Promise<void> {
    this.#dirty.delete(id)
    await this.#vault.delete(historyName(id))
  }

  async pendingLeafLists(): Promise<Uint8Array[]> {
    await this.#pendingWrites
    return ((await this.#vault.getJson(PENDING_LEAF_LISTS, pendingSchema)) ?? []).map((hex) => getBytes(hex))
  }

  /** Keeps `bytes` until {@link removePendingLeafList}: a reload must not lose a list the chain names. */
  addPendingLeafList(bytes: Uint8Array): Promise<void> {
    return this.#updatePending((list) => (list.includes(hexlify(bytes)) ? list : [...list, hexlify(bytes)]))
  }

  removePendingLeafList(bytes: Uint8Array): Promise<void> {
    return this.#updatePending((list) => list.filter((hex) => hex !== hexlify(bytes)))
  }

  #updatePending(change: (list: string[]) => string[]): Promise<void> {
    const write = this.#pendingWrites.then(async () => {
      const list = (await this.#vault.getJson(PENDING_LEAF_LISTS, pendingSchema)) ?? []
      await this.#vault.putJson(PENDING_LEAF_LISTS, change(list))
    })
    this.#pendingWrites = write.catch(() => {})
    return write
  }

  async flush(): Promise<void> {
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#lastWriteMs = Date.now()
    const writes = [...this.#dirty].map(([id, entries]) => this.#vault.putJson(historyName(id), entries))
    this.#dirty.clear()
    await Promise.all(writes)
  }
}
