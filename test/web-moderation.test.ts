/**
 * Moderation in the web app, in Debian's Chromium against a real relay and a Hardhat chain, with real SIWE and the
 * test wallet signing every event: alice creates a room (she owns it) and bob joins. Alice's member list offers her
 * the owner's actions on bob and bob none on her; a signature refused in the wallet is said, with what to do; alice
 * bans bob from the list after a confirmation that says what a ban does — bob's page says he is banned and its
 * composer is off, alice's log lists the ban — and unbans him, and he writes again; she mutes him for an hour (his
 * composer off, until when said — still after his page reloads, from his vault) and unmutes him, removes a message
 * of his from its toolbar (both pages say a moderator removed it), locks the room read-only (his composer off) and
 * unlocks it; she makes him a moderator (his header says so), then removes him from the room: his page says so and
 * offers Rejoin, which brings him back (last: without a relay store the rejoined device holds only the log its vault
 * kept). Axe scans of the member list with its actions, the confirmations and the log. Then she anchors the
 * moderation log from her wallet (bob, a member, is not offered it).
 */
import { auditLogReader } from '@securechat/sdk/audit'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectNoSeriousAxeViolations } from './helpers/axe.ts'
import { type AppPage, cspViolations, screenshot, sendMessage, shownMessage } from './helpers/browser.ts'
import { startWebStack, type WebStack } from './helpers/web-stack.ts'

/** Deliveries cross a relay, then WebRTC; generous for a loaded 2-core machine, never a speed check. */
const UI_TIMEOUT_MS = 30_000
const ROOM = 'moderated'

let web: WebStack
let alice: AppPage
let bob: AppPage
let aliceAddress: string
let bobAddress: string

beforeAll(async () => {
  web = await startWebStack('web-moderation')
  aliceAddress = web.chain.accounts[1]!.address
  bobAddress = web.chain.accounts[2]!.address
}, 120_000)

afterAll(() => web?.stop())

/** An address as the app shortens it. */
function short(address: string): string {
  return `${address.slice(0, 6)}…${address.slice(-4)}`
}

const details = (page: Page) => page.getByRole('dialog', { name: `# ${ROOM}` })
const memberEntry = (page: Page, address: string) =>
  details(page).locator(`[data-testid="member"][data-address="${address}"]`)
const actionButton = (page: Page, label: string, address: string) =>
  details(page).getByRole('button', { name: `${label} ${short(address)}`, exact: true })
const outcome = (page: Page) => details(page).getByTestId('moderation-outcome')

async function openDetails(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Members', exact: true }).click()
  await details(page).waitFor()
}

async function closeDetails(page: Page): Promise<void> {
  await details(page).getByRole('button', { name: 'Close', exact: true }).click()
}

/** Bob is in alice's header's "here: …" line (his presence reached her). */
async function bobHereForAlice(): Promise<void> {
  await expect
    .poll(() => alice.page.getByTestId('members').textContent(), { timeout: UI_TIMEOUT_MS })
    .toContain(short(bobAddress))
}

describe('web app: moderation', () => {
  it('behavior: the owner is offered her role’s actions on a member, the member none on her', async () => {
    alice = await web.openApp(1)
    await expect.poll(() => alice.page.getByTestId('network').textContent(), { timeout: UI_TIMEOUT_MS }).toBe('online')
    await alice.page.getByRole('button', { name: 'New room' }).click()
    await alice.page.getByLabel('Name').fill(ROOM)
    await alice.page.getByRole('button', { name: 'Create room' }).click()
    await alice.page.getByRole('heading', { name: `# ${ROOM}` }).waitFor({ timeout: UI_TIMEOUT_MS })
    const invite = await alice.page
      .locator('sc-app')
      .evaluate(
        (app) =>
          (app as unknown as { conversations: { list: Array<{ invite?: string }> } }).conversations.list[0]!.invite!,
      )
    bob = await web.openApp(2, { joinRoom: { invite, name: ROOM } })
    await bobHereForAlice()
    expect(await alice.page.getByTestId('your-role').textContent()).toBe('You own this room')
    expect(await bob.page.getByTestId('your-role').count()).toBe(0)

    await openDetails(alice.page)
    const offered = await memberEntry(alice.page, bobAddress).locator('.mod-actions button').allTextContents()
    expect(offered.map((text) => text.replace(/\s+/g, ' ').trim())).toEqual(
      ['Make moderator', 'Transfer ownership', 'Mute', 'Remove from room', 'Ban'].map(
        (label) => `${label} ${short(bobAddress)}`,
      ),
    )
    expect(await memberEntry(alice.page, aliceAddress).locator('.mod-actions button').count()).toBe(0)
    expect(await details(alice.page).getByTestId('moderation-log-empty').textContent()).toBe('No moderation yet.')

    await openDetails(bob.page)
    await memberEntry(bob.page, aliceAddress).waitFor()
    expect(await details(bob.page).locator('.mod-actions button').count()).toBe(0)
    await closeDetails(bob.page)
  })

  it('behavior: a signature refused in the wallet is said, with what to do next, and nothing is done', async () => {
    const before = alice.wallet.signatures()
    alice.wallet.rejectSignatures(true)
    try {
      await actionButton(alice.page, 'Make moderator', bobAddress).click()
      await expect
        .poll(() => outcome(alice.page).textContent(), { timeout: UI_TIMEOUT_MS })
        .toContain('Your wallet declined to sign, so nothing was done.')
      expect(await outcome(alice.page).getAttribute('role')).toBe('alert')
      expect(await outcome(alice.page).textContent()).toContain('try again and approve the signature request')
    } finally {
      alice.wallet.rejectSignatures(false)
    }
    expect(alice.wallet.signatures()).toBe(before + 1)
    expect(await details(alice.page).getByTestId('moderation-log-empty').count()).toBe(1)
  })

  it('behavior: the owner bans the member after a confirmation; his page says so and cannot send; her log lists it', async () => {
    const before = alice.wallet.signatures()
    await actionButton(alice.page, 'Ban', bobAddress).click()
    const confirm = alice.page.getByRole('dialog', { name: `Ban ${short(bobAddress)} from # ${ROOM}?` })
    await confirm.waitFor()
    expect(await confirm.textContent()).toContain(
      'cannot join again, whatever tokens they hold, until a moderator unbans them',
    )
    // Nothing is signed before the confirmation.
    expect(alice.wallet.signatures()).toBe(before)
    await screenshot(alice.page, 'moderation-confirm')
    await expectNoSeriousAxeViolations(alice.page, 'the ban confirmation')
    await confirm.getByRole('button', { name: 'Ban', exact: true }).click()
    await expect
      .poll(() => outcome(alice.page).textContent(), { timeout: UI_TIMEOUT_MS })
      .toBe(`${short(bobAddress)} is banned.`)
    expect(alice.wallet.signatures()).toBe(before + 1)

    // Bob's page: banned, by alice, and its composer off.
    const banned = bob.page.getByTestId('banned')
    await banned.waitFor({ timeout: UI_TIMEOUT_MS })
    expect(await banned.textContent()).toContain('You are banned from this room')
    expect(await banned.textContent()).toContain(short(aliceAddress))
    expect(await bob.page.getByRole('textbox', { name: 'Message' }).isDisabled()).toBe(true)

    // Alice's list: bob gone from the members, listed as banned; the log's newest event is the ban, applied.
    await expect.poll(() => memberEntry(alice.page, bobAddress).count(), { timeout: UI_TIMEOUT_MS }).toBe(0)
    const bannedEntry = details(alice.page).locator(`[data-testid="banned"][data-address="${bobAddress}"]`)
    await bannedEntry.waitFor()
    const newest = details(alice.page).getByTestId('log-event').first()
    expect(await newest.locator('.what').textContent()).toBe(`${short(aliceAddress)} banned ${short(bobAddress)}`)
    expect(await newest.getByTestId('log-status').textContent()).toBe('applied')
    // docs/screenshots/moderation.png
    await screenshot(alice.page, 'moderation-log')
    await expectNoSeriousAxeViolations(alice.page, 'the member list with a ban and the moderation log')
  })

  it('behavior: unbanning lets the member back: his page is a room again, and what he writes reaches the owner', async () => {
    await details(alice.page)
      .getByRole('button', { name: `Unban ${short(bobAddress)}`, exact: true })
      .click()
    await expect
      .poll(() => outcome(alice.page).textContent(), { timeout: UI_TIMEOUT_MS })
      .toBe(`${short(bobAddress)} is no longer banned.`)
    await expect.poll(() => bob.page.getByTestId('banned').count(), { timeout: UI_TIMEOUT_MS }).toBe(0)
    expect(await bob.page.getByRole('textbox', { name: 'Message' }).isDisabled()).toBe(false)
    const events = details(alice.page).getByTestId('log-event').locator('.what')
    expect(await events.allTextContents()).toEqual([
      `${short(aliceAddress)} unbanned ${short(bobAddress)}`,
      `${short(aliceAddress)} banned ${short(bobAddress)}`,
    ])
    await closeDetails(alice.page)
    await sendMessage(bob.page, 'back after the unban', UI_TIMEOUT_MS)
    await shownMessage(alice.page, 'back after the unban').waitFor({ timeout: UI_TIMEOUT_MS })
  })

  it('behavior: a mute for a chosen time turns the member’s composer off and says until when; unmute turns it on', async () => {
    await bobHereForAlice()
    await openDetails(alice.page)
    await actionButton(alice.page, 'Mute', bobAddress).click()
    const confirm = alice.page.getByRole('dialog', { name: `Mute ${short(bobAddress)} in # ${ROOM}?` })
    await confirm.waitFor()
    await confirm.getByLabel('For').selectOption({ label: '1 hour' })
    await expectNoSeriousAxeViolations(alice.page, 'the mute confirmation with its length')
    await confirm.getByRole('button', { name: 'Mute', exact: true }).click()
    await expect
      .poll(() => outcome(alice.page).textContent(), { timeout: UI_TIMEOUT_MS })
      .toBe(`${short(bobAddress)} is muted.`)
    const restricted = bob.page.getByTestId('restricted')
    await restricted.waitFor({ timeout: UI_TIMEOUT_MS })
    expect(await restricted.getAttribute('data-reason')).toBe('muted')
    expect(await restricted.textContent()).toContain('A moderator muted you in this room until')
    expect(await bob.page.getByRole('textbox', { name: 'Message' }).isDisabled()).toBe(true)
    expect(await details(alice.page).getByTestId('log-event').first().locator('.what').textContent()).toContain(
      `${short(aliceAddress)} muted ${short(bobAddress)} until`,
    )
    // A reload keeps him muted: his vault kept the room's log (this stack's relay keeps no history to send it again).
    await bob.page.reload()
    await bob.page.getByTestId('address').waitFor({ timeout: UI_TIMEOUT_MS })
    await restricted.waitFor({ timeout: UI_TIMEOUT_MS })
    expect(await restricted.getAttribute('data-reason')).toBe('muted')
    expect(await bob.page.getByRole('textbox', { name: 'Message' }).isDisabled()).toBe(true)

    await actionButton(alice.page, 'Unmute', bobAddress).click()
    await expect.poll(() => bob.page.getByTestId('restricted').count(), { timeout: UI_TIMEOUT_MS }).toBe(0)
    expect(await bob.page.getByRole('textbox', { name: 'Message' }).isDisabled()).toBe(false)
    await closeDetails(alice.page)
  })

  it('behavior: the owner removes the member’s message from its toolbar; both pages show it removed by a moderator', async () => {
    await sendMessage(bob.page, 'a message to remove', UI_TIMEOUT_MS)
    const item = shownMessage(alice.page, 'a message to remove')
    await item.waitFor({ timeout: UI_TIMEOUT_MS })
    const id = await item.getAttribute('data-message-id')
    await item.hover()
    await item.getByRole('button', { name: 'Remove', exact: true }).click()
    await item.getByRole('button', { name: 'Remove for everyone' }).click()
    for (const page of [alice.page, bob.page]) {
      const removed = page.locator(`sc-chat-view li[data-message-id="${id}"] [data-testid="deleted"]`)
      await expect.poll(() => removed.textContent(), { timeout: UI_TIMEOUT_MS }).toBe('Removed by a moderator.')
    }
    // Bob, a plain member, is offered no Remove on alice's messages.
    await sendMessage(alice.page, 'the owner’s own message', UI_TIMEOUT_MS)
    const hers = shownMessage(bob.page, 'the owner’s own message')
    await hers.waitFor({ timeout: UI_TIMEOUT_MS })
    expect(await hers.getByRole('button', { name: 'Remove', exact: true }).count()).toBe(0)
  })

  it('behavior: a read-only lock silences the member until the owner unlocks the room', async () => {
    await openDetails(alice.page)
    expect(await details(alice.page).getByTestId('lock-state').textContent()).toBe('Open: eligible newcomers may join.')
    await details(alice.page).getByRole('button', { name: 'Lock room', exact: true }).click()
    const confirm = alice.page.getByRole('dialog', { name: `Lock # ${ROOM}?` })
    await confirm.waitFor()
    await confirm.getByLabel('Who may write').selectOption('read-only')
    await confirm.getByRole('button', { name: 'Lock room', exact: true }).click()
    await expect
      .poll(() => details(alice.page).getByTestId('lock-state').textContent(), { timeout: UI_TIMEOUT_MS })
      .toContain('Locked and read-only')
    const restricted = bob.page.getByTestId('restricted')
    await restricted.waitFor({ timeout: UI_TIMEOUT_MS })
    expect(await restricted.getAttribute('data-reason')).toBe('read-only')
    expect(await bob.page.getByRole('textbox', { name: 'Message' }).isDisabled()).toBe(true)
    // The owner still writes.
    expect(await alice.page.getByRole('textbox', { name: 'Message' }).isDisabled()).toBe(false)

    await details(alice.page).getByRole('button', { name: 'Unlock room', exact: true }).click()
    await expect.poll(() => bob.page.getByTestId('restricted').count(), { timeout: UI_TIMEOUT_MS }).toBe(0)
    expect(await bob.page.getByRole('textbox', { name: 'Message' }).isDisabled()).toBe(false)
    await closeDetails(alice.page)
  })

  it('behavior: a member made moderator sees it; removed from the room, his page says so, and Rejoin brings him back', async () => {
    await bobHereForAlice()
    await openDetails(alice.page)
    await actionButton(alice.page, 'Make moderator', bobAddress).click()
    await expect
      .poll(() => bob.page.getByTestId('your-role').textContent(), { timeout: UI_TIMEOUT_MS })
      .toBe('You moderate this room')
    // A moderator may act on members only: the owner is out of his reach.
    await openDetails(bob.page)
    await memberEntry(bob.page, aliceAddress).waitFor()
    expect(await memberEntry(bob.page, aliceAddress).locator('.mod-actions button').count()).toBe(0)
    await closeDetails(bob.page)

    await actionButton(alice.page, 'Remove moderator', bobAddress).click()
    await expect.poll(() => bob.page.getByTestId('your-role').count(), { timeout: UI_TIMEOUT_MS }).toBe(0)
    await actionButton(alice.page, 'Remove from room', bobAddress).click()
    const confirm = alice.page.getByRole('dialog', { name: `Remove ${short(bobAddress)} from # ${ROOM}?` })
    await confirm.waitFor()
    expect(await confirm.textContent()).toContain('They may join again with the invite')
    await confirm.getByRole('button', { name: 'Remove from room', exact: true }).click()

    const removed = bob.page.getByTestId('removed')
    await removed.waitFor({ timeout: UI_TIMEOUT_MS })
    expect(await removed.textContent()).toContain('A moderator removed you from this room')
    expect(await bob.page.getByRole('textbox', { name: 'Message' }).isDisabled()).toBe(true)
    await expect
      .poll(() => alice.page.getByTestId('members').textContent(), { timeout: UI_TIMEOUT_MS })
      .not.toContain(short(bobAddress))
    await closeDetails(alice.page)

    await removed.getByRole('button', { name: 'Rejoin' }).click()
    await expect.poll(() => bob.page.getByTestId('removed').count(), { timeout: UI_TIMEOUT_MS }).toBe(0)
    await bobHereForAlice()
    await sendMessage(bob.page, 'rejoined after the kick', UI_TIMEOUT_MS)
    await shownMessage(alice.page, 'rejoined after the kick').waitFor({ timeout: UI_TIMEOUT_MS })
  })

  it('behavior: the owner anchors the moderation log from her wallet: one AuditLog.anchor of its tip, from her account', async () => {
    await openDetails(alice.page)
    await details(alice.page).getByRole('button', { name: 'Anchor the moderation log', exact: true }).click()
    const status = details(alice.page).getByTestId('moderation-anchor-status')
    await expect
      .poll(async () => (await status.textContent())?.trim(), { timeout: UI_TIMEOUT_MS })
      .toMatch(/^(Anchored the moderation log|Not anchored|You rejected)/)
    // This relay takes no members' leaf lists, which the status says too; the anchor is on chain all the same.
    // Ban, unban, mute, unmute, a removal, lock, unlock, mod-add, mod-remove and the kick.
    expect((await status.textContent())?.trim()).toMatch(/^Anchored the moderation log \(10 events\) in block \d+\./)
    const reader = auditLogReader({ runner: web.chain.provider, address: web.chain.addresses.auditLog })
    const anchors = await reader.anchoredEvents({ anchorer: aliceAddress })
    // A log without concurrent events has one tip: one leaf.
    expect(anchors.map((anchor) => anchor.count)).toEqual([1])
    // Bob, a plain member now, is not offered it.
    await openDetails(bob.page)
    expect(await details(bob.page).getByRole('button', { name: 'Anchor the moderation log' }).count()).toBe(0)
    await closeDetails(bob.page)
    await closeDetails(alice.page)
  })

  it('security: zero CSP or Trusted Types violations', async () => {
    for (const person of [alice, bob]) {
      expect(await cspViolations(person.page)).toEqual([])
      expect(person.consoleCsp).toEqual([])
    }
  })
})
