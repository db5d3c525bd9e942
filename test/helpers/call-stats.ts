/**
 * vitest helper for the call tests: what each page's RTCPeerConnections received, from their `getStats()`. The
 * connections are collected by an init script that wraps the page's `RTCPeerConnection` (installed through the
 * DevTools protocol, like the test wallet, so the app carries no test hook).
 */
import type { BrowserContext, Page } from 'playwright-core'

/** Per remote connection of a page: video frames decoded, audio energy, and the connection's state. */
export interface ReceivedMedia {
  connection: string
  framesDecoded: number
  audioEnergy: number
}

export async function watchPeerConnections(context: BrowserContext): Promise<void> {
  await context.addInitScript(() => {
    const all: RTCPeerConnection[] = []
    Object.defineProperty(globalThis, '__securechatPeerConnections', { value: all })
    const Original = globalThis.RTCPeerConnection
    globalThis.RTCPeerConnection = class extends Original {
      constructor(config?: RTCConfiguration) {
        super(config)
        all.push(this)
      }
    }
  })
}

/** What each of `page`'s open call connections (those with media transceivers) received so far. */
export function receivedMedia(page: Page): Promise<ReceivedMedia[]> {
  return page.evaluate(async () => {
    const all = (globalThis as unknown as { __securechatPeerConnections: RTCPeerConnection[] })
      .__securechatPeerConnections
    const out: { connection: string; framesDecoded: number; audioEnergy: number }[] = []
    for (const pc of all) {
      // libp2p's own WebRTC connections carry data channels only: not a call's.
      if (pc.connectionState === 'closed' || pc.getTransceivers().length === 0) continue
      const stats = await pc.getStats()
      let framesDecoded = 0
      let audioEnergy = 0
      stats.forEach((report: { type: string; kind?: string; framesDecoded?: number; totalAudioEnergy?: number }) => {
        if (report.type !== 'inbound-rtp') return
        if (report.kind === 'video') framesDecoded += report.framesDecoded ?? 0
        if (report.kind === 'audio') audioEnergy += report.totalAudioEnergy ?? 0
      })
      out.push({ connection: pc.connectionState, framesDecoded, audioEnergy })
    }
    return out
  })
}

/**
 * What `page`'s call received from each other participant, by their wallet (through the app's call state): in a call
 * through a forwarding unit, from the streams of the shared receiving connection that carry that participant's feed.
 */
export function receivedByPeer(
  page: Page,
): Promise<{ address: string; framesDecoded: number; audioEnergy: number; decrypted: number; dropped: number }[]> {
  return page.evaluate(async () => {
    type Mesh = {
      participants: { peerId: string; address: string }[]
      sfuRelay: string | undefined
      connectionOf(peerId: string): RTCPeerConnection | undefined
      peerOfMid(mid: string | null): string | undefined
      workerStats(): Promise<{ received: Record<string, { decrypted: number; dropped: number }> }>
    }
    const app = document.querySelector('sc-app') as unknown as { calls?: { active?: { mesh: Mesh } } }
    const mesh = app.calls?.active?.mesh
    if (mesh === undefined) return []
    const worker = await mesh.workerStats()
    const out = []
    for (const p of mesh.participants) {
      let framesDecoded = 0
      let audioEnergy = 0
      const stats = await mesh.connectionOf(p.peerId)?.getStats()
      type Inbound = { type: string; kind?: string; mid?: string; framesDecoded?: number; totalAudioEnergy?: number }
      stats?.forEach((r: Inbound) => {
        if (r.type !== 'inbound-rtp') return
        if (mesh.sfuRelay !== undefined && mesh.peerOfMid(r.mid ?? null) !== p.peerId) return
        if (r.kind === 'video') framesDecoded += r.framesDecoded ?? 0
        if (r.kind === 'audio') audioEnergy += r.totalAudioEnergy ?? 0
      })
      const counts = worker.received[p.peerId]
      out.push({
        address: p.address,
        framesDecoded,
        audioEnergy,
        decrypted: counts?.decrypted ?? 0,
        dropped: counts?.dropped ?? 0,
      })
    }
    return out
  })
}

/**
 * Waits until `page` has `peers` open connections and each decoded more video frames and more audio energy than at
 * the first look (or, with `atLeast`, than those numbers): media from every other page flows and decrypts.
 */
export async function waitForMediaFromEach(
  page: Page,
  peers: number,
  timeoutMs: number,
  atLeast = { frames: 10, energy: 0 },
): Promise<ReceivedMedia[]> {
  const until = Date.now() + timeoutMs
  let last: ReceivedMedia[] = []
  while (Date.now() < until) {
    last = await receivedMedia(page)
    if (
      last.length === peers &&
      last.every((m) => m.framesDecoded >= atLeast.frames && m.audioEnergy > atLeast.energy)
    ) {
      return last
    }
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
  throw new Error(`media from ${peers} peers not decoded in ${timeoutMs} ms: ${JSON.stringify(last)}`)
}

/**
 * A dedicated worker script that passes every frame through untouched: served instead of the app's SFrame worker, it
 * is a page whose frame encryption and decryption were removed.
 */
export const PASS_THROUGH_WORKER = `
onrtctransform = (event) => {
  const { readable, writable } = event.transformer
  readable.pipeTo(writable).catch(() => {})
}
onmessage = (event) => {
  if (event.data && event.data.type === 'stats') postMessage({ id: event.data.id, sent: 0, unsent: 0, received: {} })
}
`

/** What a page's call saw, for a failure's log: its worker's frame counts, and each call connection's RTP stats. */
export function callDiagnostics(page: Page): Promise<string> {
  return page.evaluate(async () => {
    type Mesh = { workerStats(): Promise<unknown>; kid: number; participants: { peerId: string; connection: string }[] }
    const app = document.querySelector('sc-app') as unknown as { calls?: { active?: { mesh: Mesh } } }
    const mesh = app.calls?.active?.mesh
    const all = (globalThis as unknown as { __securechatPeerConnections: RTCPeerConnection[] })
      .__securechatPeerConnections
    const rtp: string[] = []
    for (const pc of all.filter((pc) => pc.getTransceivers().length > 0)) {
      ;(await pc.getStats()).forEach((r: Record<string, unknown>) => {
        if (r.type === 'outbound-rtp' || r.type === 'inbound-rtp') {
          rtp.push(
            `${pc.connectionState} ${r.type} ${r.kind} packets ${r.packetsSent ?? r.packetsReceived} frames ${r.framesEncoded ?? r.framesDecoded ?? '-'}`,
          )
        }
      })
    }
    return JSON.stringify({
      worker: await mesh?.workerStats(),
      kid: mesh?.kid,
      participants: mesh?.participants.map((p) => `${p.peerId} ${p.connection}`),
      rtp,
    })
  })
}

/** The KID `page`'s call seals its frames under now (it changes when someone leaves or is removed). */
export function callKid(page: Page): Promise<number | undefined> {
  return page.evaluate(() => {
    const app = document.querySelector('sc-app') as unknown as { calls?: { active?: { mesh: { kid: number } } } }
    return app.calls?.active?.mesh.kid
  })
}
