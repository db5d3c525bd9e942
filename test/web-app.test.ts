/**
 * The web app in Debian's Chromium (playwright-core), served by a real relay over HTTP with its
 * CSP, talking to a Hardhat chain with the demo contracts. Three wallets, each in its own
 * browser context with an injected EIP-1193 wallet: alice and bob hold a MemberNFT, carol none.
 * The steps build on each other (one room, one conversation), as a person would use the app.
 */
import { rm } from 'node:fs/promises'
import { createClient, type SecureChatClient } from '@securechat/sdk/client'
import { memberNftAbi } from '@securechat/sdk/contracts'
import { walletSigner } from '@securechat/sdk/identity'
import type { Room } from '@securechat/sdk/rooms'
import { memoryVaultBackend, openVault, VAULT_ARGON2ID_MIN } from '@securechat/sdk/vault'
import { Contract, type EventLog, Wallet } from 'ethers'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEFAULT_CLI_DOMAIN, DEVNET_CHAIN_ID } from '../node/src/constants.ts'
import type { HttpService, Relay } from '../node/src/relay/create-relay.ts'
import { messageStore } from '../node/src/relay/store-service.ts'
import {
  type AppPage,
  buildWebApp,
  composer,
  cspViolations,
  launchChromium,
  openAppPage,
  recordCspConsole,
  screenshot,
  sendMessage,
  shownMessage,
  signInWithTestWallet,
  watchCsp,
} from './helpers/browser.ts'
import { bulkSender } from './helpers/bulk-sender.ts'
import { startTestChain, type TestChain } from './helpers/chain.ts'
import { tempDir } from './helpers/cli.ts'
import { startBrowserRelay } from './helpers/web-stack.ts'

/** Deliveries cross a relay, then WebRTC; generous for a loaded 2-core machine, never a speed check. */
const UI_TIMEOUT_MS = 30_000

interface Person extends AppPage {
  name: string
}

let webRoot: string
let chain: TestChain
let relay: Relay
let http: HttpService
let browser: Browser
const people: Person[] = []
let invite = ''

beforeAll(async () => {
  webRoot = await tempDir('web-app-dist-')
  await buildWebApp(webRoot)
  // Accounts 1 (alice) and 2 (bob) hold a MemberNFT; 3 (carol) holds nothing.
  chain = await startTestChain({ mintTo: [1, 2] })
  relay = await startBrowserRelay(chain, { webRoot, contracts: { memberNft: chain.addresses.memberNft } })
  http = relay.services.http!
  browser = await launchChromium()
}, 120_000)

afterAll(async () => {
  for (const person of people) await person.context.close().catch(() => {})
  await browser?.close()
  await relay?.stop()
  await chain?.stop()
})

async function openApp(name: string, account: number, url = http.url): Promise<Person> {
  const person = { name, ...(await openAppPage(browser, chain.accounts[account]!, chain.chainId, url)) }
  people.push(person)
  return person
}

function signIn(person: Person): Promise<void> {
  return signInWithTestWallet(person.page, UI_TIMEOUT_MS)
}

/** A message shown as sent or received: not one of this page's own still pending. */
function messageText(page: Page, text: string) {
  return page.locator('sc-chat-view li:not(.pending) .text', { hasText: text })
}

describe('web app: MetaMask-style sign-in, a gated room between two browsers, direct WebRTC', () => {
  it('error: a relay that cannot give its config yet gets a clear message and a Try again that works once it can', async () => {
    const context = await browser.newContext()
    try {
      const page = await context.newPage()
      // What the relay's HTTP side answers while its libp2p node is not running.
      await page.route('**/config.json', (route) => route.fulfill({ status: 503, body: '{"error":"starting"}' }))
      await page.goto(http.url)
      const cannotStart = page.getByRole('alert').filter({ hasText: 'SecureChat cannot start' })
      await cannotStart.waitFor({ timeout: UI_TIMEOUT_MS })
      expect(await cannotStart.textContent()).toBe('SecureChat cannot start: the relay answered 503')
      await page.unroute('**/config.json')
      const configAnswered = page.waitForResponse((r) => r.url().endsWith('/config.json'), { timeout: UI_TIMEOUT_MS })
      await page.getByRole('button', { name: 'Try again' }).click()
      expect((await configAnswered).status()).toBe(200)
      // This context has no wallet: the app, started now, says what to install, and nothing else is wrong.
      await page.getByRole('alert').filter({ hasText: 'No wallet found' }).waitFor({ timeout: UI_TIMEOUT_MS })
      expect(await page.getByText('SecureChat cannot start').count()).toBe(0)
    } finally {
      await context.close()
    }
  })

  it('behavior: alice signs in with her wallet and creates a room gated on the MemberNFT', async () => {
    const alice = await openApp('alice', 1)
    await alice.page.getByRole('button', { name: 'Sign in with Test Wallet' }).waitFor()
    await screenshot(alice.page, 'sign-in')
    // Installable: the page links a web manifest with a start URL, standalone display and icons.
    const manifest = await alice.page.evaluate(async () => {
      const href = document.querySelector<HTMLLinkElement>('link[rel="manifest"]')?.href
      return href === undefined ? undefined : ((await (await fetch(href)).json()) as Record<string, unknown>)
    })
    expect(manifest).toMatchObject({ name: 'SecureChat', start_url: '/', display: 'standalone' })
    expect(((manifest?.icons ?? []) as Array<{ sizes: string }>).map((icon) => icon.sizes)).toEqual(
      expect.arrayContaining(['192x192', '512x512']),
    )
    await signIn(alice)
    // Vault key (signed twice to prove the wallet is deterministic) and the session certificate.
    await expect.poll(() => alice.page.getByTestId('network').textContent(), { timeout: UI_TIMEOUT_MS }).toBe('online')
    expect(alice.wallet.signatures()).toBe(3)

    await alice.page.getByRole('button', { name: 'New room' }).click()
    await alice.page.getByLabel('Name').fill('members')
    await alice.page.getByLabel('Access').selectOption('erc721')
    await alice.page.getByLabel('Contract address').fill(chain.addresses.memberNft)
    await alice.page.getByRole('button', { name: 'Create room' }).click()
    await alice.page.getByRole('heading', { name: '# members' }).waitFor({ timeout: UI_TIMEOUT_MS })
    await alice.page.getByText('Invite people').click()
    invite = await alice.page.locator('sc-invite-share input').inputValue()
    expect(invite).toMatch(/#invite=securechat%3A/)
    expect(await alice.page.getByRole('img', { name: 'QR code of the invite link' }).isVisible()).toBe(true)
    await alice.page.getByText('Invite people').click()
  })

  it('behavior: bob joins by invite link; they chat, and their pages connect directly over WebRTC', async () => {
    const [alice] = people
    const bob = await openApp('bob', 2)
    await signIn(bob)
    await bob.page.goto(invite)
    await bob.page.getByRole('heading', { name: '# members' }).waitFor({ timeout: UI_TIMEOUT_MS })

    // Both see each other present, connected directly (a WebRTC connection: not through the relay).
    await expect
      .poll(() => alice!.page.getByTestId('members').textContent(), { timeout: UI_TIMEOUT_MS })
      .toContain('direct')
    await expect
      .poll(() => bob.page.getByTestId('members').textContent(), { timeout: UI_TIMEOUT_MS })
      .toContain('direct')

    await alice!.page.getByRole('textbox', { name: 'Message' }).fill('hello bob, this is alice')
    await alice!.page.getByRole('button', { name: 'Send' }).click()
    await messageText(bob.page, 'hello bob, this is alice').waitFor({ timeout: UI_TIMEOUT_MS })
    await bob.page.getByRole('textbox', { name: 'Message' }).fill('hi alice, bob here')
    await bob.page.getByRole('button', { name: 'Send' }).click()
    await messageText(alice!.page, 'hi alice, bob here').waitFor({ timeout: UI_TIMEOUT_MS })
    await screenshot(alice!.page, 'chat')
  })

  it('accessibility: keyboard alone reaches the composer and sends; a phone-sized screen shows the chat without sideways scrolling', async () => {
    const [alice, bob] = people
    const page = bob!.page
    await page.locator('body').click({ position: { x: 1, y: 700 } })
    let reached = false
    for (let i = 0; i < 30 && !reached; i++) {
      await page.keyboard.press('Tab')
      reached = await page.evaluate(() => {
        let active = document.activeElement
        while (active?.shadowRoot?.activeElement) active = active.shadowRoot.activeElement
        return active?.id === 'composer'
      })
    }
    expect(reached).toBe(true)
    await page.keyboard.type('sent with the keyboard only')
    await page.keyboard.press('Enter')
    await messageText(alice!.page, 'sent with the keyboard only').waitFor({ timeout: UI_TIMEOUT_MS })

    await page.setViewportSize({ width: 390, height: 844 })
    expect(await page.getByRole('textbox', { name: 'Message' }).isVisible()).toBe(true)
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
    await screenshot(page, 'phone-chat')
    await page.getByRole('button', { name: 'Back' }).click()
    expect(await page.locator('sc-conversation-list button', { hasText: 'members' }).isVisible()).toBe(true)
    await page.setViewportSize({ width: 1100, height: 760 })
    await page.locator('sc-conversation-list button', { hasText: 'members' }).click()
  })

  it('behavior: a direct message from alice reaches bob, with an unread count until he opens it', async () => {
    const [alice, bob] = people
    await alice!.page.getByRole('button', { name: 'Message a wallet' }).click()
    await alice!.page.getByLabel('Wallet address').fill(chain.accounts[2]!.address)
    await alice!.page.getByRole('button', { name: 'Open conversation' }).click()
    await alice!.page.getByRole('textbox', { name: 'Message' }).fill('a private word for bob')
    await alice!.page.getByRole('button', { name: 'Send' }).click()
    await messageText(alice!.page, 'a private word for bob').waitFor({ timeout: UI_TIMEOUT_MS })

    const dmButton = bob!.page.locator('sc-conversation-list button', { hasText: 'DM 0x7099' })
    await dmButton.waitFor({ timeout: UI_TIMEOUT_MS })
    expect(await dmButton.getByLabel('1 unread').isVisible()).toBe(true)
    await dmButton.click()
    await messageText(bob!.page, 'a private word for bob').waitFor({ timeout: UI_TIMEOUT_MS })
    await expect.poll(() => dmButton.getByLabel('1 unread').count(), { timeout: UI_TIMEOUT_MS }).toBe(0)
    // Back to the room for the steps below.
    await alice!.page.locator('sc-conversation-list button', { hasText: 'members' }).click()
    await bob!.page.locator('sc-conversation-list button', { hasText: 'members' }).click()
  })

  it('behavior: bob reading older messages stays where he is when one arrives; at the bottom he follows the newest', async () => {
    const [alice, bob] = people
    const send = async (text: string): Promise<void> => {
      await alice!.page.getByRole('textbox', { name: 'Message' }).fill(text)
      await alice!.page.getByRole('button', { name: 'Send' }).click()
    }
    for (let i = 1; i <= 20; i++) await send(`backlog ${i}`)
    await messageText(bob!.page, 'backlog 20').waitFor({ timeout: UI_TIMEOUT_MS })
    const list = bob!.page.locator('sc-chat-view ol')
    expect(await list.evaluate((el) => el.scrollHeight > el.clientHeight)).toBe(true)

    await list.evaluate((el) => {
      el.scrollTop = 0
    })
    await send('arrives while bob reads older ones')
    await messageText(bob!.page, 'arrives while bob reads older ones').waitFor({ timeout: UI_TIMEOUT_MS })
    expect(await list.evaluate((el) => el.scrollTop)).toBe(0)
    // Not at the bottom: a control takes him to the newest.
    const newMessages = bob!.page.getByRole('button', { name: 'New messages ↓' })
    await newMessages.click({ timeout: UI_TIMEOUT_MS })
    await expect
      .poll(() => list.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight))
      .toBeLessThanOrEqual(1)
    await newMessages.waitFor({ state: 'detached' })
    await send('bob at the bottom sees this one')
    await messageText(bob!.page, 'bob at the bottom sees this one').waitFor({ timeout: UI_TIMEOUT_MS })
    await expect
      .poll(() => list.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight))
      .toBeLessThanOrEqual(48)

    // Scrolled up again, then a window tall enough for every message: nothing below, so no button.
    await list.evaluate((el) => {
      el.scrollTop = 0
    })
    await newMessages.waitFor({ timeout: UI_TIMEOUT_MS })
    const viewport = bob!.page.viewportSize()!
    await bob!.page.setViewportSize({ width: viewport.width, height: 4_000 })
    await expect.poll(() => list.evaluate((el) => el.scrollHeight <= el.clientHeight)).toBe(true)
    await newMessages.waitFor({ state: 'detached', timeout: UI_TIMEOUT_MS })
    await bob!.page.setViewportSize(viewport)
    await list.evaluate((el) => el.scrollTo({ top: el.scrollHeight }))
  })

  it('behavior: carol, without the token, sees "not eligible" and no plaintext', async () => {
    const carol = await openApp('carol', 3)
    await signIn(carol)
    await carol.page.goto(invite)
    const notice = carol.page.getByTestId('not-eligible')
    await notice.waitFor({ timeout: UI_TIMEOUT_MS })
    // The token's own name, read from the chain: "this room requires 1 × SecureChat Member (0x…)".
    expect(await notice.textContent()).toContain(`1 × SecureChat Member (${chain.addresses.memberNft})`)
    expect(await carol.page.getByRole('textbox', { name: 'Message' }).isDisabled()).toBe(true)
    // Everything the page holds, shadow roots included: the not-eligible notice, and no message text.
    const everything = await carol.page.evaluate(() => {
      const parts: string[] = []
      const walk = (root: Document | ShadowRoot): void => {
        for (const element of root.querySelectorAll('*')) {
          parts.push(element.outerHTML)
          if (element.shadowRoot !== null) walk(element.shadowRoot)
        }
      }
      walk(document)
      return parts.join('\n')
    })
    expect(everything).toContain('You are not eligible for this room')
    for (const text of ['hello bob', 'hi alice']) expect(everything).not.toContain(text)
  })

  it('behavior: a wallet on another chain gets a banner; switching accounts signs out and asks to sign in again', async () => {
    const carol = people.find((p) => p.name === 'carol')!
    await carol.wallet.emit(carol.page, 'chainChanged', '0x1')
    await carol.page
      .getByText('Your wallet is on chain 1; SecureChat uses chain 31337')
      .waitFor({ timeout: UI_TIMEOUT_MS })
    await carol.wallet.emit(carol.page, 'chainChanged', `0x${chain.chainId.toString(16)}`)
    await carol.page.getByText('Your wallet is on chain 1').waitFor({ state: 'detached', timeout: UI_TIMEOUT_MS })
    await carol.wallet.emit(carol.page, 'accountsChanged', [chain.accounts[4]!.address])
    await carol.page.getByRole('button', { name: 'Sign in with Test Wallet' }).waitFor({ timeout: UI_TIMEOUT_MS })
    expect(await carol.page.getByText(`The wallet switched to ${chain.accounts[4]!.address}`).isVisible()).toBe(true)
  })

  it('behavior: a reload brings the history back from the vault without asking the wallet again', async () => {
    const [alice] = people
    const before = alice!.wallet.signatures()
    await alice!.page.reload()
    await alice!.page.getByTestId('address').waitFor({ timeout: UI_TIMEOUT_MS })
    await screenshot(alice!.page, 'room-list')
    await alice!.page.locator('sc-conversation-list button', { hasText: 'members' }).click()
    await messageText(alice!.page, 'hello bob, this is alice').waitFor({ timeout: UI_TIMEOUT_MS })
    await messageText(alice!.page, 'hi alice, bob here').waitFor({ timeout: UI_TIMEOUT_MS })
    expect(alice!.wallet.signatures()).toBe(before)
  })

  it('behavior: after a reload an existing DM conversation can send at once, not stuck on "Connecting…"', async () => {
    // The bug: saved conversations were reset to joining on unlock, but only rooms were rejoined.
    const [alice, bob] = people
    await expect.poll(() => alice!.page.getByTestId('network').textContent(), { timeout: UI_TIMEOUT_MS }).toBe('online')
    await alice!.page.locator('sc-conversation-list button', { hasText: 'DM 0x3C44' }).click()
    const send = alice!.page.getByRole('button', { name: 'Send' })
    await expect.poll(() => send.isEnabled(), { timeout: UI_TIMEOUT_MS }).toBe(true)
    expect(await alice!.page.getByText('Connecting…').count()).toBe(0)
    await alice!.page.getByRole('textbox', { name: 'Message' }).fill('a second word, after a reload')
    await send.click()
    const dmButton = bob!.page.locator('sc-conversation-list button', { hasText: 'DM 0x7099' })
    await dmButton.getByLabel('1 unread').waitFor({ timeout: UI_TIMEOUT_MS })
    await alice!.page.locator('sc-conversation-list button', { hasText: 'members' }).click()
  })

  it('behavior: with the network cut, the installed app opens and shows the vault', async () => {
    const [alice] = people
    await alice!.page.evaluate(() => navigator.serviceWorker.ready.then(() => true))
    await alice!.context.setOffline(true)
    try {
      await alice!.page.reload()
      await alice!.page.getByTestId('address').waitFor({ timeout: UI_TIMEOUT_MS })
      expect(await alice!.page.getByTestId('network').textContent()).toBe('offline')
      await alice!.page.locator('sc-conversation-list button', { hasText: 'members' }).click()
      await messageText(alice!.page, 'hi alice, bob here').waitFor({ timeout: UI_TIMEOUT_MS })
    } finally {
      await alice!.context.setOffline(false)
    }
  })

  it('security: zero CSP or Trusted Types violations across the whole flow', async () => {
    for (const person of people) {
      expect({ who: person.name, violations: await cspViolations(person.page) }).toEqual({
        who: person.name,
        violations: [],
      })
      expect({ who: person.name, console: person.consoleCsp }).toEqual({ who: person.name, console: [] })
    }
  })

  it('security: an inline script injected into the page does not run', async () => {
    const context = await browser.newContext()
    await watchCsp(context)
    const page = await context.newPage()
    // An attacker's inline script in the served HTML: the relay's CSP (kept as served) must block it.
    await page.route(`${http.url}`, async (route) => {
      const response = await route.fetch()
      const body = (await response.text()).replace('<head>', '<head><script>window.__injected = true</script>')
      await route.fulfill({ response, body })
    })
    await page.goto(http.url)
    await page.locator('sc-app').waitFor()
    expect(await page.evaluate(() => (window as { __injected?: boolean }).__injected)).toBeUndefined()
    expect((await cspViolations(page)).some((v) => v.startsWith('script-src'))).toBe(true)
    await context.close()
  })

  it('behavior: a terminal client and a browser share a room (the room accepts both SIWE domains)', async () => {
    const [, bob] = people
    const wallet = chain.accounts[5]!
    const node = createClient({
      domain: DEFAULT_CLI_DOMAIN,
      chainId: DEVNET_CHAIN_ID,
      signer: walletSigner({ type: 'eoa', signer: wallet }),
      bootstrap: [relay.multiaddrs[0]!],
      provider: chain.provider,
      presenceIntervalMs: 1_000,
    })
    await node.start()
    try {
      const { room, invite: nodeInvite } = await node.createRoom({
        name: 'mixed',
        domains: ['localhost', new URL(http.url).host],
      })
      const received = new Promise<string>((resolve) =>
        room.addEventListener('message:received', (event) => resolve(event.detail.text), { once: true }),
      )
      await bob!.page.goto(`${http.url}#invite=${encodeURIComponent(nodeInvite)}`)
      await bob!.page.getByRole('heading', { name: '# mixed' }).waitFor({ timeout: UI_TIMEOUT_MS })
      await expect
        .poll(() => room.members().map((m) => m.address), { timeout: UI_TIMEOUT_MS })
        .toContain(chain.accounts[2]!.address)
      await bob!.page.getByRole('textbox', { name: 'Message' }).fill('from the browser to the terminal')
      await bob!.page.getByRole('button', { name: 'Send' }).click()
      expect(await received).toBe('from the browser to the terminal')
      await room.send('and back from the terminal')
      await messageText(bob!.page, 'and back from the terminal').waitFor({ timeout: UI_TIMEOUT_MS })
    } finally {
      await node.stop()
    }
    await bob!.page.locator('sc-conversation-list button', { hasText: 'members' }).click()
  })

  it('behavior: with the relay gone, the two browsers keep chatting over WebRTC', async () => {
    const [alice, bob] = people
    await alice!.page.locator('sc-conversation-list button', { hasText: 'members' }).click()
    // Both sides: bob's page was reloaded by the test before, and only his new page's view tells
    // that the connection alice sees is the one to that page, not one to the page he left.
    for (const person of [alice!, bob!]) {
      await expect
        .poll(() => person.page.getByTestId('members').textContent(), { timeout: UI_TIMEOUT_MS })
        .toContain('direct')
    }
    // The relay node only: its HTTP server still serves the app.
    await relay.node.stop()
    await alice!.page.getByRole('textbox', { name: 'Message' }).fill('still here without the relay')
    await alice!.page.getByRole('button', { name: 'Send' }).click()
    await messageText(bob!.page, 'still here without the relay').waitFor({ timeout: UI_TIMEOUT_MS })
  }, 90_000)

  it('behavior: bob gives his MemberNFT away and his page says he is no longer eligible', async () => {
    const [, bob] = people
    const bobWallet = chain.accounts[2]!
    const nft = new Contract(chain.addresses.memberNft, memberNftAbi, bobWallet)
    const [minted] = await nft.queryFilter(nft.filters.Transfer!(null, bobWallet.address))
    const tokenId = (minted as EventLog).args[2] as bigint
    await (await nft.getFunction('transferFrom')(bobWallet.address, chain.accounts[6]!.address, tokenId)).wait()
    const notice = bob!.page.getByTestId('not-eligible')
    await notice.waitFor({ timeout: UI_TIMEOUT_MS })
    expect(await notice.textContent()).toContain(`${chain.accounts[2]!.address} holds 0`)
    expect(await bob!.page.getByRole('textbox', { name: 'Message' }).isDisabled()).toBe(true)
  })

  it('behavior: what alice sends after bob lost his token reaches his page as "Cannot decrypt", never as text', async () => {
    const [alice, bob] = people
    const bobShort = `${chain.accounts[2]!.address.slice(0, 6)}…${chain.accounts[2]!.address.slice(-4)}`
    // Alice's page drops bob once it sees the transfer, and rotates its key past him.
    await expect
      .poll(() => alice!.page.getByTestId('members').textContent(), { timeout: UI_TIMEOUT_MS })
      .not.toContain(bobShort)
    const undecryptable = bob!.page.locator('sc-chat-view li.undecryptable')
    const before = await undecryptable.count()
    const text = 'sealed to members who still hold the token'
    await alice!.page.getByRole('textbox', { name: 'Message' }).fill(text)
    await alice!.page.getByRole('button', { name: 'Send' }).click()
    await messageText(alice!.page, text).waitFor({ timeout: UI_TIMEOUT_MS })
    // Still subscribed and connected to alice, bob's page receives the ciphertext, waits for a key
    // that never comes, and says so.
    await expect.poll(() => undecryptable.count(), { timeout: UI_TIMEOUT_MS }).toBe(before + 1)
    expect(await undecryptable.last().textContent()).toContain('Cannot decrypt this message')
    expect(await bob!.page.content()).not.toContain(text)
  }, 60_000)

  it('behavior: leaving a room while offline leaves nothing behind (list, history, the sdk’s room and keys), also after a reload with no relay at all', async () => {
    const [, bob] = people
    const mixed = bob!.page.locator('sc-conversation-list button', { hasText: 'mixed' })
    const roomId = (await mixed.getAttribute('data-conversation'))!
    expect(roomId).toMatch(/^[0-9a-f]{64}$/)
    const vaultEntries = (): Promise<string[]> =>
      bob!.page.evaluate(
        (name) =>
          new Promise<string[]>((resolve, reject) => {
            const open = indexedDB.open(name)
            open.onerror = () => reject(open.error)
            open.onsuccess = () => {
              const keys = open.result.transaction('entries', 'readonly').objectStore('entries').getAllKeys()
              keys.onerror = () => reject(keys.error)
              keys.onsuccess = () => {
                resolve(keys.result.map(String))
                open.result.close()
              }
            }
          }),
        `securechat-vault-${chain.accounts[2]!.address.toLowerCase()}`,
      )
    expect((await vaultEntries()).filter((name) => name.endsWith(roomId))).toEqual(
      expect.arrayContaining([`room/joined/${roomId}`, `room/messages/${roomId}`]),
    )
    await bob!.context.setOffline(true)
    try {
      await bob!.page.reload()
      await bob!.page.getByTestId('address').waitFor({ timeout: UI_TIMEOUT_MS })
      expect(await bob!.page.getByTestId('network').textContent()).toBe('offline')
      await mixed.click()
      await bob!.page.getByRole('button', { name: 'Leave room' }).click()
      await mixed.waitFor({ state: 'detached' })
      await expect.poll(async () => (await vaultEntries()).filter((name) => name.endsWith(roomId))).toEqual([])
    } finally {
      await bob!.context.setOffline(false)
    }
    // The relay is gone altogether now (its HTTP server too): the installed app still opens,
    // from the service worker, with the last /config.json it saw.
    await http.stop()
    await bob!.page.reload()
    await bob!.page.locator('sc-conversation-list button', { hasText: 'members' }).waitFor({ timeout: UI_TIMEOUT_MS })
    expect(await mixed.count()).toBe(0)
    // No relay answers: the app says so in words, and shows a person no addresses or command-line flags.
    const notice = bob!.page.getByTestId('offline')
    await notice.waitFor({ timeout: UI_TIMEOUT_MS })
    expect(await notice.textContent()).toBe(
      'no connection to the chat network right now — showing what this device has; messages will be sent when you reconnect',
    )
    const shown = await bob!.page.locator('sc-app').evaluate((app) => app.shadowRoot?.textContent ?? '')
    expect(shown).not.toMatch(/\/ip4\/|\/p2p\/|--bootstrap/)
  })
})

/**
 * Two relays with message stores, peered, the first serving the app (its /config.json names the second); a
 * terminal client (dave, Node) connected to both; erin in the browser. Her page is closed while dave sends 1,000
 * messages, writes while offline, and loses the relay that served her page.
 */
describe('web app: catch-up after the page was closed, writing offline, relay failover', () => {
  const COUNT = 1_000
  const dirs: string[] = []
  let relayA: Relay
  let relayB: Relay
  let dave: SecureChatClient
  let room: Room
  let erin: Person
  /** What dave's terminal received, in order. */
  const received: string[] = []

  beforeAll(async () => {
    for (const name of ['web-store-a-', 'web-store-b-']) dirs.push(await tempDir(name))
    // Dave's terminal sends 1,000 messages as an import does (at the defaults, 10 a second, it would take minutes).
    const { recordRates, publishPacing } = bulkSender(COUNT)
    relayB = await startBrowserRelay(chain, {
      webRoot,
      dataDir: dirs[1]!,
      services: { store: messageStore() },
      recordRates,
    })
    relayA = await startBrowserRelay(chain, {
      webRoot,
      dataDir: dirs[0]!,
      services: { store: messageStore() },
      peers: [relayB.multiaddrs[0]!],
      recordRates,
    })
    dave = createClient({
      domain: DEFAULT_CLI_DOMAIN,
      chainId: DEVNET_CHAIN_ID,
      signer: walletSigner({ type: 'eoa', signer: new Wallet(Wallet.createRandom().privateKey) }),
      bootstrap: [relayA.multiaddrs[0]!, relayB.multiaddrs[0]!],
      presenceIntervalMs: 1_000,
      publishPacing,
    })
    await dave.start()
    ;({ room } = await dave.createRoom({
      name: 'history',
      domains: ['localhost', new URL(relayA.services.http!.url).host],
    }))
    room.addEventListener('message:received', (event) => received.push(event.detail.text))
  }, 60_000)

  afterAll(async () => {
    await dave?.stop()
    await relayA?.stop()
    await relayB?.stop()
    for (const dir of dirs) await rm(dir, { recursive: true, force: true })
  })

  const historyButton = (page: Page) => page.locator('sc-conversation-list button', { hasText: 'history' })

  it('behavior: the page is closed while a terminal sends 1,000 messages; reopened, it shows all of them, in order, with progress', async () => {
    const url = relayA.services.http!.url
    erin = await openApp('erin', 7, url)
    await signIn(erin)
    await erin.page.goto(`${url}#invite=${encodeURIComponent(dave.invite(room))}`)
    await erin.page.getByRole('heading', { name: '# history' }).waitFor({ timeout: UI_TIMEOUT_MS })
    // Dave seals his keys to the members he knows, erin too while she is away.
    await expect
      .poll(() => room.members().map((m) => m.address), { timeout: UI_TIMEOUT_MS })
      .toContain(chain.accounts[7]!.address)
    await erin.page.evaluate(() => navigator.serviceWorker.ready.then(() => true))
    await erin.page.close()

    const texts = Array.from({ length: COUNT }, (_, i) => `while erin was away ${i}`)
    for (const text of texts) await room.send(text)
    // The stores write in batches: all of it is kept before she comes back.
    const pendingWrites = (r: Relay) =>
      (r.services.store?.stats?.() as { pendingWrites?: number } | undefined)?.pendingWrites
    await expect.poll(() => [relayA, relayB].map(pendingWrites)).toEqual([0, 0])

    erin.page = await erin.context.newPage()
    recordCspConsole(erin.page, erin.consoleCsp)
    await erin.page.goto(url)
    await historyButton(erin.page).click({ timeout: UI_TIMEOUT_MS })
    const progress = erin.page.getByTestId('catch-up')
    // The stores are asked first ("catching up…"): under heavy load that alone took over 30 s once.
    await expect
      .poll(() => progress.textContent(), { timeout: 90_000, interval: 50 })
      .toMatch(/^catching up [\d,]+ of 1,000$/)
    await screenshot(erin.page, 'catching-up')
    const shown = erin.page.locator('sc-chat-view li:not(.pending) .text')
    await expect.poll(() => shown.count(), { timeout: 120_000 }).toBe(COUNT)
    expect(await shown.allTextContents()).toEqual(texts)
    await progress.waitFor({ state: 'detached', timeout: UI_TIMEOUT_MS })
  }, 240_000)

  it('behavior: written offline, two messages wait in the vault as pending through a reload, and reach a terminal exactly once when the network is back', async () => {
    const { page, context } = erin
    const offline = ['written offline 1', 'written offline 2']
    await context.setOffline(true)
    try {
      const notice = page.getByTestId('offline')
      await notice.waitFor({ timeout: UI_TIMEOUT_MS })
      // For a person: no addresses, no flags, one slim line that leaves the conversation its room.
      expect(await notice.textContent()).toBe(
        'offline — showing what this device has; messages will be sent when you reconnect',
      )
      expect((await notice.boundingBox())!.height).toBeLessThan(48)
      expect((await page.locator('sc-chat-view ol').boundingBox())!.height).toBeGreaterThan(300)
      for (const text of offline) {
        await composer(page).getByRole('textbox', { name: 'Message' }).fill(text)
        await composer(page).getByRole('button', { name: 'Send' }).click()
      }
      const pending = page.locator('sc-chat-view li.pending')
      await expect.poll(() => pending.allTextContents(), { timeout: UI_TIMEOUT_MS }).toHaveLength(2)
      for (const text of await pending.allTextContents()) {
        expect(text).toContain('pending — will be sent when you reconnect')
      }
      await page.reload()
      await historyButton(page).click({ timeout: UI_TIMEOUT_MS })
      // After a reload the conversation's 1,000 messages are read from the vault first: seconds under load.
      await expect.poll(() => pending.locator('.text').allTextContents(), { timeout: UI_TIMEOUT_MS }).toEqual(offline)
      await screenshot(page, 'offline-pending')
      expect(received.filter((text) => offline.includes(text))).toEqual([])
    } finally {
      await context.setOffline(false)
    }
    await expect.poll(() => received.filter((text) => offline.includes(text)), { timeout: 60_000 }).toEqual(offline)
    await expect.poll(() => page.locator('sc-chat-view li.pending').count(), { timeout: UI_TIMEOUT_MS }).toBe(0)
    // One more after them: had either gone out twice, the copy would have arrived before this one.
    await sendMessage(page, 'back online', UI_TIMEOUT_MS)
    await expect.poll(() => received.includes('back online'), { timeout: UI_TIMEOUT_MS }).toBe(true)
    expect(received.filter((text) => offline.includes(text))).toEqual(offline)
  }, 120_000)

  it('behavior: the network drops for a moment with the page open; what was written meanwhile goes out when it is back, without a reload', async () => {
    const { page, context } = erin
    const text = 'written during a short outage'
    // How long each step took, printed whether it passes or not.
    const startedAt = performance.now()
    const steps: string[] = []
    const step = (what: string) => steps.push(`${what} ${((performance.now() - startedAt) / 1000).toFixed(1)} s`)
    // The relay connections outlive the outage: the browser's word that it is back is what the page goes on.
    await context.setOffline(true)
    try {
      await page.getByTestId('offline').waitFor({ timeout: UI_TIMEOUT_MS })
      step('offline shown')
      await composer(page).getByRole('textbox', { name: 'Message' }).fill(text)
      await composer(page).getByRole('button', { name: 'Send' }).click()
      await page.locator('sc-chat-view li.pending', { hasText: text }).waitFor({ timeout: UI_TIMEOUT_MS })
      step('pending shown')
    } finally {
      await context.setOffline(false)
    }
    try {
      await page.getByTestId('offline').waitFor({ state: 'detached', timeout: UI_TIMEOUT_MS })
      step('online again')
      await shownMessage(page, text).waitFor({ timeout: UI_TIMEOUT_MS })
      step('sent')
      await expect.poll(() => received.includes(text), { timeout: UI_TIMEOUT_MS }).toBe(true)
      step('received')
    } finally {
      console.log(`web app, a short outage: ${steps.join(', ')}`)
    }
  })

  it('behavior: a DM to a terminal shows "sent" while the terminal is away and "delivered" once it is back and has it, also after a reload', async () => {
    const { page } = erin
    const url = relayA.services.http!.url
    // Frank's terminal signs in for the page's domain and chain: a DM peer's certificate must match the app's.
    const wallet = new Wallet(Wallet.createRandom().privateKey)
    const backend = memoryVaultBackend()
    const received: string[] = []
    const startFrank = async () => {
      const vault = await openVault({
        backend,
        unlock: { type: 'passphrase', passphrase: 'only for this test' },
        argon2id: VAULT_ARGON2ID_MIN,
      })
      const client = createClient({
        domain: new URL(url).host,
        chainId: DEVNET_CHAIN_ID,
        signer: walletSigner({ type: 'eoa', signer: wallet }),
        bootstrap: [relayA.multiaddrs[0]!, relayB.multiaddrs[0]!],
        vault,
      })
      await client.start()
      client.dms.addEventListener('message:received', (event) => received.push(event.detail.text))
      await client.dms.ready()
      let stopped = false
      return async () => {
        if (stopped) return
        stopped = true
        await client.stop()
        await vault.close()
      }
    }
    const mark = (text: string) => shownMessage(page, text).getByTestId('delivery')
    let stopFrank = await startFrank()
    try {
      await page.getByRole('button', { name: 'Message a wallet' }).click()
      await page.getByLabel('Wallet address').fill(wallet.address)
      await page.getByRole('button', { name: 'Open conversation' }).click()
      await sendMessage(page, 'to frank while he is here', UI_TIMEOUT_MS)
      await expect.poll(() => received, { timeout: UI_TIMEOUT_MS }).toContain('to frank while he is here')
      await expect
        .poll(() => mark('to frank while he is here').textContent(), { timeout: UI_TIMEOUT_MS })
        .toBe('delivered')
      expect(await mark('to frank while he is here').getAttribute('title')).toBe('delivered to 1 of 1 device')

      await stopFrank()
      await sendMessage(page, 'to frank while he is away', UI_TIMEOUT_MS)
      expect(await mark('to frank while he is away').textContent()).toBe('sent')
      // The stores write in batches: it is kept before he comes back.
      const pendingWrites = (r: Relay) =>
        (r.services.store?.stats?.() as { pendingWrites?: number } | undefined)?.pendingWrites
      await expect.poll(() => [relayA, relayB].map(pendingWrites)).toEqual([0, 0])
      expect(await mark('to frank while he is away').textContent()).toBe('sent')
      stopFrank = await startFrank()
      await expect.poll(() => received, { timeout: 60_000 }).toContain('to frank while he is away')
      await expect
        .poll(() => mark('to frank while he is away').textContent(), { timeout: UI_TIMEOUT_MS })
        .toBe('delivered')
      await screenshot(page, 'dm-delivered')

      // The vault keeps each message's devices: a reload shows what the receipts said.
      await page.reload()
      await page
        .locator('sc-conversation-list button', { hasText: `DM ${wallet.address.slice(0, 6)}` })
        .click({ timeout: UI_TIMEOUT_MS })
      for (const text of ['to frank while he is here', 'to frank while he is away']) {
        await expect.poll(() => mark(text).textContent(), { timeout: UI_TIMEOUT_MS, message: text }).toBe('delivered')
      }
    } finally {
      await stopFrank()
    }
    await historyButton(page).click({ timeout: UI_TIMEOUT_MS })
  }, 180_000)

  it('behavior: the relay that served the page dies mid-conversation; the page goes on through the other relay at once and loses nothing', async () => {
    const { page } = erin
    const erinMember = () => room.members().find((m) => m.address === chain.accounts[7]!.address)
    // Her page announces itself again after the reload of the step before.
    await expect.poll(() => erinMember(), { timeout: UI_TIMEOUT_MS }).toBeDefined()
    const erinPeer = erinMember()!.peerId
    // The relay that served the page names relay B in /config.json (and dave's invite named it): the page is
    // connected to it before anything goes wrong.
    const config = await page.evaluate(async () => (await (await fetch('/config.json')).json()) as { relays: string[] })
    expect(config.relays).toEqual([relayA.multiaddrs[0], relayB.multiaddrs[0]])
    await expect
      .poll(() => relayB.node.libp2p.getConnections().some((c) => c.remotePeer.toString() === erinPeer), {
        timeout: UI_TIMEOUT_MS,
      })
      .toBe(true)
    await sendMessage(page, 'before the relay dies', UI_TIMEOUT_MS)
    await expect.poll(() => received.includes('before the relay dies'), { timeout: UI_TIMEOUT_MS }).toBe(true)

    // What the page's header says from now until the end, read over and over.
    const network = new Set<string>()
    let watch = true
    const watching = (async () => {
      while (watch) network.add((await page.getByTestId('network').textContent()) ?? '')
    })()
    const killedAt = performance.now()
    await relayA.stop() // its HTTP server too: the page stays open, served by nothing
    const fromDave = ['after the relay died 1', 'after the relay died 2', 'after the relay died 3']
    for (const text of fromDave) await room.send(text)
    for (const text of fromDave) await shownMessage(page, text).waitFor({ timeout: UI_TIMEOUT_MS })
    const daveToErinMs = performance.now() - killedAt
    await sendMessage(page, 'erin after the relay died', UI_TIMEOUT_MS)
    await expect.poll(() => received.includes('erin after the relay died'), { timeout: UI_TIMEOUT_MS }).toBe(true)
    const erinToDaveMs = performance.now() - killedAt
    watch = false
    await watching
    // Never without a relay: relay B carried on the moment relay A went away.
    expect([...network]).toEqual(['online'])
    console.info(
      `failover: dave → erin ${Math.round(daveToErinMs)} ms, erin → dave ${Math.round(erinToDaveMs)} ms after relay A died`,
    )
    const texts = await page.locator('sc-chat-view li:not(.pending) .text').allTextContents()
    expect(texts.filter((text) => text.startsWith('after the relay died'))).toEqual(fromDave)
  }, 120_000)

  it('security: zero CSP or Trusted Types violations on this page too', async () => {
    expect(await cspViolations(erin.page)).toEqual([])
    expect(erin.consoleCsp).toEqual([])
  })
})
