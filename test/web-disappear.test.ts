/**
 * Disappearing messages in the web app, in Debian's Chromium against a real relay and a Hardhat chain: alice
 * creates a room (she owns it) and bob joins; bob may not set its timer and is told why; alice sets 10 s, both pages
 * say so; her next message leaves both pages after its timer, and both browsers' vaults (IndexedDB, every entry
 * decrypted with the app's own vault) — while the message sent before the timer stays; in a DM either wallet sets
 * it. Axe scans of the dialog.
 */
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectNoSeriousAxeViolations } from './helpers/axe.ts'
import { type AppPage, cspViolations, screenshot, shownMessage } from './helpers/browser.ts'
import { startWebStack, type WebStack } from './helpers/web-stack.ts'

/** Deliveries cross a relay; generous for a loaded 2-core machine, never a speed check. */
const UI_TIMEOUT_MS = 30_000
/** The timer (10 s) and its sweep, with room for a loaded machine. */
const EXPIRY_TIMEOUT_MS = 45_000

let web: WebStack
let alice: AppPage
let bob: AppPage
const secret = `s${Math.random().toString(36).slice(2)}`

beforeAll(async () => {
  web = await startWebStack('web-disappear')
}, 120_000)

afterAll(() => web?.stop())

async function send(page: Page, text: string): Promise<void> {
  await page.getByRole('textbox', { name: 'Message' }).fill(text)
  await page.getByRole('textbox', { name: 'Message' }).press('Enter')
}

/** Every entry of the page's vault, decrypted by the app's own vault (IndexedDB holds only their ciphertext). */
function vaultText(page: Page): Promise<string> {
  return page.locator('sc-app').evaluate(async (app) => {
    const vault = (
      app as unknown as {
        session: {
          signedIn: { vault: { list(p: string): Promise<string[]>; get(n: string): Promise<Uint8Array | undefined> } }
        }
      }
    ).session.signedIn.vault
    const texts: string[] = []
    for (const name of await vault.list(''))
      texts.push(new TextDecoder().decode((await vault.get(name)) ?? new Uint8Array()))
    return texts.join('\n')
  })
}

/** Every value IndexedDB holds for the page's wallet, as stored (ciphertext), joined. */
function rawIndexedDb(page: Page, address: string): Promise<string> {
  return page.evaluate(
    (name) =>
      new Promise<string>((resolve, reject) => {
        const open = indexedDB.open(name)
        open.onerror = () => reject(open.error)
        open.onsuccess = () => {
          const all = open.result.transaction('entries', 'readonly').objectStore('entries').getAll()
          all.onerror = () => reject(all.error)
          all.onsuccess = () => {
            resolve(
              all.result
                .map((value) => (value instanceof Uint8Array ? new TextDecoder().decode(value) : JSON.stringify(value)))
                .join('\n'),
            )
            open.result.close()
          }
        }
      }),
    `securechat-vault-${address.toLowerCase()}`,
  )
}

describe('web app: disappearing messages', () => {
  it('accessibility and behavior: a member who is not the owner is told why it cannot set the timer', async () => {
    alice = await web.openApp(1)
    await expect.poll(() => alice.page.getByTestId('network').textContent(), { timeout: UI_TIMEOUT_MS }).toBe('online')
    await alice.page.getByRole('button', { name: 'New room' }).click()
    await alice.page.getByLabel('Name').fill('vanishing')
    await alice.page.getByRole('button', { name: 'Create room' }).click()
    await alice.page.getByRole('heading', { name: '# vanishing' }).waitFor({ timeout: UI_TIMEOUT_MS })
    const invite = await alice.page
      .locator('sc-app')
      .evaluate(
        (app) =>
          (app as unknown as { conversations: { list: Array<{ invite?: string }> } }).conversations.list[0]!.invite!,
      )

    bob = await web.openApp(2, { joinRoom: { invite, name: 'vanishing' } })

    await send(alice.page, `stays ${secret}`)
    await shownMessage(bob.page, `stays ${secret}`).waitFor({ timeout: UI_TIMEOUT_MS })

    const bobButton = bob.page.getByTestId('disappear-button')
    expect(await bobButton.textContent()).toContain('Disappearing: off')
    await bobButton.click()
    const dialog = bob.page.getByRole('dialog', { name: 'Disappearing messages' })
    await dialog.waitFor()
    expect(await dialog.getByTestId('disappear-refusal').textContent()).toBe(
      `Only the room's owner (${web.chain.accounts[1]!.address}) can change its disappearing messages.`,
    )
    expect(await dialog.getByRole('button', { name: 'Set' }).isDisabled()).toBe(true)
    expect(await dialog.getByRole('radio', { name: '1 hour' }).isDisabled()).toBe(true)
    await expectNoSeriousAxeViolations(bob.page, 'timer dialog, not the owner')
    await dialog.getByRole('button', { name: 'Cancel' }).click()
  })

  it('behavior: the owner sets 10 s; both pages say so; her next message leaves both pages and both vaults after it, the one before stays', async () => {
    await alice.page.getByTestId('disappear-button').click()
    const dialog = alice.page.getByRole('dialog', { name: 'Disappearing messages' })
    await dialog.waitFor()
    await expectNoSeriousAxeViolations(alice.page, 'timer dialog, the owner')
    await screenshot(alice.page, 'disappear-dialog')
    await dialog.getByRole('radio', { name: 'Another time, in seconds:' }).check()
    await dialog.getByTestId('disappear-seconds').fill('10')
    await dialog.getByRole('button', { name: 'Set' }).click()
    await dialog.waitFor({ state: 'hidden' })

    const aliceShort = `${web.chain.accounts[1]!.address.slice(0, 6)}…${web.chain.accounts[1]!.address.slice(-4)}`
    await expect
      .poll(() => bob.page.getByTestId('timer-notice').textContent(), { timeout: UI_TIMEOUT_MS })
      .toBe(`${aliceShort} set disappearing messages to 10 seconds`)
    expect(await alice.page.getByTestId('timer-notice').textContent()).toBe(
      'You set disappearing messages to 10 seconds',
    )
    await expect
      .poll(() => bob.page.getByTestId('disappear-button').textContent(), { timeout: UI_TIMEOUT_MS })
      .toContain('Disappearing: 10 seconds')

    await send(alice.page, `vanishes ${secret}`)
    await shownMessage(bob.page, `vanishes ${secret}`).waitFor({ timeout: UI_TIMEOUT_MS })
    await shownMessage(alice.page, `vanishes ${secret}`).waitFor({ timeout: UI_TIMEOUT_MS })
    await screenshot(bob.page, 'disappear-notice')
    // Kept until its time: in the vault too.
    expect(await vaultText(bob.page)).toContain(`vanishes ${secret}`)

    for (const person of [alice, bob]) {
      await shownMessage(person.page, `vanishes ${secret}`).waitFor({ state: 'detached', timeout: EXPIRY_TIMEOUT_MS })
    }
    for (const [person, account] of [
      [alice, 1],
      [bob, 2],
    ] as const) {
      // The app's history and the sdk's message states, search index included, every entry decrypted.
      await expect.poll(() => vaultText(person.page), { timeout: UI_TIMEOUT_MS }).not.toContain(`vanishes ${secret}`)
      expect(await vaultText(person.page)).toContain(`stays ${secret}`)
      expect(await rawIndexedDb(person.page, web.chain.accounts[account]!.address)).not.toContain(secret)
      expect(await shownMessage(person.page, `stays ${secret}`).count()).toBe(1)
    }

    // A reload shows what is left: the message before the timer and the timer's line, not the one gone.
    await bob.page.reload()
    await shownMessage(bob.page, `stays ${secret}`).waitFor({ timeout: UI_TIMEOUT_MS })
    expect(await bob.page.locator('sc-chat-view').textContent()).not.toContain(`vanishes ${secret}`)
    expect(await bob.page.getByTestId('timer-notice').count()).toBe(1)
  }, 180_000)

  it('behavior: in a DM either wallet sets it — bob does — and alice’s next message leaves both pages', async () => {
    await alice.page.getByRole('button', { name: 'Message a wallet' }).click()
    await alice.page.getByLabel('Wallet address').fill(web.chain.accounts[2]!.address)
    await alice.page.getByRole('button', { name: 'Open conversation' }).click()
    await send(alice.page, `direct, stays ${secret}`)
    await bob.page
      .locator('sc-conversation-list button', { hasText: web.chain.accounts[1]!.address.slice(0, 6) })
      .first()
      .click()
    await shownMessage(bob.page, `direct, stays ${secret}`).waitFor({ timeout: UI_TIMEOUT_MS })

    await bob.page.getByTestId('disappear-button').click()
    const dialog = bob.page.getByRole('dialog', { name: 'Disappearing messages' })
    expect(await dialog.getByTestId('disappear-refusal').count()).toBe(0)
    await dialog.getByRole('radio', { name: 'Another time, in seconds:' }).check()
    await dialog.getByTestId('disappear-seconds').fill('10')
    await dialog.getByRole('button', { name: 'Set' }).click()
    await dialog.waitFor({ state: 'hidden' })
    const bobShort = `${web.chain.accounts[2]!.address.slice(0, 6)}…${web.chain.accounts[2]!.address.slice(-4)}`
    await expect
      .poll(() => alice.page.getByTestId('timer-notice').textContent(), { timeout: UI_TIMEOUT_MS })
      .toBe(`${bobShort} set disappearing messages to 10 seconds`)

    await send(alice.page, `direct, vanishes ${secret}`)
    await shownMessage(bob.page, `direct, vanishes ${secret}`).waitFor({ timeout: UI_TIMEOUT_MS })
    for (const person of [alice, bob]) {
      await shownMessage(person.page, `direct, vanishes ${secret}`).waitFor({
        state: 'detached',
        timeout: EXPIRY_TIMEOUT_MS,
      })
      await expect
        .poll(() => vaultText(person.page), { timeout: UI_TIMEOUT_MS })
        .not.toContain(`direct, vanishes ${secret}`)
      expect(await shownMessage(person.page, `direct, stays ${secret}`).count()).toBe(1)
    }
  }, 120_000)

  it('security: zero CSP or Trusted Types violations on either page', async () => {
    for (const person of [alice, bob]) {
      expect(await cspViolations(person.page)).toEqual([])
      expect(person.consoleCsp).toEqual([])
    }
  })
})
