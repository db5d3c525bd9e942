/**
 * Reactions, edits and deletes made offline in the web app, in Debian's Chromium against a real relay and a Hardhat
 * chain: alice goes offline, reacts to bob's message, edits one of hers and deletes another — each shown as pending,
 * still after a reload offline — and once she is back online they reach bob's page, in the order she made them.
 */
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type AppPage, screenshot, shownMessage } from './helpers/browser.ts'
import { startWebRoom, type WebRoom } from './helpers/web-stack.ts'

/** Deliveries cross a relay; generous for a loaded 2-core machine, never a speed check. */
const UI_TIMEOUT_MS = 30_000
/** Back online: the client reaches the relay again and joins the room again before the outbox goes. */
const RECONNECT_TIMEOUT_MS = 90_000

let web: WebRoom
let alice: AppPage
let bob: AppPage

beforeAll(async () => {
  web = await startWebRoom('web-offline-changes', 'offline')
}, 120_000)

afterAll(() => web?.stop())

const openApp = (account: number): Promise<AppPage> => web.openApp(account, { joinRoom: true })

async function send(page: Page, text: string): Promise<void> {
  await page.getByRole('textbox', { name: 'Message' }).fill(text)
  await page.getByRole('textbox', { name: 'Message' }).press('Enter')
}

/** The message's action (React, Edit, Delete), shown on hover. */
async function action(page: Page, text: string, name: string): Promise<void> {
  const message = shownMessage(page, text)
  await message.hover()
  await message.getByRole('toolbar', { name: 'Message actions' }).getByRole('button', { name, exact: true }).click()
}

describe('web app: reactions, edits and deletes made offline', () => {
  it('behavior: made offline they show as pending, survive a reload, and reach the other page in order once back online', async () => {
    ;[alice, bob] = await Promise.all([openApp(1), openApp(2)])
    await send(alice.page, 'alice, to edit')
    await send(alice.page, 'alice, to delete')
    await send(bob.page, 'bob, to react to')
    for (const text of ['alice, to edit', 'alice, to delete']) {
      await shownMessage(bob.page, text).waitFor({ timeout: UI_TIMEOUT_MS })
    }
    await shownMessage(alice.page, 'bob, to react to').waitFor({ timeout: UI_TIMEOUT_MS })

    // What dave's device receives of alice's changes, in order.
    const received: string[] = []
    const aliceAddress = web.chain.accounts[1]!.address.toLowerCase()
    web.dave.rooms[0]!.addEventListener('change:received', ({ detail }) => {
      if (detail.change.sender.toLowerCase() === aliceAddress) received.push(detail.change.kind)
    })
    await alice.context.setOffline(true)
    await expect.poll(() => alice.page.getByTestId('network').textContent(), { timeout: UI_TIMEOUT_MS }).toBe('offline')
    await action(alice.page, 'bob, to react to', 'React')
    await alice.page.getByRole('button', { name: 'React with thumbs up' }).click()
    await action(alice.page, 'alice, to edit', 'Edit')
    await alice.page.getByRole('textbox', { name: 'Edit message' }).fill('alice, edited offline')
    await alice.page.getByRole('textbox', { name: 'Edit message' }).press('Enter')
    await action(alice.page, 'alice, to delete', 'Delete')
    await alice.page.getByRole('button', { name: 'Delete for everyone' }).click()

    const notes = alice.page.getByTestId('pending-change')
    await expect.poll(() => notes.count()).toBe(3)
    expect(await notes.allTextContents()).toEqual([
      'your edit (“alice, edited offline”) — pending — will be sent when you reconnect',
      'your delete — pending — will be sent when you reconnect',
      'your reaction 👍 — pending — will be sent when you reconnect',
    ])
    await screenshot(alice.page, 'offline-changes')

    // A reload, still offline: the vault's outbox brings them back.
    await alice.page.reload()
    await shownMessage(alice.page, 'alice, to edit').waitFor({ timeout: UI_TIMEOUT_MS })
    await expect.poll(() => notes.count(), { timeout: UI_TIMEOUT_MS }).toBe(3)
    // Nothing reached bob meanwhile.
    expect(await shownMessage(bob.page, 'alice, edited offline').count()).toBe(0)
    expect(await bob.page.locator('sc-chat-view .room').getByTestId('deleted').count()).toBe(0)

    await alice.context.setOffline(false)
    await shownMessage(bob.page, 'alice, edited offline').waitFor({ timeout: RECONNECT_TIMEOUT_MS })
    const bobList = bob.page.locator('sc-chat-view .room ol.messages')
    await expect.poll(() => bobList.getByTestId('deleted').count(), { timeout: UI_TIMEOUT_MS }).toBe(1)
    expect(await bobList.textContent()).not.toContain('alice, to delete')
    const chip = shownMessage(bob.page, 'bob, to react to').locator('button[data-emoji="👍"]')
    await expect.poll(() => chip.textContent(), { timeout: UI_TIMEOUT_MS }).toBe('👍 1')
    await expect.poll(() => notes.count(), { timeout: UI_TIMEOUT_MS }).toBe(0)
    // Dave's device got them in the order alice made them.
    expect(received).toEqual(['react', 'edit', 'delete'])
  }, 300_000)
})
