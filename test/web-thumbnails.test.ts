/**
 * Thumbnails in the web app (issue 16), in Debian's Chromium against a real relay that keeps files, with its CSP and
 * Trusted Types: alice shares a picture and the page makes its thumbnail (canvas, WebP or JPEG, within the sdk's
 * bound), which travels in the message; bob's card shows it from the message, then the checked picture in its place;
 * a shared video carries a thumbnail of one of its frames, the poster of bob's player;
 * a picture over the inline-preview bound is shown by its thumbnail only; and a picture nobody can serve still shows
 * its thumbnail, since nothing is fetched for it; deleted, its thumbnail's `blob:` URL is revoked.
 */
import { randomBytes } from 'node:crypto'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MAX_THUMBNAIL_BYTES, MAX_THUMBNAIL_SIDE } from '../sdk/src/files/constants.ts'
import { makeThumbnail } from '../sdk/src/files/thumbnail.ts'
import type { FileManifest } from '../sdk/src/types.ts'
import { PREVIEW_LIMIT_BYTES } from '../web/src/state/file-kinds.ts'
import { expectNoSeriousAxeViolations } from './helpers/axe.ts'
import { type AppPage, cspViolations, screenshot } from './helpers/browser.ts'
import { png } from './helpers/images.ts'
import { startWebRoom, type WebRoom } from './helpers/web-stack.ts'

/** Deliveries and transfers cross a relay; generous for a loaded 2-core machine, never a speed check. */
const UI_TIMEOUT_MS = 60_000

let web: WebRoom
let alice: AppPage
let bob: AppPage

beforeAll(async () => {
  web = await startWebRoom('web-thumbs', 'thumbs', { files: true })
}, 120_000)

afterAll(() => web?.stop())

async function openMember(account: number): Promise<AppPage> {
  const person = await web.openApp(account)
  await person.page.goto(`${web.http.url}#invite=${encodeURIComponent(web.invite)}`)
  await person.page.getByRole('heading', { name: '# thumbs' }).waitFor({ timeout: UI_TIMEOUT_MS })
  return person
}

function card(page: Page, name: string) {
  return page.locator('sc-file-card', { has: page.getByTestId('file-name').getByText(name, { exact: true }) })
}

/** The manifest the card shows, as the page holds it (the thumbnail the message carried with it). */
function manifestOf(page: Page, name: string): Promise<FileManifest> {
  return card(page, name).evaluate((el) => (el as unknown as { file: FileManifest }).file)
}

function naturalSize(page: Page, name: string, testId: string) {
  return card(page, name)
    .getByTestId(testId)
    .evaluate((img) => `${(img as HTMLImageElement).naturalWidth}×${(img as HTMLImageElement).naturalHeight}`)
}

/** A short address as the app shows it. */
function short(address: string): string {
  return `${address.slice(0, 6)}…${address.slice(-4)}`
}

describe('web app: thumbnails', () => {
  it('behavior: a shared picture carries a thumbnail the page made; bob sees the checked picture in its place', async () => {
    ;[alice, bob] = await Promise.all([openMember(1), openMember(2)])
    await expect
      .poll(() => alice.page.getByTestId('members').textContent(), { timeout: UI_TIMEOUT_MS })
      .toContain(short(web.chain.accounts[2]!.address))

    const name = 'landscape.png'
    await alice.page.locator('sc-chat-view').evaluate(
      (view, { name, bytes }) => {
        const data = new DataTransfer()
        data.items.add(new File([new Uint8Array(bytes)], name, { type: 'image/png' }))
        view.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }))
      },
      { name, bytes: [...png(640, 480)] },
    )
    await alice.page.getByRole('button', { name: 'Send' }).click()

    await card(bob.page, name).waitFor({ timeout: UI_TIMEOUT_MS })
    // Made in alice's page: scaled to 320 px on its longer side, encoded by the canvas, checked as bob checks it.
    const { thumbnail } = await manifestOf(bob.page, name)
    expect(thumbnail).toMatchObject({ width: MAX_THUMBNAIL_SIDE, height: 240 })
    expect(thumbnail?.type).toMatch(/^image\/(webp|jpeg)$/)
    expect(Buffer.from(thumbnail!.data, 'base64url').length).toBeLessThanOrEqual(MAX_THUMBNAIL_BYTES)

    // Once fetched and checked, the picture itself replaces the thumbnail, on both pages.
    for (const person of [alice, bob]) {
      await expect
        .poll(() => naturalSize(person.page, name, 'file-preview'), { timeout: UI_TIMEOUT_MS })
        .toBe('640×480')
      expect(await card(person.page, name).getByTestId('file-thumbnail').count()).toBe(0)
    }
  })

  it('behavior: a picture over the inline-preview bound is shown by its thumbnail only, beside Download', async () => {
    const name = 'poster.png'
    // A real 800 × 400 picture, padded (a text chunk decoders skip) past the bound a preview is fetched up to.
    const bytes = png(800, 400, { rgb: [216, 78, 29], padTo: PREVIEW_LIMIT_BYTES + 1 })
    const [chooser] = await Promise.all([
      alice.page.waitForEvent('filechooser'),
      alice.page.getByRole('button', { name: 'Attach a file' }).click(),
    ])
    await chooser.setFiles({ name, mimeType: 'image/png', buffer: Buffer.from(bytes) })
    await alice.page.getByRole('button', { name: 'Send' }).click()

    const bobCard = card(bob.page, name)
    await bobCard.waitFor({ timeout: UI_TIMEOUT_MS })
    await expect
      .poll(() => naturalSize(bob.page, name, 'file-thumbnail'), { timeout: UI_TIMEOUT_MS })
      .toBe(`${MAX_THUMBNAIL_SIDE}×160`)
    expect(await bobCard.getByTestId('file-thumbnail').getAttribute('src')).toMatch(/^blob:/)
    expect(await bobCard.getByTestId('file-preview').count()).toBe(0)
    expect(await bobCard.getByRole('status').count()).toBe(0) // no "Loading the preview…": nothing is fetched
    expect(await bobCard.getByRole('button', { name: `Download ${name}` }).isEnabled()).toBe(true)
    await screenshot(bob.page, 'file-thumbnail')
    await expectNoSeriousAxeViolations(bob.page, 'room, a picture shown by its thumbnail')
  })

  it('behavior: a shared video carries a thumbnail of a frame past its black start; bob plays it with that poster', async () => {
    const name = 'clip.webm'
    // A real WebM, recorded in alice's page as a browser records one (so it names no duration): black at first,
    // as a title's fade-in is, then orange. A first frame would be black.
    const bytes = await alice.page.evaluate(async () => {
      const canvas = document.createElement('canvas')
      canvas.width = 640
      canvas.height = 360
      const context = canvas.getContext('2d')!
      const startedAt = performance.now()
      const paint = (): void => {
        context.fillStyle = performance.now() - startedAt < 200 ? '#000' : 'rgb(230, 120, 20)'
        context.fillRect(0, 0, canvas.width, canvas.height)
      }
      paint()
      const recorder = new MediaRecorder(canvas.captureStream(30), { mimeType: 'video/webm;codecs=vp8' })
      const chunks: Blob[] = []
      recorder.ondataavailable = (event) => chunks.push(event.data)
      const stopped = new Promise((resolve) => {
        recorder.onstop = resolve
      })
      recorder.start()
      const timer = setInterval(paint, 33)
      await new Promise((resolve) => setTimeout(resolve, 3_000))
      clearInterval(timer)
      recorder.stop()
      await stopped
      return [...new Uint8Array(await new Blob(chunks).arrayBuffer())]
    })
    await alice.page.locator('sc-chat-view').evaluate(
      (view, { name, bytes }) => {
        const data = new DataTransfer()
        data.items.add(new File([new Uint8Array(bytes)], name, { type: 'video/webm' }))
        view.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }))
      },
      { name, bytes },
    )
    await alice.page.getByRole('button', { name: 'Send' }).click()

    await card(bob.page, name).waitFor({ timeout: UI_TIMEOUT_MS })
    const { thumbnail } = await manifestOf(bob.page, name)
    expect(thumbnail).toMatchObject({ width: MAX_THUMBNAIL_SIDE, height: 180 })
    // The frame drawn is the orange part, decoded in bob's page from what the message carried.
    const [red, green, blue] = await bob.page.evaluate(async ({ type, data }) => {
      const bytes = Uint8Array.from(atob(data.replaceAll('-', '+').replaceAll('_', '/')), (c) => c.charCodeAt(0))
      const bitmap = await createImageBitmap(new Blob([bytes], { type }))
      const canvas = new OffscreenCanvas(bitmap.width, bitmap.height)
      const context = canvas.getContext('2d')!
      context.drawImage(bitmap, 0, 0)
      return [...context.getImageData(bitmap.width / 2, bitmap.height / 2, 1, 1).data]
    }, thumbnail!)
    expect({ red, green, blue }).toMatchObject({
      red: expect.toSatisfy((v: number) => v > 180),
      green: expect.toSatisfy((v: number) => v > 70 && v < 170),
      blue: expect.toSatisfy((v: number) => v < 80),
    })

    // Fetched and checked, it is a player whose poster is that thumbnail, and it plays alice's video.
    const player = card(bob.page, name).getByTestId('file-preview')
    await expect.poll(() => player.evaluate((el) => el.tagName), { timeout: UI_TIMEOUT_MS }).toBe('VIDEO')
    expect(await player.getAttribute('poster')).toMatch(/^blob:/)
    await expect
      .poll(() => player.evaluate((el) => (el as HTMLVideoElement).videoWidth), { timeout: UI_TIMEOUT_MS })
      .toBe(640)
  })

  it('behavior: a picture nobody can serve (its sender gone, no relay keeping it) still shows its thumbnail', async () => {
    // Dave names blocks no peer holds: the preview's fetch can only fail, so what bob sees came with the message.
    const name = 'gone.png'
    const sent = await web.room.send('a picture nobody has', {
      file: {
        v: 1,
        cid: CID.createV1(0x55, await sha256.digest(randomBytes(32))).toString(),
        size: 4096,
        type: 'image/png',
        name,
        key: randomBytes(32).toString('base64url'),
        sha256: randomBytes(32).toString('hex'),
        thumbnail: makeThumbnail('image/png', png(200, 100, { rgb: [20, 160, 60] }))!,
      },
    })
    const bobCard = card(bob.page, name)
    await bobCard.waitFor({ timeout: UI_TIMEOUT_MS })
    await expect.poll(() => naturalSize(bob.page, name, 'file-thumbnail'), { timeout: UI_TIMEOUT_MS }).toBe('200×100')
    expect(await bobCard.getByTestId('file-preview').count()).toBe(0)
    // The fetch gives up (no peer has a block) and says so; the thumbnail stays.
    await bobCard.getByTestId('preview-problem').waitFor({ timeout: 90_000 })
    expect(await naturalSize(bob.page, name, 'file-thumbnail')).toBe('200×100')

    // Deleted by its sender: the card goes, and so does the thumbnail's `blob:` URL the page made (no leak).
    const url = (await bobCard.getByTestId('file-thumbnail').getAttribute('src'))!
    // Loaded as a picture (the CSP lets images, not fetches, read `blob:`): a revoked URL no longer loads.
    const readable = (blobUrl: string) =>
      bob.page.evaluate(async (u) => {
        const image = new Image()
        image.src = u
        return image.decode().then(
          () => true,
          () => false,
        )
      }, blobUrl)
    expect(await readable(url)).toBe(true)
    await web.room.delete(sent.id)
    await bobCard.waitFor({ state: 'detached', timeout: UI_TIMEOUT_MS })
    await expect.poll(() => readable(url), { timeout: UI_TIMEOUT_MS }).toBe(false)

    for (const person of [alice, bob]) {
      expect(await cspViolations(person.page)).toEqual([])
      expect(person.consoleCsp).toEqual([])
    }
  }, 150_000)
})
