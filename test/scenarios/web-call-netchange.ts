/**
 * A DM video call across a network change, end to end: run by `test/web-call-netchange.test.ts` inside the server's
 * network namespace (`createLinkedNamespaces`; argv: the client's namespace, the server's address). A Hardhat chain,
 * the relay and bob's Chromium run here; alice's Chromium runs in the client's namespace (through `ip netns exec`),
 * reaching the relay and bob over the veth pair. Once each page decodes the other, alice's address changes (a new one
 * added, the old one removed — a phone moving from Wi-Fi to mobile data): what she had open from the old address (her
 * relay's WebSocket, her call's ICE pair) is dead, and nothing tells her so. Nobody clicks or reloads; the scenario
 * waits for each page to decode the other again. What was seen goes to stdout as one JSON line (`NetChangeSeen`).
 */
import { chmod, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { BrowserContext, Page } from 'playwright-core'
import { type AppPage, launchChromium } from '../helpers/browser.ts'
import { callDiagnostics, receivedMedia, waitForMediaFromEach, watchPeerConnections } from '../helpers/call-stats.ts'
import { tempDir } from '../helpers/cli.ts'
import { changeClientAddress } from '../helpers/netns.ts'
import { startWebStack } from '../helpers/web-stack.ts'

export interface NetChangeSeen {
  /** alice's addresses before and after. */
  addresses: { before: string; after: string }
  /** Whether each page decoded the other before the change. */
  before: { aliceDecoded: number; bobDecoded: number }
  /** Seconds from the change until each page's decoded video rose again by {@link BACK_FRAMES} (-1: never). */
  secondsToMedia: { alice: number; bob: number }
  /** Seconds from the change until each page's call had audio energy rising again (-1: never). */
  secondsToAudio: { alice: number; bob: number }
  /** Seconds from the change until alice's page had a relay connection from her new address (-1: never). */
  secondsToRelay: number
  /** What each page's call connections went through, with seconds since the change. */
  timeline: Record<string, string[]>
  diagnostics?: string[]
}

const UI_TIMEOUT_MS = 30_000
const MEDIA_TIMEOUT_MS = 45_000
/** How long media may take to come back before the scenario reports it did not. */
const BACK_TIMEOUT_MS = Number(process.env.NETCHANGE_BACK_TIMEOUT_MS ?? 120_000)
/** Video frames a page must decode after the change for its media to count as back. */
const BACK_FRAMES = 30

/** Records each call connection's state changes (connection and ICE), with the time, in the page. */
async function watchStates(context: BrowserContext): Promise<void> {
  await watchPeerConnections(context)
  await context.addInitScript(() => {
    const log: string[] = []
    Object.defineProperty(globalThis, '__securechatCallLog', { value: log })
    // What the browser itself says of the change, if anything.
    addEventListener('online', () => log.push(`${Date.now()} browser online`))
    addEventListener('offline', () => log.push(`${Date.now()} browser offline`))
    ;(navigator as { connection?: EventTarget }).connection?.addEventListener('change', () =>
      log.push(`${Date.now()} browser connection change`),
    )
    const Original = globalThis.RTCPeerConnection
    let n = 0
    globalThis.RTCPeerConnection = class extends Original {
      constructor(config?: RTCConfiguration) {
        super(config)
        const id = ++n
        const note = (what: string) => log.push(`${Date.now()} pc${id} ${what}`)
        this.addEventListener('connectionstatechange', () => note(`connection ${this.connectionState}`))
        this.addEventListener('iceconnectionstatechange', () => note(`ice ${this.iceConnectionState}`))
        this.addEventListener('signalingstatechange', () => note(`signaling ${this.signalingState}`))
      }
    }
  })
}

function callLog(page: Page, since: number): Promise<string[]> {
  return page
    .evaluate(() => [...((globalThis as unknown as { __securechatCallLog?: string[] }).__securechatCallLog ?? [])])
    .then((lines) =>
      lines.map((line) => {
        const [at, ...rest] = line.split(' ')
        return `${((Number(at) - since) / 1000).toFixed(1)}s ${rest.join(' ')}`
      }),
    )
}

/** The remote addresses of alice's page's open libp2p connections. */
function relayConnections(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    type Libp2p = { getConnections(): { remoteAddr: { toString(): string }; status: string }[] }
    const app = document.querySelector('sc-app') as unknown as { session?: { client?: { libp2p: Libp2p } } }
    return (app.session?.client?.libp2p.getConnections() ?? [])
      .filter((c) => c.status === 'open')
      .map((c) => c.remoteAddr.toString())
  })
}

/** The local address of each open call connection's selected ICE pair. */
function localCandidates(page: Page): Promise<string[]> {
  return page.evaluate(async () => {
    const all = (globalThis as unknown as { __securechatPeerConnections: RTCPeerConnection[] })
      .__securechatPeerConnections
    const out: string[] = []
    for (const pc of all) {
      if (pc.connectionState === 'closed' || pc.getTransceivers().length === 0) continue
      const stats = await pc.getStats()
      stats.forEach((r: { type: string; selectedCandidatePairId?: string }) => {
        if (r.type !== 'transport' || r.selectedCandidatePairId === undefined) return
        const pair = stats.get(r.selectedCandidatePairId) as { localCandidateId: string } | undefined
        const local = pair === undefined ? undefined : (stats.get(pair.localCandidateId) as { address?: string })
        out.push(`${pc.connectionState} ${local?.address ?? '?'}`)
      })
    }
    return out
  })
}

/** Sums of what a page's open call connections decoded: video frames and audio energy. */
async function decoded(page: Page): Promise<{ frames: number; energy: number }> {
  const media = await receivedMedia(page)
  return {
    frames: media.reduce((sum, m) => sum + m.framesDecoded, 0),
    energy: media.reduce((sum, m) => sum + m.audioEnergy, 0),
  }
}

async function main(): Promise<void> {
  const [clientNamespace, serverAddress, clientAddress] = process.argv.slice(2)
  if (clientNamespace === undefined || serverAddress === undefined || clientAddress === undefined) {
    throw new Error('usage: web-call-netchange.ts <client namespace> <server address> <client address>')
  }
  const web = await startWebStack('call-netchange', { host: serverAddress })
  const wrapperDir = await tempDir('call-netchange-chromium-')
  const wrapper = join(wrapperDir, 'chromium-in-client')
  await writeFile(
    wrapper,
    `#!/bin/sh\nexec ip netns exec ${clientNamespace} ${process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'} "$@"\n`,
  )
  await chmod(wrapper, 0o755)
  const clientBrowser = await launchChromium(
    [`--unsafely-treat-insecure-origin-as-secure=${new URL(web.http.url).origin}`],
    'fake',
    wrapper,
  )
  let alice: AppPage | undefined
  let bob: AppPage | undefined
  try {
    alice = await web.openApp(1, { browser: clientBrowser, prepare: watchStates })
    bob = await web.openApp(2, { prepare: watchStates })
    const aliceAddress = web.chain.accounts[1]!.address
    const bobAddress = web.chain.accounts[2]!.address
    // alice writes to bob, so that each has the DM in their list; bob opens it.
    await alice.page.getByRole('button', { name: 'Message a wallet' }).click()
    await alice.page.getByLabel('Wallet address').fill(bobAddress)
    await alice.page.getByRole('button', { name: 'Open conversation' }).click()
    await alice.page.getByRole('textbox', { name: 'Message' }).fill('call me')
    await alice.page.getByRole('textbox', { name: 'Message' }).press('Enter')
    await bob.page
      .locator('sc-conversation-list button', { hasText: aliceAddress.slice(0, 6) })
      .first()
      .click({ timeout: UI_TIMEOUT_MS })
    await alice.page.getByRole('button', { name: 'Video call' }).click()
    await bob.page.getByTestId('call-ongoing').waitFor({ timeout: UI_TIMEOUT_MS })
    await bob.page.getByRole('button', { name: 'Join with video' }).click()
    await waitForMediaFromEach(bob.page, 1, MEDIA_TIMEOUT_MS, { frames: 30, energy: 0 })
    await waitForMediaFromEach(alice.page, 1, MEDIA_TIMEOUT_MS, { frames: 30, energy: 0 })
    const before = {
      aliceDecoded: (await decoded(alice.page)).frames,
      bobDecoded: (await decoded(bob.page)).frames,
    }
    const beforeAddress = (await localCandidates(alice.page)).join(' ')

    const changedAt = Date.now()
    const after = await changeClientAddress(clientNamespace, clientAddress)
    const seen: NetChangeSeen = {
      addresses: { before: beforeAddress, after },
      before,
      secondsToMedia: { alice: -1, bob: -1 },
      secondsToAudio: { alice: -1, bob: -1 },
      secondsToRelay: -1,
      timeline: {},
    }
    const pages = { alice: alice.page, bob: bob.page }
    // Media counts as back once a page decoded BACK_FRAMES frames more than the least it showed since the change (a
    // new connection counts from 0, and the old one's are gone with it), and its audio energy rose likewise.
    const least = {
      alice: { frames: Number.POSITIVE_INFINITY, energy: Number.POSITIVE_INFINITY },
      bob: { frames: Number.POSITIVE_INFINITY, energy: Number.POSITIVE_INFINITY },
    }
    // The first samples after the change may still hold frames that were in flight: the least is taken from 2 s on.
    const settleMs = 2_000
    while (Date.now() - changedAt < BACK_TIMEOUT_MS) {
      const elapsed = (Date.now() - changedAt) / 1000
      if (seen.secondsToRelay < 0) {
        const relays = await relayConnections(alice.page)
        if (relays.length > 0) {
          // A connection opened since the change comes from the new address; the scenario cannot see the local
          // address of a WebSocket, so it counts a relay connection that is not the one open before.
          const open = await alice.page.evaluate(() => {
            type Libp2p = { getConnections(): { status: string; timeline: { open: number } }[] }
            const app = document.querySelector('sc-app') as unknown as { session?: { client?: { libp2p: Libp2p } } }
            return (app.session?.client?.libp2p.getConnections() ?? [])
              .filter((c) => c.status === 'open')
              .map((c) => c.timeline.open)
          })
          if (open.some((at) => at > changedAt)) seen.secondsToRelay = Math.round(elapsed * 10) / 10
        }
      }
      for (const name of ['alice', 'bob'] as const) {
        const now = await decoded(pages[name])
        if (Date.now() - changedAt >= settleMs) {
          least[name].frames = Math.min(least[name].frames, now.frames)
          least[name].energy = Math.min(least[name].energy, now.energy)
        }
        if (seen.secondsToMedia[name] < 0 && now.frames >= least[name].frames + BACK_FRAMES) {
          seen.secondsToMedia[name] = Math.round(elapsed * 10) / 10
        }
        if (seen.secondsToAudio[name] < 0 && now.energy > least[name].energy + 0.01) {
          seen.secondsToAudio[name] = Math.round(elapsed * 10) / 10
        }
      }
      if (
        Object.values(seen.secondsToMedia).every((s) => s >= 0) &&
        Object.values(seen.secondsToAudio).every((s) => s >= 0)
      )
        break
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
    for (const [name, page] of Object.entries(pages)) {
      seen.timeline[name] = [
        ...(await callLog(page, changedAt)),
        `relays ${(await relayConnections(page)).join(' ')}`,
        `ice pairs ${(await localCandidates(page)).join(' ')}`,
      ]
    }
    if (Object.values(seen.secondsToMedia).some((s) => s < 0)) {
      seen.diagnostics = await Promise.all([alice.page, bob.page].map((page) => callDiagnostics(page).catch(String)))
    }
    process.stdout.write(`${JSON.stringify(seen)}\n`)
  } finally {
    await alice?.context.close().catch(() => {})
    await clientBrowser.close().catch(() => {})
    await web.stop()
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err)
    process.exit(1)
  },
)
