/**
 * The member list and fast-stale presence in the web app, in Debian's Chromium against a real relay and a Hardhat
 * chain: alice and bob in two pages of a room dave (a terminal client) made. Alice's "Members" lists the three with
 * their roles and last-seen times; bob's page closing shows him away on hers while the list is open (the presence
 * timeout is 45 s here: only bob's leaving presence or his relay's departure notice can do it within the wait); the
 * message toolbar takes no row of its own; axe scans of the member panel, also on a phone.
 */
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectNoSeriousAxeViolations } from './helpers/axe.ts'
import { type AppPage, cspViolations, screenshot, sendMessage, shownMessage } from './helpers/browser.ts'
import { startWebRoom, type WebRoom } from './helpers/web-stack.ts'

/** Deliveries cross a relay, then WebRTC; generous for a loaded 2-core machine, never a speed check. */
const UI_TIMEOUT_MS = 30_000

let web: WebRoom
let alice: AppPage
let bob: AppPage

beforeAll(async () => {
  // dave's presence at the sdk's default interval, not every second.
  web = await startWebRoom('web-members', 'members', { davePresenceIntervalMs: null })
}, 120_000)

afterAll(() => web?.stop())

const openApp = (account: number): Promise<AppPage> => web.openApp(account, { joinRoom: true })

const details = (page: Page) => page.getByRole('dialog', { name: '# members' })
const member = (page: Page, address: string) =>
  details(page).locator(`[data-testid="member"][data-address="${address}"]`)

async function openDetails(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Members', exact: true }).click()
  await details(page).waitFor()
}

/** An address as the app shortens it. */
function short(address: string): string {
  return `${address.slice(0, 6)}…${address.slice(-4)}`
}

describe('web app: who is in the room', () => {
  it('behavior: the member list shows the owner, the other member and oneself, each here, with roles and last-seen', async () => {
    ;[alice, bob] = await Promise.all([openApp(1), openApp(2)])
    const bobShort = short(web.chain.accounts[2]!.address)
    await expect
      .poll(() => alice.page.getByTestId('members').textContent(), { timeout: UI_TIMEOUT_MS })
      .toContain(bobShort)
    await openDetails(alice.page)
    const daveEntry = member(alice.page, web.chain.accounts[5]!.address)
    const bobEntry = member(alice.page, web.chain.accounts[2]!.address)
    const aliceEntry = member(alice.page, web.chain.accounts[1]!.address)
    await expect.poll(() => daveEntry.getByTestId('member-status').textContent()).toBe('here')
    expect(await daveEntry.getByTestId('member-roles').textContent()).toBe('owner')
    expect(await bobEntry.getByTestId('member-status').textContent()).toBe('here')
    expect(await bobEntry.getByTestId('member-roles').textContent()).toBe('member')
    expect(await bobEntry.getByTestId('last-seen').textContent()).toBe('here now')
    expect(await aliceEntry.textContent()).toContain('(you)')
    await screenshot(alice.page, 'members-panel')
    await expectNoSeriousAxeViolations(alice.page, 'the member panel')
  })

  it('behavior: bob’s page closing shows him away on alice’s open list, last seen then', async () => {
    const bobEntry = member(alice.page, web.chain.accounts[2]!.address)
    const closedAtMs = Date.now()
    await bob.context.close()
    await expect
      .poll(() => bobEntry.getByTestId('member-status').textContent(), { timeout: UI_TIMEOUT_MS })
      .toBe('away')
    console.info(`closed page seen away after ${Date.now() - closedAtMs} ms`)
    const seen = bobEntry.locator('[data-testid="last-seen"] time')
    const seenMs = Date.parse((await seen.getAttribute('datetime'))!)
    expect(seenMs).toBeGreaterThanOrEqual(closedAtMs - 1_000)
    // Away last: the ones here come first.
    expect(await details(alice.page).getByTestId('member').last().getAttribute('data-address')).toBe(
      web.chain.accounts[2]!.address,
    )
    await details(alice.page).getByRole('button', { name: 'Close' }).click()
    expect(await alice.page.getByTestId('members').textContent()).not.toContain(short(web.chain.accounts[2]!.address))
  })

  it('layout: a message reserves no row for its hidden toolbar, which shows on hover and on keyboard focus', async () => {
    const page = alice.page
    await sendMessage(page, 'measure my height', UI_TIMEOUT_MS)
    const item = shownMessage(page, 'measure my height')
    await page.mouse.move(0, 0)
    // The message's box ends where its text ends (and its padding): nothing below the text.
    const gapPx = await item.evaluate((li) => {
      const style = getComputedStyle(li)
      const contentBottom = li.getBoundingClientRect().bottom - Number.parseFloat(style.paddingBottom)
      return contentBottom - li.querySelector('.text')!.getBoundingClientRect().bottom
    })
    expect(gapPx).toBeLessThan(1)
    const tools = item.getByRole('toolbar', { name: 'Message actions' })
    expect(await tools.evaluate((el) => getComputedStyle(el).opacity)).toBe('0')
    await item.hover()
    await expect.poll(() => tools.evaluate((el) => getComputedStyle(el).opacity)).toBe('1')
    await page.mouse.move(0, 0)
    await page.getByRole('textbox', { name: 'Message' }).focus()
    await page.keyboard.press('Shift+Tab')
    await expect.poll(() => tools.evaluate((el) => getComputedStyle(el).opacity)).toBe('1')
    expect(
      await tools.evaluate((el) =>
        el.contains(el.getRootNode() instanceof ShadowRoot ? (el.getRootNode() as ShadowRoot).activeElement : null),
      ),
    ).toBe(true)
  })

  it('accessibility: on a phone the member panel takes the screen and passes axe', async () => {
    const page = alice.page
    await page.setViewportSize({ width: 390, height: 844 })
    await openDetails(page)
    const box = await details(page).boundingBox()
    expect(box!.width).toBeLessThanOrEqual(390)
    await screenshot(page, 'members-panel-phone')
    await expectNoSeriousAxeViolations(page, 'the member panel on a phone')
    await details(page).getByRole('button', { name: 'Close' }).click()
    await page.setViewportSize({ width: 1100, height: 760 })
  })

  it('security: zero CSP or Trusted Types violations', async () => {
    expect(await cspViolations(alice.page)).toEqual([])
    expect(alice.consoleCsp).toEqual([])
  })
})
