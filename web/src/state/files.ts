/**
 * Files in the signed-in wallet's conversations: shares under way (one per conversation, from its composer),
 * downloads (one per message) and inline previews, each with its progress, speed and time left, and a cancel. A
 * download stopped half-way by a reload (a closed tab, a sign-out) is kept in the vault (`download-records.ts`) and
 * shown as interrupted, to resume: what it fetched is in this browser's blockstore, so only the rest is fetched.
 * Components read this and call it; the sdk client is reached only here and in `conversations.ts`. Dispatches
 * `files:changed` (at most every {@link CHANGE_INTERVAL_MS} while bytes move) when any of it changed.
 */
import type { SecureChatClient, ShareProgress } from '@securechat/sdk/client'
import { type FileTransferProgress, thumbnailBytes } from '@securechat/sdk/files'
import type { FileManifest } from '@securechat/sdk/types'
import type { Conversations } from './conversations.ts'
import { forgetDownloadTarget, loadDownloadTarget, saveDownloadTarget } from './device-store.ts'
import { DownloadRecords } from './download-records.ts'
import { type PreviewKind, previewKind, previewType } from './file-kinds.ts'
import { fileMeta } from './file-meta.ts'
import { downloadProblem, notKeptWarning, shareProblem } from './file-problems.ts'
import { openSaveTarget, reopenSaveTarget, type SaveTarget } from './file-save.ts'
import { makeFileThumbnail } from './file-thumbnail.ts'
import type { SessionPart, SignedIn } from './session.ts'

/** Progress is re-rendered this often at most: a fast transfer reports every chunk. */
const CHANGE_INTERVAL_MS = 250
/** Previews fetched at once: a conversation full of pictures does not start them all together. */
const PREVIEWS_AT_ONCE = 2

export interface Upload {
  name: string
  size: number
  /** `encrypting`: into blocks on this device; `relays`: the relays fetching them to keep it. */
  stage: 'encrypting' | 'relays' | 'done' | 'failed'
  progress: FileTransferProgress
  /** Why it failed. */
  problem: string | undefined
  /** It went out, but not as well as it should have (no relay keeps it). */
  warning: string | undefined
}

export interface Download {
  /**
   * `interrupted`: it stopped half-way before this page was loaded (a reload, a closed tab, a sign-out);
   * {@link Files.resumeDownload} finishes it.
   */
  state: 'running' | 'interrupted' | 'done' | 'failed'
  /** For an interrupted download, how far it got before. */
  progress: FileTransferProgress
  problem: string | undefined
}

interface DownloadEntry extends Download {
  controller: AbortController
  /** The person's Cancel (not a sign-out): nothing is left to resume. */
  cancelled: boolean
  /** The file on disk it writes to (File System Access), written again by a resume. */
  handle: FileSystemFileHandle | undefined
}

/** Errors that say the file is not the manifest's: nothing fetched for it is a start to resume from. */
const CHECK_FAILURES = new Set(['FileIntegrityError', 'FileDecryptionError', 'InvalidFileManifestError'])

export interface Preview {
  /** How the file itself is shown once fetched; undefined: it is not (too large, another type), only its thumbnail. */
  kind: PreviewKind | undefined
  state: 'loading' | 'ready' | 'failed'
  /** A `blob:` URL of the file, once fetched and checked. */
  url: string | undefined
  /** A `blob:` URL of the thumbnail its message carried (checked by the sdk), shown until `url` is, or instead. */
  thumbnail: string | undefined
  problem: string | undefined
}

function notStarted(totalBytes: number): FileTransferProgress {
  return { bytes: 0, totalBytes, bytesPerSecond: 0 }
}

export class Files extends EventTarget implements SessionPart {
  readonly #conversations: Conversations
  #client: SecureChatClient | undefined
  readonly #uploads = new Map<string, Upload & { controller: AbortController }>()
  readonly #downloads = new Map<string, DownloadEntry>()
  /** Downloads under way or interrupted, in the vault; undefined while signed out. */
  #records: DownloadRecords | undefined
  #address: string | undefined
  readonly #previews = new Map<string, Preview & { controller: AbortController }>()
  /** Thumbnails' `blob:` URLs by message id: made once, revoked with the preview. */
  readonly #thumbnails = new Map<string, string>()
  #previewSlots = PREVIEWS_AT_ONCE
  readonly #previewQueue: Array<() => void> = []
  #changeTimer: ReturnType<typeof setTimeout> | undefined

  constructor(conversations: Conversations) {
    super()
    this.#conversations = conversations
    conversations.addEventListener('files:gone', (event) => {
      for (const messageId of (event as CustomEvent<{ messageIds: string[] }>).detail.messageIds) {
        this.dropPreview(messageId)
      }
    })
  }

  /** Downloads a reload (or a sign-out) interrupted come back as such, with the file on disk each was writing to. */
  async open(signedIn: SignedIn): Promise<void> {
    this.#address = signedIn.address
    this.#records = await DownloadRecords.open(signedIn.vault)
    for (const record of this.#records.all) {
      const handle = record.toDisk
        ? await loadDownloadTarget(signedIn.address, record.messageId).catch(() => undefined)
        : undefined
      this.#downloads.set(record.messageId, {
        state: 'interrupted',
        progress: { bytes: record.bytes, totalBytes: record.totalBytes, bytesPerSecond: 0 },
        problem: undefined,
        controller: new AbortController(),
        cancelled: false,
        handle,
      })
    }
    this.#changed(true)
  }

  async connected(client: SecureChatClient): Promise<void> {
    this.#client = client
    this.#changed()
  }

  /** Signed out: every transfer stops, every preview's URL is revoked. */
  close(): void {
    this.#client = undefined
    // Downloads stop with the session but stay recorded: the next sign-in shows them interrupted, to resume.
    this.#records?.close()
    this.#records = undefined
    this.#address = undefined
    for (const item of [...this.#uploads.values(), ...this.#downloads.values(), ...this.#previews.values()]) {
      item.controller.abort()
    }
    for (const preview of this.#previews.values()) if (preview.url !== undefined) URL.revokeObjectURL(preview.url)
    for (const url of this.#thumbnails.values()) URL.revokeObjectURL(url)
    this.#thumbnails.clear()
    this.#uploads.clear()
    this.#downloads.clear()
    this.#previews.clear()
    this.#previewQueue.length = 0
    this.#previewSlots = PREVIEWS_AT_ONCE
    this.#changed()
  }

  // --- sharing ---

  /** The share of conversation `id` under way, or its last outcome until {@link dismissUpload}. */
  upload(id: string): Upload | undefined {
    return this.#uploads.get(id)
  }

  /**
   * Shares `file` in conversation `id` with `caption` as its text: encrypted here, kept by the connected relays,
   * then announced. Resolves true once the message went out, false when it failed or was cancelled
   * ({@link upload} says why). One at a time per conversation.
   */
  async share(id: string, file: File, caption: string): Promise<boolean> {
    if (this.#running(this.#uploads.get(id))) return false
    const controller = new AbortController()
    const upload: Upload & { controller: AbortController } = {
      name: file.name,
      size: file.size,
      stage: 'encrypting',
      progress: notStarted(file.size),
      problem: undefined,
      warning: undefined,
      controller,
    }
    this.#uploads.set(id, upload)
    this.#changed()
    const onProgress = ({ stage, ...progress }: ShareProgress): void => {
      upload.stage = stage
      upload.progress = progress
      this.#changed()
    }
    try {
      // A picture's thumbnail goes in its message; without one (not a picture, or it could not be made) it still goes.
      const thumbnail = await untilAborted(makeFileThumbnail(file), controller.signal)
      const shared = await this.#conversations.shareFile(id, file.stream(), fileMeta(file), caption, {
        signal: controller.signal,
        size: file.size,
        onProgress,
        ...(thumbnail === undefined ? {} : { thumbnail }),
      })
      upload.stage = 'done'
      upload.warning = shared.keptBy.length === 0 ? notKeptWarning(shared.refusedBy) : undefined
      // Done and nothing to say: the message in the list says it.
      if (upload.warning === undefined) this.#uploads.delete(id)
      return true
    } catch (err) {
      upload.problem = controller.signal.aborted ? undefined : shareProblem(err)
      upload.stage = 'failed'
      if (upload.problem === undefined) this.#uploads.delete(id)
      return false
    } finally {
      this.#changed(true)
    }
  }

  cancelShare(id: string): void {
    this.#uploads.get(id)?.controller.abort()
  }

  /** Forgets a share's outcome (its warning or problem read). */
  dismissUpload(id: string): void {
    const upload = this.#uploads.get(id)
    if (upload === undefined || this.#running(upload)) return
    this.#uploads.delete(id)
    this.#changed(true)
  }

  #running(upload: Upload | undefined): boolean {
    return upload !== undefined && upload.stage !== 'done' && upload.stage !== 'failed'
  }

  // --- downloads ---

  download(messageId: string): Download | undefined {
    return this.#downloads.get(messageId)
  }

  /**
   * Saves the file of message `messageId`: where the person picks (File System Access), else the browser's download
   * once every byte is in and checked. Call it straight from the click: the picker needs the click's activation.
   * Saved only once the stream closed — a failed check or a cancel saves nothing.
   */
  async startDownload(messageId: string, file: FileManifest): Promise<void> {
    if (this.#downloads.get(messageId)?.state === 'running') return
    // First, before any other await: the save picker needs this click's user activation.
    await this.#download(messageId, file, () => openSaveTarget(file.name, file.size))
  }

  /**
   * Finishes a download a reload interrupted ({@link Download.state} `interrupted`), from the click on Resume: into
   * the same file on disk (the browser asks the person to allow writing to it again, unless they let the site keep
   * that), or the browser's download. The file is written again from its first byte — the browser dropped what was
   * written with the page — but what was fetched before is read from this browser's blockstore: only the blocks
   * still missing come from the network, and the whole is checked as any download is.
   */
  async resumeDownload(messageId: string, file: FileManifest): Promise<void> {
    const interrupted = this.#downloads.get(messageId)
    if (interrupted?.state !== 'interrupted') return
    const handle = interrupted.handle
    await this.#download(messageId, file, () =>
      handle === undefined ? openSaveTarget(file.name, file.size) : reopenSaveTarget(handle),
    )
  }

  /** Forgets an interrupted download (its blocks stay in this browser's store; Download starts afresh). */
  async discardDownload(messageId: string): Promise<void> {
    if (this.#downloads.get(messageId)?.state !== 'interrupted') return
    this.#downloads.delete(messageId)
    this.#changed(true)
    await this.#forgetRecord(messageId)
  }

  cancelDownload(messageId: string): void {
    const download = this.#downloads.get(messageId)
    if (download?.state !== 'running') return
    download.cancelled = true
    download.controller.abort()
  }

  /** `open` is called first, with no await before it: a picker or a permission prompt needs the click's activation. */
  async #download(messageId: string, file: FileManifest, open: () => Promise<SaveTarget>): Promise<void> {
    const client = this.#client
    if (client === undefined) {
      const problem = 'Not connected yet: the file is fetched once a relay answers.'
      const interrupted = this.#downloads.get(messageId)
      // An interrupted download stays one, to resume once connected.
      if (interrupted?.state === 'interrupted') Object.assign(interrupted, { problem })
      else this.#setDownloadFailed(messageId, file, problem)
      this.#changed(true)
      return
    }
    let target: SaveTarget
    try {
      target = await open()
    } catch (err) {
      const problem = downloadProblem(err)
      // The picker closed: nothing changes (an interrupted download stays one, to resume later).
      if (problem !== undefined) {
        this.#setDownloadFailed(messageId, file, problem)
        // Its file on disk cannot be written again: Download picks another; the record has nothing left to resume.
        await this.#forgetRecord(messageId).catch(() => {})
      } else if (this.#downloads.get(messageId)?.state !== 'interrupted') {
        this.#downloads.delete(messageId)
      }
      this.#changed(true)
      return
    }
    const controller = new AbortController()
    const download: DownloadEntry = {
      state: 'running',
      progress: notStarted(file.size),
      problem: undefined,
      controller,
      cancelled: false,
      handle: target.handle,
    }
    this.#downloads.set(messageId, download)
    this.#changed(true)
    const records = this.#records
    const address = this.#address
    try {
      // Recorded before a block is asked for: a reload from here on finds a download to resume.
      if (target.handle !== undefined && address !== undefined) {
        await saveDownloadTarget(address, messageId, target.handle)
      }
      await records?.put({ messageId, bytes: 0, totalBytes: file.size, toDisk: target.handle !== undefined })
      const stream = await client.files.get(file, {
        signal: controller.signal,
        onProgress: (progress) => {
          download.progress = progress
          records?.progress(messageId, progress.bytes)
          this.#changed()
        },
      })
      const reader = stream.getReader()
      for (let next = await reader.read(); !next.done; next = await reader.read()) await target.write(next.value)
      // The stream closed: size, every segment's tag and the whole SHA-256 checked. Only now is it saved.
      await target.close()
      download.state = 'done'
      download.progress = { ...download.progress, bytes: file.size, secondsLeft: 0 }
      // Saved: a record that failed to go would only offer to save it again after a reload.
      await this.#forgetRecord(messageId).catch(() => {})
    } catch (err) {
      await target.abort(err).catch(() => {})
      if (download.cancelled || CHECK_FAILURES.has((err as { name?: string } | null)?.name ?? '')) {
        // Cancelled, or not the file its manifest names: nothing to resume.
        await this.#forgetRecord(messageId).catch(() => {})
      }
      // Anything else (a relay gone, the page going, a sign-out) keeps the record: a reload offers to resume.
      const problem = controller.signal.aborted ? undefined : downloadProblem(err)
      if (problem === undefined) {
        if (this.#downloads.get(messageId) === download) this.#downloads.delete(messageId)
      } else Object.assign(download, { state: 'failed', problem })
    } finally {
      this.#changed(true)
    }
  }

  async #forgetRecord(messageId: string): Promise<void> {
    const address = this.#address
    await this.#records?.delete(messageId)
    if (address !== undefined) await forgetDownloadTarget(address, messageId)
  }

  #setDownloadFailed(messageId: string, file: FileManifest, problem: string): void {
    this.#downloads.set(messageId, {
      state: 'failed',
      progress: notStarted(file.size),
      problem,
      controller: new AbortController(),
      cancelled: false,
      handle: undefined,
    })
    this.#changed(true)
  }

  // --- previews ---

  /**
   * The inline preview of message `messageId`'s file — undefined when it has none (another type, too large, and no
   * thumbnail) — fetched the first time it is asked for, once connected. Its thumbnail, if the message carried one,
   * is there at once: nothing is fetched for it.
   */
  preview(messageId: string, file: FileManifest): Preview | undefined {
    const kind = previewKind(file)
    const thumbnail = this.#thumbnail(messageId, file)
    if (kind === undefined) {
      return thumbnail === undefined
        ? undefined
        : { kind, state: 'ready', url: undefined, thumbnail, problem: undefined }
    }
    const known = this.#previews.get(messageId)
    if (known !== undefined) return known
    const client = this.#client
    if (client === undefined) return { kind, state: 'loading', url: undefined, thumbnail, problem: undefined }
    const preview: Preview & { controller: AbortController } = {
      kind,
      state: 'loading',
      url: undefined,
      thumbnail,
      problem: undefined,
      controller: new AbortController(),
    }
    this.#previews.set(messageId, preview)
    void this.#fetchPreview(client, preview, file)
    return preview
  }

  /** A preview's file gone from the conversation (deleted, disappeared, left; `files:gone`): its memory is freed. */
  dropPreview(messageId: string): void {
    const thumbnail = this.#thumbnails.get(messageId)
    if (thumbnail !== undefined) URL.revokeObjectURL(thumbnail)
    this.#thumbnails.delete(messageId)
    const preview = this.#previews.get(messageId)
    if (preview === undefined) return
    preview.controller.abort()
    if (preview.url !== undefined) URL.revokeObjectURL(preview.url)
    this.#previews.delete(messageId)
  }

  /** The `blob:` URL of the message's thumbnail, made the first time (the sdk checked its bytes on arrival). */
  #thumbnail(messageId: string, file: FileManifest): string | undefined {
    if (file.thumbnail === undefined) return undefined
    let url = this.#thumbnails.get(messageId)
    if (url === undefined) {
      // Given the thumbnail's own checked type (PNG, JPEG or WebP): the browser decodes it as a picture, nothing else.
      url = URL.createObjectURL(new Blob([thumbnailBytes(file.thumbnail)], { type: file.thumbnail.type }))
      this.#thumbnails.set(messageId, url)
    }
    return url
  }

  async #fetchPreview(
    client: SecureChatClient,
    preview: Preview & { controller: AbortController },
    file: FileManifest,
  ) {
    const { signal } = preview.controller
    if (this.#previewSlots === 0) await new Promise<void>((resolve) => this.#previewQueue.push(resolve))
    else this.#previewSlots -= 1
    try {
      signal.throwIfAborted()
      const parts: Uint8Array<ArrayBuffer>[] = []
      const reader = (await client.files.get(file, { signal })).getReader()
      for (let next = await reader.read(); !next.done; next = await reader.read()) {
        parts.push(next.value as Uint8Array<ArrayBuffer>)
      }
      // Shown only once the stream closed: checked whole, never a picture of unchecked bytes.
      if (signal.aborted) return
      preview.url = URL.createObjectURL(new Blob(parts, { type: previewType(file) }))
      preview.state = 'ready'
    } catch (err) {
      if (signal.aborted) return
      preview.state = 'failed'
      preview.problem = downloadProblem(err, 'preview')
    } finally {
      const next = this.#previewQueue.shift()
      if (next !== undefined) next()
      else this.#previewSlots += 1
      this.#changed(true)
    }
  }

  /** `now`: a state change (started, done, failed) is shown at once; bytes moving, at most every interval. */
  #changed(now = false): void {
    if (now) {
      clearTimeout(this.#changeTimer)
      this.#changeTimer = undefined
      this.dispatchEvent(new Event('files:changed'))
      return
    }
    this.#changeTimer ??= setTimeout(() => {
      this.#changeTimer = undefined
      this.dispatchEvent(new Event('files:changed'))
    }, CHANGE_INTERVAL_MS)
  }
}

/** `work`'s outcome, or the signal's reason as soon as it aborts (a Cancel is not kept waiting on a decoder). */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(signal.reason)
    if (signal.aborted) return abort()
    signal.addEventListener('abort', abort, { once: true })
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', abort))
  })
}
