/**
 * Replies and threads, reactions, edits and deletes in the web app, in Debian's Chromium against a real relay (its
 * CSP and Trusted Types) and a Hardhat chain: alice and bob in two pages of a room dave (a terminal client) made,
 * then in a DM — each change seen by the other page, a delete gone after a reload, the actions reached from the
 * keyboard, and axe-core scans of the thread view and the action menus.
 */
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectNoSeriousAxeViolations } from './helpers/axe.ts'
import { type AppPage, cspViolations, screenshot } from './helpers/browser.ts'
import { startWebRoom, type WebRoom } from './helpers/web-stack.ts'

/** Deliveries cross a relay, then WebRTC; generous for a loaded 2-core machine, never a speed check. */
const UI_TIMEOUT_MS = 30_000

type Person = AppPage

let web: WebRoom
let alice: Person
let bob: Person

beforeAll(async () => {
  web = await startWebRoom('web-kinds', 'kinds')
}, 120_000)

afterAll(() => web?.stop())

const openApp = (account: number): Promise<Person> => web.openApp(account)

async function send(page: Page, text: string, box = 'Message'): Promise<void> {
  await page.getByRole('textbox', { name: box }).fill(text)
  await page.getByRole('textbox', { name: box }).press('Enter')
}

/** A message of the conversation itself (not of the thread view), found by its text. */
function inRoom(page: Page, text: string) {
  return page.locator('sc-chat-view .room li:not(.pending)', { has: page.locator('.text', { hasText: text }) })
}

function inThread(page: Page, text: string) {
  return page.locator('sc-chat-view .thread li:not(.pending)', { has: page.locator('.text', { hasText: text }) })
}

/** The message's action (Reply, React, Edit, Delete), shown on hover. */
async function action(message: ReturnType<typeof inRoom>, name: string): Promise<void> {
  await message.hover()
  await message.getByRole('toolbar', { name: 'Message actions' }).getByRole('button', { name, exact: true }).click()
}

/** The focused element through shadow roots: its text and the message it is in. */
function focused(page: Page) {
  return page.evaluate(() => {
    let at = document.activeElement
    while (at?.shadowRoot?.activeElement) at = at.shadowRoot.activeElement
    return {
      tag: at?.tagName.toLowerCase(),
      label: at?.getAttribute('aria-label') ?? at?.textContent?.trim(),
      message: at?.closest('li[data-message-id]')?.querySelector('.text')?.textContent,
    }
  })
}

/** An address as the app shortens it. */
function short(address: string): string {
  return `${address.slice(0, 6)}…${address.slice(-4)}`
}

describe('web app: replies and threads, reactions, edits and deletes', () => {
  it('behavior: alice and bob join dave’s room; a reply in a thread reaches the other page, with the summary under its root', async () => {
    ;[alice, bob] = await Promise.all([openApp(1), openApp(2)])
    for (const person of [alice, bob]) {
      await person.page.goto(`${web.http.url}#invite=${encodeURIComponent(web.invite)}`)
      await person.page.getByRole('heading', { name: '# kinds' }).waitFor({ timeout: UI_TIMEOUT_MS })
    }
    await send(alice.page, 'a root message')
    const root = inRoom(bob.page, 'a root message')
    await root.waitFor({ timeout: UI_TIMEOUT_MS })

    await action(root, 'Reply')
    const thread = bob.page.getByRole('region', { name: 'Thread' })
    await thread.waitFor()
    expect(await inThread(bob.page, 'a root message').count()).toBe(1)
    await send(bob.page, 'first reply, in the thread', 'Reply in thread')
    await inThread(bob.page, 'first reply').waitFor({ timeout: UI_TIMEOUT_MS })

    const summary = inRoom(alice.page, 'a root message').getByTestId('thread-summary')
    await expect.poll(() => summary.textContent(), { timeout: UI_TIMEOUT_MS }).toMatch(/^1 reply · last \d/)
    // A reply is in its thread, not in the conversation.
    expect(await inRoom(alice.page, 'first reply').count()).toBe(0)
    await send(bob.page, 'second reply', 'Reply in thread')
    await expect.poll(() => summary.textContent(), { timeout: UI_TIMEOUT_MS }).toMatch(/^2 replies · last \d/)
    await summary.click()
    await inThread(alice.page, 'second reply').waitFor({ timeout: UI_TIMEOUT_MS })
    expect(await alice.page.locator('sc-chat-view .thread li:not(.pending) .text').allTextContents()).toEqual([
      'a root message',
      'first reply, in the thread',
      'second reply',
    ])
    await screenshot(alice.page, 'thread')
    await expectNoSeriousAxeViolations(alice.page, 'room, thread open')
    // On a phone the thread covers the conversation.
    await alice.page.setViewportSize({ width: 390, height: 844 })
    await expectNoSeriousAxeViolations(alice.page, 'thread, phone')
    await screenshot(alice.page, 'thread-phone')
    await alice.page.setViewportSize({ width: 1100, height: 760 })
    await alice.page.getByRole('button', { name: 'Close thread' }).click()
  })

  it('behavior: a reaction added from the picker and by its chip, counted with who reacted, and taken back', async () => {
    const root = inRoom(bob.page, 'a root message')
    await action(root, 'React')
    await expectNoSeriousAxeViolations(bob.page, 'room, reaction picker open')
    await bob.page
      .getByRole('group', { name: 'Pick a reaction' })
      .getByRole('button', { name: 'React with party' })
      .click()

    const chip = inRoom(alice.page, 'a root message').getByTestId('reactions').locator('button[data-emoji="🎉"]')
    await expect.poll(() => chip.textContent(), { timeout: UI_TIMEOUT_MS }).toBe('🎉 1')
    const bobShort = short(web.chain.accounts[2]!.address)
    expect(await chip.getAttribute('title')).toBe(`🎉 by ${bobShort}`)
    expect(await chip.getAttribute('aria-pressed')).toBe('false')
    await chip.click()
    await expect.poll(() => chip.getAttribute('aria-pressed')).toBe('true')
    const bobChip = root.getByTestId('reactions').locator('button[data-emoji="🎉"]')
    await expect.poll(() => bobChip.textContent(), { timeout: UI_TIMEOUT_MS }).toBe('🎉 2')
    expect(await bobChip.getAttribute('title')).toMatch(/^🎉 by (you, 0x|0x.*, you)/)
    await screenshot(bob.page, 'reactions')

    // Both take theirs back: the chip goes, on both pages.
    await bobChip.click()
    await expect.poll(() => chip.textContent(), { timeout: UI_TIMEOUT_MS }).toBe('🎉 1')
    await chip.click()
    await expect.poll(() => bobChip.count(), { timeout: UI_TIMEOUT_MS }).toBe(0)
    expect(await chip.count()).toBe(0)
  })

  it('behavior: an edit reaches the other page marked "edited", its versions a click away; only one’s own messages offer Edit and Delete', async () => {
    const mine = inRoom(alice.page, 'a root message')
    await action(mine, 'Edit')
    const box = alice.page.getByRole('textbox', { name: 'Edit message' })
    expect(await box.inputValue()).toBe('a root message')
    await box.fill('a root message, edited')
    await box.press('Enter')

    const seen = inRoom(bob.page, 'a root message, edited')
    await seen.waitFor({ timeout: UI_TIMEOUT_MS })
    await seen.getByTestId('edited').click()
    const versions = seen.getByRole('list', { name: 'Versions' }).locator('li')
    expect(await versions.count()).toBe(2)
    expect(await versions.nth(0).textContent()).toContain('a root message')
    expect(await versions.nth(0).textContent()).not.toContain('edited')
    expect(await versions.nth(1).textContent()).toContain('a root message, edited')
    // The thread stays with its edited root.
    expect(await seen.getByTestId('thread-summary').textContent()).toMatch(/^2 replies/)
    // Bob's toolbar on alice's message: no Edit, no Delete.
    await seen.hover()
    const tools = seen.getByRole('toolbar', { name: 'Message actions' })
    expect(await tools.getByRole('button').allTextContents()).toEqual(['Reply', 'React'])
  })

  it('behavior: a delete, confirmed first, shows as deleted on the other page, and its text is gone there after a reload', async () => {
    await send(alice.page, 'a message to take back')
    await inRoom(bob.page, 'a message to take back').waitFor({ timeout: UI_TIMEOUT_MS })
    const mine = inRoom(alice.page, 'a message to take back')
    await action(mine, 'Delete')
    const question = alice.page.getByRole('group', { name: 'Delete this message?' })
    await expectNoSeriousAxeViolations(alice.page, 'room, delete question')
    await question.getByRole('button', { name: 'Cancel' }).click()
    expect(await mine.count()).toBe(1)
    await action(mine, 'Delete')
    await question.getByRole('button', { name: 'Delete for everyone' }).click()

    const bobList = bob.page.locator('sc-chat-view .room ol.messages')
    await expect.poll(() => bobList.getByTestId('deleted').count(), { timeout: UI_TIMEOUT_MS }).toBe(1)
    expect(await bobList.textContent()).not.toContain('a message to take back')
    expect(await alice.page.locator('sc-chat-view .room ol.messages').getByTestId('deleted').count()).toBe(1)

    await bob.page.reload()
    await bob.page.getByRole('heading', { name: '# kinds' }).waitFor({ timeout: UI_TIMEOUT_MS })
    await inRoom(bob.page, 'a root message, edited').waitFor({ timeout: UI_TIMEOUT_MS })
    expect(await bobList.getByTestId('deleted').count()).toBe(1)
    expect(await bob.page.locator('sc-chat-view').textContent()).not.toContain('a message to take back')
    expect(await bobList.textContent()).not.toContain('a message to take back')
    // In the room again (what alice sends next reaches bob's page live: this relay keeps no history).
    const aliceShort = short(web.chain.accounts[1]!.address)
    await expect
      .poll(() => bob.page.getByTestId('members').textContent(), { timeout: UI_TIMEOUT_MS })
      .toContain(aliceShort)
  })

  it('accessibility: a message’s actions are reached with Tab and used with Enter — a reply in its thread, a reaction', async () => {
    await send(alice.page, 'reach me by keyboard')
    const target = inRoom(bob.page, 'reach me by keyboard')
    await target.waitFor({ timeout: UI_TIMEOUT_MS })
    await bob.page.getByRole('textbox', { name: 'Message' }).focus()
    // Backwards from the composer: the newest message's actions come first.
    for (let i = 0; i < 4 && (await focused(bob.page)).label !== 'Reply'; i++)
      await bob.page.keyboard.press('Shift+Tab')
    expect(await focused(bob.page)).toEqual({ tag: 'button', label: 'Reply', message: 'reach me by keyboard' })
    expect(await target.locator('.tools').evaluate((el) => getComputedStyle(el).opacity)).toBe('1')
    await bob.page.keyboard.press('Enter')
    expect(await focused(bob.page)).toMatchObject({ tag: 'textarea' })
    await bob.page.keyboard.type('replied from the keyboard')
    await bob.page.keyboard.press('Enter')
    const summary = inRoom(alice.page, 'reach me by keyboard').getByTestId('thread-summary')
    await expect.poll(() => summary.textContent(), { timeout: UI_TIMEOUT_MS }).toMatch(/^1 reply/)

    // Into the message's toolbar again, to React: the picker takes the focus, Enter picks.
    await bob.page.getByRole('button', { name: 'Close thread' }).click()
    await bob.page.getByRole('textbox', { name: 'Message' }).focus()
    for (let i = 0; i < 4 && (await focused(bob.page)).label !== 'React'; i++)
      await bob.page.keyboard.press('Shift+Tab')
    expect(await focused(bob.page)).toEqual({ tag: 'button', label: 'React', message: 'reach me by keyboard' })
    await bob.page.keyboard.press('Enter')
    expect(await focused(bob.page)).toMatchObject({ label: 'React with thumbs up' })
    await bob.page.keyboard.press('Enter')
    // The focus is back on React once the picker closes.
    await expect.poll(async () => (await focused(bob.page)).label).toBe('React')
    const chip = inRoom(alice.page, 'reach me by keyboard').locator('button[data-emoji="👍"]')
    await expect.poll(() => chip.textContent(), { timeout: UI_TIMEOUT_MS }).toBe('👍 1')
  })

  it('behavior: in a DM too — a reply in its thread, a reaction, an edit and a delete reach the other wallet', async () => {
    const page = alice.page
    await page.getByRole('button', { name: 'Message a wallet' }).click()
    await page.getByLabel('Wallet address').fill(web.chain.accounts[2]!.address)
    await page.getByRole('button', { name: 'Open conversation' }).click()
    await send(page, 'a direct word')
    await send(page, 'a direct word to delete')
    await bob.page
      .locator('sc-conversation-list button', { hasText: web.chain.accounts[1]!.address.slice(0, 6) })
      .first()
      .click()
    const word = inRoom(bob.page, 'a direct word')
    await word.first().waitFor({ timeout: UI_TIMEOUT_MS })
    const first = bob.page.locator('sc-chat-view .room li:not(.pending)', {
      has: bob.page.locator('.text', { hasText: /^a direct word$/ }),
    })
    await action(first, 'React')
    await bob.page.getByRole('button', { name: 'React with heart' }).click()
    await action(first, 'Reply')
    await send(bob.page, 'a direct reply', 'Reply in thread')

    const aliceFirst = page.locator('sc-chat-view .room li:not(.pending)', {
      has: page.locator('.text', { hasText: /^a direct word$/ }),
    })
    await expect
      .poll(() => aliceFirst.locator('button[data-emoji="❤️"]').textContent(), { timeout: UI_TIMEOUT_MS })
      .toBe('❤️ 1')
    await expect
      .poll(() => aliceFirst.getByTestId('thread-summary').textContent(), { timeout: UI_TIMEOUT_MS })
      .toMatch(/^1 reply/)
    await action(aliceFirst, 'Edit')
    await page.getByRole('textbox', { name: 'Edit message' }).fill('a direct word, edited')
    await page.getByRole('button', { name: 'Save' }).click()
    await inRoom(bob.page, 'a direct word, edited').getByTestId('edited').waitFor({ timeout: UI_TIMEOUT_MS })

    await action(inRoom(page, 'a direct word to delete'), 'Delete')
    await page.getByRole('button', { name: 'Delete for everyone' }).click()
    await bob.page.locator('sc-chat-view .room').getByTestId('deleted').waitFor({ timeout: UI_TIMEOUT_MS })
    expect(await bob.page.locator('sc-chat-view').textContent()).not.toContain('to delete')
    await expectNoSeriousAxeViolations(bob.page, 'DM with a thread summary, reactions and a deleted message')
  })

  it('security: zero CSP or Trusted Types violations on either page', async () => {
    for (const person of [alice, bob]) {
      expect(await cspViolations(person.page)).toEqual([])
      expect(person.consoleCsp).toEqual([])
    }
  })
})
