/**
 * What the page and the service worker say to each other for a streamed download (`state/streamed-download.ts` in
 * the page, `streamed-download-worker.ts` in the worker): in browsers without the File System Access API, the page
 * hands the worker a download's checked bytes as they come, and the worker answers a download URL with them, so the
 * browser writes the file to disk as it streams — no Blob of the whole file in memory, no bound on its size.
 *
 * The page sends `{ type: STREAMED_DOWNLOAD_MESSAGE, id, name, size }` with a MessagePort; over that port:
 *
 *     worker → page   ready       the download is set up: the page may start it (a frame at STREAMED_DOWNLOAD_PATH + id)
 *     worker → page   started     the browser asked for it: bytes go to the browser's download from now on
 *     worker → page   pull        room for one more chunk (the browser is writing as fast as the page sends)
 *     worker → page   cancelled   the person cancelled it in the browser, or it was never started in time
 *     page → worker   chunk       { chunk: Uint8Array } (its buffer transferred)
 *     page → worker   end         every byte sent, every check passed: the file is complete
 *     page → worker   abort       a check failed or the person cancelled in the app: the browser's download fails
 */

/** Where the worker answers a download: never one of the relay's routes, nor one of the app's. */
export const STREAMED_DOWNLOAD_PATH = '/_download/'

/** The `type` of the page's first message to the worker. */
export const STREAMED_DOWNLOAD_MESSAGE = 'securechat:streamed-download'

/** How long a download set up in the worker waits for the browser to ask for it before it is dropped. */
export const STREAMED_DOWNLOAD_START_TIMEOUT_MS = 30_000

export interface StreamedDownloadRequest {
  type: typeof STREAMED_DOWNLOAD_MESSAGE
  /** A random UUID: the download URL's only secret, good for one request. */
  id: string
  /** The file's name (a manifest's, already checked: no path separators, no control characters). */
  name: string
  /** Its size in bytes: the response's Content-Length, so the browser shows progress and fails a short file. */
  size: number
}

export type WorkerToPage = { type: 'ready' } | { type: 'started' } | { type: 'pull' } | { type: 'cancelled' }

export type PageToWorker = { type: 'chunk'; chunk: Uint8Array } | { type: 'end' } | { type: 'abort' }

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** Whether `data` is a well-formed {@link StreamedDownloadRequest} (the worker checks what any page posts it). */
export function isStreamedDownloadRequest(data: unknown): data is StreamedDownloadRequest {
  if (typeof data !== 'object' || data === null) return false
  const { type, id, name, size } = data as Record<string, unknown>
  return (
    type === STREAMED_DOWNLOAD_MESSAGE &&
    typeof id === 'string' &&
    UUID.test(id) &&
    typeof name === 'string' &&
    name.length > 0 &&
    name.length <= 1_024 &&
    typeof size === 'number' &&
    Number.isSafeInteger(size) &&
    size >= 0
  )
}

/**
 * The `Content-Disposition` of a download named `name`: an attachment (saved, never shown), with an ASCII name for
 * old clients and the exact name in RFC 5987's `filename*`.
 */
export function attachmentDisposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\%]/g, '_')
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`
}
