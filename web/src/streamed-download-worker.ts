/// <reference lib="webworker" />
/**
 * The service worker's side of a streamed download (`streamed-download-protocol.ts`): a download the page set up is
 * held until the browser asks for its URL, then answered with a stream the page fills, one chunk per `pull`, so the
 * page never runs ahead of the disk by more than a chunk or two.
 */
import {
  attachmentDisposition,
  isStreamedDownloadRequest,
  type PageToWorker,
  STREAMED_DOWNLOAD_PATH,
  STREAMED_DOWNLOAD_START_TIMEOUT_MS,
  type WorkerToPage,
} from './streamed-download-protocol.ts'

interface PendingDownload {
  name: string
  size: number
  stream: ReadableStream<Uint8Array>
  port: MessagePort
  timer: ReturnType<typeof setTimeout>
}

/** Downloads set up and not yet asked for, by id. */
const pending = new Map<string, PendingDownload>()

/** Sets up the download `event` asks for, if it is one; whether it was (then nothing else handles the message). */
export function acceptStreamedDownload(event: ExtendableMessageEvent): boolean {
  const request = event.data as unknown
  if (!isStreamedDownloadRequest(request)) return false
  const port = event.ports[0]
  if (port === undefined || pending.has(request.id)) return true
  const tell = (message: WorkerToPage): void => port.postMessage(message)
  const stream = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        port.onmessage = (message: MessageEvent<PageToWorker>) => {
          const data = message.data
          if (data?.type === 'chunk' && data.chunk instanceof Uint8Array) {
            controller.enqueue(data.chunk)
          } else if (data?.type === 'end') {
            controller.close()
            port.close()
          } else if (data?.type === 'abort') {
            forget(request.id)
            // The browser's download fails: a file that failed its check is never completed.
            controller.error(new Error('the download was stopped: the file failed a check, or was cancelled'))
            port.close()
          }
        }
      },
      pull() {
        tell({ type: 'pull' })
      },
      cancel() {
        tell({ type: 'cancelled' })
        port.close()
      },
    },
    // One chunk queued at most: the page sends the next only when the browser took this one.
    { highWaterMark: 1 },
  )
  const timer = setTimeout(() => {
    if (!forget(request.id)) return
    tell({ type: 'cancelled' })
    port.close()
  }, STREAMED_DOWNLOAD_START_TIMEOUT_MS)
  pending.set(request.id, { name: request.name, size: request.size, stream, port, timer })
  tell({ type: 'ready' })
  return true
}

/** Answers `event` if it asks for a download's URL; whether it did. */
export function respondToStreamedDownload(event: FetchEvent, origin: string): boolean {
  const url = new URL(event.request.url)
  if (url.origin !== origin || !url.pathname.startsWith(STREAMED_DOWNLOAD_PATH)) return false
  const id = url.pathname.slice(STREAMED_DOWNLOAD_PATH.length)
  const download = pending.get(id)
  if (download === undefined) {
    event.respondWith(
      new Response('This download is over: start it again from the conversation.', {
        status: 410,
        headers: { 'Content-Type': 'text/plain; charset=utf-8' },
      }),
    )
    return true
  }
  forget(id)
  download.port.postMessage({ type: 'started' } satisfies WorkerToPage)
  event.respondWith(
    new Response(download.stream, {
      headers: {
        // Bytes to save, never a page to show, whatever the sender said the file was.
        'Content-Type': 'application/octet-stream',
        'Content-Disposition': attachmentDisposition(download.name),
        'Content-Length': String(download.size),
        'X-Content-Type-Options': 'nosniff',
        'Cache-Control': 'no-store',
      },
    }),
  )
  return true
}

/** Drops the download `id` from those waiting to be asked for; whether it was there. */
function forget(id: string): boolean {
  const download = pending.get(id)
  if (download === undefined) return false
  clearTimeout(download.timer)
  pending.delete(id)
  return true
}
