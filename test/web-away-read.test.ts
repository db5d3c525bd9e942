/**
 * A wallet's second page, closed while the first reads: reopened, its unread count is cleared by the read position
 * the relays' stores kept (as the CLI's device away does: test/receipts-cli.test.ts). In Debian's Chromium against a
 * real relay with a store and a Hardhat chain: alice's two pages (two browser contexts of one wallet: two devices),
 * dave (an sdk client) writes. The relay must keep history, as `securechat relay` does by default: a closed page has
 * nowhere else to read the position from (the stack of test/web-receipts.test.ts keeps none, which is why only its
 * open pages are tested there).
 */
import type { ReadSignal } from '@securechat/sdk/types'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { shownMessage } from './helpers/browser.ts'
import { startWebRoom, type WebRoom } from './helpers/web-stack.ts'

const UI_TIMEOUT_MS = 30_000

let web: WebRoom

beforeAll(async () => {
  web = await startWebRoom('web-away-read', 'away', { relayStore: true })
}, 120_000)

afterAll(() => web?.stop())

describe('web app: read position reaching a page that was closed', () => {
  it('behavior: read on alice’s first page while her second is closed; reopened, the second shows it read', async () => {
    const [first, second] = [await web.openApp(1, { joinRoom: true }), await web.openApp(1, { joinRoom: true })]
    const aliceAddress = web.chain.accounts[1]!.address
    // Elsewhere on both: what arrives stays unread on each.
    for (const page of [first.page, second.page]) await page.getByRole('button', { name: 'Join' }).click()
    // One the second page holds unread as it closes, one it misses.
    await web.room.send('before the second page closes')
    await expect.poll(() => second.page.title(), { timeout: UI_TIMEOUT_MS }).toBe('(1) SecureChat')
    await second.page.close()

    await web.room.send('while the second page is closed')
    await expect.poll(() => first.page.title(), { timeout: UI_TIMEOUT_MS }).toBe('(2) SecureChat')
    const read = new Promise<ReadSignal>((resolve) =>
      web.room.addEventListener('read:received', ({ detail }) => {
        if (detail.reader === aliceAddress) resolve(detail)
      }),
    )
    await first.page.locator('sc-conversation-list button', { hasText: 'away' }).click()
    await shownMessage(first.page, 'while the second page is closed').waitFor({ timeout: UI_TIMEOUT_MS })
    await read
    await expect.poll(() => first.page.title(), { timeout: UI_TIMEOUT_MS }).toBe('SecureChat')
    // One more, read on neither: the reopened page counts it alone.
    await first.page.getByRole('button', { name: 'Join' }).click()
    await web.room.send('after the read, unread on both')
    await expect.poll(() => first.page.title(), { timeout: UI_TIMEOUT_MS }).toBe('(1) SecureChat')

    const reopened = await second.context.newPage()
    await reopened.goto(web.http.url)
    await reopened.getByTestId('address').waitFor({ timeout: UI_TIMEOUT_MS })
    // The missed ones come with the catch-up, and the first page's read position after them: one unread, not three.
    const badge = reopened.locator('sc-conversation-list button', { hasText: 'away' }).locator('.badge')
    await expect.poll(() => badge.textContent(), { timeout: UI_TIMEOUT_MS }).toBe('1')
    await expect.poll(() => reopened.title(), { timeout: UI_TIMEOUT_MS }).toBe('(1) SecureChat')
  }, 240_000)
})
