/**
 * Where a downloaded file is written as it streams in. With the File System Access API (Chromium browsers) the person
 * picks a file on disk and the bytes go straight there: memory stays a few segments, whatever the size, and the
 * browser writes to a temporary file it swaps in only on `close()` — an `abort()` (a failed check, a cancel) leaves
 * nothing. Without it (Firefox, Safari, a headless Chromium) the chunks are kept as a Blob and handed to the
 * browser's own download once the stream closed, up to {@link BLOB_SAVE_LIMIT_BYTES}: a Blob is memory (or the
 * browser's blob storage), and past that size a tab risks being killed. A service-worker streamed download would lift
 * that bound; it is not built yet (docs/web-app.md, Files).
 */

const MiB = 1024 * 1024
/** The largest file saved without the File System Access API. */
export const BLOB_SAVE_LIMIT_BYTES = 256 * MiB

export interface SaveTarget {
  write(chunk: Uint8Array): Promise<void>
  /** The stream closed: every check passed. Only then is the file saved. */
  close(): Promise<void>
  /** Nothing is saved (a failed check, a cancel). */
  abort(reason: unknown): Promise<void>
}

/** The File System Access API's save picker, where the browser has it (it is not in TypeScript's DOM types yet). */
type SaveFilePicker = (options: { suggestedName: string }) => Promise<{
  createWritable(): Promise<{
    write(data: Uint8Array): Promise<void>
    close(): Promise<void>
    abort(reason?: unknown): Promise<void>
  }>
}>

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
    const handle = await picker.call(globalThis, { suggestedName: name })
    const writable = await handle.createWritable()
    return {
      write: (chunk) => writable.write(chunk),
      close: () => writable.close(),
      abort: (reason) => writable.abort(reason),
    }
  }
  if (size > BLOB_SAVE_LIMIT_BYTES) throw new TooLargeForThisBrowserError()
  let parts: Uint8Array<ArrayBuffer>[] = []
  return {
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
