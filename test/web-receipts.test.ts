/**
 * Read receipts, typing indicators and the read position across devices of one wallet in the web app, in Debian's
 * Chromium against a real relay and a Hardhat chain: alice (two devices: two browser contexts of one wallet) and
 * bob in pages of a room dave (an sdk client) made. Typing shown then gone; "Seen by" when the other reads, and
 * "✓✓ read by" under one's own message; "✓ delivered to N of M" under it once members' devices acknowledged it, also
 * from bob with receipts off (a delivery acknowledgement is the protocol's, not a receipt); read on one of alice's
 * devices clears the unread count on the other (a device away meanwhile: test/receipts-cli.test.ts,
 * test/web-away-read.test.ts); reads absent once bob turns them off; axe-core scans of what this adds.
 */
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectNoSeriousAxeViolations } from './helpers/axe.ts'
import { type AppPage, screenshot, shownMessage } from './helpers/browser.ts'
import { startWebRoom, type WebRoom } from './helpers/web-stack.ts'

/** Deliveries cross a relay; generous for a loaded 2-core machine, never a speed check. */
const UI_TIMEOUT_MS = 30_000

let web: WebRoom
let alice: AppPage
let alice2: AppPage
let bob: AppPage

beforeAll(async () => {
  web = await startWebRoom('web-receipts', 'receipts')
}, 120_000)

afterAll(() => web?.stop())

const openApp = (account: number): Promise<AppPage> => web.openApp(account, { joinRoom: true })

function composer(page: Page) {
  return page.getByRole('textbox', { name: 'Message' })
}

async function send(page: Page, text: string): Promise<void> {
  await composer(page).fill(text)
  await composer(page).press('Enter')
}

function typingLine(page: Page) {
  return page.locator('sc-conversation-status').getByTestId('typing')
}

function receiptLine(page: Page) {
  return page.locator('sc-conversation-status').getByTestId('receipt')
}

/** The mark under one's own message `text`: how far it got. */
function receiptMark(page: Page, text: string) {
  return shownMessage(page, text).getByTestId('receipt-mark')
}

function short(address: string): string {
  return `${address.slice(0, 6)}…${address.slice(-4)}`
}

describe('web app: read receipts, typing, read position across devices', () => {
  it('behavior: bob typing shows under alice’s conversation, and is gone once he clears the composer', async () => {
    ;[alice, bob] = await Promise.all([openApp(1), openApp(2)])
    await send(alice.page, 'hello from alice')
    await shownMessage(bob.page, 'hello from alice').waitFor({ timeout: UI_TIMEOUT_MS })

    await composer(bob.page).pressSequentially('typing so')
    const line = typingLine(alice.page)
    await expect
      .poll(() => line.textContent(), { timeout: UI_TIMEOUT_MS })
      .toBe(`${short(web.chain.accounts[2]!.address)} is typing…`)
    await composer(bob.page).fill('')
    await expect.poll(() => line.textContent(), { timeout: UI_TIMEOUT_MS }).toBe('')
  })

  it('behavior: alice sees "Seen by" bob once bob’s page shows her message', async () => {
    await send(alice.page, 'did you read this?')
    await shownMessage(bob.page, 'did you read this?').waitFor({ timeout: UI_TIMEOUT_MS })
    await expect
      .poll(() => receiptLine(alice.page).textContent(), { timeout: UI_TIMEOUT_MS })
      .toBe(`Seen by ${short(web.chain.accounts[2]!.address)}`)
    await expect
      .poll(() => receiptMark(alice.page, 'did you read this?').textContent(), { timeout: UI_TIMEOUT_MS })
      .toBe(`✓✓ read by ${short(web.chain.accounts[2]!.address)}`)
    // The mark is the sender's: bob sees none under alice's message.
    expect(await receiptMark(bob.page, 'did you read this?').count()).toBe(0)
    await expectNoSeriousAxeViolations(alice.page, 'room, seen by, read mark and typing line')
  })

  it('behavior: read on one of alice’s devices clears the unread count on her other one', async () => {
    alice2 = await openApp(1)
    // Elsewhere on both devices: what arrives in the room stays unread on each.
    await alice2.page.getByRole('button', { name: 'Join' }).click()
    await alice.page.getByRole('button', { name: 'Join' }).click()
    await send(bob.page, 'for alice, unread on one device')
    for (const page of [alice.page, alice2.page]) {
      await expect.poll(() => page.title(), { timeout: UI_TIMEOUT_MS }).toMatch(/^\(\d+\) SecureChat$/)
    }
    // The first device shows the room: read there, read here.
    await alice.page.locator('sc-conversation-list button', { hasText: 'receipts' }).click()
    await shownMessage(alice.page, 'for alice, unread on one device').waitFor({ timeout: UI_TIMEOUT_MS })
    await expect.poll(() => alice2.page.title(), { timeout: UI_TIMEOUT_MS }).toBe('SecureChat')
  }, 180_000)

  it('behavior: with receipts and typing turned off, bob neither tells nor is shown them; dave’s still show to alice', async () => {
    await bob.page.getByText('Privacy').click()
    await bob.page.getByTestId('receipts-setting').uncheck()
    await bob.page.getByTestId('typing-setting').uncheck()
    await expectNoSeriousAxeViolations(bob.page, 'privacy settings open')

    const atDave = new Promise<string>((resolve) =>
      web.room.addEventListener('message:received', ({ detail }) => {
        if (detail.text === 'after bob turned them off') resolve(detail.id)
      }),
    )
    await send(alice.page, 'after bob turned them off')
    await shownMessage(bob.page, 'after bob turned them off').waitFor({ timeout: UI_TIMEOUT_MS })
    web.room.markRead(await atDave)
    // Dave's read shows; bob's, which he no longer sends, does not.
    await expect
      .poll(() => receiptLine(alice.page).textContent(), { timeout: UI_TIMEOUT_MS })
      .toBe(`Seen by ${short(web.dave.address)}`)

    await composer(alice.page).pressSequentially('alice types')
    await composer(bob.page).pressSequentially('bob types')
    web.room.typing(true)
    await expect
      .poll(() => typingLine(alice.page).textContent(), { timeout: UI_TIMEOUT_MS })
      .toBe(`${short(web.dave.address)} is typing…`)
    // Bob shows none: not alice's, sent before dave's, nor dave's.
    expect(await typingLine(bob.page).textContent()).toBe('')
    expect(await receiptLine(bob.page).textContent()).toBe('')
    // Alice read bob's message, but bob shows no reads now: his mark says how far it got, delivered to alice and dave.
    await expect
      .poll(() => receiptMark(bob.page, 'for alice, unread on one device').textContent(), { timeout: UI_TIMEOUT_MS })
      .toBe('✓ delivered to 2 of 2')
  })

  it('behavior: alice’s message shows "✓ delivered to 2 of 2" once bob (receipts off) and dave hold it, then "✓✓ read by" dave once he reads it', async () => {
    const atDave = new Promise<string>((resolve) =>
      web.room.addEventListener('message:received', ({ detail }) => {
        if (detail.text === 'delivered, not read yet') resolve(detail.id)
      }),
    )
    await send(alice.page, 'delivered, not read yet')
    await shownMessage(bob.page, 'delivered, not read yet').waitFor({ timeout: UI_TIMEOUT_MS })
    const mark = receiptMark(alice.page, 'delivered, not read yet')
    // Alice's other device is her own: not counted among the members.
    await expect.poll(() => mark.textContent(), { timeout: UI_TIMEOUT_MS }).toBe('✓ delivered to 2 of 2')
    expect(await mark.getAttribute('title')).toMatch(/^delivered to 2 of 2 members present: /)
    // docs/screenshots/receipts.png: this one delivered, the ones before read.
    await screenshot(alice.page, 'receipts')
    web.room.markRead(await atDave)
    await expect
      .poll(() => mark.textContent(), { timeout: UI_TIMEOUT_MS })
      .toBe(`✓✓ read by ${short(web.dave.address)}`)
    await expectNoSeriousAxeViolations(alice.page, 'room, delivered and read marks')
  })
})
