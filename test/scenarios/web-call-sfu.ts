/**
 * A room call through the relay's forwarding unit (Janus), end to end: run by `test/web-call-sfu.test.ts` inside a
 * network namespace of its own (`ip netns exec`), since Janus's ICE needs a non-loopback interface (argv[2] names the
 * namespace's). A Hardhat chain, a relay with `--sfu` and Chromium with fake media all run here, in this process and
 * its children; what was seen goes to stdout as one JSON line (`SfuCallSeen`), which the test asserts.
 *
 * alice starts a video call in a room; bob and carol join. Each page must decode each other's video and audio, all
 * through two connections of its own (publish and receive), never one to another page. carol leaves: alice and bob
 * drop her and start new keys. erin joins with her frame encryption removed (her SFrame worker passes frames
 * through): alice and bob drop her frames unopened, and what reaches her decoder from them is ciphertext.
 */
import type { Page } from 'playwright-core'
import type { SfuService } from '../../node/src/relay/sfu/sfu-service.ts'
import type { AppPage } from '../helpers/browser.ts'
import {
  callDiagnostics,
  callKid,
  PASS_THROUGH_WORKER,
  receivedByPeer,
  watchPeerConnections,
} from '../helpers/call-stats.ts'
import { startWebRoom } from '../helpers/web-stack.ts'

export interface SfuCallSeen {
  relayPeerId: string
  /** Per page, the relay its call said it goes through. */
  sfuRelay: Record<string, string | undefined>
  /**
   * Per page, its open call connections once all three were in, each as its transceivers' directions (sorted): through
   * the unit, one sends only and one receives only; a mesh's connections would send and receive.
   */
  connections: Record<string, string[]>
  /** Per page and other participant: video frames decoded, audio energy, frames the worker opened. */
  threeWay: Record<string, Record<string, { framesDecoded: number; audioEnergy: number; decrypted: number }>>
  /** Whether every page decoded every other within the wait. */
  threeWayDecoded: boolean
  /** KIDs of alice and bob before and after carol left, and how many others each still had. */
  afterLeave: { kidChanged: Record<string, boolean>; others: Record<string, number>; stillDecoding: boolean }
  /**
   * Janus killed under alice and bob's call: the relay starts it again, and their calls reach it again by themselves
   * (each says why meanwhile) and decode each other again.
   */
  reconnect: { janusRestarted: boolean; mediaErrorSeen: boolean; decodingAgain: boolean; secondsToMedia: number }
  /** erin without frame encryption: what alice and bob did with her frames, and what her decoder made of theirs. */
  passThrough: {
    droppedFromErin: Record<string, number>
    decodedFromErin: Record<string, number>
    erinDecoded: Record<string, number>
    erinReceivedPackets: number
  }
  diagnostics?: string[]
}

const UI_TIMEOUT_MS = 30_000
const MEDIA_TIMEOUT_MS = 60_000

async function poll(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs
  while (Date.now() < until) {
    if (await check()) return true
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
  return false
}

function sfuRelayOf(page: Page): Promise<string | undefined> {
  return page.evaluate(() => {
    const app = document.querySelector('sc-app') as unknown as {
      calls?: { active?: { mesh: { sfuRelay: string | undefined } } }
    }
    return app.calls?.active?.mesh.sfuRelay
  })
}

function mediaErrorOf(page: Page): Promise<string | undefined> {
  return page.evaluate(() => {
    const app = document.querySelector('sc-app') as unknown as {
      calls?: { active?: { mesh: { mediaError: Error | undefined } } }
    }
    return app.calls?.active?.mesh.mediaError?.message
  })
}

/** The page's open call connections, each as its transceivers' current directions. */
function openConnections(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    (globalThis as unknown as { __securechatPeerConnections: RTCPeerConnection[] }).__securechatPeerConnections
      .filter((pc) => pc.connectionState !== 'closed' && pc.getTransceivers().length > 0)
      .map((pc) => [...new Set(pc.getTransceivers().map((t) => t.currentDirection ?? 'none'))].sort().join(','))
      .sort(),
  )
}

/** Inbound RTP packets on every open connection of `page` (what arrived, decodable or not). */
function packetsReceived(page: Page): Promise<number> {
  return page.evaluate(async () => {
    let packets = 0
    const all = (globalThis as unknown as { __securechatPeerConnections: RTCPeerConnection[] })
      .__securechatPeerConnections
    for (const pc of all) {
      if (pc.connectionState === 'closed') continue
      ;(await pc.getStats()).forEach((r: { type: string; packetsReceived?: number }) => {
        if (r.type === 'inbound-rtp') packets += r.packetsReceived ?? 0
      })
    }
    return packets
  })
}

async function main(): Promise<void> {
  const mediaInterface = process.argv[2]
  if (mediaInterface === undefined) throw new Error('usage: sfu-call.ts <media interface>')
  const web = await startWebRoom('sfu-call', 'huddle', { sfu: { interface: mediaInterface } })
  const pages: Record<string, AppPage> = {}
  try {
    const address = (account: number) => web.chain.accounts[account]!.address.toLowerCase()
    const names: Record<string, string> = { [address(1)]: 'alice', [address(2)]: 'bob', [address(3)]: 'carol' }
    names[address(4)] = 'erin'
    const openRoom = (page: Page) =>
      page.locator('sc-conversation-list button', { hasText: '# huddle' }).first().click()
    for (const [name, account] of [
      ['alice', 1],
      ['bob', 2],
      ['carol', 3],
    ] as const) {
      pages[name] = await web.openApp(account, { joinRoom: true, prepare: watchPeerConnections })
      await openRoom(pages[name].page)
    }
    const { alice, bob, carol } = pages as Record<'alice' | 'bob' | 'carol', AppPage>
    await alice.page.getByRole('button', { name: 'Video call' }).click()
    for (const person of [bob, carol]) {
      await person.page.getByTestId('call-ongoing').waitFor({ timeout: UI_TIMEOUT_MS })
      await person.page.getByRole('button', { name: 'Join with video' }).click()
    }
    const seen = async (page: Page) =>
      Object.fromEntries(
        (await receivedByPeer(page)).map((got) => [
          names[got.address.toLowerCase()] ?? got.address,
          { framesDecoded: got.framesDecoded, audioEnergy: got.audioEnergy, decrypted: got.decrypted },
        ]),
      )
    const threeWayDecoded = await poll(async () => {
      for (const page of [alice.page, bob.page, carol.page]) {
        const got = Object.values(await seen(page))
        if (got.length !== 2 || !got.every((m) => m.framesDecoded > 20 && m.audioEnergy > 0)) return false
      }
      return true
    }, MEDIA_TIMEOUT_MS)
    const result: SfuCallSeen = {
      relayPeerId: web.relay.peerId.toString(),
      sfuRelay: {
        alice: await sfuRelayOf(alice.page),
        bob: await sfuRelayOf(bob.page),
        carol: await sfuRelayOf(carol.page),
      },
      connections: {
        alice: await openConnections(alice.page),
        bob: await openConnections(bob.page),
        carol: await openConnections(carol.page),
      },
      threeWay: { alice: await seen(alice.page), bob: await seen(bob.page), carol: await seen(carol.page) },
      threeWayDecoded,
      afterLeave: { kidChanged: {}, others: {}, stillDecoding: false },
      reconnect: { janusRestarted: false, mediaErrorSeen: false, decodingAgain: false, secondsToMedia: -1 },
      passThrough: { droppedFromErin: {}, decodedFromErin: {}, erinDecoded: {}, erinReceivedPackets: 0 },
    }
    if (!threeWayDecoded) {
      result.diagnostics = await Promise.all([alice, bob, carol].map((p) => callDiagnostics(p.page).catch(String)))
    }

    // carol leaves: alice and bob drop her and seal with new keys; they go on decoding each other.
    const kidsBefore = { alice: await callKid(alice.page), bob: await callKid(bob.page) }
    await carol.page.getByRole('button', { name: 'Leave call' }).click()
    await carol.context.close()
    delete pages.carol
    for (const [name, person] of [
      ['alice', alice],
      ['bob', bob],
    ] as const) {
      await poll(async () => (await callKid(person.page)) !== kidsBefore[name], UI_TIMEOUT_MS)
      result.afterLeave.kidChanged[name] = (await callKid(person.page)) !== kidsBefore[name]
      await poll(async () => (await receivedByPeer(person.page)).length === 1, UI_TIMEOUT_MS)
      result.afterLeave.others[name] = (await receivedByPeer(person.page)).length
    }
    const decodedOf = async (page: Page, other: string) => (await seen(page))[other]?.framesDecoded ?? 0
    const before = { alice: await decodedOf(alice.page, 'bob'), bob: await decodedOf(bob.page, 'alice') }
    result.afterLeave.stillDecoding = await poll(
      async () =>
        (await decodedOf(alice.page, 'bob')) > before.alice + 20 &&
        (await decodedOf(bob.page, 'alice')) > before.bob + 20,
      MEDIA_TIMEOUT_MS,
    )

    // Janus dies under the call (as on a crash or an operator's restart).
    const unit = web.relay.services.sfu as SfuService
    const janusPid = unit.stats().pid
    if (janusPid === undefined) throw new Error('the relay’s forwarding unit is not running')
    const killedAt = Date.now()
    process.kill(janusPid, 'SIGKILL')
    result.reconnect.mediaErrorSeen = await poll(
      async () => (await mediaErrorOf(alice.page)) !== undefined && (await mediaErrorOf(bob.page)) !== undefined,
      UI_TIMEOUT_MS,
    )
    result.reconnect.janusRestarted = await poll(async () => {
      const pid = unit.stats().pid
      return unit.stats().up && pid !== undefined && pid !== janusPid
    }, UI_TIMEOUT_MS)
    // Decoding on the new connections: the error gone, and frames decoded since (the new connection counts from 0).
    result.reconnect.decodingAgain = await poll(async () => {
      if ((await mediaErrorOf(alice.page)) !== undefined || (await mediaErrorOf(bob.page)) !== undefined) return false
      return (await decodedOf(alice.page, 'bob')) > 20 && (await decodedOf(bob.page, 'alice')) > 20
    }, MEDIA_TIMEOUT_MS)
    result.reconnect.secondsToMedia = Math.round((Date.now() - killedAt) / 100) / 10

    // erin, her frame encryption removed: her plain frames reach alice and bob through the unit and are dropped
    // unopened; theirs reach her decoder as ciphertext.
    const erin = await web.openApp(4, {
      joinRoom: true,
      prepare: async (context) => {
        await watchPeerConnections(context)
        await context.route(/\/assets\/call-worker-[^/]*\.js$/, (route) =>
          route.fulfill({ contentType: 'text/javascript', body: PASS_THROUGH_WORKER }),
        )
      },
    })
    pages.erin = erin
    await openRoom(erin.page)
    await erin.page.getByTestId('call-ongoing').waitFor({ timeout: UI_TIMEOUT_MS })
    await erin.page.getByRole('button', { name: 'Join with video' }).click()
    const droppedFromErin = async (page: Page) =>
      (await receivedByPeer(page)).find((got) => names[got.address.toLowerCase()] === 'erin')?.dropped ?? 0
    await poll(
      async () => (await droppedFromErin(alice.page)) > 50 && (await droppedFromErin(bob.page)) > 50,
      MEDIA_TIMEOUT_MS,
    )
    // Long enough for a decoder to show what it makes of ciphertext.
    await poll(async () => (await packetsReceived(erin.page)) > 500, MEDIA_TIMEOUT_MS)
    await new Promise((resolve) => setTimeout(resolve, 5_000))
    for (const [name, person] of [
      ['alice', alice],
      ['bob', bob],
    ] as const) {
      result.passThrough.droppedFromErin[name] = await droppedFromErin(person.page)
      result.passThrough.decodedFromErin[name] = (await seen(person.page)).erin?.framesDecoded ?? 0
    }
    const erinSaw = await seen(erin.page)
    result.passThrough.erinDecoded = Object.fromEntries(
      Object.entries(erinSaw).map(([name, got]) => [name, got.framesDecoded]),
    )
    result.passThrough.erinReceivedPackets = await packetsReceived(erin.page)
    process.stdout.write(`${JSON.stringify(result)}\n`)
  } finally {
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
