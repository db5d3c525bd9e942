/**
 * Voice and video calls in the web app (issue 17), in Debian's Chromium with its fake cameras and microphones
 * (`--use-fake-device-for-media-stream`, `--use-fake-ui-for-media-stream`) against a real relay (its CSP and Trusted
 * Types) and a Hardhat chain: a DM video call between alice and bob — her call her first word to him, ringing him all
 * the same — in which each page decodes the other's frames (getStats: video frames decoded, audio energy rising),
 * alice's switch to another microphone and camera heard and seen, mute and camera off seen by the other, bob leaving
 * and joining again, and a join of a call the page never heard refused; then a room call of three in which carol's
 * page has its frame encryption removed (its SFrame worker replaced by one that passes frames through): alice and bob
 * decode each other and nothing of carol, carol nothing of them; carol back on a fresh device with the app's worker,
 * all three decode each other; banned from the room, carol's page leaves the call and alice and bob start new keys at
 * once.
 */
import { walletSigner } from '@securechat/sdk/identity'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type AppPage, cspViolations, screenshot } from './helpers/browser.ts'
import {
  callDiagnostics,
  callKid,
  PASS_THROUGH_WORKER,
  receivedByPeer,
  receivedMedia,
  waitForMediaFromEach,
  watchPeerConnections,
} from './helpers/call-stats.ts'
import { startWebRoom, type WebRoom } from './helpers/web-stack.ts'

/** Signals cross the relay, then ICE and DTLS on loopback; generous for a loaded 2-core machine. */
const UI_TIMEOUT_MS = 30_000
const MEDIA_TIMEOUT_MS = 45_000

let web: WebRoom
let alice: AppPage
let bob: AppPage
let carol: AppPage | undefined

beforeAll(async () => {
  web = await startWebRoom('web-call', 'calls')
  alice = await web.openApp(1, { joinRoom: true, prepare: watchPeerConnections })
  bob = await web.openApp(2, { joinRoom: true, prepare: watchPeerConnections })
}, 180_000)

afterAll(() => web?.stop())

/** The tile of the one other participant in `page`'s call. */
function otherTile(page: Page) {
  return page.locator('sc-call [data-testid="call-tile"]:not([data-peer="self"])')
}

async function openDm(page: Page, with_: string): Promise<void> {
  await page
    .locator('sc-conversation-list button', { hasText: with_.slice(0, 6) })
    .first()
    .click()
  await page.getByRole('heading', { name: /^DM with/ }).waitFor({ timeout: UI_TIMEOUT_MS })
}

/** What `page`'s call receives from alice (its one other participant): video decoded, its width, the worker's counts. */
function fromAlice(
  page: Page,
): Promise<{ framesDecoded: number; frameWidth: number; decrypted: number; dropped: number }> {
  return page.evaluate(async () => {
    type Mesh = {
      participants: { peerId: string }[]
      connectionOf(peerId: string): RTCPeerConnection | undefined
      workerStats(): Promise<{ received: Record<string, { decrypted: number; dropped: number }> }>
    }
    const app = document.querySelector('sc-app') as unknown as { calls: { active: { mesh: Mesh } } }
    const mesh = app.calls.active.mesh
    const peerId = mesh.participants[0]!.peerId
    let framesDecoded = 0
    let frameWidth = 0
    ;(await mesh.connectionOf(peerId)!.getStats()).forEach(
      (r: { type: string; kind?: string; framesDecoded?: number; frameWidth?: number }) => {
        if (r.type !== 'inbound-rtp' || r.kind !== 'video') return
        framesDecoded = r.framesDecoded ?? 0
        frameWidth = r.frameWidth ?? 0
      },
    )
    const worker = (await mesh.workerStats()).received[peerId] ?? { decrypted: 0, dropped: 0 }
    return { framesDecoded, frameWidth, ...worker }
  })
}

/**
 * What `page`'s one call connection sends as video: the camera's track, the shared screen's, or another; and whether
 * its transform is the one the first look saw (kept on the page between looks).
 */
function aliceVideoSender(page: Page): Promise<{ track: string; transform: boolean; sameTransform: boolean }> {
  return page.evaluate(() => {
    type Mesh = {
      participants: { peerId: string }[]
      connectionOf(peerId: string): RTCPeerConnection | undefined
      localStream: MediaStream
      screenStream: MediaStream | undefined
    }
    const app = document.querySelector('sc-app') as unknown as { calls: { active: { mesh: Mesh } } }
    const mesh = app.calls.active.mesh
    const pc = mesh.connectionOf(mesh.participants[0]!.peerId)!
    const sender = pc.getTransceivers().find((t) => t.receiver.track.kind === 'video')!.sender
    const seen = globalThis as unknown as { __firstVideoTransform?: unknown }
    seen.__firstVideoTransform ??= sender.transform
    const id = sender.track?.id
    const track =
      id === undefined
        ? 'none'
        : id === mesh.localStream.getVideoTracks()[0]?.id
          ? 'camera'
          : id === mesh.screenStream?.getVideoTracks()[0]?.id
            ? 'screen'
            : 'other'
    return {
      track,
      transform: sender.transform != null,
      sameTransform: sender.transform === seen.__firstVideoTransform,
    }
  })
}

/**
 * What `page`'s one call connection sends as `kind`: its track's label (which device), whether a transform seals it,
 * and whether that is the transform the first look at `kind` saw (kept on the page between looks).
 */
function aliceSender(
  page: Page,
  kind: 'audio' | 'video',
): Promise<{ label: string | undefined; transform: boolean; sameTransform: boolean }> {
  return page.evaluate((kind) => {
    type Mesh = { participants: { peerId: string }[]; connectionOf(peerId: string): RTCPeerConnection | undefined }
    const app = document.querySelector('sc-app') as unknown as { calls: { active: { mesh: Mesh } } }
    const mesh = app.calls.active.mesh
    const pc = mesh.connectionOf(mesh.participants[0]!.peerId)!
    const sender = pc.getTransceivers().find((t) => t.receiver.track.kind === kind)!.sender
    const seen = globalThis as unknown as { __firstTransforms?: Record<string, unknown> }
    seen.__firstTransforms ??= {}
    seen.__firstTransforms[kind] ??= sender.transform
    return {
      label: sender.track?.label,
      transform: sender.transform != null,
      sameTransform: sender.transform === seen.__firstTransforms[kind],
    }
  }, kind)
}

/** {@link waitForMediaFromEach}, which on a failure prints what each page's call saw (worker counts, RTP stats). */
const waitForMedia: typeof waitForMediaFromEach = (...args) =>
  waitForMediaFromEach(...args).catch(async (err: unknown) => {
    for (const person of [alice, bob, carol]) {
      if (person !== undefined) console.log(await callDiagnostics(person.page).catch(String))
    }
    throw err
  })

describe('calls in the web app', () => {
  it('behavior: a DM video call — both decode the other, mute and camera off are seen, bob leaves and joins again', async () => {
    const aliceAddress = web.chain.accounts[1]!.address
    const bobAddress = web.chain.accounts[2]!.address
    // alice has never written to bob: her call is her first word to him, and it rings him all the same.
    await alice.page.getByRole('button', { name: 'Message a wallet' }).click()
    await alice.page.getByLabel('Wallet address').fill(bobAddress)
    await alice.page.getByRole('button', { name: 'Open conversation' }).click()

    const clicked = Date.now()
    await alice.page.getByRole('button', { name: 'Video call' }).click()
    await alice.page.getByTestId('call').waitFor({ timeout: UI_TIMEOUT_MS })
    // The call put alice's DM in bob's list; there it shows going on, with who is in it, and a Join.
    await bob.page
      .locator('sc-conversation-list button', { hasText: aliceAddress.slice(0, 6) })
      .first()
      .waitFor({ timeout: UI_TIMEOUT_MS })
    await openDm(bob.page, aliceAddress)
    const ongoing = bob.page.getByTestId('call-ongoing')
    await ongoing.waitFor({ timeout: UI_TIMEOUT_MS })
    expect(await ongoing.textContent()).toContain(aliceAddress.slice(0, 6))
    await bob.page.getByRole('button', { name: 'Join with video' }).click()

    const bobGot = await waitForMedia(bob.page, 1, MEDIA_TIMEOUT_MS, { frames: 1, energy: 0 })
    const setupMs = Date.now() - clicked
    const aliceGot = await waitForMedia(alice.page, 1, MEDIA_TIMEOUT_MS, { frames: 1, energy: 0 })
    console.log(`call setup, click to bob's first decoded frame: ${setupMs} ms`, { aliceGot, bobGot })
    // Rising: a second look decodes more of both.
    await waitForMedia(bob.page, 1, MEDIA_TIMEOUT_MS, {
      frames: bobGot[0]!.framesDecoded + 20,
      energy: bobGot[0]!.audioEnergy,
    })
    await waitForMedia(alice.page, 1, MEDIA_TIMEOUT_MS, {
      frames: aliceGot[0]!.framesDecoded + 20,
      energy: aliceGot[0]!.audioEnergy,
    })
    await expect.poll(() => otherTile(alice.page).getAttribute('data-video'), { timeout: UI_TIMEOUT_MS }).toBe('on')
    await screenshot(alice.page, 'call')

    // alice picks another microphone and another camera (the fake one with frames an encoder takes: helpers/browser.ts):
    // the same senders carry them, sealed by the same transforms, and bob goes on hearing and seeing her.
    const before = { audio: await aliceSender(alice.page, 'audio'), video: await aliceSender(alice.page, 'video') }
    for (const [kind, name] of [
      ['audio', 'Microphone'],
      ['video', 'Camera'],
    ] as const) {
      const picker = alice.page.getByRole('combobox', { name })
      await picker.waitFor({ timeout: UI_TIMEOUT_MS })
      const choices = await picker.locator('option').allTextContents()
      // The one in use is the one shown chosen.
      await expect.poll(() => picker.locator('option:checked').textContent()).toBe(before[kind].label)
      const other =
        kind === 'video'
          ? choices.find((label) => label === 'fake_device_2')
          : choices.find((l) => l !== before.audio.label)
      expect(other, `${name}: ${choices.join(', ')}`).toBeDefined()
      await picker.selectOption({ label: other! })
      await expect
        .poll(() => aliceSender(alice.page, kind), { timeout: UI_TIMEOUT_MS })
        .toMatchObject({
          label: other,
          transform: true,
          sameTransform: true,
        })
      await expect.poll(() => picker.locator('option:checked').textContent()).toBe(other)
    }
    const switched = await waitForMedia(bob.page, 1, MEDIA_TIMEOUT_MS, { frames: 1, energy: 0 })
    await waitForMedia(bob.page, 1, MEDIA_TIMEOUT_MS, {
      frames: switched[0]!.framesDecoded + 20,
      energy: switched[0]!.audioEnergy,
    })

    // Mute and camera off, seen on the other page.
    await alice.page.getByRole('button', { name: 'Mute' }).click()
    await expect.poll(() => otherTile(bob.page).getAttribute('data-muted'), { timeout: UI_TIMEOUT_MS }).toBe('true')
    await alice.page.getByRole('button', { name: 'Camera off' }).click()
    await expect.poll(() => otherTile(bob.page).getAttribute('data-video'), { timeout: UI_TIMEOUT_MS }).toBe('off')
    await alice.page.getByRole('button', { name: 'Unmute' }).click()
    await alice.page.getByRole('button', { name: 'Camera on' }).click()
    await expect.poll(() => otherTile(bob.page).getAttribute('data-muted'), { timeout: UI_TIMEOUT_MS }).toBe('false')
    await expect.poll(() => otherTile(bob.page).getAttribute('data-video'), { timeout: UI_TIMEOUT_MS }).toBe('on')

    // bob leaves: alice is alone in the call, under a new key; bob's DM shows it going on, and he joins again.
    const kidBefore = await callKid(alice.page)
    await bob.page.getByRole('button', { name: 'Leave call' }).click()
    await expect.poll(() => otherTile(alice.page).count(), { timeout: UI_TIMEOUT_MS }).toBe(0)
    expect(await callKid(alice.page)).not.toBe(kidBefore)
    await ongoing.waitFor({ timeout: UI_TIMEOUT_MS })
    await bob.page.getByRole('button', { name: 'Join with audio' }).click()
    await waitForMedia(bob.page, 1, MEDIA_TIMEOUT_MS, { frames: 10, energy: 0 })
    await waitForMedia(alice.page, 1, MEDIA_TIMEOUT_MS, { frames: 0, energy: 0 })
    await expect.poll(() => otherTile(alice.page).getAttribute('data-video'), { timeout: UI_TIMEOUT_MS }).toBe('off')

    await alice.page.getByRole('button', { name: 'Leave call' }).click()
    await bob.page.getByRole('button', { name: 'Leave call' }).click()

    // Joining a call this page never heard (what the Join button calls, given another id) is refused with why, and
    // opens no call and no camera: how to reach a call is what its own signals say.
    const refused = await bob.page.evaluate(async () => {
      type Calls = {
        active: unknown
        problem: { text: string } | undefined
        join(conversation: string, callId: string, video: boolean): Promise<void>
      }
      const app = document.querySelector('sc-app') as unknown as { calls: Calls; selected: string }
      const asked = { media: 0 }
      const getUserMedia = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices)
      navigator.mediaDevices.getUserMedia = (constraints) => {
        asked.media += 1
        return getUserMedia(constraints)
      }
      await app.calls.join(app.selected, 'ab'.repeat(16), true)
      navigator.mediaDevices.getUserMedia = getUserMedia
      return { active: app.calls.active !== undefined, problem: app.calls.problem?.text, media: asked.media }
    })
    expect(refused).toEqual({ active: false, problem: expect.stringMatching(/not going on here/), media: 0 })
    await expect
      .poll(() => bob.page.getByTestId('call-problem').textContent(), { timeout: UI_TIMEOUT_MS })
      .toContain('start a new one')

    expect(await cspViolations(alice.page)).toEqual([])
    expect(await cspViolations(bob.page)).toEqual([])
    expect(alice.consoleCsp).toEqual([])
  }, 300_000)

  it('behavior: alice shares her screen in a DM call — bob sees it marked and keeps decoding her frames, sealed by the same transform; stopping (the button, then the browser ending the track) brings her camera back', async () => {
    const aliceAddress = web.chain.accounts[1]!.address
    const bobAddress = web.chain.accounts[2]!.address
    await openDm(bob.page, aliceAddress)
    await openDm(alice.page, bobAddress)
    await alice.page.getByRole('button', { name: 'Video call' }).click()
    await bob.page.getByTestId('call-ongoing').waitFor({ timeout: UI_TIMEOUT_MS })
    await bob.page.getByRole('button', { name: 'Join with video' }).click()
    await waitForMedia(bob.page, 1, MEDIA_TIMEOUT_MS, { frames: 10, energy: 0 })
    const camera = await fromAlice(bob.page)
    const cameraSent = await aliceVideoSender(alice.page)
    console.log("bob's view of alice's camera:", camera, cameraSent)
    expect(cameraSent).toMatchObject({ track: 'camera', transform: true })

    await alice.page.getByRole('button', { name: 'Share screen' }).click()
    await alice.page.getByRole('button', { name: 'Stop sharing' }).waitFor({ timeout: UI_TIMEOUT_MS })
    expect(
      await alice.page.locator('sc-call [data-testid="call-tile"][data-peer="self"]').getAttribute('data-screen'),
    ).toBe('true')
    // alice's video sender now sends the screen's track, through the transform it had (replaceTrack keeps it).
    expect(await aliceVideoSender(alice.page)).toMatchObject({ track: 'screen', sameTransform: true })
    await expect.poll(() => otherTile(bob.page).getAttribute('data-screen'), { timeout: UI_TIMEOUT_MS }).toBe('true')
    expect(await otherTile(bob.page).getAttribute('data-video')).toBe('on')
    // The screen reaches bob's decoder: his worker opens it under alice's key, and drops none — a frame sent past the
    // transform, in the clear, would not open there and would stop the decoding.
    const sharedAt = await fromAlice(bob.page)
    await expect
      .poll(async () => (await fromAlice(bob.page)).framesDecoded, { timeout: MEDIA_TIMEOUT_MS, interval: 500 })
      .toBeGreaterThan(sharedAt.framesDecoded + 30)
    const shared = await fromAlice(bob.page)
    console.log("bob's view of alice's screen:", shared)
    expect(shared.dropped).toBe(sharedAt.dropped)
    expect(shared.decrypted).toBeGreaterThan(sharedAt.decrypted + 30)

    // Stop sharing with the button: bob's tile drops the mark, his decoder gets the camera's picture again.
    await alice.page.getByRole('button', { name: 'Stop sharing' }).click()
    await expect.poll(() => otherTile(bob.page).getAttribute('data-screen'), { timeout: UI_TIMEOUT_MS }).toBe('false')
    expect(await aliceVideoSender(alice.page)).toMatchObject({ track: 'camera', sameTransform: true })
    const stopped = await fromAlice(bob.page)
    await expect
      .poll(async () => (await fromAlice(bob.page)).framesDecoded, { timeout: MEDIA_TIMEOUT_MS, interval: 500 })
      .toBeGreaterThan(stopped.framesDecoded + 20)

    // Share again, and stop it the way the browser's own "Stop sharing" bar does: the track ends (headless Chromium
    // has no such bar; the app's listener gets the same `ended` event).
    await alice.page.getByRole('button', { name: 'Share screen' }).click()
    await expect.poll(() => otherTile(bob.page).getAttribute('data-screen'), { timeout: UI_TIMEOUT_MS }).toBe('true')
    await alice.page.evaluate(() => {
      const app = document.querySelector('sc-app') as unknown as {
        calls: { active: { mesh: { screenStream: MediaStream } } }
      }
      app.calls.active.mesh.screenStream.getVideoTracks()[0]!.dispatchEvent(new Event('ended'))
    })
    await alice.page.getByRole('button', { name: 'Share screen' }).waitFor({ timeout: UI_TIMEOUT_MS })
    await expect.poll(() => otherTile(bob.page).getAttribute('data-screen'), { timeout: UI_TIMEOUT_MS }).toBe('false')
    expect(await aliceVideoSender(alice.page)).toMatchObject({ track: 'camera', sameTransform: true })
    const back = await fromAlice(bob.page)
    await expect
      .poll(async () => (await fromAlice(bob.page)).framesDecoded, { timeout: MEDIA_TIMEOUT_MS, interval: 500 })
      .toBeGreaterThan(back.framesDecoded + 20)
    await screenshot(bob.page, 'call-screen-stopped')

    await alice.page.getByRole('button', { name: 'Leave call' }).click()
    await bob.page.getByRole('button', { name: 'Leave call' }).click()
    expect(await cspViolations(alice.page)).toEqual([])
    expect(alice.consoleCsp).toEqual([])
  }, 300_000)

  it('behavior: a room call of three, carol with her frame encryption removed: alice and bob decode each other, nobody decodes carol, carol decodes nothing; back with her encryption, all three decode each other; banned, she is out and the others start new keys', async () => {
    carol = await web.openApp(3, {
      joinRoom: true,
      prepare: async (context) => {
        await watchPeerConnections(context)
        // Her SFrame worker replaced by one that passes every frame through: she sends and decodes plain frames.
        await context.route(/\/assets\/call-worker-[^/]*\.js$/, (route) =>
          route.fulfill({
            contentType: 'text/javascript',
            // Not kept by the HTTP cache: her reload below must fetch the app's own worker again.
            headers: { 'cache-control': 'no-store' },
            body: PASS_THROUGH_WORKER,
          }),
        )
      },
    })
    const room = (page: Page) => page.locator('sc-conversation-list button', { hasText: '# calls' }).first().click()
    await room(alice.page)
    await room(bob.page)
    await alice.page.getByRole('button', { name: 'Video call' }).click()
    for (const person of [bob, carol]) {
      await person.page.getByTestId('call-ongoing').waitFor({ timeout: UI_TIMEOUT_MS })
      await person.page.getByRole('button', { name: 'Join with video' }).click()
    }
    const aliceAddress = web.chain.accounts[1]!.address
    const bobAddress = web.chain.accounts[2]!.address
    const carolAddress = web.chain.accounts[3]!.address
    const from = (seen: Awaited<ReturnType<typeof receivedByPeer>>, address: string) =>
      seen.find((m) => m.address.toLowerCase() === address.toLowerCase())
    // alice and bob: each decodes the other; carol's frames arrive and are dropped, unopened.
    for (const [page, other] of [
      [alice.page, bobAddress],
      [bob.page, aliceAddress],
    ] as const) {
      await expect
        .poll(
          async () => {
            const seen = await receivedByPeer(page)
            const fromOther = from(seen, other)
            const fromCarol = from(seen, carolAddress)
            return (
              seen.length === 2 &&
              (fromOther?.framesDecoded ?? 0) > 20 &&
              (fromOther?.audioEnergy ?? 0) > 0 &&
              (fromCarol?.dropped ?? 0) > 50
            )
          },
          { timeout: MEDIA_TIMEOUT_MS, interval: 500 },
        )
        .toBe(true)
      const fromCarol = from(await receivedByPeer(page), carolAddress)
      expect(fromCarol).toMatchObject({ framesDecoded: 0, audioEnergy: 0 })
    }
    // carol: the others' frames reach her decoder as SFrame ciphertext, and no video frame decodes.
    await expect.poll(async () => (await receivedMedia(carol!.page)).length, { timeout: UI_TIMEOUT_MS }).toBe(2)
    await new Promise((resolve) => setTimeout(resolve, 5_000))
    const carolGot = await receivedMedia(carol.page)
    console.log('carol, without frame decryption, from alice and bob:', carolGot)
    // VP8 now and then takes a ciphertext frame for a (corrupt) picture: a handful at most, against the hundreds
    // alice and bob decode of each other meanwhile.
    for (const got of carolGot) expect(got.framesDecoded).toBeLessThan(20)
    // carol leaves and comes back on a fresh device with the app's own worker (her old context's service worker
    // precached the pass-through one): now every page decodes every other.
    await carol.page.getByRole('button', { name: 'Leave call' }).click()
    await carol.context.close()
    carol = await web.openApp(3, { joinRoom: true, prepare: watchPeerConnections })
    await room(carol.page)
    await carol.page.getByTestId('call-ongoing').waitFor({ timeout: UI_TIMEOUT_MS })
    await carol.page.getByRole('button', { name: 'Join with video' }).click()
    for (const [person, others] of [
      [alice, [bobAddress, carolAddress]],
      [bob, [aliceAddress, carolAddress]],
      [carol, [aliceAddress, bobAddress]],
    ] as const) {
      await expect
        .poll(
          async () => {
            const seen = await receivedByPeer(person.page)
            return others.every((other) => {
              const got = from(seen, other)
              return (got?.framesDecoded ?? 0) > 20 && (got?.audioEnergy ?? 0) > 0
            })
          },
          { timeout: MEDIA_TIMEOUT_MS, interval: 500 },
        )
        .toBe(true)
        .catch(async (err: unknown) => {
          for (const p of [alice, bob, carol]) if (p !== undefined) console.log(await callDiagnostics(p.page))
          throw err
        })
    }

    // dave, the room's owner, bans a wallet that is not in the call (nor ever joined the room): whoever is in the call
    // starts a new key at once all the same — a member removed could have read the keys sent before — and nobody
    // leaves. Then he bans carol: her page leaves the call; alice and bob drop her and start new keys at once (their
    // `here` goes under sender keys already rotated without her), and go on decoding each other.
    const owner = { signer: walletSigner({ type: 'eoa', signer: web.chain.accounts[5]! }) }
    const beforeStranger = [await callKid(alice.page), await callKid(bob.page), await callKid(carol.page)]
    expect((await web.room.moderate('ban', web.chain.accounts[4]!.address, owner)).status).toBe('applied')
    for (const [person, kid] of [
      [alice, beforeStranger[0]],
      [bob, beforeStranger[1]],
      [carol, beforeStranger[2]],
    ] as const) {
      await expect.poll(() => callKid(person.page), { timeout: UI_TIMEOUT_MS }).not.toBe(kid)
      expect(await otherTile(person.page).count()).toBe(2)
    }
    const kids = [await callKid(alice.page), await callKid(bob.page)]
    expect((await web.room.moderate('ban', carolAddress, owner)).status).toBe('applied')
    await carol.page.getByTestId('call').waitFor({ state: 'detached', timeout: UI_TIMEOUT_MS })
    for (const [person, kid] of [
      [alice, kids[0]],
      [bob, kids[1]],
    ] as const) {
      await expect.poll(() => otherTile(person.page).count(), { timeout: UI_TIMEOUT_MS }).toBe(1)
      await expect.poll(() => callKid(person.page), { timeout: UI_TIMEOUT_MS }).not.toBe(kid)
    }
    for (const [page, other] of [
      [alice.page, bobAddress],
      [bob.page, aliceAddress],
    ] as const) {
      const before = from(await receivedByPeer(page), other)?.framesDecoded ?? 0
      await expect
        .poll(async () => from(await receivedByPeer(page), other)?.framesDecoded ?? 0, {
          timeout: MEDIA_TIMEOUT_MS,
          interval: 500,
        })
        .toBeGreaterThan(before + 20)
    }
    for (const person of [alice, bob]) await person.page.getByRole('button', { name: 'Leave call' }).click()
  }, 300_000)
})
