/**
 * The browser test (issue 16): a large file (64 MiB by default; the 200 MiB with
 * `SECURECHAT_TEST_WEB_FILE_MIB=200`) between two pages of the web app in Debian's Chromium, through a real relay that keeps files on disk. The pages write downloads
 * through the File System Access path, as Chrome and Edge do: headless Chromium has no save picker to click through,
 * so a stand-in `showSaveFilePicker` hands the app a file in the origin's private file system (OPFS) — a real
 * `FileSystemFileHandle` whose writable streams to disk like a picked file's, so the JS heap measures the stream and
 * not a Blob. The JS heap (CDP `Performance.getMetrics`, `JSHeapUsedSize`) is sampled on both pages through the
 * transfer, and what a collection leaves of it must grow by less than 64 MiB and half the file; the saved file's SHA-256 is the original's. Then a third page
 * reloads half-way through its download, finds it interrupted with Resume, and finishes it without fetching again
 * what it had fetched before the reload. Last, the second page saves it again without the API, as Firefox and Safari
 * do: streamed to the browser's own download through the app's service worker, holding no copy of the file.
 */
import { createHash, randomBytes } from 'node:crypto'
import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ciphertextSize } from '@securechat/sdk/crypto'
import type { CDPSession, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AppPage } from './helpers/browser.ts'
import { tempDir } from './helpers/cli.ts'
import { startWebRoom, type WebRoom } from './helpers/web-stack.ts'

const MiB = 1024 * 1024
/**
 * The file's size. The 200 MiB (`SECURECHAT_TEST_WEB_FILE_MIB=200`) costs some 290 CPU-seconds here — share,
 * download and a resumed download, each through JavaScript's ChaCha20 and SHA-256 — about three minutes of a
 * 2-core machine; 64 MiB costs some 130, which the suite can carry.
 */
const FILE_MIB = Number(process.env.SECURECHAT_TEST_WEB_FILE_MIB ?? 64)
const FILE_BYTES = FILE_MIB * MiB
/**
 * The bound on memory: growth of each page's JS heap (`JSHeapUsedSize` after a collection) during the
 * transfer — 64 MiB, and
 * never more than half the file, so that it is a bound well below the file's size whatever that is.
 */
const HEAP_GROWTH_BOUND_BYTES = Math.min(64 * MiB, FILE_BYTES / 2)
/** UI waits: generous for a loaded 2-core machine moving hundreds of MiB through JavaScript, never a speed check. */
const UI_TIMEOUT_MS = 60_000
const TRANSFER_TIMEOUT_MS = 15 * 60_000
const FILE_NAME = 'large.bin'

let web: WebRoom
let alice: AppPage
let bob: AppPage
/** Carol is in the room from the start too: the relay keeps files here, not history, so a later page would not see the message. */
let carol: AppPage
let sourceDir: string | undefined
let sourcePath: string
let sourceSha256: string

beforeAll(async () => {
  // Below 32 MiB a reload half-way holds too few blocks to tell a resume from a download started over.
  if (!Number.isSafeInteger(FILE_MIB) || FILE_MIB < 32) {
    throw new RangeError(`SECURECHAT_TEST_WEB_FILE_MIB must be a whole number of MiB, at least 32 (got ${FILE_MIB})`)
  }
  web = await startWebRoom('web-files-large', 'large', { files: true })
  // On disk, set as the chooser's file by path: Chromium reads it from there, as it would a person's file.
  const bytes = randomBytes(FILE_BYTES)
  sourceSha256 = createHash('sha256').update(bytes).digest('hex')
  sourceDir = await tempDir('web-files-large-src-')
  sourcePath = join(sourceDir, FILE_NAME)
  await writeFile(sourcePath, bytes)
}, 120_000)

afterAll(async () => {
  await web?.stop()
  // Hundreds of MiB: not left in the temporary directory run after run.
  if (sourceDir !== undefined) await rm(sourceDir, { recursive: true, force: true })
})

/** A page of the room whose save picker is the stand-in (see the top of this file). */
async function openMember(account: number): Promise<AppPage> {
  const person = await web.openApp(account)
  // It counts its calls in the document: a resume after a reload writes to the same file without asking again.
  const pickerOnOpfs = () => {
    const counter = globalThis as { __pickerCalls?: number }
    counter.__pickerCalls = 0
    Object.defineProperty(globalThis, 'showSaveFilePicker', {
      configurable: true,
      value: async ({ suggestedName }: { suggestedName: string }) => {
        counter.__pickerCalls! += 1
        return (await navigator.storage.getDirectory()).getFileHandle(suggestedName, { create: true })
      },
    })
  }
  await person.page.evaluate(pickerOnOpfs)
  await person.context.addInitScript(pickerOnOpfs)
  await person.context.addInitScript(trackPeerConnections)
  await person.page.goto(`${web.http.url}#invite=${encodeURIComponent(web.invite)}`)
  await person.page.getByRole('heading', { name: '# large' }).waitFor({ timeout: UI_TIMEOUT_MS })
  return person
}

/**
 * Keeps every `RTCPeerConnection` the page makes: pages reach each other directly over WebRTC too, and a block can
 * come that way rather than through the relay's WebSockets.
 */
function trackPeerConnections(): void {
  const made: RTCPeerConnection[] = []
  ;(globalThis as { __peerConnections?: RTCPeerConnection[] }).__peerConnections = made
  const Native = globalThis.RTCPeerConnection
  globalThis.RTCPeerConnection = class extends Native {
    constructor(...args: ConstructorParameters<typeof RTCPeerConnection>) {
      super(...args)
      made.push(this)
    }
  }
}

/** Bytes each of the page's WebRTC connections received so far (its transport's `bytesReceived`), in their order. */
function webRtcBytesReceived(page: Page): Promise<number[]> {
  return page.evaluate(async () =>
    Promise.all(
      ((globalThis as { __peerConnections?: RTCPeerConnection[] }).__peerConnections ?? []).map(async (connection) => {
        let bytes = 0
        const stats = await connection.getStats().catch(() => undefined)
        stats?.forEach((report: { type: string; bytesReceived?: number }) => {
          if (report.type === 'transport') bytes += report.bytesReceived ?? 0
        })
        return bytes
      }),
    ),
  )
}

function card(page: Page, name: string) {
  return page.locator('sc-file-card', { has: page.getByTestId('file-name').getByText(name, { exact: true }) })
}

/** The SHA-256 of file `name` in the page's private file system, hashed by the browser's WebCrypto. */
function savedSha256(page: Page, name: string): Promise<string> {
  return page.evaluate(async (name) => {
    const file = await (await (await navigator.storage.getDirectory()).getFileHandle(name)).getFile()
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await file.arrayBuffer()))
    return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('')
  }, name)
}

/** A short address as the app shows it among a room's members. */
function short(address: string): string {
  return `${address.slice(0, 6)}…${address.slice(-4)}`
}

/** The number of blocks in `address`'s IndexedDB blockstore on `page` (`web/src/state/file-stores.ts`). */
function storedBlocks(page: Page, address: string): Promise<number> {
  const name = `securechat-file-blocks-${address.toLowerCase()}`
  return page.evaluate(
    (name) =>
      new Promise<number>((resolve, reject) => {
        const opened = indexedDB.open(name)
        opened.onerror = () => reject(opened.error)
        opened.onsuccess = () => {
          const db = opened.result
          const count = db.transaction(name, 'readonly').objectStore(name).count()
          count.onerror = () => reject(count.error)
          count.onsuccess = () => {
            db.close()
            resolve(count.result)
          }
        }
      }),
    name,
  )
}

/** A page's memory as V8 counts it: its JS heap, and the array buffers' bytes (which live outside that heap). */
interface HeapFigures {
  /** `JSHeapUsedSize` (CDP `Performance.getMetrics`). */
  jsHeap: number
  /** `backingStorageSize` (CDP `Runtime.getHeapUsage`): Uint8Arrays' bytes — a download's chunks, were it to keep them. */
  buffers: number
}

/** Every this many samples (of one every 250 ms), one after a full collection: what the page still holds. */
const LIVE_EVERY_SAMPLES = 8

/**
 * Samples a page's memory until stopped, from a baseline taken after a full collection. `JSHeapUsedSize` as it runs
 * (garbage included), and every 2 s, after a collection, the JS heap (what the page holds: the bound) and the JS
 * heap plus the array buffers: the
 * JS heap alone would miss a file kept whole, since its bytes are array buffers outside that heap, and array buffers
 * sampled as they run are mostly garbage the collector has not reached (a 64 MiB download peaks over 140 MiB of them).
 * The collections every 2 s keep `JSHeapUsedSize`'s garbage to what 2 s make, at the machine's pace: on a loaded
 * machine 2 s of garbage alone passed the bound (+37.5 MiB as sampled, +22.5 MiB with array buffers after a
 * collection).
 */
class HeapSampler {
  readonly #session: CDPSession
  #baseline: HeapFigures = { jsHeap: 0, buffers: 0 }
  #peakJsHeap = 0
  #peakCollectedJsHeap = 0
  #peakLive = 0
  #samples = 0
  #timer: ReturnType<typeof setInterval> | undefined
  #pending: Promise<unknown> = Promise.resolve()

  private constructor(session: CDPSession) {
    this.#session = session
  }

  static async start(page: Page): Promise<HeapSampler> {
    const sampler = new HeapSampler(await page.context().newCDPSession(page))
    await sampler.#session.send('Performance.enable')
    sampler.#baseline = await sampler.#sample(true)
    sampler.#peakJsHeap = sampler.#baseline.jsHeap
    sampler.#peakCollectedJsHeap = sampler.#baseline.jsHeap
    sampler.#peakLive = sampler.#baseline.jsHeap + sampler.#baseline.buffers
    sampler.#timer = setInterval(() => {
      // One at a time: a collection on a loaded machine can take longer than the interval.
      sampler.#pending = sampler.#pending.then(async () => {
        const live = ++sampler.#samples % LIVE_EVERY_SAMPLES === 0
        const figures = await sampler.#sample(live).catch(() => undefined)
        if (figures === undefined) return
        sampler.#peakJsHeap = Math.max(sampler.#peakJsHeap, figures.jsHeap)
        if (!live) return
        sampler.#peakCollectedJsHeap = Math.max(sampler.#peakCollectedJsHeap, figures.jsHeap)
        sampler.#peakLive = Math.max(sampler.#peakLive, figures.jsHeap + figures.buffers)
      })
    }, 250)
    return sampler
  }

  async #sample(collect: boolean): Promise<HeapFigures> {
    if (collect) await this.#session.send('HeapProfiler.collectGarbage')
    const [{ metrics }, usage] = await Promise.all([
      this.#session.send('Performance.getMetrics'),
      this.#session.send('Runtime.getHeapUsage'),
    ])
    const jsHeap = metrics.find((m) => m.name === 'JSHeapUsedSize')?.value
    const buffers = (usage as { backingStorageSize?: number }).backingStorageSize
    if (jsHeap === undefined || buffers === undefined) {
      throw new Error(
        'this Chromium gives no JSHeapUsedSize (Performance.getMetrics) or backingStorageSize (Runtime.getHeapUsage)',
      )
    }
    return { jsHeap, buffers }
  }

  /**
   * Stops sampling: growth over the baseline of `JSHeapUsedSize` as sampled (what the collector had not yet
   * reclaimed: it paces itself, slower on a loaded machine), of the JS heap a collection left (what the page holds),
   * and of that with array buffers.
   */
  async stop(): Promise<{
    jsHeap: number
    collectedJsHeap: number
    live: number
    liveSamples: number
    baseline: HeapFigures
  }> {
    clearInterval(this.#timer)
    await this.#pending
    await this.#session.detach().catch(() => {})
    const base = this.#baseline
    return {
      jsHeap: this.#peakJsHeap - base.jsHeap,
      collectedJsHeap: this.#peakCollectedJsHeap - base.jsHeap,
      live: this.#peakLive - base.jsHeap - base.buffers,
      liveSamples: Math.floor(this.#samples / LIVE_EVERY_SAMPLES),
      baseline: base,
    }
  }
}

const mib = (bytes: number): string => `${(bytes / MiB).toFixed(1)} MiB`

describe(`web app: a ${FILE_MIB} MiB file between two pages`, () => {
  it(
    `behavior: alice shares ${FILE_MIB} MiB through the relay, bob saves it to disk byte for byte, and neither page's JS heap grows by ${HEAP_GROWTH_BOUND_BYTES / MiB} MiB`,
    async () => {
      ;[alice, bob, carol] = await Promise.all([openMember(1), openMember(2), openMember(3)])
      await expect
        .poll(() => alice.page.getByTestId('members').textContent(), { timeout: UI_TIMEOUT_MS })
        .toContain(short(web.chain.accounts[2]!.address))

      const aliceHeap = await HeapSampler.start(alice.page)
      const bobHeap = await HeapSampler.start(bob.page)
      const shareStarted = performance.now()
      const [chooser] = await Promise.all([
        alice.page.waitForEvent('filechooser'),
        alice.page.getByRole('button', { name: 'Attach a file' }).click(),
      ])
      await chooser.setFiles(sourcePath)
      await alice.page.getByRole('button', { name: 'Send' }).click()
      // The card on bob's page: encrypted on alice's, kept by the relay, announced.
      const bobCard = card(bob.page, FILE_NAME)
      await bobCard.waitFor({ timeout: TRANSFER_TIMEOUT_MS })
      expect(await alice.page.getByTestId('upload-problem').count()).toBe(0)
      const shareSeconds = (performance.now() - shareStarted) / 1000

      const downloadStarted = performance.now()
      await bobCard.getByRole('button', { name: `Download ${FILE_NAME}` }).click()
      await bobCard.getByTestId('download-done').waitFor({ timeout: TRANSFER_TIMEOUT_MS })
      const downloadSeconds = (performance.now() - downloadStarted) / 1000
      const [aliceFigures, bobFigures] = await Promise.all([aliceHeap.stop(), bobHeap.stop()])

      const growth = (figures: Awaited<ReturnType<HeapSampler['stop']>>) =>
        `JSHeapUsedSize +${mib(figures.jsHeap)} (from ${mib(figures.baseline.jsHeap)}); after a collection, JS heap +${mib(figures.collectedJsHeap)}, with array buffers +${mib(figures.live)} (${figures.liveSamples} samples)`
      console.log(
        `web files, ${FILE_MIB} MiB: share (encrypt + relay keeps it) ${shareSeconds.toFixed(1)} s, download ${downloadSeconds.toFixed(1)} s; ` +
          `alice: ${growth(aliceFigures)}; bob: ${growth(bobFigures)}`,
      )
      expect(await savedSha256(bob.page, FILE_NAME)).toBe(sourceSha256)
      // The JS heap the pages hold is bounded: what a collection leaves. The heap as sampled between collections is
      // printed, not bounded: it says how far behind the collector ran (past the bound on a loaded machine, with
      // nothing held). What a collection leaves of array buffers is printed too, not bounded: the sender's
      // is bitswap's send queue mid-transfer (docs/files.md, Not built yet).
      for (const figures of [aliceFigures, bobFigures]) {
        expect(figures.liveSamples).toBeGreaterThan(0)
        expect(figures.collectedJsHeap).toBeLessThan(HEAP_GROWTH_BOUND_BYTES)
      }
    },
    2 * TRANSFER_TIMEOUT_MS,
  )

  it(
    'behavior: carol reloads half-way through her download; the card says it was interrupted, and Resume saves the same file byte for byte, fetching from the network only the blocks she did not hold',
    async () => {
      const address = web.chain.accounts[3]!.address
      const carolCard = card(carol.page, FILE_NAME)
      await carolCard.waitFor({ timeout: UI_TIMEOUT_MS })
      await expect
        .poll(() => carol.page.getByTestId('members').textContent(), { timeout: UI_TIMEOUT_MS })
        .toContain(short(web.chain.accounts[1]!.address))
      // Every byte the page receives from the network, counted from Resume on: its relay connections are WebSockets,
      // which the reload opens again (listened to from before it); other pages it reaches over WebRTC.
      let received = 0
      let counting = false
      carol.page.on('websocket', (socket) =>
        socket.on('framereceived', ({ payload }) => {
          if (counting) received += typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length
        }),
      )
      await carolCard.getByRole('button', { name: `Download ${FILE_NAME}` }).click()
      // A third of the way in (the bar's value is plaintext bytes delivered), the page is reloaded.
      await expect
        .poll(() => carolCard.locator('progress').evaluate((bar) => (bar as HTMLProgressElement).value), {
          timeout: TRANSFER_TIMEOUT_MS,
          interval: 100,
        })
        .toBeGreaterThanOrEqual(FILE_BYTES / 3)
      await carol.page.reload()
      await carol.page.getByRole('heading', { name: '# large' }).waitFor({ timeout: UI_TIMEOUT_MS })

      // Told, in words, how far it got; offered Resume.
      const interrupted = carolCard.getByTestId('download-interrupted')
      await interrupted.waitFor({ timeout: UI_TIMEOUT_MS })
      expect(await interrupted.textContent()).toMatch(
        new RegExp(`^Download interrupted at \\d+(\\.\\d)? MiB of ${FILE_MIB} MiB\\.`),
      )
      // What it fetched is in this browser's blockstore: the file's leaves are 1 MiB each, plus its root.
      const leaves = Math.ceil(ciphertextSize(FILE_BYTES) / MiB)
      const heldLeaves = (await storedBlocks(carol.page, address)) - 1
      expect(heldLeaves).toBeGreaterThanOrEqual(Math.floor(leaves / 4))
      expect(heldLeaves).toBeLessThan(leaves)

      await expect
        .poll(() => carol.page.getByTestId('members').textContent(), { timeout: UI_TIMEOUT_MS })
        .toContain(short(web.chain.accounts[1]!.address))
      counting = true
      const webRtcBefore = await webRtcBytesReceived(carol.page)
      const resumeStarted = performance.now()
      await carolCard.getByRole('button', { name: `Resume downloading ${FILE_NAME}` }).click()
      await carolCard.getByTestId('download-done').waitFor({ timeout: TRANSFER_TIMEOUT_MS })
      counting = false
      // Per source: the relay (its WebSockets), and each page reached directly.
      const overWebRtc = (await webRtcBytesReceived(carol.page)).map((bytes, i) => bytes - (webRtcBefore[i] ?? 0))
      const overWebSockets = received
      received += overWebRtc.reduce((sum, bytes) => sum + bytes, 0)
      const resumeSeconds = (performance.now() - resumeStarted) / 1000
      // The leaves fetched come in order: those held are full ones, the rest (the last one short) are missing.
      const missing = ciphertextSize(FILE_BYTES) - heldLeaves * MiB
      console.log(
        `web files, resume after a reload: ${heldLeaves} of ${leaves} blocks held (${mib(heldLeaves * MiB)}); ` +
          `received ${mib(received)} for the ${mib(missing)} missing (${mib(overWebSockets)} from the relay, ${overWebRtc.map(mib).join(' and ') || 'nothing'} from pages over WebRTC); resumed in ${resumeSeconds.toFixed(1)} s`,
      )
      // The same file on disk, written again without asking where; the whole checked.
      expect(await carol.page.evaluate(() => (globalThis as { __pickerCalls?: number }).__pickerCalls)).toBe(0)
      expect(await savedSha256(carol.page, FILE_NAME)).toBe(sourceSha256)
      // Only the missing blocks were asked for: no source sent more than them (slack for framing, presence and
      // gossip; a download started over would be sent the held blocks too).
      expect(overWebSockets).toBeLessThan(missing + 4 * MiB + missing / 50)
      // And each once, from one holder at a time (docs/files.md, One holder at a time), though the relay and two pages
      // hold them all: one copy with WebRTC's overhead (below), where a block asked of every holder came three times.
      expect(received).toBeLessThan(missing * 1.25 + 4 * MiB)
      // WebRTC is counted at its transport: DTLS and SCTP headers, and SCTP's retransmissions on a loaded machine (up
      // to 18 % over the missing blocks here). Half of what she held, sent again, would still pass this bound.
      for (const fromOnePage of overWebRtc) expect(fromOnePage).toBeLessThan(missing + (heldLeaves * MiB) / 2)
      // And the count is of the transfer: the missing blocks did come through it.
      expect(received).toBeGreaterThan(missing)

      // Saved: a reload no longer offers to resume it.
      await carol.page.reload()
      await carolCard.getByRole('button', { name: `Download ${FILE_NAME}` }).waitFor({ timeout: UI_TIMEOUT_MS })
      expect(await carolCard.getByTestId('download-interrupted').count()).toBe(0)
    },
    2 * TRANSFER_TIMEOUT_MS,
  )

  it(
    'behavior: without the File System Access API (Firefox, Safari) bob saves it again through the service worker, byte for byte, the page holding no copy of the file',
    async () => {
      // As a browser without the API: the app streams to the browser's own download through its service worker.
      await bob.page.evaluate(() => {
        delete (globalThis as { showSaveFilePicker?: unknown }).showSaveFilePicker
      })
      const bobCard = card(bob.page, FILE_NAME)
      const heap = await HeapSampler.start(bob.page)
      const [saved] = await Promise.all([
        bob.page.waitForEvent('download', { timeout: UI_TIMEOUT_MS }),
        bobCard.getByRole('button', { name: `Download ${FILE_NAME}` }).click(),
      ])
      expect(saved.suggestedFilename()).toBe(FILE_NAME)
      expect(new URL(saved.url()).pathname).toMatch(/^\/_download\//)
      const path = await saved.path()
      await bobCard.getByTestId('download-done').waitFor({ timeout: TRANSFER_TIMEOUT_MS })
      const figures = await heap.stop()
      console.log(
        `web files, ${FILE_MIB} MiB through the service worker: bob's JS heap after a collection +${mib(figures.collectedJsHeap)}, with array buffers +${mib(figures.live)} (${figures.liveSamples} samples)`,
      )
      expect(
        createHash('sha256')
          .update(await readFile(path!))
          .digest('hex'),
      ).toBe(sourceSha256)
      // A Blob of the whole file (what this path replaced) is array buffers the page holds until the end.
      expect(figures.liveSamples).toBeGreaterThan(0)
      expect(figures.live).toBeLessThan(FILE_BYTES / 2)
    },
    TRANSFER_TIMEOUT_MS,
  )
})
