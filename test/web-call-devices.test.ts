/**
 * A call whose camera or microphone the browser will not give (issue 17: "clear errors when a device is missing or
 * refused"), in Debian's Chromium against a real relay: alice's browser has the fake devices behind the permission
 * prompt, which headless Chromium refuses (`NotAllowedError`, as a person clicking Block); bob's has no camera and no
 * microphone at all (`NotFoundError`). Each sees the app's sentence in the conversation, no call panel, the call
 * buttons back, and can still send a message; alice, once the site is allowed the devices, starts the call. Her
 * call rings on bob's page as a notification, whose click opens the room with the call and its Join buttons.
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

describe('calls: a missing or refused camera and microphone, and the ring', () => {
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

  it('behavior: a DM call nobody can be told of (a wallet with no device anywhere) says so in the call, with what to do', async () => {
    // A wallet that never used SecureChat: no device of it answers alice's search, nor is any in a relay's store.
    const stranger = web.chain.accounts[7]!.address
    await alice.page.getByRole('button', { name: 'Message a wallet' }).click()
    await alice.page.getByLabel('Wallet address').fill(stranger)
    await alice.page.getByRole('button', { name: 'Open conversation' }).click()
    await alice.page.getByRole('button', { name: 'Audio call' }).click()
    const call = alice.page.getByTestId('call')
    await call.waitFor({ timeout: UI_TIMEOUT_MS })
    const alert = call.getByRole('alert')
    await alert.waitFor({ timeout: UI_TIMEOUT_MS })
    expect(await alert.textContent()).toMatch(/^Nobody can hear this call yet: .*no device of this wallet was found/)
    await alice.page.getByRole('button', { name: 'Leave call' }).click()
    await call.waitFor({ state: 'detached', timeout: UI_TIMEOUT_MS })
    await alice.page.getByRole('button', { name: /^# devices/ }).click()
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

  it('behavior: a call rings as a notification whose click opens the room, showing the call and its Join', async () => {
    // Bob allows the site's notifications (as a person clicking Allow), turns them on, and reads his Mentions.
    await bob.context.grantPermissions(['notifications'], { origin: web.http.url })
    await bob.page.getByRole('button', { name: /^Mentions/ }).click()
    await bob.page.getByRole('heading', { name: 'Mentions' }).waitFor()
    const toggle = bob.page.getByRole('checkbox', { name: 'Notify me of mentions and direct messages' })
    await toggle.check()
    await expect.poll(() => toggle.isChecked()).toBe(true)

    // alice (her devices allowed in the first test) starts a video call in the room.
    const aliceAddress = web.chain.accounts[1]!.address
    await alice.page.getByRole('button', { name: 'Video call' }).click()
    await alice.page.getByTestId('call').waitFor({ timeout: UI_TIMEOUT_MS })
    const expected = `${aliceAddress.slice(0, 6)}…${aliceAddress.slice(-4)} started a video call in # devices`
    const ring = async () => (await rings(bob.page)).find((n) => n.title.toLowerCase() === expected.toLowerCase())
    await expect.poll(ring, { timeout: UI_TIMEOUT_MS }).toMatchObject({ body: 'Open SecureChat to join.' })
    const { title } = (await ring())!

    // Its click (the worker's real handler, on a click event dispatched in it: headless Chromium clicks no
    // notification): bob's page opens the room, where the call shows with its Join buttons.
    await clickRing(bob, title)
    await bob.page.getByRole('heading', { name: '# devices' }).waitFor({ timeout: UI_TIMEOUT_MS })
    await bob.page.getByTestId('call-ongoing').waitFor({ timeout: UI_TIMEOUT_MS })
    expect(await bob.page.getByRole('button', { name: 'Join with audio' }).isVisible()).toBe(true)

    // With no window open the worker opens one at `/#open=<room>` (no message): the same room, the address cleaned.
    await bob.page.getByRole('button', { name: /^Mentions/ }).click()
    await bob.page.goto('about:blank')
    await bob.page.goto(`${web.http.url}#open=${web.room.id}`)
    await bob.page.getByRole('heading', { name: '# devices' }).waitFor({ timeout: UI_TIMEOUT_MS })
    await bob.page.getByTestId('call-ongoing').waitFor({ timeout: UI_TIMEOUT_MS })
    expect(new URL(bob.page.url()).hash).toBe('')

    await alice.page.getByRole('button', { name: 'Leave call' }).click()
    expect(await cspViolations(bob.page)).toEqual([])
  }, 120_000)
})

/** The notifications `page`'s service worker registration shows now. */
function rings(page: Page): Promise<Array<{ title: string; body: string }>> {
  return page.evaluate(async () => {
    const registration = await navigator.serviceWorker.getRegistration()
    return ((await registration?.getNotifications()) ?? []).map((n) => ({ title: n.title, body: n.body }))
  })
}

/**
 * A click on the notification titled `title`, in the page's real service worker: a `notificationclick` event of that
 * notification dispatched there, which runs the worker's handler (`web/src/sw.ts`); as in `web-mentions.test.ts`.
 */
async function clickRing(person: AppPage, title: string): Promise<void> {
  const worker = person.context.serviceWorkers()[0] ?? (await person.context.waitForEvent('serviceworker'))
  const clicked = await worker.evaluate(async (wanted) => {
    interface Scope {
      registration: { getNotifications(): Promise<Array<{ title: string }>> }
      dispatchEvent(event: Event): boolean
    }
    const scope = globalThis as unknown as Scope
    const notification = (await scope.registration.getNotifications()).find((n) => n.title === wanted)
    if (notification === undefined) return false
    const Click = (globalThis as unknown as { NotificationEvent: new (type: string, init: object) => Event })
      .NotificationEvent
    scope.dispatchEvent(new Click('notificationclick', { notification }))
    return true
  }, title)
  expect(clicked).toBe(true)
}
