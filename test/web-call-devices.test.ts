/**
 * A call whose camera or microphone the browser will not give (issue 17: "clear errors when a device is missing or
 * refused"), in Debian's Chromium against a real relay: alice's browser has the fake devices behind the permission
 * prompt, which headless Chromium refuses (`NotAllowedError`, as a person clicking Block); bob's has no camera and no
 * microphone at all (`NotFoundError`). Each sees the app's sentence in the conversation, no call panel, the call
 * buttons back, and can still send a message; alice, once the site is allowed the devices, starts the call.
 */
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type AppPage, cspViolations, launchChromium, sendMessage } from './helpers/browser.ts'
import { startWebRoom, type WebRoom } from './helpers/web-stack.ts'

const UI_TIMEOUT_MS = 30_000

let web: WebRoom
let noDevices: Browser | undefined
let alice: AppPage
let bob: AppPage

beforeAll(async () => {
  web = await startWebRoom('web-call-devices', 'devices', { media: 'prompt' })
  alice = await web.openApp(1, { joinRoom: true })
  noDevices = await launchChromium([], 'none')
  bob = await web.openApp(2, { joinRoom: true, browser: noDevices })
}, 180_000)

afterAll(async () => {
  await web?.stop()
  await noDevices?.close()
})

/** The reason a start failed, as the conversation shows it, once it does. */
async function problemShown(page: Page): Promise<string> {
  const problem = page.getByTestId('call-problem')
  await problem.waitFor({ timeout: UI_TIMEOUT_MS })
  return (await problem.textContent()) ?? ''
}

/** After a failed start: no call panel, the call buttons usable again, and a message still goes. */
async function stillUsable(page: Page, text: string): Promise<void> {
  expect(await page.getByTestId('call').count()).toBe(0)
  expect(await page.getByTestId('call-starting').count()).toBe(0)
  expect(await page.getByRole('button', { name: 'Video call' }).isEnabled()).toBe(true)
  expect(await page.getByRole('button', { name: 'Audio call' }).isEnabled()).toBe(true)
  await sendMessage(page, text, UI_TIMEOUT_MS)
}

describe('a call without the camera or microphone', () => {
  it('behavior: refused by the browser — the app says to allow them, stays usable, and the call starts once allowed', async () => {
    await alice.page.getByRole('button', { name: 'Video call' }).click()
    expect(await problemShown(alice.page)).toBe(
      'The browser refused the camera and microphone: allow them for this site (the icon in the address bar), then start the call again.',
    )
    await stillUsable(alice.page, 'no camera for me')
    await alice.page.getByRole('button', { name: 'Audio call' }).click()
    await expect
      .poll(() => alice.page.getByTestId('call-problem').textContent(), { timeout: UI_TIMEOUT_MS })
      .toBe(
        'The browser refused the microphone: allow it for this site (the icon in the address bar), then start the call again.',
      )
    await stillUsable(alice.page, 'nor a microphone')

    // The person allows the site the devices (the address bar's icon): the same click now starts the call.
    await alice.context.grantPermissions(['camera', 'microphone'], { origin: web.http.url })
    await alice.page.getByRole('button', { name: 'Video call' }).click()
    await alice.page.getByTestId('call').waitFor({ timeout: UI_TIMEOUT_MS })
    expect(await alice.page.getByTestId('call-problem').count()).toBe(0)
    await alice.page.getByRole('button', { name: 'Leave call' }).click()
    await alice.page.getByTestId('call').waitFor({ state: 'detached', timeout: UI_TIMEOUT_MS })
    expect(await cspViolations(alice.page)).toEqual([])
  }, 120_000)

  it('behavior: no camera or microphone at all — the app says so, for a video call and for an audio call, and stays usable', async () => {
    await bob.page.getByRole('button', { name: 'Video call' }).click()
    expect(await problemShown(bob.page)).toBe('No camera or microphone was found: plug one in, or start an audio call.')
    await stillUsable(bob.page, 'no camera here')
    await bob.page.getByRole('button', { name: 'Audio call' }).click()
    await expect
      .poll(() => bob.page.getByTestId('call-problem').textContent(), { timeout: UI_TIMEOUT_MS })
      .toBe('No microphone was found: plug one in and start the call again.')
    await stillUsable(bob.page, 'no microphone either')
    expect(await cspViolations(bob.page)).toEqual([])
  }, 120_000)
})
