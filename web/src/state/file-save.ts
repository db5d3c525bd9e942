/**
 * Where a downloaded file is written as it streams in. With the File System Access API (Chromium browsers) the person
 * picks a file on disk and the bytes go straight there: memory stays a few segments, whatever the size, and the
 * browser writes to a temporary file it swaps in only on `close()` — an `abort()` (a failed check, a cancel) leaves
 * nothing, and neither does a reload half-way (the browser drops the temporary file with the page). The picked file's
 * handle is kept so that a download interrupted by a reload writes to it again ({@link reopenSaveTarget}) without
 * asking where. Without the API (Firefox, Safari, a headless Chromium) the bytes stream to the browser's own download
 * through the app's service worker (`streamed-download.ts`), any size, a chunk or two in memory; only where no worker
 * of the app controls the page are they kept as a Blob and handed to the browser's download once the stream closed,
 * up to {@link BLOB_SAVE_LIMIT_BYTES}: a Blob is memory (or the browser's blob storage), and past that size a tab
 * risks being killed.
 */

import { openStreamedDownload } from './streamed-download.ts'

const MiB = 1024 * 1024
/** The largest file saved without the File System Access API or the app's service worker. */
export const BLOB_SAVE_LIMIT_BYTES = 256 * MiB

export interface SaveTarget {
  write(chunk: Uint8Array): Promise<void>
  /** The stream closed: every check passed. Only then is the file saved. */
  close(): Promise<void>
  /** Nothing is saved (a failed check, a cancel). */
  abort(reason: unknown): Promise<void>
  /** The file picked on disk (File System Access), to write it again after a reload; undefined for a Blob. */
  readonly handle: FileSystemFileHandle | undefined
}

/** The File System Access API's save picker, where the browser has it (it is not in TypeScript's DOM types yet). */
type SaveFilePicker = (options: { suggestedName: string }) => Promise<FileSystemFileHandle>

/** A handle's permission request, in Chromium but not in TypeScript's DOM types (nor the WHATWG standard) yet. */
interface PermissionedHandle {
  requestPermission?(options: { mode: 'readwrite' }): Promise<PermissionState>
}

/** Whether this browser writes downloads straight to disk (any size), or keeps them as a Blob (bounded). */
export function savesToDisk(): boolean {
  return typeof (globalThis as { showSaveFilePicker?: unknown }).showSaveFilePicker === 'function'
}

/**
 * Opens where file `name` of `size` bytes goes. Call it first in a click's handler, before any other await: the
 * save picker needs the click's user activation. Rejects with an `AbortError` when the person closes the picker.
 */
export async function openSaveTarget(name: string, size: number): Promise<SaveTarget> {
  const picker = (globalThis as { showSaveFilePicker?: SaveFilePicker }).showSaveFilePicker
  if (typeof picker === 'function') {
    return diskTarget(await picker.call(globalThis, { suggestedName: name }))
  }
  const streamed = await openStreamedDownload(name, size)
  if (streamed !== undefined) return streamed
  if (size > BLOB_SAVE_LIMIT_BYTES) throw new TooLargeForThisBrowserError()
  let parts: Uint8Array<ArrayBuffer>[] = []
  return {
    handle: undefined,
    write: async (chunk) => {
      parts.push(chunk as Uint8Array<ArrayBuffer>)
    },
    close: async () => {
      // Saved as bytes, never opened: the browser's download, not a page showing whatever the sender typed it as.
      saveBlob(new Blob(parts, { type: 'application/octet-stream' }), name)
      parts = []
    },
    abort: async () => {
      parts = []
    },
  }
}

/**
 * The file on disk an interrupted download was writing to, opened again, from its first byte: the browser dropped
 * what was written with the page. A page loaded afresh holds no permission to write to it, so this asks the browser
 * for it (a prompt naming the file, unless the person let this site keep it) and must run first in a click's handler,
 * like the picker. Rejects with {@link SaveTargetLostError} when the browser refuses, or the file is gone.
 */
export async function reopenSaveTarget(handle: FileSystemFileHandle): Promise<SaveTarget> {
  let state: PermissionState | undefined
  try {
    // Granted already (the person let this site keep it), this answers without a prompt.
    state = await (handle as FileSystemFileHandle & PermissionedHandle).requestPermission?.({ mode: 'readwrite' })
    if (state === undefined || state === 'granted') return await diskTarget(handle)
  } catch (cause) {
    throw new SaveTargetLostError(handle.name, { cause })
  }
  throw new SaveTargetLostError(handle.name)
}

async function diskTarget(handle: FileSystemFileHandle): Promise<SaveTarget> {
  // Not `keepExistingData`: a download writes the whole file, and only a checked whole replaces what is there.
  const writable = await handle.createWritable()
  return {
    handle,
    write: (chunk) => writable.write(chunk as Uint8Array<ArrayBuffer>),
    close: () => writable.close(),
    abort: (reason) => writable.abort(reason),
  }
}

/** An interrupted download's file on disk cannot be written again: permission refused, or the file is gone. */
export class SaveTargetLostError extends Error {
  override name = 'SaveTargetLostError'
  constructor(fileName: string, options?: ErrorOptions) {
    super(
      `The browser did not let SecureChat write to ${fileName} again: Download picks where to save it (what was fetched before is not fetched again).`,
      options,
    )
  }
}

export class TooLargeForThisBrowserError extends Error {
  override name = 'TooLargeForThisBrowserError'
  constructor() {
    super(
      `This browser can save files of up to ${BLOB_SAVE_LIMIT_BYTES / MiB} MiB here: open SecureChat in Chrome or Edge, which write a larger file straight to disk.`,
    )
  }
}

/** Hands `blob` to the browser's download as `name` (an `<a download>` click; the URL is revoked once it started). */
function saveBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob)
  const link = document.createElement('a')
  link.href = url
  link.download = name
  link.rel = 'noopener'
  link.hidden = true
  document.body.append(link)
  link.click()
  link.remove()
  // The download has read the URL by then; revoked, the Blob can go once the browser wrote it.
  setTimeout(() => URL.revokeObjectURL(url), 60_000)
}
