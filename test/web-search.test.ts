/**
 * Search in the web app, in Debian's Chromium against a real relay (its CSP and Trusted Types) and a Hardhat chain:
 * dave (an sdk client) writes in a room and a DM to alice's page; alice finds a message of each with Ctrl+K or `/`,
 * and a result opens its conversation scrolled to the message, marked (a reply in its thread). An edited message
 * is found by its new text only, a deleted one not at all; after a reload the index is loaded from the vault, not
 * built again (the panel's figures say so). axe-core scans the panel, on a desktop and on a phone.
 */
import type { Address } from '@securechat/sdk/types'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectNoSeriousAxeViolations } from './helpers/axe.ts'
import { type AppPage, cspViolations, screenshot, sendMessage, shownMessage } from './helpers/browser.ts'
import { startWebRoom, type WebRoom } from './helpers/web-stack.ts'

/** Deliveries cross a relay; generous for a loaded 2-core machine, never a speed check. */
const UI_TIMEOUT_MS = 30_000
/** Messages after the one searched for: the list has to scroll to show it. */
const LATER_MESSAGES = 25

let web: WebRoom
let alice: AppPage
const sent: Record<string, string> = {}

beforeAll(async () => {
  // Signed in for the page's domain: a DM peer's certificate must match the app's.
  web = await startWebRoom('web-search', 'searching', { daveDomain: 'page' })
}, 120_000)

afterAll(() => web?.stop())

const dialog = (page: Page) => page.getByRole('dialog', { name: 'Search messages' })
const results = (page: Page) => dialog(page).getByTestId('search-result')

/** Types `query` in the open search dialog; resolves with the results' snippets once `count` are shown. */
async function search(page: Page, query: string, count: number): Promise<string[]> {
  await dialog(page).getByRole('searchbox', { name: 'Search messages' }).fill(query)
  await expect.poll(() => results(page).count(), { timeout: UI_TIMEOUT_MS }).toBe(count)
  if (count === 0)
    await expect.poll(() => dialog(page).getByTestId('search-status').textContent()).toContain('No message found')
  return results(page).locator('.snippet').allTextContents()
}

/** The message the chat view marked as the one a result opened. */
const marked = (page: Page) => page.locator('sc-chat-view li[data-found]')

/** Whether `locator`'s element is within the scrolled list's visible part. */
function inView(page: Page, selector: string) {
  return page.locator(selector).evaluate((item) => {
    const list = item.closest('ol')!.getBoundingClientRect()
    const box = item.getBoundingClientRect()
    return box.bottom > list.top && box.top < list.bottom
  })
}

describe('web app: search', () => {
  it('behavior: Ctrl+K finds a room message and a DM, each opening its conversation at the message, marked', async () => {
    alice = await web.openApp(1, { joinRoom: true })
    const page = alice.page
    await expect.poll(() => page.getByTestId('members').textContent(), { timeout: UI_TIMEOUT_MS }).toContain('0x')

    sent.narwhal = (await web.room.send('an older word about a narwhal')).id
    sent.quokka = (await web.room.send('the quokka said Héllo to everyone')).id
    sent.wombat = (await web.room.reply(sent.quokka, 'a reply about a wombat')).id
    for (let i = 0; i < LATER_MESSAGES; i++) await web.room.send(`later message ${i}`)
    await shownMessage(page, `later message ${LATER_MESSAGES - 1}`).waitFor({ timeout: UI_TIMEOUT_MS })

    // A DM: alice writes first (her own words are indexed too), dave answers.
    const heard = new Promise<void>((resolve) =>
      web.dave.dms.addEventListener('message:received', () => resolve(), { once: true }),
    )
    await web.dave.dms.ready()
    await page.getByRole('button', { name: 'Message a wallet' }).click()
    await page.getByLabel('Wallet address').fill(web.chain.accounts[5]!.address)
    await page.getByRole('button', { name: 'Open conversation' }).click()
    await sendMessage(page, 'my own capybara question', UI_TIMEOUT_MS)
    await heard
    sent.pangolin = (await web.dave.dm(web.chain.accounts[1]!.address as Address).send('a private pangolin answer')).id
    await shownMessage(page, 'a private pangolin answer').waitFor({ timeout: UI_TIMEOUT_MS })

    // From the DM, Ctrl+K: the dialog takes the focus.
    await page.keyboard.press('Control+K')
    await dialog(page).waitFor()
    expect(
      await page.evaluate(() => {
        let at = document.activeElement
        while (at?.shadowRoot?.activeElement) at = at.shadowRoot.activeElement
        return at?.getAttribute('type')
      }),
    ).toBe('search')
    expect(await search(page, 'QUOKKA hel', 1)).toEqual(['the quokka said Héllo to everyone'])
    // The matched words are marked: lit-drawn <mark> nodes, no HTML.
    expect(await results(page).first().locator('mark').allTextContents()).toEqual(['quokka', 'Héllo'])
    expect(await results(page).first().locator('.where').textContent()).toContain('# searching')
    await expectNoSeriousAxeViolations(page, 'search dialog with a result')
    await screenshot(page, 'search')
    await page.keyboard.press('Enter')

    await page.getByRole('heading', { name: '# searching' }).waitFor({ timeout: UI_TIMEOUT_MS })
    await expect.poll(() => marked(page).getAttribute('data-message-id')).toBe(sent.quokka)
    expect(await dialog(page).isVisible()).toBe(false)
    await expect.poll(() => inView(page, 'sc-chat-view .room li[data-found]')).toBe(true)
    // Scrolled to it: the newest message is out of view.
    expect(await inView(page, `sc-chat-view .room li:last-child`)).toBe(false)

    // `/` (outside a text field) opens it too; a DM's result opens the DM.
    await page.locator('sc-chat-view h2').click()
    await page.keyboard.press('/')
    await dialog(page).waitFor()
    expect(await search(page, 'pangolin', 1)).toEqual(['a private pangolin answer'])
    expect(await search(page, 'capyb', 1)).toEqual(['my own capybara question'])
    expect(await results(page).first().locator('.where').textContent()).toContain('you')
    await search(page, 'pangolin', 1)
    await results(page).first().click()
    await page.getByRole('heading', { name: /^DM with/ }).waitFor({ timeout: UI_TIMEOUT_MS })
    await expect.poll(() => marked(page).getAttribute('data-message-id')).toBe(sent.pangolin)

    // A reply is shown in its thread: the thread opens with it marked.
    await page.keyboard.press('Control+K')
    await search(page, 'wombat', 1)
    await page.keyboard.press('ArrowDown')
    await page.keyboard.press('Enter')
    await page.getByRole('region', { name: 'Thread' }).waitFor({ timeout: UI_TIMEOUT_MS })
    await expect
      .poll(() => page.locator('sc-chat-view .thread li[data-found]').getAttribute('data-message-id'))
      .toBe(sent.wombat)
  })

  it('behavior: an edited message is found by its new text, not its old; a deleted one is not found', async () => {
    const page = alice.page
    await web.room.edit(sent.quokka!, 'the axolotl said Héllo to everyone')
    await web.room.delete(sent.narwhal!)
    await page
      .locator('sc-chat-view .room li', { has: page.locator('.text', { hasText: 'the axolotl said' }) })
      .waitFor({ timeout: UI_TIMEOUT_MS })
    await page.locator('sc-chat-view .room').getByTestId('deleted').waitFor({ timeout: UI_TIMEOUT_MS })

    await page.keyboard.press('Control+K')
    expect(await search(page, 'axolotl', 1)).toEqual(['the axolotl said Héllo to everyone'])
    expect(await results(page).first().locator('.where').textContent()).toContain('edited')
    expect(await search(page, 'quokka', 0)).toEqual([])
    expect(await search(page, 'narwhal', 0)).toEqual([])
    // Escape closes it, from a search field with text too.
    await page.keyboard.press('Escape')
    await expect.poll(() => dialog(page).isVisible()).toBe(false)
  })

  it('behavior: after a reload the index is loaded from the vault, not built again, and still finds what it found', async () => {
    const page = alice.page
    const status = dialog(page).getByTestId('search-status')
    await page.keyboard.press('Control+K')
    // This page's first start built its index once, from an empty vault; everything since came one by one.
    expect(await status.getAttribute('data-rebuilds')).toBe('1')
    expect(Number(await status.getAttribute('data-updates'))).toBeGreaterThanOrEqual(LATER_MESSAGES + 5)
    // Reloaded once the vault holds the index as it is (and, written before it, the message states it follows).
    await expect.poll(() => status.getAttribute('data-saving'), { timeout: UI_TIMEOUT_MS }).toBe('0')
    await page.keyboard.press('Escape')

    await page.reload()
    await page.getByTestId('address').waitFor({ timeout: UI_TIMEOUT_MS })
    await page.getByRole('button', { name: 'Search', exact: true }).waitFor()
    await expect.poll(() => page.getByTestId('network').textContent(), { timeout: UI_TIMEOUT_MS }).toBe('online')
    await page.getByRole('button', { name: 'Search', exact: true }).click()
    await expect.poll(() => status.getAttribute('data-rebuilds'), { timeout: UI_TIMEOUT_MS }).toBe('0')
    expect(Number(await status.getAttribute('data-loaded'))).toBeGreaterThanOrEqual(LATER_MESSAGES + 4)
    expect(await search(page, 'axolotl', 1)).toEqual(['the axolotl said Héllo to everyone'])
    expect(await search(page, 'pangolin', 1)).toEqual(['a private pangolin answer'])
    expect(await search(page, 'quokka', 0)).toEqual([])
    expect(await search(page, 'narwhal', 0)).toEqual([])
    await page.keyboard.press('Escape')
  })

  it('accessibility: on a phone the dialog fits the screen, scans clean, and a result opens the conversation at the message', async () => {
    const page = alice.page
    await page.setViewportSize({ width: 390, height: 844 })
    await page.getByRole('button', { name: 'Search', exact: true }).click()
    await search(page, 'axolotl', 1)
    await expectNoSeriousAxeViolations(page, 'search dialog, phone')
    const box = await dialog(page).boundingBox()
    expect(box!.x).toBeGreaterThanOrEqual(0)
    expect(box!.x + box!.width).toBeLessThanOrEqual(390)
    await screenshot(page, 'search-phone')
    await results(page).first().click()
    await page.getByRole('heading', { name: '# searching' }).waitFor({ timeout: UI_TIMEOUT_MS })
    await expect.poll(() => marked(page).getAttribute('data-message-id')).toBe(sent.quokka)
    await expect.poll(() => inView(page, 'sc-chat-view .room li[data-found]')).toBe(true)
    await page.setViewportSize({ width: 1100, height: 760 })
  })

  it('security: zero CSP or Trusted Types violations', async () => {
    expect(await cspViolations(alice.page)).toEqual([])
    expect(alice.consoleCsp).toEqual([])
  })
})
