/**
 * Files in the signed-in wallet's conversations: shares under way (one per conversation, from its composer),
 * downloads (one per message) and inline previews, each with its progress, speed and time left, and a cancel.
 * Components read this and call it; the sdk client is reached only here and in `conversations.ts`. Dispatches
 * `files:changed` (at most every {@link CHANGE_INTERVAL_MS} while bytes move) when any of it changed.
 */
import type { SecureChatClient, ShareProgress } from '@securechat/sdk/client'
import { type FileTransferProgress, thumbnailBytes } from '@securechat/sdk/files'
import type { FileManifest } from '@securechat/sdk/types'
import type { Conversations } from './conversations.ts'
import { type PreviewKind, previewKind, previewType } from './file-kinds.ts'
import { fileMeta } from './file-meta.ts'
import { downloadProblem, notKeptWarning, shareProblem } from './file-problems.ts'
import { openSaveTarget } from './file-save.ts'
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
  state: 'running' | 'done' | 'failed'
  progress: FileTransferProgress
  problem: string | undefined
}

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
  readonly #downloads = new Map<string, Download & { controller: AbortController }>()
  readonly #previews = new Map<string, Preview & { controller: AbortController }>()
  /** Thumbnails' `blob:` URLs by message id: made once, revoked with the preview. */
  readonly #thumbnails = new Map<string, string>()
  #previewSlots = PREVIEWS_AT_ONCE
  readonly #previewQueue: Array<() => void> = []
  #changeTimer: ReturnType<typeof setTimeout> | undefined

  constructor(conversations: Conversations) {
    super()
    this.#conversations = conversations
  }

  async open(_signedIn: SignedIn): Promise<void> {}

  async connected(client: SecureChatClient): Promise<void> {
    this.#client = client
    this.#changed()
  }

  /** Signed out: every transfer stops, every preview's URL is revoked. */
  close(): void {
    this.#client = undefined
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
    const client = this.#client
    if (client === undefined) {
      this.#setDownloadFailed(messageId, file, 'Not connected yet: the file is fetched once a relay answers.')
      return
    }
    // First, before any other await: the save picker needs this click's user activation.
    let target: Awaited<ReturnType<typeof openSaveTarget>>
    try {
      target = await openSaveTarget(file.name, file.size)
    } catch (err) {
      const problem = downloadProblem(err)
      if (problem === undefined) this.#downloads.delete(messageId)
      else this.#setDownloadFailed(messageId, file, problem)
      this.#changed(true)
      return
    }
    const controller = new AbortController()
    const download: Download & { controller: AbortController } = {
      state: 'running',
      progress: notStarted(file.size),
      problem: undefined,
      controller,
    }
    this.#downloads.set(messageId, download)
    this.#changed(true)
    try {
      const stream = await client.files.get(file, {
        signal: controller.signal,
        onProgress: (progress) => {
          download.progress = progress
          this.#changed()
        },
      })
      const reader = stream.getReader()
      for (let next = await reader.read(); !next.done; next = await reader.read()) await target.write(next.value)
      // The stream closed: size, every segment's tag and the whole SHA-256 checked. Only now is it saved.
      await target.close()
      download.state = 'done'
      download.progress = { ...download.progress, bytes: file.size, secondsLeft: 0 }
    } catch (err) {
      await target.abort(err).catch(() => {})
      const problem = controller.signal.aborted ? undefined : downloadProblem(err)
      if (problem === undefined) this.#downloads.delete(messageId)
      else Object.assign(download, { state: 'failed', problem })
    } finally {
      this.#changed(true)
    }
  }

  cancelDownload(messageId: string): void {
    this.#downloads.get(messageId)?.controller.abort()
  }

  #setDownloadFailed(messageId: string, file: FileManifest, problem: string): void {
    this.#downloads.set(messageId, {
      state: 'failed',
      progress: notStarted(file.size),
      problem,
      controller: new AbortController(),
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

  /** A preview's file gone from the conversation (deleted, disappeared): its memory is freed. */
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
