/**
 * The page's and the worker's sides of a streamed download together, in Node: the worker's real handlers
 * (`streamed-download-worker.ts`) behind a stand-in for the browser's plumbing (the controller's `postMessage`, the
 * hidden frame's request). What the browser's download would read is the response's body, read here. The browser
 * itself runs it in test/web-files.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { acceptStreamedDownload, respondToStreamedDownload } from '../streamed-download-worker.ts'
import { openStreamedDownload } from './streamed-download.ts'

const ORIGIN = 'https://chat.example'

/** The response the worker answered the frame's request with, once the frame is added. */
let answered: Promise<Response>
let answer: (response: Response) => void
/** The URL of each frame the page added to start a download. */
let frames: string[]
const saved = { navigator: globalThis.navigator, document: (globalThis as { document?: unknown }).document }

beforeEach(() => {
  answered = new Promise((resolve) => {
    answer = resolve
  })
  frames = []
  const controller = {
    postMessage(data: unknown, transfer: MessagePort[]) {
      acceptStreamedDownload({ data, ports: transfer } as unknown as ExtendableMessageEvent)
    },
  }
  Object.defineProperty(globalThis, 'navigator', { value: { serviceWorker: { controller } }, configurable: true })
  Object.defineProperty(globalThis, 'document', {
    value: {
      createElement: () => ({ hidden: false, src: '', remove() {} }),
      body: {
        append(frame: { src: string }) {
          frames.push(frame.src)
          const event = {
            request: new Request(new URL(frame.src, ORIGIN)),
            respondWith: (response: Response | Promise<Response>) => void Promise.resolve(response).then(answer),
          }
          respondToStreamedDownload(event as unknown as FetchEvent, ORIGIN)
        },
      },
    },
    configurable: true,
  })
})

afterEach(() => {
  Object.defineProperty(globalThis, 'navigator', { value: saved.navigator, configurable: true })
  Object.defineProperty(globalThis, 'document', { value: saved.document, configurable: true })
})

const bytes = (...values: number[]): Uint8Array => new Uint8Array(values)

describe('streamed download', () => {
  it('behavior: the chunks reach the download in order as an attachment of the file size, complete only on close', async () => {
    const target = await openStreamedDownload('report "final".pdf', 5)
    expect(target).toBeDefined()
    await target!.write(bytes(1, 2))
    await target!.write(bytes(3, 4))
    const response = await answered
    expect(response.headers.get('Content-Disposition')).toBe(
      `attachment; filename="report _final_.pdf"; filename*=UTF-8''report%20%22final%22.pdf`,
    )
    expect(response.headers.get('Content-Length')).toBe('5')
    expect(response.headers.get('Content-Type')).toBe('application/octet-stream')
    const reader = response.body!.getReader()
    expect(await reader.read()).toEqual({ done: false, value: bytes(1, 2) })
    await target!.write(bytes(5))
    expect(await reader.read()).toEqual({ done: false, value: bytes(3, 4) })
    await target!.close()
    expect(await reader.read()).toEqual({ done: false, value: bytes(5) })
    expect(await reader.read()).toEqual({ done: true, value: undefined })
  })

  it('security: a failed check aborts before the last chunk: the download errors and never has the whole file', async () => {
    const target = await openStreamedDownload('tampered.bin', 4)
    await target!.write(bytes(1, 2))
    await target!.write(bytes(3, 4))
    const reader = (await answered).body!.getReader()
    expect(await reader.read()).toEqual({ done: false, value: bytes(1, 2) })
    // The whole file's SHA-256 failed: every byte was written, the last ones were held back.
    await target!.abort(new Error('integrity'))
    await expect(reader.read()).rejects.toThrow(/stopped/)
  })

  it('behavior: nothing starts the download until there is a byte to save, and a download URL answers once', async () => {
    const target = await openStreamedDownload('gone.bin', 10)
    let started = false
    void answered.then(() => {
      started = true
    })
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(started).toBe(false)
    await target!.abort(new Error('unavailable'))

    const second = await openStreamedDownload('once.bin', 1)
    await second!.write(bytes(9))
    await second!.close()
    const response = await answered
    expect(await response.arrayBuffer()).toEqual(bytes(9).buffer)
    expect(frames).toHaveLength(1)
    // Asked again, the same URL is over.
    let again: Response | undefined
    respondToStreamedDownload(
      {
        request: new Request(new URL(frames.at(-1)!, ORIGIN)),
        respondWith: (r: Response) => {
          again = r
        },
      } as unknown as FetchEvent,
      ORIGIN,
    )
    expect(again?.status).toBe(410)
  })

  it('behavior: without a worker controlling the page there is no streamed download (the caller keeps a Blob)', async () => {
    Object.defineProperty(globalThis, 'navigator', {
      value: { serviceWorker: { controller: null } },
      configurable: true,
    })
    expect(await openStreamedDownload('a.bin', 1)).toBeUndefined()
  })
})
