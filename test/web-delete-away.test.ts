/**
 * A delete made while the other member's page was closed: reopened, that page shows the message deleted, and its
 * vault keeps no text of it — a reload offline, which shows only what the vault holds, shows it deleted too. In
 * Debian's Chromium against a real relay with a store (as `securechat relay` runs by default: a closed page has
 * nowhere else to get the delete from) and a Hardhat chain; alice and bob are two pages of dave's room.
 */
import { randomBytes } from 'node:crypto'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sendMessage, shownMessage } from './helpers/browser.ts'
import { startWebRoom, type WebRoom } from './helpers/web-stack.ts'

/** Deliveries cross a relay, a reopened page catches up from its store; generous for a loaded 2-core machine. */
const UI_TIMEOUT_MS = 30_000

let web: WebRoom

beforeAll(async () => {
  web = await startWebRoom('web-delete-away', 'away', { relayStore: true })
}, 120_000)

afterAll(() => web?.stop())

function roomList(page: Page) {
  return page.locator('sc-chat-view .room ol.messages')
}

describe('web app: a delete reaching a page that was closed', () => {
  it('behavior: alice deletes while bob’s page is closed; reopened, it shows the message deleted, online and offline', async () => {
    const [alice, bob] = [await web.openApp(1, { joinRoom: true }), await web.openApp(2, { joinRoom: true })]
    const text = `to take back ${randomBytes(6).toString('hex')}`
    const id = await sendMessage(alice.page, text, UI_TIMEOUT_MS)
    await shownMessage(bob.page, text).waitFor({ timeout: UI_TIMEOUT_MS })
    await sendMessage(alice.page, 'stays', UI_TIMEOUT_MS)
    await shownMessage(bob.page, 'stays').waitFor({ timeout: UI_TIMEOUT_MS })
    await bob.page.close()

    // The delete reaches the relay (dave, an sdk member, has it through the same relay) while bob's page is closed.
    const reachedDave = new Promise<void>((resolve) =>
      web.room.addEventListener('message:updated', ({ detail }) => {
        if (detail.message.id === id && detail.message.deleted) resolve()
      }),
    )
    const mine = shownMessage(alice.page, text)
    await mine.hover()
    await mine
      .getByRole('toolbar', { name: 'Message actions' })
      .getByRole('button', { name: 'Delete', exact: true })
      .click()
    await alice.page
      .getByRole('group', { name: 'Delete this message?' })
      .getByRole('button', { name: 'Delete for everyone' })
      .click()
    await reachedDave

    const reopened = await bob.context.newPage()
    await reopened.goto(web.http.url)
    await reopened.getByRole('heading', { name: '# away' }).waitFor({ timeout: UI_TIMEOUT_MS })
    await shownMessage(reopened, 'stays').waitFor({ timeout: UI_TIMEOUT_MS })
    await expect.poll(() => roomList(reopened).getByTestId('deleted').count(), { timeout: UI_TIMEOUT_MS }).toBe(1)
    expect(await roomList(reopened).textContent()).not.toContain(text)

    // Offline, the page shows what its vault keeps: the message deleted, no text.
    await bob.context.setOffline(true)
    await reopened.reload()
    await shownMessage(reopened, 'stays').waitFor({ timeout: UI_TIMEOUT_MS })
    expect(await roomList(reopened).getByTestId('deleted').count()).toBe(1)
    expect(await reopened.locator('sc-chat-view').textContent()).not.toContain(text)
  }, 240_000)
})
