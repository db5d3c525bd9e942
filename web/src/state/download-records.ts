/**
 * Downloads under way, in the encrypted vault, so that a reload (or a closed tab, a sign-out, a relay gone) half-way
 * leaves the person a download to resume rather than one silently lost. A record names the message (whose manifest,
 * key included, is in that conversation's history in the vault already), how far it got and where it was going; it
 * leaves once the file is saved, fails its check, or the person cancels or discards it. In the vault, not
 * localStorage: which messages' files this wallet fetched is its own business. The file on disk a download writes to
 * is a browser object the vault's JSON cannot hold: `device-store.ts` keeps it.
 */
import type { Vault } from '@securechat/sdk/vault'
import { z } from 'zod'

const recordSchema = z.object({
  messageId: z.string(),
  /** Plaintext bytes written when last recorded: what the card says it got to. */
  bytes: z.number(),
  totalBytes: z.number(),
  /** Written to a file on disk (File System Access; its handle in `device-store.ts`), else into a Blob. */
  toDisk: z.boolean(),
})
export type DownloadRecord = z.infer<typeof recordSchema>

const DOWNLOADS = 'web/downloads'
/** Least time between two writes of a download's progress: a fast download reports every chunk. */
const PROGRESS_SAVE_INTERVAL_MS = 1_000

export class DownloadRecords {
  readonly #vault: Vault
  readonly #records: Map<string, DownloadRecord>
  /** Whole-list writes, one after another, so the vault ends with the last. */
  #writes: Promise<unknown> = Promise.resolve()
  #progressTimer: ReturnType<typeof setTimeout> | undefined
  #closed = false

  private constructor(vault: Vault, records: DownloadRecord[]) {
    this.#vault = vault
    this.#records = new Map(records.map((record) => [record.messageId, record]))
  }

  /** An entry that does not read (another version's) is no reason to keep the person out: it starts empty. */
  static async open(vault: Vault): Promise<DownloadRecords> {
    const records = await vault.getJson(DOWNLOADS, z.array(recordSchema)).catch(() => undefined)
    return new DownloadRecords(vault, records ?? [])
  }

  get all(): readonly DownloadRecord[] {
    return [...this.#records.values()]
  }

  /** Resolves once the record is in the vault: a download starts only once a reload would find it. */
  put(record: DownloadRecord): Promise<void> {
    this.#records.set(record.messageId, record)
    return this.#write()
  }

  /** How far a download got, written at most every {@link PROGRESS_SAVE_INTERVAL_MS}. */
  progress(messageId: string, bytes: number): void {
    const record = this.#records.get(messageId)
    if (record === undefined || this.#closed) return
    record.bytes = bytes
    this.#progressTimer ??= setTimeout(() => {
      this.#progressTimer = undefined
      void this.#write().catch(() => {})
    }, PROGRESS_SAVE_INTERVAL_MS)
  }

  delete(messageId: string): Promise<void> {
    if (!this.#records.delete(messageId)) return Promise.resolve()
    return this.#write()
  }

  /** Signed out: no more writes (the records stay in the vault for the next sign-in). */
  close(): void {
    this.#closed = true
    clearTimeout(this.#progressTimer)
    this.#progressTimer = undefined
  }

  #write(): Promise<void> {
    const write = this.#writes.then(() => this.#vault.putJson(DOWNLOADS, this.all))
    this.#writes = write.catch(() => {})
    return write
  }
}
