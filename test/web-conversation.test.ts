/**
 * The conversation as people expect it, in Debian's Chromium against a real relay (its CSP and Trusted Types) and a
 * Hardhat chain: the multi-line composer and its limit, the Markdown subset and links, right-to-left text, day
 * separators and full dates, the unread count in the tab title, the last conversation back after a reload, the
 * phone layout, and an axe-core scan of every screen. Alice and bob in browsers; dave, a terminal client whose
 * clock the test sets back a day for one message.
 */
import { createClient, type SecureChatClient } from '@securechat/sdk/client'
import { MAX_TEXT_BYTES } from '@securechat/sdk/constants'
import { walletSigner } from '@securechat/sdk/identity'
import type { Room } from '@securechat/sdk/rooms'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEFAULT_CLI_DOMAIN, DEVNET_CHAIN_ID } from '../node/src/constants.ts'
import type { HttpService, Relay } from '../node/src/relay/create-relay.ts'
import { axeViolations, expectNoSeriousAxeViolations, seriousAxeViolations } from './helpers/axe.ts'
import {
  type AppPage,
  buildWebApp,
  cspViolations,
  launchChromium,
  openAppPage,
  screenshot,
  shownMessage,
  signInWithTestWallet,
} from './helpers/browser.ts'
import { startTestChain, type TestChain } from './helpers/chain.ts'
import { tempDir } from './helpers/cli.ts'
import { startBrowserRelay } from './helpers/web-stack.ts'

/** Deliveries cross a relay, then WebRTC; generous for a loaded 2-core machine, never a speed check. */
const UI_TIMEOUT_MS = 30_000
const DAY_MS = 24 * 60 * 60 * 1000

type Person = AppPage

let chain: TestChain
let relay: Relay
let http: HttpService
let browser: Browser
let dave: SecureChatClient
let room: Room
/** Added to dave's clock for the stamps of his records. */
let daveClockOffsetMs = 0
let invite = ''
let alice: Person
let bob: Person
let carol: Person | undefined

beforeAll(async () => {
  const webRoot = await tempDir('web-conversation-dist-')
  await buildWebApp(webRoot)
  // Alice (account 1) holds a MemberNFT; carol (3) holds nothing.
  chain = await startTestChain({ mintTo: [1] })
  relay = await startBrowserRelay(chain, { webRoot })
  http = relay.services.http!
  browser = await launchChromium()
  dave = createClient({
    domain: DEFAULT_CLI_DOMAIN,
    chainId: DEVNET_CHAIN_ID,
    signer: walletSigner({ type: 'eoa', signer: chain.accounts[5]! }),
    bootstrap: [relay.multiaddrs[0]!],
    provider: chain.provider,
    presenceIntervalMs: 1_000,
    now: () => Date.now() + daveClockOffsetMs,
  })
  await dave.start()
  ;({ room, invite } = await dave.createRoom({ name: 'talk', domains: ['localhost', new URL(http.url).host] }))
}, 120_000)

afterAll(async () => {
  for (const person of [alice, bob, carol]) await person?.context.close().catch(() => {})
  await browser?.close()
  await dave?.stop()
  await relay?.stop()
  await chain?.stop()
})

function openApp(account: number, url = http.url): Promise<Person> {
  return openAppPage(browser, chain.accounts[account]!, chain.chainId, url)
}

function signIn(person: Person): Promise<void> {
  return signInWithTestWallet(person.page, UI_TIMEOUT_MS)
}

function composer(page: Page) {
  return page.getByRole('textbox', { name: 'Message' })
}

/** The `.text` of the last message `page` shows as sent or received. */
function lastText(page: Page) {
  return page.locator('sc-chat-view li:not(.pending) .text').last()
}

describe('web app: the conversation as people expect it', () => {
  it('accessibility: the sign-in screen, wide and on a phone, has no serious or critical axe violation', async () => {
    alice = await openApp(1)
    const page = alice.page
    await page.getByRole('button', { name: 'Sign in with Test Wallet' }).waitFor({ timeout: UI_TIMEOUT_MS })
    // The scan sees what it should: an image without a text alternative, there for a moment, is a critical one.
    await page.evaluate(() => {
      const probe = Object.assign(document.createElement('img'), { id: 'axe-probe', src: '/icons/icon.svg' })
      document.body.append(probe)
    })
    expect((await seriousAxeViolations(page)).map((v) => v.id)).toContain('image-alt')
    await page.evaluate(() => document.getElementById('axe-probe')?.remove())
    await expectNoSeriousAxeViolations(page, 'sign-in')
    // Moderate ones too here: the page has its main landmark, and all its content is in landmarks.
    const ids = (await axeViolations(page)).map((v) => v.id)
    expect(ids).not.toContain('landmark-one-main')
    expect(ids).not.toContain('region')
    await page.setViewportSize({ width: 390, height: 844 })
    await expectNoSeriousAxeViolations(page, 'sign-in, phone')
    await page.setViewportSize({ width: 1100, height: 760 })
  })

  it('behavior: alice and bob join dave’s room by its link; a day line names each day, each time gives its full date on hover', async () => {
    bob = await openApp(2)
    for (const person of [alice, bob]) {
      await signIn(person)
      await person.page.goto(`${http.url}#invite=${encodeURIComponent(invite)}`)
      await person.page.getByRole('heading', { name: '# talk' }).waitFor({ timeout: UI_TIMEOUT_MS })
    }
    await expect
      .poll(() => room.members().map((m) => m.address), { timeout: UI_TIMEOUT_MS })
      .toEqual(expect.arrayContaining([chain.accounts[1]!.address, chain.accounts[2]!.address]))

    daveClockOffsetMs = -DAY_MS
    await room.send('sent yesterday')
    daveClockOffsetMs = 0
    await room.send('sent today')
    await shownMessage(bob.page, 'sent today').waitFor({ timeout: UI_TIMEOUT_MS })
    expect(await bob.page.getByTestId('day').allTextContents()).toEqual(['Yesterday', 'Today'])
    // The separators sit before each day's first message.
    const listed = await bob.page
      .locator('sc-chat-view ol.messages > li')
      .evaluateAll((items) =>
        items.map((li) => (li.classList.contains('day') ? li.textContent : li.querySelector('.text')?.textContent)),
      )
    expect(listed).toEqual(['Yesterday', 'sent yesterday', 'Today', 'sent today'])
    const time = shownMessage(bob.page, 'sent yesterday').locator('time')
    const [datetime, title] = [await time.getAttribute('datetime'), await time.getAttribute('title')]
    const sentAt = new Date(datetime!)
    expect(Date.now() - sentAt.getTime()).toBeGreaterThanOrEqual(DAY_MS)
    // The reader's locale's full date and time: the browser's own formatting of that instant.
    expect(title).toBe(await bob.page.evaluate((iso) => new Date(iso).toLocaleString(), datetime!))
    expect(title).toContain(String(sentAt.getFullYear()))
  })

  it('behavior: Enter sends, Shift+Enter starts a new line; typed with the keyboard alone', async () => {
    await composer(alice.page).click()
    await alice.page.keyboard.type('first line')
    await alice.page.keyboard.press('Shift+Enter')
    await alice.page.keyboard.type('second line')
    expect(await composer(alice.page).inputValue()).toBe('first line\nsecond line')
    await alice.page.keyboard.press('Enter')
    await shownMessage(bob.page, 'second line').waitFor({ timeout: UI_TIMEOUT_MS })
    // The line break typed is one in the message: text, a <br>, text.
    const shown = await lastText(bob.page).evaluate((el) =>
      [...(el.querySelector('p')?.childNodes ?? [])]
        .filter(
          (node) =>
            node.nodeType !== Node.COMMENT_NODE && !(node.nodeType === Node.TEXT_NODE && node.textContent === ''),
        )
        .map((node) => node.textContent || node.nodeName),
    )
    expect(shown).toEqual(['first line', 'BR', 'second line'])
    expect(await composer(alice.page).inputValue()).toBe('')
  })

  it('behavior: the composer holds what the protocol carries (MAX_TEXT_BYTES, in UTF-8 bytes), says so before sending, and never cuts a paste', async () => {
    const page = alice.page
    const count = page.getByTestId('composer-count')
    const send = page.getByRole('button', { name: 'Send' })
    // 'é' is two bytes: one character over is two bytes too many.
    const tooLong = 'é'.repeat(MAX_TEXT_BYTES / 2 + 1)
    await composer(page).fill(tooLong)
    await expect.poll(() => count.textContent()).toMatch(/^Too long by 2 bytes: a message holds 16,384/)
    expect(await send.isDisabled()).toBe(true)
    expect(await composer(page).getAttribute('aria-invalid')).toBe('true')
    await composer(page).press('Enter')
    // Nothing went, nothing was cut.
    expect(await composer(page).inputValue()).toBe(tooLong)
    expect(await page.locator('sc-chat-view li.pending').count()).toBe(0)
    await screenshot(page, 'composer-too-long')

    const fits = 'é'.repeat(MAX_TEXT_BYTES / 2)
    await composer(page).fill(fits)
    await expect.poll(() => count.textContent()).toBe('16,384 of 16,384 bytes')
    await send.click()
    await expect
      .poll(async () => (await lastText(bob.page).textContent())?.length, { timeout: UI_TIMEOUT_MS })
      .toBe(fits.length)
    expect(await lastText(bob.page).textContent()).toBe(fits)
    expect(await count.textContent()).toBe('')
  })

  it('behavior: Markdown shows as emphasis, code, quotes, lists and links that open in a new tab', async () => {
    const markdown = [
      '**strong words** and *emphasis* and `inline code`',
      '> a quoted line',
      '- first item',
      '- second item',
      '',
      '```',
      'const answer = 42 // **not bold**',
      '```',
      'read [the docs](https://example.org/docs) or https://example.org/faq.',
    ].join('\n')
    await composer(alice.page).fill(markdown)
    await composer(alice.page).press('Enter')
    const message = shownMessage(bob.page, 'strong words')
    await message.waitFor({ timeout: UI_TIMEOUT_MS })
    const text = message.locator('.text')
    expect(await text.locator('strong').textContent()).toBe('strong words')
    expect(await text.locator('em').textContent()).toBe('emphasis')
    expect(await text.locator('p code').textContent()).toBe('inline code')
    expect(await text.locator('blockquote').textContent()).toBe('a quoted line')
    expect(await text.locator('ul > li').allTextContents()).toEqual(['first item', 'second item'])
    expect(await text.locator('pre code').textContent()).toBe('const answer = 42 // **not bold**')
    const links = await text.locator('a').evaluateAll((anchors) =>
      anchors.map((a) => ({
        href: a.getAttribute('href'),
        text: a.textContent,
        target: a.getAttribute('target'),
        rel: a.getAttribute('rel'),
      })),
    )
    expect(links).toEqual([
      { href: 'https://example.org/docs', text: 'the docs', target: '_blank', rel: 'noopener noreferrer' },
      {
        href: 'https://example.org/faq',
        text: 'https://example.org/faq',
        target: '_blank',
        rel: 'noopener noreferrer',
      },
    ])
    await screenshot(bob.page, 'markdown')
  })

  it('security: HTML, scripts and javascript: links in a message are shown as text; nothing runs, no CSP or Trusted Types violation', async () => {
    const hostile = [
      '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>',
      '[click me](javascript:window.__pwned=3) <a href="javascript:window.__pwned=4">a link</a>',
      '<iframe srcdoc="<script>parent.__pwned=5</script>"></iframe> data:text/html,<b>x</b>',
    ].join('\n')
    await composer(alice.page).fill(hostile)
    await composer(alice.page).press('Enter')
    for (const person of [alice, bob]) {
      const message = shownMessage(person.page, 'click me')
      await message.waitFor({ timeout: UI_TIMEOUT_MS })
      const text = message.locator('.text')
      // As written, line by line: only text nodes and the <br> of each line break.
      const nodes = await text.evaluate((el) =>
        [...(el.querySelector('p')?.childNodes ?? [])]
          .filter(
            (node) =>
              node.nodeType !== Node.COMMENT_NODE && !(node.nodeType === Node.TEXT_NODE && node.textContent === ''),
          )
          .map((node) => node.textContent || node.nodeName),
      )
      expect(nodes).toEqual([
        '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>',
        'BR',
        '[click me](javascript:window.__pwned=3) <a href="javascript:window.__pwned=4">a link</a>',
        'BR',
        '<iframe srcdoc="<script>parent.__pwned=5</script>"></iframe> data:text/html,<b>x</b>',
      ])
      expect(await text.locator('img, script, a, iframe, b').count()).toBe(0)
      expect(await person.page.evaluate(() => (window as { __pwned?: number }).__pwned)).toBeUndefined()
      expect(await cspViolations(person.page)).toEqual([])
      expect(person.consoleCsp).toEqual([])
    }
  })

  it('behavior: right-to-left text reads right to left (dir="auto"), left-to-right beside it unchanged', async () => {
    await composer(alice.page).fill('שלום לכולם')
    await composer(alice.page).press('Enter')
    const hebrew = shownMessage(bob.page, 'שלום לכולם').locator('.text')
    await hebrew.waitFor({ timeout: UI_TIMEOUT_MS })
    expect(await hebrew.getAttribute('dir')).toBe('auto')
    expect(await hebrew.evaluate((el) => getComputedStyle(el).direction)).toBe('rtl')
    const latin = shownMessage(bob.page, 'sent today').locator('.text')
    expect(await latin.evaluate((el) => getComputedStyle(el).direction)).toBe('ltr')
  })

  it('behavior: the tab title counts unread messages; the open conversation comes back after a reload, remembered in the vault only', async () => {
    await bob.page.getByRole('button', { name: 'Join' }).click()
    await composer(alice.page).fill('while bob is elsewhere')
    await composer(alice.page).press('Enter')
    await expect.poll(() => bob.page.title(), { timeout: UI_TIMEOUT_MS }).toBe('(1) SecureChat')
    // The page's own list is not written from here on (a reload that tears the page down before its write): the
    // message comes back from what the sdk kept, which its catch-up after the reload does not deliver again.
    await bob.page.evaluate(() => {
      const put = IDBObjectStore.prototype.put
      IDBObjectStore.prototype.put = function (value: unknown, key?: IDBValidKey) {
        const lost = typeof key === 'string' && key.startsWith('web/history/')
        return put.call(this, value, lost ? 'lost-in-the-reload' : key)
      }
    })
    await composer(alice.page).fill('and one more')
    await composer(alice.page).press('Enter')
    await expect.poll(() => bob.page.title(), { timeout: UI_TIMEOUT_MS }).toBe('(2) SecureChat')
    await bob.page.locator('sc-conversation-list button', { hasText: 'talk' }).click()
    await expect.poll(() => bob.page.title(), { timeout: UI_TIMEOUT_MS }).toBe('SecureChat')
    // The sdk writes what it keeps within a second of a message (MESSAGE_STATES_SAVE_DELAY_MS).
    await bob.page.waitForTimeout(3_000)

    await bob.page.reload()
    await bob.page.getByRole('heading', { name: '# talk' }).waitFor({ timeout: UI_TIMEOUT_MS })
    await shownMessage(bob.page, 'and one more').waitFor({ timeout: UI_TIMEOUT_MS })
    // Which conversation is open is the wallet's business: not in the browser's plain storage.
    const roomId = await bob.page
      .locator('sc-conversation-list button', { hasText: 'talk' })
      .getAttribute('data-conversation')
    const plain = await bob.page.evaluate(
      () => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }),
    )
    expect(plain).not.toContain(roomId!)

    // Back to the list (no conversation open): a reload shows the list, not the room.
    await bob.page.getByRole('button', { name: 'New room' }).click()
    await bob.page.reload()
    await bob.page.getByRole('button', { name: 'New room' }).waitFor({ timeout: UI_TIMEOUT_MS })
    await bob.page.getByTestId('network').waitFor({ timeout: UI_TIMEOUT_MS })
    expect(await bob.page.getByRole('heading', { name: '# talk' }).count()).toBe(0)
    await bob.page.locator('sc-conversation-list button', { hasText: 'talk' }).click()
  })

  it('behavior: on a phone the messages have most of the screen', async () => {
    const page = bob.page
    await page.setViewportSize({ width: 390, height: 844 })
    await page.getByRole('heading', { name: '# talk' }).waitFor()
    const list = page.locator('sc-chat-view ol.messages')
    const share = (await list.evaluate((el) => el.clientHeight)) / 844
    console.info(`phone: the messages take ${Math.round(share * 100)} % of a 390×844 screen`)
    expect(share).toBeGreaterThanOrEqual(0.6)
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
    await screenshot(page, 'phone-conversation')
    await expectNoSeriousAxeViolations(page, 'room, phone')
    await page.getByRole('button', { name: 'Back' }).click()
    await expectNoSeriousAxeViolations(page, 'conversation list, phone')
    await page.setViewportSize({ width: 1100, height: 760 })
    await page.locator('sc-conversation-list button', { hasText: 'talk' }).click()
  })

  it('accessibility: every screen signed in (room, invite, DM, new room, join, message a wallet) has no serious or critical axe violation', async () => {
    const page = alice.page
    await expectNoSeriousAxeViolations(page, 'room')
    await page.getByText('Invite people').click()
    await expectNoSeriousAxeViolations(page, 'room, invite open')
    await page.getByText('Invite people').click()
    await page.getByRole('button', { name: 'Message a wallet' }).click()
    await expectNoSeriousAxeViolations(page, 'message a wallet')
    await page.getByLabel('Wallet address').fill(chain.accounts[2]!.address)
    await page.getByRole('button', { name: 'Open conversation' }).click()
    await composer(page).fill('a direct word')
    await composer(page).press('Enter')
    await shownMessage(page, 'a direct word').waitFor({ timeout: UI_TIMEOUT_MS })
    await expectNoSeriousAxeViolations(page, 'DM')
    await page.getByRole('button', { name: 'New room' }).click()
    await expectNoSeriousAxeViolations(page, 'new room')
    await page.getByRole('button', { name: 'Join' }).click()
    await expectNoSeriousAxeViolations(page, 'join')
  })

  it('behavior: a gated room tells its members what it asks; an invite opened before sign-in names its room; a wallet without the token reads what to get and where', async () => {
    const page = alice.page
    const nft = chain.addresses.memberNft
    await page.getByRole('button', { name: 'New room' }).click()
    await page.getByLabel('Name').fill('holders')
    await page.getByLabel('Access').selectOption('erc721')
    await page.getByLabel('Contract address').fill(nft)
    await page.getByRole('button', { name: 'Create room' }).click()
    await page.getByRole('heading', { name: '# holders' }).waitFor({ timeout: UI_TIMEOUT_MS })
    // The token's own name, once the chain gave it.
    await expect
      .poll(() => page.getByTestId('requirement').textContent(), { timeout: UI_TIMEOUT_MS })
      .toBe(`Members hold 1 × SecureChat Member (${nft}) on chain ${chain.chainId}.`)
    await page.getByText('Invite people').click()
    const link = await page.locator('sc-invite-share input').inputValue()
    await page.getByText('Invite people').click()

    carol = await openApp(3, link)
    const invited = carol.page.getByTestId('invited')
    await invited.waitFor({ timeout: UI_TIMEOUT_MS })
    expect((await invited.textContent())?.replace(/\s+/g, ' ').trim()).toBe(
      `You are invited to # holders: sign in to join it. Members hold 1 × ERC-721 token (${nft}) on chain ${chain.chainId}.`,
    )
    await expectNoSeriousAxeViolations(carol.page, 'sign-in, invited')
    await signIn(carol)
    const notice = carol.page.getByTestId('not-eligible')
    await notice.waitFor({ timeout: UI_TIMEOUT_MS })
    const carolAddress = chain.accounts[3]!.address
    expect(await notice.textContent()).toBe(
      `You are not eligible for this room. This room requires 1 × SecureChat Member (${nft}) on chain ${chain.chainId}; ${carolAddress} holds 0. To read and write here, get that token (contract ${nft} on chain ${chain.chainId}) into this wallet — the room's owner can tell you where it is issued — or sign in with a wallet that holds it, then open the invite again.`,
    )
    await screenshot(carol.page, 'not-eligible')
    await expectNoSeriousAxeViolations(carol.page, 'room, not eligible')
  })

  it("behavior: when the owner changes a room's gate, its members read the new requirement; lifted, none", async () => {
    const page = alice.page
    const nft = chain.addresses.memberNft
    await page.locator('sc-conversation-list button', { hasText: 'talk' }).click()
    await page.getByRole('heading', { name: '# talk' }).waitFor({ timeout: UI_TIMEOUT_MS })
    expect(await page.getByTestId('requirement').count()).toBe(0)
    const signer = walletSigner({ type: 'eoa', signer: chain.accounts[5]! })
    // Dave owns the open room: he gates it on the NFT Alice holds, then lifts the gate again.
    await room.moderate('gate', undefined, {
      signer,
      rule: { type: 'erc721', chainId: chain.chainId, contract: nft, minBalance: '1' },
    })
    await expect
      .poll(() => page.getByTestId('requirement').textContent(), { timeout: UI_TIMEOUT_MS })
      .toBe(`Members hold 1 × SecureChat Member (${nft}) on chain ${chain.chainId}.`)
    await room.moderate('gate', undefined, { signer })
    await expect.poll(() => page.getByTestId('requirement').count(), { timeout: UI_TIMEOUT_MS }).toBe(0)
  })

  it('security: zero CSP or Trusted Types violations on every page, axe scans included', async () => {
    for (const person of [alice, bob, carol!]) {
      expect(await cspViolations(person.page)).toEqual([])
      expect(person.consoleCsp).toEqual([])
    }
  })
})
