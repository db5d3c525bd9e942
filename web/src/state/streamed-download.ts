/**
 * A download written to disk as it streams, through the app's service worker (`streamed-download-protocol.ts`), for
 * browsers without the File System Access API: the worker answers a download URL with the bytes the page hands it,
 * one chunk per chunk the browser took, so the page holds a chunk or two whatever the file's size — where a Blob
 * held the whole file, and was bounded for it.
 *
 * The browser's download starts with the first chunk (a file nobody can fetch starts none), and the last chunk is held
 * back until the stream closed with every check passed: a file whose whole SHA-256 fails is never completed — the
 * browser's download fails, and browsers drop what a failed download wrote.
 */
import {
  type PageToWorker,
  STREAMED_DOWNLOAD_MESSAGE,
  STREAMED_DOWNLOAD_PATH,
  type StreamedDownloadRequest,
  type WorkerToPage,
} from '../streamed-download-protocol.ts'
import type { SaveTarget } from './file-save.ts'

/** How long the worker has to answer: past it the download falls back to a Blob (the worker is not the app's). */
const WORKER_ANSWER_TIMEOUT_MS = 5_000
/** How long the browser has to ask for the download once its frame is added. */
const BROWSER_START_TIMEOUT_MS = 15_000
/** How long the hidden frame that started a download stays: removing it at once could cancel the download. */
const FRAME_LINGER_MS = 60_000

/**
 * A save target that streams to the browser's download through the service worker, or undefined when no worker of
 * this app controls the page (a first visit before it took over, a private window without workers).
 */
export async function openStreamedDownload(name: string, size: number): Promise<SaveTarget | undefined> {
  const worker = typeof navigator === 'undefined' ? undefined : navigator.serviceWorker?.controller
  if (worker === undefined || worker === null) return undefined
  const id = crypto.randomUUID()
  const channel = new MessageChannel()
  const port = new WorkerPort(channel.port1)
  const request: StreamedDownloadRequest = { type: STREAMED_DOWNLOAD_MESSAGE, id, name, size }
  worker.postMessage(request, [channel.port2])
  if (!(await port.next('ready', WORKER_ANSWER_TIMEOUT_MS))) {
    port.close()
    return undefined
  }

  let frame: HTMLIFrameElement | undefined
  let held: Uint8Array<ArrayBuffer> | undefined
  const start = async (): Promise<void> => {
    if (frame !== undefined) return
    frame = document.createElement('iframe')
    frame.hidden = true
    frame.src = `${STREAMED_DOWNLOAD_PATH}${id}`
    document.body.append(frame)
    if (!(await port.next('started', BROWSER_START_TIMEOUT_MS))) throw new DownloadNotStartedError()
  }
  const send = async (chunk: Uint8Array<ArrayBuffer>): Promise<void> => {
    await start()
    await port.credit()
    port.post({ type: 'chunk', chunk }, [chunk.buffer])
  }
  const finish = (): void => {
    port.close()
    const added = frame
    if (added !== undefined) setTimeout(() => added.remove(), FRAME_LINGER_MS)
  }
  return {
    handle: undefined,
    write: async (chunk) => {
      // A copy the page owns: its buffer goes to the worker, and the last one waits for the checks.
      const copy = chunk.slice() as Uint8Array<ArrayBuffer>
      if (held !== undefined) await send(held)
      held = copy
    },
    close: async () => {
      try {
        if (held !== undefined) await send(held)
        else await start() // an empty file
        held = undefined
        port.post({ type: 'end' })
      } finally {
        finish()
      }
    },
    abort: async () => {
      held = undefined
      port.post({ type: 'abort' })
      finish()
    },
  }
}

/** The browser did not ask for the download: a worker that does not answer its URL, or downloads blocked. */
export class DownloadNotStartedError extends Error {
  override name = 'DownloadNotStartedError'
  constructor() {
    super('The browser did not start the download: try again, or open SecureChat in Chrome or Edge.')
  }
}

/** The page's end of the port: what the worker said, waited for by type, and the pulls it granted. */
class WorkerPort {
  readonly #port: MessagePort
  #credits = 0
  #cancelled = false
  readonly #said = new Set<WorkerToPage['type']>()
  readonly #waiting = new Set<() => void>()

  constructor(port: MessagePort) {
    this.#port = port
    port.onmessage = (event: MessageEvent<WorkerToPage>) => {
      const type = event.data?.type
      if (type === 'pull') this.#credits += 1
      else if (type === 'cancelled') this.#cancelled = true
      else if (type === 'ready' || type === 'started') this.#said.add(type)
      for (const wake of [...this.#waiting]) wake()
    }
  }

  /** Whether the worker said `type` within `timeoutMs` (false at once if the download was cancelled). */
  async next(type: 'ready' | 'started', timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs
    while (!this.#said.has(type)) {
      if (this.#cancelled || Date.now() >= deadline) return false
      await this.#wake(deadline - Date.now())
    }
    return true
  }

  /** Takes one pull the worker granted, waiting for it; throws once the browser cancelled the download. */
  async credit(): Promise<void> {
    for (;;) {
      if (this.#cancelled) throw new DOMException('the download was cancelled in the browser', 'AbortError')
      if (this.#credits > 0) {
        this.#credits -= 1
        return
      }
      await this.#wake()
    }
  }

  post(message: PageToWorker, transfer: Transferable[] = []): void {
    this.#port.postMessage(message, transfer)
  }

  close(): void {
    this.#port.close()
  }

  #wake(timeoutMs?: number): Promise<void> {
    const waiting = this.#waiting
    return new Promise((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined
      const done = (): void => {
        clearTimeout(timer)
        waiting.delete(done)
        resolve()
      }
      if (timeoutMs !== undefined) timer = setTimeout(done, timeoutMs)
      waiting.add(done)
    })
  }
}
