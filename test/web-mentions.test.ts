/**
 * Mentions and browser notifications in the web app, in Debian's Chromium against a real relay (its CSP and Trusted
 * Types, and its store) and a Hardhat chain: alice and bob in two pages of a room dave (a terminal client) made.
 * Alice mentions bob through the composer's `@` picker, from the keyboard; bob's page marks the message, lists it in
 * its Mentions view (a jump opens it) and the conversation list; nobody else's does. Bob's notifications, once he
 * turns them on, come for the mention and for a DM, none while they are off or for the conversation in front of
 * him — through the service worker's registration, where the test reads them back. A mention in a thread reply opens
 * the thread at the reply, from the Mentions view, from its notification's click (the real worker's handler, run on
 * a click event the test dispatches in it: headless Chromium clicks no notification, and a window focus the
 * handler asks for without one is refused, so that step is not covered) and from the address a window the worker
 * opens gets. axe scans the picker and the Mentions view; the relay's store holds none of it in the clear.
 */
import type { RoomMessage } from '@securechat/sdk/types'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectNoSeriousAxeViolations } from './helpers/axe.ts'
import { type AppPage, cspViolations, screenshot } from './helpers/browser.ts'
import { bytesUnder } from './helpers/cli.ts'
import { startWebRoom, type WebRoom } from './helpers/web-stack.ts'

/** Deliveries cross a relay, then WebRTC; generous for a loaded 2-core machine, never a speed check. */
const UI_TIMEOUT_MS = 30_000

let web: WebRoom
let alice: AppPage
let bob: AppPage

beforeAll(async () => {
  web = await startWebRoom('web-mentions', 'team', { relayStore: true })
}, 120_000)

afterAll(() => web?.stop())

const openApp = (account: number): Promise<AppPage> => web.openApp(account)

/** A message of the open conversation, found by its text. */
function shown(page: Page, text: string) {
  return page.locator('sc-chat-view .room li:not(.pending)', { has: page.locator('.text', { hasText: text }) })
}

/** The notifications the page's service worker registration shows now: title and text. */
function notifications(page: Page): Promise<Array<{ title: string; body: string }>> {
  return page.evaluate(async () => {
    const registration = await navigator.serviceWorker.getRegistration()
    const shown = (await registration?.getNotifications()) ?? []
    return shown.map((n) => ({ title: n.title, body: n.body }))
  })
}

/**
 * A click on the notification whose text is `body`, in bob's real service worker: a `notificationclick` event of that
 * notification dispatched there, which runs the worker's handler (`web/src/sw.ts`). The browser refuses its
 * `waitUntil` (the event is the test's, not the browser's) and a focus without a person's click; the message to the
 * page goes out before either.
 */
async function clickNotification(page: AppPage, body: string): Promise<void> {
  const worker = page.context.serviceWorkers()[0] ?? (await page.context.waitForEvent('serviceworker'))
  const clicked = await worker.evaluate(async (text) => {
    interface Scope {
      registration: { getNotifications(): Promise<Array<{ body: string }>> }
      dispatchEvent(event: Event): boolean
    }
    const scope = globalThis as unknown as Scope
    const notification = (await scope.registration.getNotifications()).find((n) => n.body === text)
    if (notification === undefined) return false
    const Click = (globalThis as unknown as { NotificationEvent: new (type: string, init: object) => Event })
      .NotificationEvent
    scope.dispatchEvent(new Click('notificationclick', { notification }))
    return true
  }, body)
  expect(clicked).toBe(true)
}

/** The message id of the element with the focus, through shadow roots. */
function focusedMessage(page: Page): Promise<string | null | undefined> {
  return page.evaluate(() => {
    let at = document.activeElement
    while (at?.shadowRoot?.activeElement) at = at.shadowRoot.activeElement
    return at?.getAttribute('data-message-id')
  })
}

const bodies = async (page: Page): Promise<string[]> => (await notifications(page)).map((n) => n.body)

function short(address: string): string {
  return `${address.slice(0, 6)}…${address.slice(-4)}`
}

async function openMentions(page: Page): Promise<void> {
  await page.getByRole('button', { name: /^Mentions/ }).click()
  await page.getByRole('heading', { name: 'Mentions' }).waitFor()
}

describe('web app: mentions and notifications', () => {
  it('behavior: a mention picked with the keyboard is marked and listed for the one mentioned only, and notifies him once he turned notifications on', async () => {
    ;[alice, bob] = await Promise.all([openApp(1), openApp(2)])
    const bobAddress = web.chain.accounts[2]!.address
    for (const person of [alice, bob]) {
      await person.page.goto(`${web.http.url}#invite=${encodeURIComponent(web.invite)}`)
      await person.page.getByRole('heading', { name: '# team' }).waitFor({ timeout: UI_TIMEOUT_MS })
    }
    // Bob allows the site's notifications in the browser (as a person clicking Allow), then turns them on in the app.
    await bob.context.grantPermissions(['notifications'], { origin: web.http.url })
    await openMentions(bob.page)
    await bob.page.getByTestId('no-mentions').waitFor()
    await expectNoSeriousAxeViolations(bob.page, 'Mentions view, empty')
    const toggle = bob.page.getByRole('checkbox', { name: 'Notify me of mentions and direct messages' })
    expect(await toggle.isChecked()).toBe(false)
    await toggle.check()
    await expect.poll(() => toggle.isChecked()).toBe(true)

    // Alice types `@` and the start of bob's address: the picker offers him (once his presence reached her page).
    const box = alice.page.getByRole('textbox', { name: 'Message' })
    await box.click()
    await box.pressSequentially('ping @')
    const picker = alice.page.getByRole('listbox', { name: 'Mention a member' })
    const bobOption = picker.getByRole('option', { name: `@${short(bobAddress)}` })
    await bobOption.waitFor({ timeout: UI_TIMEOUT_MS })
    await box.pressSequentially(bobAddress.slice(2, 5))
    expect(await picker.getByRole('option').count()).toBe(1)
    await expect.poll(() => box.getAttribute('aria-activedescendant')).toBe('mention-option-0')
    await expectNoSeriousAxeViolations(alice.page, 'composer, mention picker open')
    await screenshot(alice.page, 'web-mention-picker')
    // Escape closes it; typing on from there does not bring it back for this `@`.
    await box.press('Escape')
    expect(await picker.count()).toBe(0)
    await box.press('Backspace')
    await box.press(bobAddress.slice(4, 5))
    expect(await picker.count()).toBe(0)
    // A new `@` does; arrows move, Enter inserts the whole address.
    await box.fill('ping ')
    await box.press('End')
    await box.press('@')
    await picker.waitFor()
    await box.press('ArrowDown')
    await box.press('ArrowUp')
    const active = await box.getAttribute('aria-activedescendant')
    const activeName = await alice.page.locator(`sc-composer #${active}`).textContent()
    if (activeName?.trim() !== `@${short(bobAddress)}`) {
      // Dave is offered too (he is a member): move to bob.
      await box.press('ArrowDown')
    }
    await box.press('Enter')
    expect(await picker.count()).toBe(0)
    expect(await box.inputValue()).toBe(`ping @${bobAddress} `)
    const daveHeard = new Promise<RoomMessage>((resolve) =>
      web.dave.rooms[0]!.addEventListener('message:received', ({ detail }) => {
        if (detail.text.includes('are you there')) resolve(detail)
      }),
    )
    await box.pressSequentially('are you there?')
    await box.press('Enter')

    // Bob: listed in his Mentions view, notified, and marked in the conversation list.
    const listed = bob.page.getByTestId('mentions').getByRole('button', { name: /are you there/ })
    await listed.waitFor({ timeout: UI_TIMEOUT_MS })
    await expect
      .poll(() => notifications(bob.page), { timeout: UI_TIMEOUT_MS })
      .toEqual([
        {
          title: `${short(web.chain.accounts[1]!.address)} mentioned you in # team`,
          body: `ping @${bobAddress} are you there?`,
        },
      ])
    await bob.page.getByTestId('mention-mark').waitFor()
    expect(await bob.page.getByRole('button', { name: /^Mentions/ }).textContent()).toMatch(/^\s*Mentions 1\s*$/)
    await expectNoSeriousAxeViolations(bob.page, 'Mentions view, one mention')
    await screenshot(bob.page, 'web-mentions-view')

    // The jump opens the room at the message: marked as mentioning him, and focused.
    await listed.click()
    const message = shown(bob.page, 'are you there')
    await message.waitFor()
    expect(await message.getAttribute('class')).toContain('mentioned')
    expect(await message.getByTestId('mentions-you').textContent()).toBe('mentions you')
    await expect.poll(() => focusedMessage(bob.page)).toBe(await message.getAttribute('data-message-id'))
    await expect.poll(() => bob.page.getByTestId('mention-mark').count()).toBe(0)
    await expect.poll(() => message.locator('.mention').textContent()).toBe(`@${bobAddress}`)
    // Every message is in view: nothing below to go to.
    await expect.poll(() => bob.page.getByRole('button', { name: 'New messages ↓' }).count()).toBe(0)
    // Focus in the composer and the pointer away for the picture: a focused or hovered message shows its actions.
    await bob.page.getByRole('textbox', { name: 'Message' }).focus()
    await bob.page.mouse.move(0, 0)
    await screenshot(bob.page, 'web-mention-highlighted')

    // Not for the others: alice wrote it, dave is not in it.
    expect((await daveHeard).mentions).toEqual([bobAddress])
    const sent = shown(alice.page, 'are you there')
    await sent.waitFor()
    expect(await sent.getAttribute('class')).not.toContain('mentioned')
    await openMentions(alice.page)
    await alice.page.getByTestId('no-mentions').waitFor()
    await alice.page.getByRole('button', { name: '# team' }).click()
    // A mention of dave in bob's open room: shown plainly to bob, and no mention of his.
    await alice.page.getByRole('textbox', { name: 'Message' }).fill(`and @${web.dave.address} too`)
    await alice.page.getByRole('textbox', { name: 'Message' }).press('Enter')
    const forDave = shown(bob.page, 'too')
    await forDave.waitFor({ timeout: UI_TIMEOUT_MS })
    expect(await forDave.getAttribute('class')).not.toContain('mentioned')
    expect(await forDave.getByTestId('mentions-you').count()).toBe(0)
    await openMentions(bob.page)
    expect(await bob.page.getByTestId('mentions').getByRole('button').count()).toBe(1)
    expect(await cspViolations(bob.page)).toEqual([])
  }, 240_000)

  it('behavior: a DM notifies while notifications are on and its conversation is not in front of him; none when off or open', async () => {
    const page = alice.page
    const aliceAddress = web.chain.accounts[1]!.address
    const title = `${short(aliceAddress)} wrote to you`
    await page.getByRole('button', { name: 'Message a wallet' }).click()
    await page.getByLabel('Wallet address').fill(web.chain.accounts[2]!.address)
    await page.getByRole('button', { name: 'Open conversation' }).click()
    const say = async (text: string): Promise<void> => {
      await page.getByRole('textbox', { name: 'Message' }).fill(text)
      await page.getByRole('textbox', { name: 'Message' }).press('Enter')
    }
    // Bob is on his Mentions view: no conversation in front of him.
    await say('first direct word')
    await expect
      .poll(() => notifications(bob.page), { timeout: UI_TIMEOUT_MS })
      .toContainEqual({ title, body: 'first direct word' })

    // Off: nothing. Then on again: the next one notifies, and the one sent while off never did.
    const toggle = bob.page.getByRole('checkbox', { name: 'Notify me of mentions and direct messages' })
    await toggle.uncheck()
    await expect.poll(() => toggle.isChecked()).toBe(false)
    await say('second direct word, quiet')
    const dm = bob.page.locator('sc-conversation-list button', { hasText: short(aliceAddress) })
    await expect.poll(() => dm.locator('.badge').textContent(), { timeout: UI_TIMEOUT_MS }).toBe('2')
    await toggle.check()
    await say('third direct word')
    await expect.poll(() => bodies(bob.page), { timeout: UI_TIMEOUT_MS }).toContain('third direct word')
    expect(await bodies(bob.page)).not.toContain('second direct word, quiet')

    // Open and focused: the message is in front of him, no notification.
    await dm.click()
    await say('fourth direct word, read at once')
    await shown(bob.page, 'fourth direct word').waitFor({ timeout: UI_TIMEOUT_MS })
    await openMentions(bob.page)
    await say('fifth direct word')
    await expect.poll(() => bodies(bob.page), { timeout: UI_TIMEOUT_MS }).toContain('fifth direct word')
    expect(await bodies(bob.page)).not.toContain('fourth direct word, read at once')

    // The setting is in the vault: a reload keeps it, and asks nothing.
    await bob.page.reload()
    await bob.page.getByTestId('address').waitFor({ timeout: UI_TIMEOUT_MS })
    await openMentions(bob.page)
    await expect.poll(() => toggle.isChecked(), { timeout: UI_TIMEOUT_MS }).toBe(true)

    // The relay's store kept every record, and none of what they say or whom they mention.
    const stored = await bytesUnder(web.relayDir!)
    for (const clear of [
      'are you there',
      'direct word',
      'mention',
      web.chain.accounts[2]!.address.slice(2).toLowerCase(),
    ]) {
      expect(stored.includes(Buffer.from(clear)), clear).toBe(false)
    }
  }, 240_000)

  it('behavior: a mention in a thread reply opens the thread at the reply — from the Mentions view, from its notification, and from the address a window the worker opens gets', async () => {
    const bobAddress = web.chain.accounts[2]!.address
    const room = web.dave.rooms[0]!
    const root = await room.send('a thread about the release')
    const body = `@${bobAddress} can you check the notes?`
    const reply = await room.reply(root.id, body)
    const threadReply = bob.page.locator('sc-chat-view .thread li[data-found]')

    // The Mentions view lists the reply; its jump opens the room with the thread at it, marked and focused.
    await openMentions(bob.page)
    const listed = bob.page.getByTestId('mentions').getByRole('button', { name: /can you check the notes/ })
    await listed.waitFor({ timeout: UI_TIMEOUT_MS })
    await expect.poll(() => bodies(bob.page), { timeout: UI_TIMEOUT_MS }).toContain(body)
    await listed.click()
    await expect.poll(() => threadReply.getAttribute('data-message-id'), { timeout: UI_TIMEOUT_MS }).toBe(reply.id)
    await expect.poll(() => focusedMessage(bob.page)).toBe(reply.id)

    // Its notification, clicked while bob is elsewhere in the app: the worker tells the page, which opens it.
    await openMentions(bob.page)
    await clickNotification(bob, body)
    await expect.poll(() => threadReply.getAttribute('data-message-id'), { timeout: UI_TIMEOUT_MS }).toBe(reply.id)
    await bob.page.getByRole('heading', { name: '# team' }).waitFor()
    // The worker closed it.
    expect(await bodies(bob.page)).not.toContain(body)

    // No window open: the worker opens one at `/#open=<room>/<message>`, which opens it once the vault is unlocked.
    // (The same tab, loaded afresh: a second window of one device would be a second client of its vault.)
    await openMentions(bob.page)
    await bob.page.goto('about:blank')
    await bob.page.goto(`${web.http.url}#open=${room.id}/${reply.id}`)
    await expect.poll(() => threadReply.getAttribute('data-message-id'), { timeout: UI_TIMEOUT_MS }).toBe(reply.id)
    expect(new URL(bob.page.url()).hash).toBe('')
    expect(await cspViolations(bob.page)).toEqual([])
  }, 240_000)
})
