/**
 * Files in the web app (issue 16), in Debian's Chromium against a real relay that keeps files (its file pins, on
 * disk) with its CSP and Trusted Types: alice attaches a file with the Attach button and a picture by dropping it on
 * the conversation; bob sees each as a card (name, size), the picture previewed inline; alice leaves and bob still
 * downloads the file, from the relay, byte for byte; the card and preview are there after a reload; a file whose hash
 * is not its manifest's, and one nobody has, each say so in words and save nothing.
 *
 * Headless Chromium has no save picker to click through, so the pages run without `showSaveFilePicker`: the download
 * takes the app's path for Firefox and Safari (the checked bytes streamed to the browser's download through the app's
 * service worker), caught by Playwright's download event and hashed here.
 */
import { createHash, randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import type { Download, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectNoSeriousAxeViolations } from './helpers/axe.ts'
import { type AppPage, cspViolations, screenshot } from './helpers/browser.ts'
import { png } from './helpers/images.ts'
import { startWebRoom, type WebRoom } from './helpers/web-stack.ts'

/** Deliveries and transfers cross a relay; generous for a loaded 2-core machine, never a speed check. */
const UI_TIMEOUT_MS = 60_000
const MiB = 1024 * 1024
const FILE_BYTES = 12 * MiB

let web: WebRoom
let alice: AppPage
let bob: AppPage
const report = { name: 'report.bin', bytes: randomBytes(FILE_BYTES) }
const picture = { name: 'picture.png', bytes: png(64, 48) }

beforeAll(async () => {
  web = await startWebRoom('web-files', 'files', { files: true })
}, 120_000)

afterAll(() => web?.stop())

/** A page of the room without the File System Access API (see the top of this file). */
async function openMember(account: number): Promise<AppPage> {
  const person = await web.openApp(account)
  const withoutPicker = () => {
    delete (globalThis as { showSaveFilePicker?: unknown }).showSaveFilePicker
  }
  // This document (signed in already) and every later one (a reload).
  await person.page.evaluate(withoutPicker)
  await person.context.addInitScript(withoutPicker)
  await person.page.goto(`${web.http.url}#invite=${encodeURIComponent(web.invite)}`)
  await person.page.getByRole('heading', { name: '# files' }).waitFor({ timeout: UI_TIMEOUT_MS })
  return person
}

function card(page: Page, name: string) {
  return page.locator('sc-file-card', { has: page.getByTestId('file-name').getByText(name, { exact: true }) })
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/** Clicks the card's Download and resolves with the SHA-256 of what the browser saved. */
async function download(page: Page, name: string): Promise<string> {
  const [saved] = await Promise.all([
    page.waitForEvent('download', { timeout: UI_TIMEOUT_MS }),
    card(page, name)
      .getByRole('button', { name: `Download ${name}` })
      .click(),
  ])
  expect(saved.suggestedFilename()).toBe(name)
  // Streamed through the service worker, not a Blob of the whole file handed over at the end.
  expect(new URL(saved.url()).pathname).toMatch(/^\/_download\/[0-9a-f-]{36}$/)
  return sha256Hex(await readFile((await saved.path())!))
}

/** A short address as the app shows it. */
function short(address: string): string {
  return `${address.slice(0, 6)}…${address.slice(-4)}`
}

describe('web app: files', () => {
  it('behavior: alice attaches a file with the Attach button, with a caption; bob sees its card with name and size', async () => {
    ;[alice, bob] = await Promise.all([openMember(1), openMember(2)])
    // Both listed in the room at the relay: it keeps files for the room's members.
    await expect
      .poll(() => alice.page.getByTestId('members').textContent(), { timeout: UI_TIMEOUT_MS })
      .toContain(short(web.chain.accounts[2]!.address))

    const [chooser] = await Promise.all([
      alice.page.waitForEvent('filechooser'),
      alice.page.getByRole('button', { name: 'Attach a file' }).click(),
    ])
    await chooser.setFiles({ name: report.name, mimeType: 'application/octet-stream', buffer: report.bytes })
    expect(await alice.page.getByTestId('attached').textContent()).toMatch(/report\.bin.*12 MiB/)
    await alice.page.getByRole('textbox', { name: 'Message' }).fill('the quarterly report')
    await alice.page.getByRole('button', { name: 'Send' }).click()

    // Progress while it is encrypted and kept, then the card in alice's own list.
    await expect
      .poll(() => alice.page.getByTestId('upload-progress').textContent(), { timeout: UI_TIMEOUT_MS })
      .toMatch(/ of (12 MiB|\d+(\.\d)? MiB)/)
    await card(alice.page, report.name).waitFor({ timeout: UI_TIMEOUT_MS })
    await expectNoSeriousAxeViolations(alice.page, 'room, a file shared')
    // Kept by the relay: no warning that it lives only in this tab.
    expect(await alice.page.getByTestId('upload-problem').count()).toBe(0)

    const bobCard = card(bob.page, report.name)
    await bobCard.waitFor({ timeout: UI_TIMEOUT_MS })
    expect(await bobCard.getByTestId('file-size').textContent()).toBe('12 MiB')
    const message = bob.page.locator('sc-chat-view li[data-message-id]', { has: bobCard })
    expect(await message.locator('.text').textContent()).toBe('the quarterly report')
    await screenshot(bob.page, 'file-card')
  })

  it('behavior: a picture dropped on the conversation is previewed inline on both pages; a pasted file is attached', async () => {
    await alice.page.locator('sc-chat-view').evaluate(
      (view, { name, bytes }) => {
        const data = new DataTransfer()
        data.items.add(new File([new Uint8Array(bytes)], name, { type: 'image/png' }))
        view.dispatchEvent(new DragEvent('dragover', { dataTransfer: data, bubbles: true, cancelable: true }))
        view.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }))
      },
      { name: picture.name, bytes: [...picture.bytes] },
    )
    expect(await alice.page.getByTestId('attached').textContent()).toContain(picture.name)
    await alice.page.getByRole('button', { name: 'Send' }).click()

    for (const person of [alice, bob]) {
      const preview = card(person.page, picture.name).getByTestId('file-preview')
      await preview.waitFor({ timeout: UI_TIMEOUT_MS })
      await expect
        .poll(() => preview.evaluate((img) => (img as HTMLImageElement).naturalWidth), { timeout: UI_TIMEOUT_MS })
        .toBe(64)
      expect(await preview.getAttribute('src')).toMatch(/^blob:/)
    }
    await screenshot(bob.page, 'file-preview')

    // A pasted file is attached, not pasted as text; Remove takes it off.
    await alice.page.getByRole('textbox', { name: 'Message' }).evaluate((box) => {
      const data = new DataTransfer()
      data.items.add(new File(['some notes'], 'notes.txt', { type: 'text/plain' }))
      box.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }))
    })
    expect(await alice.page.getByTestId('attached').textContent()).toContain('notes.txt')
    await alice.page.getByRole('button', { name: 'Remove the attached file notes.txt' }).click()
    expect(await alice.page.getByTestId('attached').count()).toBe(0)
    expect(await cspViolations(alice.page)).toEqual([])
    expect(alice.consoleCsp).toEqual([])
  })

  it('behavior: alice left; bob downloads her file from the relay, with progress, byte for byte', async () => {
    await alice.context.close()
    const bobCard = card(bob.page, report.name)
    const saved = download(bob.page, report.name)
    await expect
      .poll(() => bobCard.getByTestId('download-progress').textContent(), { timeout: UI_TIMEOUT_MS })
      .toMatch(/ of 12 MiB/)
    expect(await saved).toBe(sha256Hex(report.bytes))
    await bobCard.getByTestId('download-done').waitFor()
  })

  it('behavior: after a reload the card and its preview are back (from the vault and this browser’s blocks), and the file downloads again', async () => {
    await bob.page.reload()
    await bob.page.getByRole('heading', { name: '# files' }).waitFor({ timeout: UI_TIMEOUT_MS })
    await card(bob.page, report.name).waitFor({ timeout: UI_TIMEOUT_MS })
    const preview = card(bob.page, picture.name).getByTestId('file-preview')
    await expect
      .poll(() => preview.evaluate((img) => (img as HTMLImageElement).naturalWidth), { timeout: UI_TIMEOUT_MS })
      .toBe(64)
    expect(await download(bob.page, report.name)).toBe(sha256Hex(report.bytes))
    // The file's key is in the encrypted vault only, never in what any script of the origin reads in the clear.
    const key = await card(bob.page, report.name).evaluate(
      (el) => (el as unknown as { file: { key: string } }).file.key,
    )
    expect(await bob.page.evaluate(() => JSON.stringify({ ...localStorage }))).not.toContain(key)
  })

  it("behavior: a file that fails its check, and one nobody has, each say so and save nothing; the first one's streamed download fails", async () => {
    const downloads: Download[] = []
    bob.page.on('download', (started) => downloads.push(started))
    // Dave shares a file (the relay keeps it), then a message naming the same blocks under another hash: a lie.
    const original = await web.dave.shareFile(web.room, new Blob([randomBytes(3 * MiB)]).stream(), {
      name: 'original.bin',
      type: 'application/octet-stream',
    })
    expect(original.keptBy).toEqual([web.relay.peerId.toString()])
    const manifest = original.file
    await web.room.send('a file with a wrong hash', {
      file: { ...manifest, name: 'tampered.bin', sha256: '0'.repeat(64) },
    })
    const tampered = card(bob.page, 'tampered.bin')
    await tampered.waitFor({ timeout: UI_TIMEOUT_MS })
    await tampered.getByRole('button', { name: 'Download tampered.bin' }).click()
    await expect
      .poll(() => tampered.getByTestId('file-problem').textContent(), { timeout: UI_TIMEOUT_MS })
      .toBe('This file failed its integrity check — it was not saved.')
    // Its segments passed and streamed to the browser's download; the whole's SHA-256 did not, so its last bytes were
    // never sent: the browser's download failed, and nothing was saved under its name.
    expect(downloads).toHaveLength(1)
    expect(await downloads[0]!.failure()).not.toBeNull()
    expect(await downloads[0]!.path().catch(() => null)).toBeNull()

    // A manifest naming blocks that no peer holds.
    const nowhere = CID.createV1(0x55, await sha256.digest(randomBytes(32))).toString()
    await web.room.send('a file nobody has', { file: { ...manifest, cid: nowhere, name: 'gone.bin' } })
    const gone = card(bob.page, 'gone.bin')
    await gone.waitFor({ timeout: UI_TIMEOUT_MS })
    await gone.getByRole('button', { name: 'Download gone.bin' }).click()
    await expect
      .poll(() => gone.getByTestId('file-problem').textContent(), { timeout: 90_000, interval: 1_000 })
      .toMatch(/^This file cannot be fetched: its sender and the relays that kept it are offline/)
    // Nothing fetched, so no download was started for it.
    expect(downloads).toHaveLength(1)
    await expectNoSeriousAxeViolations(bob.page, 'room, file problems')
    expect(await cspViolations(bob.page)).toEqual([])
    expect(bob.consoleCsp).toEqual([])
  }, 150_000)
})
