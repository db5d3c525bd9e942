/**
 * `BENCH_SUITES=calls`: the web app's voice and video calls (issue 17) in Debian's Chromium with its fake camera and
 * microphone, against a real relay serving a production build, as `test/web-call.test.ts` runs them. Three series:
 *
 * - **setup**: two signed-in pages in one room; the caller clicks "Video call", the callee clicks "Join with video"
 *   the animation frame its ongoing-call banner appears (clicked in the page, so no harness delay is added; the
 *   click's time is reported), and the clock stops at the first decoded remote video frame on each page (the call
 *   connection's `getStats()` polled every 10 ms). The phases come from the pages themselves:
 *   `getUserMedia`, the `call` signals (their send time `sentAtMs` and when each page got them), ICE gathering, the
 *   connection's ICE and DTLS states. Baseline: a bare pair of `RTCPeerConnection`s in one page (same camera and
 *   microphone constraints, candidates handed over in memory), `getUserMedia` → first decoded frame.
 * - **cpu**: the same two-page call with the app's SFrame worker and with a pass-through worker (the one the call
 *   test serves, `PASS_THROUGH_WORKER`: frames go through unencrypted), each on a pair of pages of its own, same
 *   window, same camera; rounds alternate the order. CPU seconds of every Chromium process (the browser, renderers,
 *   GPU and utility processes: `/proc/<pid>/stat`, descendants of this process), and from `getStats()` video frames
 *   encoded and decoded per second, the resolution sent, and why WebRTC limited quality. Also an idle window (every
 *   page signed in, no call).
 * - **mesh**: room calls of `BENCH_CALLS_SIZES` participants (one page each, one browser): per size the CPU of every
 *   Chromium process, the video frames each page decoded per second from each other page, and whether every page
 *   decoded every other.
 *
 * The full report goes to `bench/results/calls-latest.json`, and one line `calls: {…}` is printed.
 *
 * With `BENCH_CALLS_SFU=<interface>` (what `calls-sfu.ts` sets, inside a network namespace of its own) the relay runs
 * its forwarding unit on that interface, so every room call goes through Janus: the **mesh** series then measures
 * calls through the unit (records `calls.sfu.*`, report `bench/results/calls-sfu-latest.json`).
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createClient, type SecureChatClient } from '@securechat/sdk/client'
import { walletSigner } from '@securechat/sdk/identity'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { DEFAULT_CLI_DOMAIN, DEVNET_CHAIN_ID } from '../node/src/constants.ts'
import type { Relay } from '../node/src/relay/create-relay.ts'
import { sfu } from '../node/src/relay/sfu/sfu-service.ts'
import {
  type AppPage,
  buildWebApp,
  launchChromium,
  openAppPage,
  signInWithTestWallet,
} from '../test/helpers/browser.ts'
import { PASS_THROUGH_WORKER } from '../test/helpers/call-stats.ts'
import { startTestChain, type TestChain } from '../test/helpers/chain.ts'
import { startBrowserRelay } from '../test/helpers/web-stack.ts'
import { round, type Stats, stats } from './stats.ts'
import { type BenchRecord, compared } from './types.ts'

/** Issue 17: click → first decoded remote frame within this, on loopback. */
export const SETUP_GOAL_MS = 1_000
/** Issue 17: a call's CPU with SFrame at most this many times the same call without. */
export const CPU_GOAL_RATIO = 1.1
export const DEFAULT_SETUP_RUNS = 5
export const DEFAULT_WINDOW_SECONDS = 10
export const DEFAULT_CPU_ROUNDS = 2
export const DEFAULT_SIZES = [2, 3, 4]
/** A mesh size holds when every page decodes every other at least this many video frames a second. */
export const DEFAULT_MIN_FPS = 10
/** After every page decodes every other, before a window: the encoders' bitrate and resolution settle. */
export const DEFAULT_SETTLE_MS = 3_000
/** How long a mesh may take until every page decodes every other. */
export const DEFAULT_MESH_TIMEOUT_MS = 60_000
/** Any single wait of the suite; generous, never a speed check. */
const STEP_TIMEOUT_MS = 45_000
const ROOM = 'bench-calls'
/** `chain.accounts` indexes of the pages; 0 deployed the contracts, 5 is the room's creator (a Node client). */
const ACCOUNTS = [1, 2, 3, 4, 6, 7, 8, 9, 10, 11]
const RESULTS_DIR = resolve(import.meta.dirname, 'results')
const WORKER_ROUTE = /\/assets\/call-worker-[^/]*\.js$/
const BLANK_PATH = '/bench-calls-blank'

/** The interface the relay's forwarding unit uses, when this run measures calls through it. */
const SFU_INTERFACE = process.env.BENCH_CALLS_SFU || undefined
/** What the records and the report are named by: calls through the forwarding unit, or the mesh. */
const MODE = SFU_INTERFACE === undefined ? 'mesh' : 'sfu'
const REPORT = SFU_INTERFACE === undefined ? 'calls' : 'calls-sfu'

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms))
const load = (): number[] => loadavg().map((l) => Number(l.toFixed(2)))

interface Options {
  parts: Set<string>
  runs: number
  seconds: number
  rounds: number
  sizes: number[]
  minFps: number
  settleMs: number
  meshTimeoutMs: number
}

function options(): Options {
  const int = (name: string, fallback: number): number => {
    const raw = process.env[name]
    if (raw === undefined || raw === '') return fallback
    const value = Number(raw)
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${raw}`)
    return value
  }
  const sizes = (process.env.BENCH_CALLS_SIZES ?? '').split(',').filter(Boolean).map(Number)
  if (sizes.some((n) => !Number.isInteger(n) || n < 2 || n > ACCOUNTS.length)) {
    throw new RangeError(`BENCH_CALLS_SIZES: sizes from 2 to ${ACCOUNTS.length}, got ${process.env.BENCH_CALLS_SIZES}`)
  }
  const parts = (process.env.BENCH_CALLS_PARTS ?? 'setup,cpu,mesh').split(',').filter(Boolean)
  const unknown = parts.filter((p) => !['setup', 'cpu', 'mesh'].includes(p))
  if (unknown.length > 0) throw new RangeError(`BENCH_CALLS_PARTS: setup, cpu, mesh; got ${unknown.join(', ')}`)
  return {
    parts: new Set(parts),
    runs: int('BENCH_CALLS_RUNS', DEFAULT_SETUP_RUNS),
    seconds: int('BENCH_CALLS_SECONDS', DEFAULT_WINDOW_SECONDS),
    rounds: int('BENCH_CALLS_ROUNDS', DEFAULT_CPU_ROUNDS),
    sizes: sizes.length > 0 ? sizes : DEFAULT_SIZES,
    minFps: int('BENCH_CALLS_MIN_FPS', DEFAULT_MIN_FPS),
    settleMs: int('BENCH_CALLS_SETTLE_MS', DEFAULT_SETTLE_MS),
    meshTimeoutMs: int('BENCH_CALLS_MESH_TIMEOUT_MS', DEFAULT_MESH_TIMEOUT_MS),
  }
}

interface Environment {
  chain: TestChain
  relay: Relay
  browser: Browser
  url: string
  roomId: string
  invite: string
  /** Every page opened (closed at the end). */
  pages: AppPage[]
}

export async function run(): Promise<BenchRecord[]> {
  const opts = options()
  const log = (line: string): void => console.log(`calls: ${line}`)
  const loadBefore = load()
  log(
    `parts ${[...opts.parts].join(',')}; ${opts.runs} setup runs (+1 warm-up), ${opts.rounds} cpu rounds, mesh sizes ${opts.sizes.join(',')}, ${opts.seconds} s windows; ${availableParallelism()} cores, load average ${loadBefore.join(' ')}`,
  )
  const cleanups: Array<() => Promise<unknown> | undefined> = []
  try {
    const env = await startEnvironment(cleanups, log)
    const report: Record<string, unknown> = {
      suite: 'calls',
      date: new Date().toISOString(),
      chromium: env.browser.version(),
      machine: { cores: availableParallelism(), loadAverageBefore: loadBefore },
      options: { ...opts, parts: [...opts.parts] },
    }
    const records: BenchRecord[] = []
    const caller = await openPage(env, 0, false)
    const callee = await openPage(env, 1, false)
    log(`two pages signed in and in the room (load ${load().join(' ')})`)
    if (opts.parts.has('setup')) {
      const setup = await setupSeries(env, caller, callee, opts, log)
      report.setup = setup.report
      records.push(...setup.records)
    }
    if (opts.parts.has('cpu')) {
      const cpu = await cpuSeries(env, caller, callee, opts, log)
      report.cpu = cpu.report
      records.push(...cpu.records)
    }
    if (opts.parts.has('mesh')) {
      const mesh = await meshSeries(env, [caller, callee], opts, log)
      report.mesh = mesh.report
      records.push(...mesh.records)
    }
    ;(report.machine as Record<string, unknown>).loadAverageAfter = load()
    const json = `${JSON.stringify(report, null, 2)}\n`
    mkdirSync(RESULTS_DIR, { recursive: true })
    writeFileSync(join(RESULTS_DIR, `${REPORT}-${String(report.date).replaceAll(':', '-')}.json`), json)
    writeFileSync(join(RESULTS_DIR, `${REPORT}-latest.json`), json)
    console.log(`${REPORT}: ${JSON.stringify(summaryOf(report))}`)
    log(`wrote bench/results/${REPORT}-latest.json`)
    return records
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup()?.catch(() => {})
  }
}

/** The build (or `BENCH_WEB_ROOT`), the chain, the relay serving it, Chromium, and a room made by a Node client. */
async function startEnvironment(
  cleanups: Array<() => Promise<unknown> | undefined>,
  log: (line: string) => void,
): Promise<Environment> {
  const started = performance.now()
  let webRoot = process.env.BENCH_WEB_ROOT
  if (webRoot === undefined || webRoot === '') {
    const dir = mkdtempSync(join(tmpdir(), 'securechat-bench-calls-'))
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }))
    await buildWebApp(dir)
    webRoot = dir
  } else {
    webRoot = resolve(webRoot)
  }
  const chain = await startTestChain()
  cleanups.push(() => chain.stop())
  // No `iceServers` in its /config.json: host candidates only, as on loopback with `npm start`.
  let dataDir: string | undefined
  if (SFU_INTERFACE !== undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'securechat-bench-calls-relay-'))
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }))
    dataDir = dir
  }
  const relay = await startBrowserRelay(chain, {
    webRoot,
    ...(dataDir === undefined ? {} : { dataDir, services: { sfu: sfu({ interface: SFU_INTERFACE! }) } }),
  })
  cleanups.push(() => relay.stop())
  const browser = await launchChromium()
  cleanups.push(() => browser.close())
  const url = relay.services.http!.url
  const host = new URL(url).host
  const creator: SecureChatClient = createClient({
    domain: DEFAULT_CLI_DOMAIN,
    chainId: DEVNET_CHAIN_ID,
    signer: walletSigner({ type: 'eoa', signer: chain.accounts[5]! }),
    bootstrap: [relay.multiaddrs[0]!],
    provider: chain.provider,
  })
  cleanups.push(() => creator.stop())
  await creator.start()
  const created = await creator.createRoom({ name: ROOM, domains: ['localhost', host] })
  const env = { chain, relay, browser, url, roomId: created.room.id, invite: created.invite, pages: [] as AppPage[] }
  cleanups.push(async () => {
    for (const page of env.pages) await page.context.close().catch(() => {})
  })
  log(`app built, chain, relay, Chromium ${browser.version()} and the room ready in ${seconds(started)} s`)
  return env
}

function seconds(since: number): string {
  return ((performance.now() - since) / 1000).toFixed(1)
}

/** A fresh context of `ACCOUNTS[index]`, the call probe installed, signed in, the room open. */
async function openPage(env: Environment, index: number, passThrough: boolean): Promise<AppPage> {
  const person = await openAppPage(
    env.browser,
    env.chain.accounts[ACCOUNTS[index]!]!,
    env.chain.chainId,
    env.url,
    async (context: BrowserContext) => {
      await context.addInitScript(installCallProbe)
      await context.route(`**${BLANK_PATH}`, (route) =>
        route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>blank</title>' }),
      )
      if (passThrough) {
        await context.route(WORKER_ROUTE, (route) =>
          route.fulfill({
            contentType: 'text/javascript',
            headers: { 'cache-control': 'no-store' },
            body: PASS_THROUGH_WORKER,
          }),
        )
      }
    },
  )
  env.pages.push(person)
  await signInWithTestWallet(person.page, STEP_TIMEOUT_MS)
  await person.page.goto(`${env.url}#invite=${encodeURIComponent(env.invite)}`)
  await person.page.getByRole('heading', { name: `# ${ROOM}` }).waitFor({ timeout: STEP_TIMEOUT_MS })
  return person
}

async function closePage(env: Environment, person: AppPage): Promise<void> {
  await person.context.close().catch(() => {})
  env.pages.splice(env.pages.indexOf(person), 1)
}

// --- in the page ---

/** One `RTCPeerConnection` of a page, as the probe saw it (epoch ms). */
interface PcRecord {
  created: number
  /** Has media transceivers (seen at its local description or connection): a call's, not one of libp2p's. */
  media: boolean
  localOffer?: number
  localAnswer?: number
  remoteOffer?: number
  remoteAnswer?: number
  gathered?: number
  iceConnected?: number
  connected?: number
  firstFrame?: number
  firstAudio?: number
}

interface Probe {
  gum: { start: number; end?: number }[]
  clicks: { text: string; at: number }[]
  pcs: PcRecord[]
  signals: { op: string; from: string; to?: string; sentAtMs: number; at: number }[]
  autoJoin: boolean
  ongoingAt?: number
  joinClickAt?: number
}

/**
 * Runs in every page before the app (an init script): records `getUserMedia`, clicks, every `RTCPeerConnection`'s
 * descriptions and states and its first decoded video frame, and the rooms' `call` signals; with `autoJoin` set, it
 * clicks "Join with video" the animation frame the ongoing-call banner shows. Nothing is added to the app.
 */
function installCallProbe(): void {
  const stamp = (): number => performance.timeOrigin + performance.now()
  const probe: Probe = { gum: [], clicks: [], pcs: [], signals: [], autoJoin: false }
  Object.defineProperty(globalThis, '__benchCalls', { value: probe })
  const devices = navigator.mediaDevices
  if (devices?.getUserMedia !== undefined) {
    const original = devices.getUserMedia.bind(devices)
    devices.getUserMedia = async (constraints?: MediaStreamConstraints) => {
      const entry: { start: number; end?: number } = { start: stamp() }
      probe.gum.push(entry)
      try {
        return await original(constraints)
      } finally {
        entry.end = stamp()
      }
    }
  }
  addEventListener(
    'click',
    (event) => {
      // The button's accessible name: its label, whatever inside it (a label or an icon) took the click.
      const button = event.composedPath().find((node) => node instanceof HTMLButtonElement) as Element | undefined
      const target = button ?? (event.composedPath()[0] as Element | undefined)
      const name = target?.getAttribute('aria-label') ?? target?.textContent ?? ''
      probe.clicks.push({ text: name.trim().slice(0, 40), at: stamp() })
    },
    { capture: true },
  )
  const Original = globalThis.RTCPeerConnection
  globalThis.RTCPeerConnection = class extends Original {
    readonly #record: PcRecord
    constructor(config?: RTCConfiguration) {
      super(config)
      const record: PcRecord = { created: stamp(), media: false }
      this.#record = record
      probe.pcs.push(record)
      this.addEventListener('icegatheringstatechange', () => {
        if (this.iceGatheringState === 'complete') record.gathered ??= stamp()
      })
      this.addEventListener('iceconnectionstatechange', () => {
        if (this.iceConnectionState === 'connected' || this.iceConnectionState === 'completed') {
          record.iceConnected ??= stamp()
        }
      })
      this.addEventListener('connectionstatechange', () => {
        if (this.connectionState !== 'connected' || record.connected !== undefined) return
        record.connected = stamp()
        record.media = this.getTransceivers().length > 0
        if (!record.media) return
        // The first decoded video frame and the first audio samples, from getStats.
        const until = stamp() + 30_000
        const poll = setInterval(() => {
          if (this.connectionState === 'closed' || stamp() > until) return clearInterval(poll)
          void this.getStats().then((stats) => {
            stats.forEach(
              (r: { type: string; kind?: string; framesDecoded?: number; totalSamplesReceived?: number }) => {
                if (r.type !== 'inbound-rtp') return
                if (r.kind === 'video' && (r.framesDecoded ?? 0) > 0) record.firstFrame ??= stamp()
                if (r.kind === 'audio' && (r.totalSamplesReceived ?? 0) > 0) record.firstAudio ??= stamp()
              },
            )
            if (record.firstFrame !== undefined && record.firstAudio !== undefined) clearInterval(poll)
          })
        }, 10)
      })
    }
    override async setLocalDescription(description?: RTCLocalSessionDescriptionInit): Promise<void> {
      await super.setLocalDescription(description)
      if (this.getTransceivers().length > 0) this.#record.media = true
      if (this.localDescription?.type === 'offer') this.#record.localOffer ??= stamp()
      if (this.localDescription?.type === 'answer') this.#record.localAnswer ??= stamp()
    }
    override async setRemoteDescription(description: RTCSessionDescriptionInit): Promise<void> {
      if (description.type === 'offer') this.#record.remoteOffer ??= stamp()
      if (description.type === 'answer') this.#record.remoteAnswer ??= stamp()
      await super.setRemoteDescription(description)
    }
  }
  const deepFind = (root: Document | ShadowRoot, selector: string): Element | null => {
    const hit = root.querySelector(selector)
    if (hit !== null) return hit
    for (const element of root.querySelectorAll('*')) {
      if (element.shadowRoot !== null) {
        const found = deepFind(element.shadowRoot, selector)
        if (found !== null) return found
      }
    }
    return null
  }
  Object.defineProperty(globalThis, '__benchDeepFind', { value: deepFind })
  const hooked = new WeakSet<EventTarget>()
  type SignalDetail = { senderPeerId: string; sentAtMs: number; signal: { op: string; to?: string } }
  const onSignal = (event: Event): void => {
    const { senderPeerId, sentAtMs, signal } = (event as CustomEvent<SignalDetail>).detail
    probe.signals.push({
      op: signal.op,
      from: senderPeerId,
      ...(signal.to === undefined ? {} : { to: signal.to }),
      sentAtMs,
      at: stamp(),
    })
  }
  setInterval(() => {
    const app = document.querySelector('sc-app') as unknown as { session?: { client?: { rooms: EventTarget[] } } }
    for (const room of app?.session?.client?.rooms ?? []) {
      if (hooked.has(room)) continue
      hooked.add(room)
      room.addEventListener('call:signal', onSignal)
    }
  }, 250)
  // Armed per run: an animation-frame loop only while it waits (an endless one would keep idle pages drawing).
  const tick = (): void => {
    if (!probe.autoJoin) return
    const banner = deepFind(document, '[data-testid="call-ongoing"]')
    if (banner !== null) {
      probe.ongoingAt ??= stamp()
      const join = [...banner.querySelectorAll('button')].find((b) => b.textContent?.trim() === 'Join with video')
      if (join !== undefined && !join.disabled) {
        probe.autoJoin = false
        probe.joinClickAt = stamp()
        join.click()
        return
      }
    }
    requestAnimationFrame(tick)
  }
  Object.defineProperty(globalThis, '__benchArmJoin', {
    value: () => {
      probe.autoJoin = true
      requestAnimationFrame(tick)
    },
  })
}

type AppCalls = {
  active?: { callId: string; mesh: AppMesh }
  ongoingIn(conversation: string): { callId: string } | undefined
  start(conversation: string, video: boolean): Promise<void>
  join(conversation: string, callId: string, video: boolean): Promise<void>
  leave(): Promise<void>
}
type AppMesh = {
  participants: { peerId: string; address: string }[]
  sfuRelay: string | undefined
  publisher: RTCPeerConnection | undefined
  peerOfMid(mid: string | null): string | undefined
  connectionOf(peerId: string): RTCPeerConnection | undefined
  workerStats(): Promise<{
    sent: number
    unsent: number
    received: Record<string, { decrypted: number; dropped: number }>
  }>
}

/** What a page's call received and sent, per other participant, from getStats (cumulative counters). */
interface Snapshot {
  at: number
  peers: Array<{
    peerId: string
    connection: string
    framesDecoded: number
    framesEncoded: number
    framesSent: number
    decodeSeconds: number
    encodeSeconds: number
    sentWidth: number | undefined
    sentHeight: number | undefined
    receivedWidth: number | undefined
    receivedHeight: number | undefined
    qualityLimitation: string | undefined
    audioEnergy: number
  }>
  worker: { sent: number; unsent: number; decrypted: number; dropped: number } | undefined
}

function snapshot(page: Page): Promise<Snapshot> {
  return page.evaluate(async () => {
    const app = document.querySelector('sc-app') as unknown as { calls?: AppCalls }
    const mesh = app.calls?.active?.mesh
    const peers: Snapshot['peers'] = []
    // Through a forwarding unit every participant's media arrives on one connection (its streams told apart by mid),
    // and this page's goes out once, on another: counted with the first participant.
    const viaUnit = mesh?.sfuRelay !== undefined
    const sent = viaUnit ? await mesh!.publisher?.getStats() : undefined
    for (const [index, participant] of (mesh?.participants ?? []).entries()) {
      const pc = mesh!.connectionOf(participant.peerId)
      const entry: Snapshot['peers'][number] = {
        peerId: participant.peerId,
        connection: pc?.connectionState ?? 'none',
        framesDecoded: 0,
        framesEncoded: 0,
        framesSent: 0,
        decodeSeconds: 0,
        encodeSeconds: 0,
        sentWidth: undefined,
        sentHeight: undefined,
        receivedWidth: undefined,
        receivedHeight: undefined,
        qualityLimitation: undefined,
        audioEnergy: 0,
      }
      const stats = await pc?.getStats()
      const count = (r: Record<string, unknown>): void => {
        const n = (key: string): number => (typeof r[key] === 'number' ? (r[key] as number) : 0)
        const o = (key: string): number | undefined => (typeof r[key] === 'number' ? (r[key] as number) : undefined)
        if (viaUnit && r.type === 'inbound-rtp') {
          if (mesh!.peerOfMid(typeof r.mid === 'string' ? r.mid : null) !== participant.peerId) return
        }
        if (r.type === 'inbound-rtp' && r.kind === 'video') {
          entry.framesDecoded += n('framesDecoded')
          entry.decodeSeconds += n('totalDecodeTime')
          entry.receivedWidth = o('frameWidth')
          entry.receivedHeight = o('frameHeight')
        }
        if (r.type === 'inbound-rtp' && r.kind === 'audio') entry.audioEnergy += n('totalAudioEnergy')
        if (r.type === 'outbound-rtp' && r.kind === 'video') {
          entry.framesEncoded += n('framesEncoded')
          entry.framesSent += n('framesSent')
          entry.encodeSeconds += n('totalEncodeTime')
          entry.sentWidth = o('frameWidth')
          entry.sentHeight = o('frameHeight')
          entry.qualityLimitation =
            typeof r.qualityLimitationReason === 'string' ? r.qualityLimitationReason : undefined
        }
      }
      stats?.forEach((r: Record<string, unknown>) => {
        if (!viaUnit || r.type === 'inbound-rtp') count(r)
      })
      if (viaUnit && index === 0) sent?.forEach(count)
      peers.push(entry)
    }
    const worker = mesh === undefined ? undefined : await mesh.workerStats()
    let decrypted = 0
    let dropped = 0
    for (const count of Object.values(worker?.received ?? {})) {
      decrypted += count.decrypted
      dropped += count.dropped
    }
    return {
      at: performance.timeOrigin + performance.now(),
      peers,
      worker: worker === undefined ? undefined : { sent: worker.sent, unsent: worker.unsent, decrypted, dropped },
    }
  })
}

function readProbe(page: Page): Promise<Probe> {
  return page.evaluate(() => structuredClone((globalThis as unknown as { __benchCalls: Probe }).__benchCalls))
}

function resetProbe(page: Page): Promise<void> {
  return page.evaluate(() => {
    const probe = (globalThis as unknown as { __benchCalls: Probe }).__benchCalls
    probe.gum.length = 0
    probe.clicks.length = 0
    probe.pcs.length = 0
    probe.signals.length = 0
    probe.autoJoin = false
    delete probe.ongoingAt
    delete probe.joinClickAt
  })
}

function peerIdOf(page: Page): Promise<string> {
  return page.evaluate(() => {
    const app = document.querySelector('sc-app') as unknown as {
      session: { client: { peerId: { toString(): string } } }
    }
    return app.session.client.peerId.toString()
  })
}

async function startCall(page: Page, roomId: string): Promise<string> {
  return page.evaluate(async (room) => {
    const calls = (document.querySelector('sc-app') as unknown as { calls: AppCalls }).calls
    await calls.start(room, true)
    const active = calls.active
    if (active === undefined) throw new Error('the call did not start')
    return active.callId
  }, roomId)
}

/**
 * Joins `callId` as the Join button does: once the page heard the call (a `here`), which also says whether it goes
 * through a forwarding unit — a join before that would take a call through the unit for a mesh.
 */
async function joinCall(page: Page, roomId: string, callId: string): Promise<void> {
  await page.waitForFunction(
    ([room, call]) => {
      const calls = (document.querySelector('sc-app') as unknown as { calls: AppCalls }).calls
      return calls.ongoingIn(room!)?.callId === call
    },
    [roomId, callId],
    { timeout: STEP_TIMEOUT_MS, polling: 50 },
  )
  await page.evaluate(
    async ([room, call]) => {
      const calls = (document.querySelector('sc-app') as unknown as { calls: AppCalls }).calls
      await calls.join(room!, call!, true)
      if (calls.active?.callId !== call) throw new Error('the call was not joined')
    },
    [roomId, callId],
  )
}

async function leaveCall(page: Page): Promise<void> {
  await page.evaluate(() => (document.querySelector('sc-app') as unknown as { calls: AppCalls }).calls.leave())
}

/** Waits until no page shows an ongoing call (every `leave` arrived), so the next call starts clean. */
async function waitQuiet(pages: Page[]): Promise<void> {
  for (const page of pages) {
    await page.waitForFunction(
      () =>
        (globalThis as unknown as { __benchDeepFind: (r: Document, s: string) => Element | null }).__benchDeepFind(
          document,
          '[data-testid="call-ongoing"]',
        ) === null,
      undefined,
      { polling: 250, timeout: STEP_TIMEOUT_MS },
    )
  }
}

// --- series 1: call setup ---

interface SetupRun {
  offerer: 'caller' | 'callee'
  /** Caller's click → first decoded video frame on the caller / on the callee. */
  clickToCallerFrameMs: number
  clickToCalleeFrameMs: number
  /** Callee's Join click → first decoded video frame on the callee / on the caller. */
  joinToCalleeFrameMs: number
  joinToCallerFrameMs: number
  /** Caller's click → callee's Join click (the ring: getUserMedia, `here`, banner; the click itself is immediate). */
  clickToJoinMs: number
  phasesMs: Record<string, number | undefined>
  loadAverage: number
}

const SETUP_PHASES: Array<[string, string]> = [
  ['callerGetUserMedia', "caller's click → its getUserMedia resolved (camera and microphone open)"],
  [
    'ring',
    "caller's getUserMedia → callee shows the ongoing-call banner (the mesh starts, its `here` crosses the relay)",
  ],
  ['joinClick', 'banner → Join clicked (in the page, the same animation frame)'],
  ['calleeGetUserMedia', "Join click → callee's getUserMedia resolved"],
  ['toOffer', "callee's getUserMedia → offer sent (`here` exchange, createOffer, ICE gathering)"],
  ['offerDelivery', 'offer sent → offer received (sealed, over the relay, opened)'],
  ['answerTurn', 'offer received → answer sent (setRemoteDescription, createAnswer, ICE gathering)'],
  ['answerDelivery', 'answer sent → answer received'],
  ['iceDtls', "answer received → offerer's connection connected (ICE checks, DTLS)"],
  ['firstFrameCaller', "caller's connection connected → its first decoded frame"],
  ['firstFrameCallee', "callee's connection connected → its first decoded frame"],
]

/** Parts of the phases above, and the first audio: not in their sum. */
const SETUP_DETAILS: Array<[string, string]> = [
  [
    'toOffererConnection',
    "callee's getUserMedia → the offerer's call connection made (when the callee offers: its `here`, the caller's `here` back)",
  ],
  ['offererConnectionToOffer', 'offerer: connection made → offer sent (transceivers, createOffer, ICE gathering)'],
  ['offererGathering', 'offerer: setLocalDescription → ICE gathering complete'],
  ['answererGathering', 'answerer: setLocalDescription → ICE gathering complete'],
  ['offererIceConnected', 'answer received → ICE connected on the offerer'],
  ['callerFirstAudio', "caller's click → its first audio samples received"],
]

async function setupRun(caller: AppPage, callee: AppPage): Promise<SetupRun> {
  await waitQuiet([caller.page, callee.page])
  await resetProbe(caller.page)
  await resetProbe(callee.page)
  await callee.page.evaluate(() => {
    ;(globalThis as unknown as { __benchArmJoin: () => void }).__benchArmJoin()
  })
  await caller.page.getByRole('button', { name: 'Video call' }).click({ timeout: STEP_TIMEOUT_MS })
  const bothFramed = (): boolean => {
    const probe = (globalThis as unknown as { __benchCalls: Probe }).__benchCalls
    return probe.pcs.some((pc) => pc.media && pc.firstFrame !== undefined)
  }
  await caller.page.waitForFunction(bothFramed, undefined, { polling: 100, timeout: STEP_TIMEOUT_MS })
  await callee.page.waitForFunction(bothFramed, undefined, { polling: 100, timeout: STEP_TIMEOUT_MS })
  const c = await readProbe(caller.page)
  const e = await readProbe(callee.page)
  await leaveCall(callee.page)
  await leaveCall(caller.page)
  const callerPeer = await peerIdOf(caller.page)
  const calleePeer = await peerIdOf(callee.page)
  const click = c.clicks.find((k) => k.text === 'Video call')?.at
  const pcC = c.pcs.find((pc) => pc.media && pc.firstFrame !== undefined)
  const pcE = e.pcs.find((pc) => pc.media && pc.firstFrame !== undefined)
  if (click === undefined || pcC === undefined || pcE === undefined || e.joinClickAt === undefined) {
    throw new Error(`setup: marks missing ${JSON.stringify({ click, pcC, pcE, join: e.joinClickAt })}`)
  }
  const offerer = pcC.localOffer !== undefined ? 'caller' : 'callee'
  const [offererProbe, answererProbe] = offerer === 'caller' ? [c, e] : [e, c]
  const [offererPc, answererPc] = offerer === 'caller' ? [pcC, pcE] : [pcE, pcC]
  const offererPeer = offerer === 'caller' ? callerPeer : calleePeer
  const answererPeer = offerer === 'caller' ? calleePeer : callerPeer
  const offer = answererProbe.signals.findLast((s) => s.op === 'offer' && s.from === offererPeer)
  const answer = offererProbe.signals.findLast((s) => s.op === 'answer' && s.from === answererPeer)
  const callerGum = c.gum.at(-1)?.end
  const calleeGum = e.gum.at(-1)?.end
  const diff = (a: number | undefined, b: number | undefined): number | undefined =>
    a === undefined || b === undefined ? undefined : round(a - b)
  return {
    offerer,
    clickToCallerFrameMs: round(pcC.firstFrame! - click),
    clickToCalleeFrameMs: round(pcE.firstFrame! - click),
    joinToCalleeFrameMs: round(pcE.firstFrame! - e.joinClickAt),
    joinToCallerFrameMs: round(pcC.firstFrame! - e.joinClickAt),
    clickToJoinMs: round(e.joinClickAt - click),
    phasesMs: {
      callerGetUserMedia: diff(callerGum, click),
      ring: diff(e.ongoingAt, callerGum),
      joinClick: diff(e.joinClickAt, e.ongoingAt),
      calleeGetUserMedia: diff(calleeGum, e.joinClickAt),
      toOffer: diff(offer?.sentAtMs, calleeGum),
      offerDelivery: diff(offer?.at, offer?.sentAtMs),
      answerTurn: diff(answer?.sentAtMs, offer?.at),
      answerDelivery: diff(answer?.at, answer?.sentAtMs),
      iceDtls: diff(offererPc.connected, answer?.at),
      firstFrameCaller: diff(pcC.firstFrame, pcC.connected),
      firstFrameCallee: diff(pcE.firstFrame, pcE.connected),
      // Not in the sum: parts of the phases above. toOffer = toOffererConnection + offererConnectionToOffer.
      toOffererConnection: diff(offererPc.created, calleeGum),
      offererConnectionToOffer: diff(offer?.sentAtMs, offererPc.created),
      offererGathering: diff(offererPc.gathered, offererPc.localOffer),
      answererGathering: diff(answererPc.gathered, answererPc.localAnswer),
      offererIceConnected: diff(offererPc.iceConnected, answer?.at),
      callerFirstAudio: diff(pcC.firstAudio, click),
    },
    loadAverage: loadavg()[0]!,
  }
}

/** Baseline: two `RTCPeerConnection`s in one page, getUserMedia with the app's constraints → first decoded frame. */
async function barePairRun(page: Page): Promise<{ totalMs: number; getUserMediaMs: number; connectMs: number }> {
  return page.evaluate(async () => {
    const t0 = performance.now()
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
      video: { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 24 } },
    })
    const t1 = performance.now()
    const a = new RTCPeerConnection()
    const b = new RTCPeerConnection()
    a.onicecandidate = (e) => {
      if (e.candidate !== null) void b.addIceCandidate(e.candidate)
    }
    b.onicecandidate = (e) => {
      if (e.candidate !== null) void a.addIceCandidate(e.candidate)
    }
    for (const track of stream.getTracks()) a.addTrack(track, stream)
    const connected = new Promise<number>((done) =>
      b.addEventListener('connectionstatechange', () => {
        if (b.connectionState === 'connected') done(performance.now())
      }),
    )
    const offer = await a.createOffer()
    await a.setLocalDescription(offer)
    await b.setRemoteDescription(offer)
    const answer = await b.createAnswer()
    await b.setLocalDescription(answer)
    await a.setRemoteDescription(answer)
    const t2 = await connected
    let t3 = 0
    while (t3 === 0) {
      const stats = await b.getStats()
      stats.forEach((r: { type: string; kind?: string; framesDecoded?: number }) => {
        if (r.type === 'inbound-rtp' && r.kind === 'video' && (r.framesDecoded ?? 0) > 0) t3 = performance.now()
      })
      if (t3 === 0) await new Promise((done) => setTimeout(done, 10))
    }
    a.close()
    b.close()
    for (const track of stream.getTracks()) track.stop()
    return { totalMs: t3 - t0, getUserMediaMs: t1 - t0, connectMs: t2 - t1 }
  })
}

async function setupSeries(
  env: Environment,
  caller: AppPage,
  callee: AppPage,
  opts: Options,
  log: (line: string) => void,
): Promise<{ report: unknown; records: BenchRecord[] }> {
  const started = performance.now()
  const warmup = await setupRun(caller, callee)
  log(`setup warm-up: click → caller's first frame ${warmup.clickToCallerFrameMs} ms`)
  const runs: SetupRun[] = []
  for (let i = 0; i < opts.runs; i++) {
    await sleep(2_000)
    // The pages swap roles every run: which one offers depends on their PeerIds, and both orders are measured.
    const r = i % 2 === 0 ? await setupRun(caller, callee) : await setupRun(callee, caller)
    runs.push(r)
    log(
      `setup ${i + 1}/${opts.runs}: click → caller frame ${r.clickToCallerFrameMs} ms, → callee frame ${r.clickToCalleeFrameMs} ms, join → callee frame ${r.joinToCalleeFrameMs} ms (offerer ${r.offerer}) ${JSON.stringify(r.phasesMs)} (load ${r.loadAverage.toFixed(2)})`,
    )
  }
  const blank = await caller.context.newPage()
  await blank.goto(`${env.url}${BLANK_PATH}`)
  await barePairRun(blank)
  const bare: Array<{ totalMs: number; getUserMediaMs: number; connectMs: number }> = []
  for (let i = 0; i < opts.runs; i++) bare.push(await barePairRun(blank))
  await blank.close()
  log(`bare RTCPeerConnection pair with the camera: ${bare.map((b) => round(b.totalMs)).join(', ')} ms`)

  const clickToCaller = stats(runs.map((r) => r.clickToCallerFrameMs))
  const clickToCallee = stats(runs.map((r) => r.clickToCalleeFrameMs))
  const joinToCallee = stats(runs.map((r) => r.joinToCalleeFrameMs))
  const joinToCaller = stats(runs.map((r) => r.joinToCallerFrameMs))
  const bareStats = stats(bare.map((b) => b.totalMs))
  const phases = Object.fromEntries(
    [...SETUP_PHASES, ...SETUP_DETAILS].map(([key, label]) => [
      `${key}: ${label}`,
      stats(runs.flatMap((r) => r.phasesMs[key] ?? [])),
    ]),
  )
  const report = {
    what: "two pages in one room: the caller clicks Video call, the callee clicks Join with video the animation frame its banner shows; the first decoded remote video frame on each page (getStats polled every 10 ms once the call's connection is connected)",
    goalMs: SETUP_GOAL_MS,
    clickToCallerFrameMs: clickToCaller,
    clickToCalleeFrameMs: clickToCallee,
    joinToCalleeFrameMs: joinToCallee,
    joinToCallerFrameMs: joinToCaller,
    clickToJoinMs: stats(runs.map((r) => r.clickToJoinMs)),
    goalMet: clickToCaller.median <= SETUP_GOAL_MS,
    goalMetAtP90: clickToCaller.p90 <= SETUP_GOAL_MS,
    phasesMs: phases,
    offerers: {
      caller: runs.filter((r) => r.offerer === 'caller').length,
      callee: runs.filter((r) => r.offerer === 'callee').length,
    },
    byOfferer: Object.fromEntries(
      (['caller', 'callee'] as const).map((who) => {
        const mine = runs.filter((r) => r.offerer === who)
        return [
          who,
          {
            clickToCallerFrameMs: stats(mine.map((r) => r.clickToCallerFrameMs)),
            joinToCalleeFrameMs: stats(mine.map((r) => r.joinToCalleeFrameMs)),
          },
        ]
      }),
    ),
    baseline: {
      what: "two RTCPeerConnections in one page: getUserMedia with the app's constraints, the tracks added, offer and answer and candidates handed over in memory, until the first decoded video frame",
      totalMs: bareStats,
      getUserMediaMs: stats(bare.map((b) => b.getUserMediaMs)),
      connectMs: stats(bare.map((b) => b.connectMs)),
    },
    runs,
    warmup,
    seconds: Number(seconds(started)),
  }
  log(
    `setup: click → caller frame median ${clickToCaller.median} ms (${clickToCaller.min}–${clickToCaller.max}), → callee frame ${clickToCallee.median} ms, join → callee frame ${joinToCallee.median} ms; goal ≤ ${SETUP_GOAL_MS} ms ${report.goalMet ? 'met' : 'MISSED'}; bare pair ${bareStats.median} ms`,
  )
  const records: BenchRecord[] = [
    compared({
      name: 'calls.setup.click_to_caller_frame (median; baseline bare pair)',
      unit: 'ms',
      value: clickToCaller.median,
      baseline: bareStats.median,
    }),
    compared({
      name: 'calls.setup.click_to_caller_frame.p90',
      unit: 'ms',
      value: clickToCaller.p90,
      baseline: bareStats.p90,
    }),
    { name: 'calls.setup.click_to_callee_frame', unit: 'ms', value: clickToCallee.median },
    { name: 'calls.setup.join_to_callee_frame', unit: 'ms', value: joinToCallee.median },
    { name: 'calls.setup.join_to_caller_frame', unit: 'ms', value: joinToCaller.median },
  ]
  return { report, records }
}

// --- the CPU of Chromium's processes ---

interface CpuReading {
  at: number
  /** CPU seconds (user + system) per process, by pid, with its kind. */
  processes: Map<number, { kind: string; seconds: number }>
  /** The renderers' threads (`pid:tid`), with their names (`/proc/<pid>/task/<tid>/stat`, 15 characters). */
  threads: Map<string, { name: string; seconds: number }>
  bench: NodeJS.CpuUsage
}

const CLOCK_TICKS = 100

/** Every process descending from this one whose command is Chromium's, with its CPU seconds so far. */
function readCpu(): CpuReading {
  const parents = new Map<number, number>()
  const times = new Map<number, number>()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      parents.set(Number(name), Number(fields[1]))
      times.set(Number(name), (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS)
    } catch {
      // Gone meanwhile.
    }
  }
  const children = new Map<number, number[]>()
  for (const [pid, ppid] of parents) children.set(ppid, [...(children.get(ppid) ?? []), pid])
  const processes = new Map<number, { kind: string; seconds: number }>()
  const threads = new Map<string, { name: string; seconds: number }>()
  const visit = (pid: number): void => {
    let cmdline = ''
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ')
    } catch {
      return
    }
    const type = /--type=(\S+)/.exec(cmdline)?.[1]
    const sub = /--utility-sub-type=(\S+)/.exec(cmdline)?.[1]
    const kind = type === undefined ? 'browser' : sub === undefined ? type : `${type}:${sub.split('.')[0]}`
    processes.set(pid, { kind, seconds: times.get(pid) ?? 0 })
    if (kind === 'renderer') {
      try {
        for (const tid of readdirSync(`/proc/${pid}/task`)) {
          const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
          const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
          const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
          threads.set(`${pid}:${tid}`, { name, seconds: (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS })
        }
      } catch {
        // Gone meanwhile.
      }
    }
    for (const child of children.get(pid) ?? []) visit(child)
  }
  for (const child of children.get(process.pid) ?? []) {
    let cmdline = ''
    try {
      cmdline = readFileSync(`/proc/${child}/cmdline`, 'utf8')
    } catch {
      continue
    }
    if (/chrom/i.test(cmdline.split('\0')[0] ?? '')) visit(child)
  }
  return { at: performance.now(), processes, threads, bench: process.cpuUsage() }
}

interface CpuDelta {
  wallSeconds: number
  /** Every Chromium process's CPU seconds over the window. */
  chromiumSeconds: number
  /** The same as cores busy (CPU seconds per second). */
  chromiumCores: number
  byKind: Record<string, number>
  /**
   * The renderers' CPU seconds by thread name, the busiest first: `DedicatedWorker` is the call's frame worker (SFrame
   * or pass-through), `chromium` the pages' main threads, `WebRTC_W_and_N` WebRTC's worker and network thread, and
   * `ThreadPoolForeg` the pool that runs the video codecs and WebCrypto.
   */
  rendererThreads: Record<string, number>
  /** This process's (relay, chain client, harness) CPU seconds. */
  benchSeconds: number
}

function cpuDelta(before: CpuReading, after: CpuReading): CpuDelta {
  const byKind: Record<string, number> = {}
  let total = 0
  for (const [pid, entry] of after.processes) {
    // A process that started during the window counts from zero.
    const spent = entry.seconds - (before.processes.get(pid)?.seconds ?? 0)
    byKind[entry.kind] = round((byKind[entry.kind] ?? 0) + spent, 2)
    total += spent
  }
  const threadTotals: Record<string, number> = {}
  for (const [id, entry] of after.threads) {
    threadTotals[entry.name] = (threadTotals[entry.name] ?? 0) + entry.seconds - (before.threads.get(id)?.seconds ?? 0)
  }
  const rendererThreads = Object.fromEntries(
    Object.entries(threadTotals)
      .filter(([, spent]) => spent >= 0.01)
      .sort((x, y) => y[1] - x[1])
      .map(([name, spent]) => [name, round(spent, 2)]),
  )
  const wallSeconds = (after.at - before.at) / 1000
  const bench = process.cpuUsage(before.bench)
  return {
    wallSeconds: round(wallSeconds, 2),
    chromiumSeconds: round(total, 2),
    chromiumCores: round(total / wallSeconds, 3),
    byKind,
    rendererThreads,
    benchSeconds: round((bench.user + bench.system) / 1e6, 2),
  }
}

// --- a call measured over a window ---

interface CallWindow {
  size: number
  /** How long until every page decoded every other (from the first start). */
  connectMs: number | undefined
  /** Per page, ms from the start: each call connection's offer or answer, connected, first frame; signals received. */
  timeline: ReturnType<typeof connectTimeline>[]
  cpu: CpuDelta
  /** Per page: video frames encoded (all its senders) and decoded (from each other page) per second. */
  pages: Array<{
    encodedFps: number
    decodedFpsByPeer: number[]
    sent: string
    received: string[]
    qualityLimitation: string[]
    worker: { sentPerSecond: number; dropped: number } | undefined
  }>
  decodedFpsMin: number
  decodedFpsMean: number
  encodedFpsMean: number
  /** Every page decoded at least one video frame of every other in the window. */
  allDecoded: boolean
  /** CPU milliseconds (every Chromium process) per video frame decoded by any page. */
  cpuMsPerDecodedFrame: number
  loadAverage: number[]
}

/** Every page of `pages` in one call (the first starts it), measured over `seconds` once all decode each other. */
async function callWindow(env: Environment, pages: AppPage[], opts: Options, timeoutMs: number): Promise<CallWindow> {
  for (const person of pages) await resetProbe(person.page)
  const started = performance.now()
  const epoch = performance.timeOrigin + started
  const callId = await startCall(pages[0]!.page, env.roomId)
  for (const person of pages.slice(1)) await joinCall(person.page, env.roomId, callId)
  const others = pages.length - 1
  let connectMs: number | undefined
  const until = performance.now() + timeoutMs
  while (performance.now() < until) {
    const snaps = await Promise.all(pages.map((p) => snapshot(p.page)))
    if (snaps.every((s) => s.peers.length === others && s.peers.every((peer) => peer.framesDecoded > 0))) {
      connectMs = round(performance.now() - started)
      break
    }
    await sleep(250)
  }
  const timeline = await Promise.all(pages.map(async (person) => connectTimeline(await readProbe(person.page), epoch)))
  await sleep(opts.settleMs)
  const cpuBefore = readCpu()
  const before = await Promise.all(pages.map((p) => snapshot(p.page)))
  await sleep(opts.seconds * 1000)
  const after = await Promise.all(pages.map((p) => snapshot(p.page)))
  const cpuAfter = readCpu()
  for (const person of pages) await leaveCall(person.page)
  const cpu = cpuDelta(cpuBefore, cpuAfter)
  let totalDecoded = 0
  const pageFigures = after.map((end, i) => {
    const start = before[i]!
    const span = (end.at - start.at) / 1000
    const decodedFpsByPeer: number[] = []
    let encoded = 0
    for (const peer of end.peers) {
      const first = start.peers.find((p) => p.peerId === peer.peerId)
      const decoded = peer.framesDecoded - (first?.framesDecoded ?? 0)
      totalDecoded += decoded
      decodedFpsByPeer.push(round(decoded / span))
      encoded += peer.framesEncoded - (first?.framesEncoded ?? 0)
    }
    while (decodedFpsByPeer.length < others) decodedFpsByPeer.push(0)
    return {
      encodedFps: round(encoded / span),
      decodedFpsByPeer,
      sent: [
        ...new Set(end.peers.map((p) => (p.sentWidth === undefined ? 'none' : `${p.sentWidth}x${p.sentHeight}`))),
      ].join(','),
      received: end.peers.map((p) =>
        p.receivedWidth === undefined ? 'none' : `${p.receivedWidth}x${p.receivedHeight}`,
      ),
      qualityLimitation: end.peers.map((p) => p.qualityLimitation ?? '?'),
      worker:
        end.worker === undefined || start.worker === undefined
          ? undefined
          : {
              sentPerSecond: round((end.worker.sent - start.worker.sent) / span),
              dropped: end.worker.dropped - start.worker.dropped,
            },
    }
  })
  const allFps = pageFigures.flatMap((p) => p.decodedFpsByPeer)
  return {
    size: pages.length,
    connectMs,
    timeline,
    cpu,
    pages: pageFigures,
    decodedFpsMin: Math.min(...allFps),
    decodedFpsMean: round(allFps.reduce((a, b) => a + b, 0) / allFps.length),
    encodedFpsMean: round(pageFigures.reduce((a, p) => a + p.encodedFps, 0) / pageFigures.length),
    allDecoded: allFps.every((fps) => fps > 0),
    cpuMsPerDecodedFrame: totalDecoded === 0 ? Number.NaN : round((cpu.chromiumSeconds * 1000) / totalDecoded, 2),
    loadAverage: load(),
  }
}

/** A page's call connections and the signals it got, ms from `epoch`: where a slow mesh spent its time. */
function connectTimeline(probe: Probe, epoch: number) {
  const at = (t: number | undefined): number | undefined => (t === undefined ? undefined : round(t - epoch))
  const signals: Record<string, number> = {}
  for (const s of probe.signals) signals[s.op] = (signals[s.op] ?? 0) + 1
  return {
    getUserMedia: at(probe.gum.at(-1)?.end),
    connections: probe.pcs
      .filter((pc) => pc.media)
      .map((pc) => ({
        created: at(pc.created),
        offered: at(pc.localOffer),
        answered: at(pc.localAnswer),
        connected: at(pc.connected),
        firstFrame: at(pc.firstFrame),
      })),
    signals,
  }
}

async function idleWindow(opts: Options): Promise<CpuDelta & { loadAverage: number[] }> {
  const before = readCpu()
  await sleep(opts.seconds * 1000)
  return { ...cpuDelta(before, readCpu()), loadAverage: load() }
}

// --- series 2: CPU with SFrame and with the pass-through worker ---

async function cpuSeries(
  env: Environment,
  a: AppPage,
  b: AppPage,
  opts: Options,
  log: (line: string) => void,
): Promise<{ report: unknown; records: BenchRecord[] }> {
  const started = performance.now()
  // Wallets of their own (the mesh reuses the first ones on fresh devices).
  const c = await openPage(env, ACCOUNTS.length - 2, true)
  const d = await openPage(env, ACCOUNTS.length - 1, true)
  log(`pass-through pages signed in (load ${load().join(' ')})`)
  const pairs = { sframe: [a, b], passThrough: [c, d] }
  await waitQuiet([a, b, c, d].map((p) => p.page))
  const idle = await idleWindow(opts)
  log(`idle, 4 pages: ${idle.chromiumCores} cores ${JSON.stringify(idle.byKind)} (load ${idle.loadAverage.join(' ')})`)
  const rounds: Array<{ sframe: CallWindow; passThrough: CallWindow }> = []
  for (let i = 0; i < opts.rounds; i++) {
    const order = i % 2 === 0 ? (['sframe', 'passThrough'] as const) : (['passThrough', 'sframe'] as const)
    const round_: Partial<{ sframe: CallWindow; passThrough: CallWindow }> = {}
    for (const mode of order) {
      await waitQuiet([a, b, c, d].map((p) => p.page))
      const w = await callWindow(env, pairs[mode], opts, STEP_TIMEOUT_MS)
      if (w.connectMs === undefined) throw new Error(`cpu: the ${mode} pages never decoded each other`)
      round_[mode] = w
      log(
        `cpu round ${i + 1} ${mode}: ${w.cpu.chromiumCores} cores ${JSON.stringify(w.cpu.byKind)}, encoded ${w.encodedFpsMean} fps, decoded ${w.decodedFpsMean} fps, sent ${w.pages.map((p) => p.sent).join(' ')}, limited by ${w.pages.flatMap((p) => p.qualityLimitation).join(',')}, ${w.cpuMsPerDecodedFrame} ms CPU/frame (load ${w.loadAverage.join(' ')})`,
      )
      await sleep(2_000)
    }
    rounds.push(round_ as { sframe: CallWindow; passThrough: CallWindow })
  }
  await closePage(env, c)
  await closePage(env, d)
  const median = (pick: (w: CallWindow) => number, mode: 'sframe' | 'passThrough'): number =>
    medianOf(rounds.map((r) => pick(r[mode])))
  const cores = {
    sframe: median((w) => w.cpu.chromiumCores, 'sframe'),
    passThrough: median((w) => w.cpu.chromiumCores, 'passThrough'),
  }
  const perFrame = {
    sframe: median((w) => w.cpuMsPerDecodedFrame, 'sframe'),
    passThrough: median((w) => w.cpuMsPerDecodedFrame, 'passThrough'),
  }
  const encoded = {
    sframe: median((w) => w.encodedFpsMean, 'sframe'),
    passThrough: median((w) => w.encodedFpsMean, 'passThrough'),
  }
  const decoded = {
    sframe: median((w) => w.decodedFpsMean, 'sframe'),
    passThrough: median((w) => w.decodedFpsMean, 'passThrough'),
  }
  const renderer = {
    sframe: median((w) => w.cpu.byKind.renderer ?? 0, 'sframe'),
    passThrough: median((w) => w.cpu.byKind.renderer ?? 0, 'passThrough'),
  }
  const thread = (name: string) => (w: CallWindow) => w.cpu.rendererThreads[name] ?? 0
  const worker = {
    sframe: median(thread('DedicatedWorker'), 'sframe'),
    passThrough: median(thread('DedicatedWorker'), 'passThrough'),
  }
  const pool = {
    sframe: median(thread('ThreadPoolForeg'), 'sframe'),
    passThrough: median(thread('ThreadPoolForeg'), 'passThrough'),
  }
  const chromiumSeconds = median((w) => w.cpu.chromiumSeconds, 'sframe')
  const aboveIdle = {
    sframe: round(cores.sframe - idle.chromiumCores, 3),
    passThrough: round(cores.passThrough - idle.chromiumCores, 3),
  }
  const report = {
    what: "a two-page video call on loopback, with the app's SFrame worker and with a worker that passes frames through (the call test's PASS_THROUGH_WORKER), on two pairs of pages in one browser; CPU of every Chromium process over the window (/proc), frames from getStats",
    goalRatio: CPU_GOAL_RATIO,
    windowSeconds: opts.seconds,
    idle,
    coresMedian: cores,
    cpuMsPerDecodedFrameMedian: perFrame,
    rendererSecondsMedian: renderer,
    frameWorkerThreadSecondsMedian: worker,
    threadPoolSecondsMedian: pool,
    /** What the SFrame worker thread spent beyond the pass-through one, as a share of the SFrame call's CPU. */
    frameWorkerExtraShare: round((worker.sframe - worker.passThrough) / chromiumSeconds, 3),
    coresAboveIdle: aboveIdle,
    encodedFpsMedian: encoded,
    decodedFpsMedian: decoded,
    ratios: {
      cores: ratio(cores.sframe, cores.passThrough),
      coresAboveIdle: ratio(aboveIdle.sframe, aboveIdle.passThrough),
      cpuPerDecodedFrame: ratio(perFrame.sframe, perFrame.passThrough),
      renderer: ratio(renderer.sframe, renderer.passThrough),
      perRound: rounds.map((r) => ratio(r.sframe.cpu.chromiumCores, r.passThrough.cpu.chromiumCores)),
    },
    rounds,
    seconds: Number(seconds(started)),
  }
  log(
    `cpu: SFrame ${cores.sframe} cores, pass-through ${cores.passThrough} cores, ratio ${report.ratios.cores} (goal ≤ ${CPU_GOAL_RATIO}); per decoded frame ${report.ratios.cpuPerDecodedFrame}; above idle ${report.ratios.coresAboveIdle}; frame worker thread ${worker.sframe} s against ${worker.passThrough} s (${report.frameWorkerExtraShare} of the call's CPU)`,
  )
  const goal = { bound: 'max', ratio: CPU_GOAL_RATIO } as const
  const records: BenchRecord[] = [
    compared({
      name: 'calls.cpu.cores (SFrame; baseline pass-through)',
      unit: 'cores',
      value: cores.sframe,
      baseline: cores.passThrough,
      goal,
    }),
    compared({
      name: 'calls.cpu.above_idle',
      unit: 'cores',
      value: aboveIdle.sframe,
      baseline: aboveIdle.passThrough,
      goal,
    }),
    compared({
      name: 'calls.cpu.per_decoded_frame',
      unit: 'ms',
      value: perFrame.sframe,
      baseline: perFrame.passThrough,
      goal,
    }),
    compared({
      name: 'calls.cpu.frame_worker_thread',
      unit: 's',
      value: worker.sframe,
      baseline: worker.passThrough,
    }),
    compared({ name: 'calls.fps.encoded', unit: 'fps', value: encoded.sframe, baseline: encoded.passThrough }),
    compared({ name: 'calls.fps.decoded', unit: 'fps', value: decoded.sframe, baseline: decoded.passThrough }),
  ]
  return { report, records }
}

// --- series 3: the mesh ---

async function meshSeries(
  env: Environment,
  first: AppPage[],
  opts: Options,
  log: (line: string) => void,
): Promise<{ report: unknown; records: BenchRecord[] }> {
  const started = performance.now()
  const pages = [...first]
  const sizes: Array<CallWindow & { holds: boolean; idleCores: number }> = []
  let stoppedAt: number | undefined
  for (const size of [...opts.sizes].sort((x, y) => x - y)) {
    while (pages.length < size) pages.push(await openPage(env, pages.length, false))
    const inCall = pages.slice(0, size)
    await waitQuiet(pages.map((p) => p.page))
    const idle = await idleWindow({ ...opts, seconds: Math.min(opts.seconds, 5) })
    const w = await callWindow(env, inCall, opts, opts.meshTimeoutMs)
    const holds = w.connectMs !== undefined && w.allDecoded && w.decodedFpsMin >= opts.minFps
    sizes.push({ ...w, holds, idleCores: idle.chromiumCores })
    log(
      `${MODE} ${size}: ${w.connectMs === undefined ? `not every page decoded every other within ${opts.meshTimeoutMs} ms` : `all decoding after ${w.connectMs} ms`}; ${w.cpu.chromiumCores} cores (idle ${idle.chromiumCores}) ${JSON.stringify(w.cpu.byKind)}; decoded fps per pair min ${w.decodedFpsMin} mean ${w.decodedFpsMean}, encoded per page ${w.encodedFpsMean}; sent ${w.pages.map((p) => p.sent).join(' ')}; ${holds ? 'holds' : 'does NOT hold'} (load ${w.loadAverage.join(' ')})`,
    )
    // Every size asked for is measured: the first that does not hold is reported, the larger ones show how far off.
    if (!holds) stoppedAt ??= size
    await sleep(2_000)
  }
  for (const person of pages.slice(first.length)) await closePage(env, person)
  const base = sizes[0]
  const report = {
    what:
      SFU_INTERFACE === undefined
        ? "room video calls of N pages in one browser (one mesh: N−1 connections per page, each with its own encoder), every frame through the app's SFrame worker; CPU of every Chromium process over the window, video frames each page decoded per second from each other page"
        : "room video calls of N pages in one browser through the relay's forwarding unit (Janus): one sending connection (one encoder) and one receiving connection per page, every frame through the app's SFrame worker; CPU of every Chromium process over the window (not Janus), video frames each page decoded per second from each other page",
    minFps: opts.minFps,
    windowSeconds: opts.seconds,
    stopsHoldingAt: stoppedAt ?? null,
    sizes,
    seconds: Number(seconds(started)),
  }
  const records: BenchRecord[] = sizes.flatMap((w) => [
    base === undefined || w === base
      ? { name: `calls.${MODE}.${w.size}.cpu`, unit: 'cores', value: w.cpu.chromiumCores }
      : compared({
          name: `calls.${MODE}.${w.size}.cpu (baseline: ${base.size} pages)`,
          unit: 'cores',
          value: w.cpu.chromiumCores,
          baseline: base.cpu.chromiumCores,
        }),
    { name: `calls.${MODE}.${w.size}.decoded_fps_min`, unit: 'fps', value: w.decodedFpsMin },
    { name: `calls.${MODE}.${w.size}.all_decoded`, unit: 'bool', value: w.allDecoded ? 1 : 0 },
  ])
  return { report, records }
}

// --- statistics and the summary line ---

/** The median, to three decimals (CPU figures are too close to round to one). */
function medianOf(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y)
  const mid = sorted.length >> 1
  return round(sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2, 3)
}

function ratio(value: number, baseline: number): number {
  return baseline === 0 ? Number.NaN : Number((value / baseline).toFixed(2))
}

/** The figures to compare runs by, on one line. */
function summaryOf(report: Record<string, unknown>): unknown {
  const setup = report.setup as
    | {
        clickToCallerFrameMs: Stats
        clickToCalleeFrameMs: Stats
        joinToCalleeFrameMs: Stats
        baseline: { totalMs: Stats }
      }
    | undefined
  const cpu = report.cpu as
    | { coresMedian: unknown; ratios: unknown; encodedFpsMedian: unknown; decodedFpsMedian: unknown }
    | undefined
  const mesh = report.mesh as { sizes: CallWindow[]; stopsHoldingAt: number | null } | undefined
  return {
    setup:
      setup === undefined
        ? undefined
        : {
            clickToCallerFrame: setup.clickToCallerFrameMs,
            clickToCalleeFrame: setup.clickToCalleeFrameMs,
            joinToCalleeFrame: setup.joinToCalleeFrameMs,
            barePair: setup.baseline.totalMs,
          },
    cpu:
      cpu === undefined
        ? undefined
        : {
            cores: cpu.coresMedian,
            ratios: cpu.ratios,
            encodedFps: cpu.encodedFpsMedian,
            decodedFps: cpu.decodedFpsMedian,
          },
    mesh:
      mesh === undefined
        ? undefined
        : {
            stopsHoldingAt: mesh.stopsHoldingAt,
            sizes: mesh.sizes.map((w) => ({
              size: w.size,
              cores: w.cpu.chromiumCores,
              decodedFpsMin: w.decodedFpsMin,
              decodedFpsMean: w.decodedFpsMean,
              allDecoded: w.allDecoded,
              connectMs: w.connectMs,
            })),
          },
    loadAverage: report.machine as { loadAverageBefore: number[]; loadAverageAfter: number[] },
  }
}

// `node bench/calls.ts` runs this suite alone.
if (import.meta.main) {
  for (const record of await run()) console.log(JSON.stringify(record))
}
