/**
 * A member anchors a room's messages from the web app, in Debian's Chromium, on a relay that anchors nothing
 * itself: the page builds the batch and its leaf list's CID, the wallet sends `AuditLog.anchor`, the messages get
 * "Anchored in block N" from that transaction's block, and the relay — handed the leaf list — serves it on IPFS,
 * where `securechat verify` (the CLI, in its own process) finds it.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { auditLogReader } from '@securechat/sdk/audit'
import type { Browser, BrowserContext, Page, Request } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { leafLists } from '../node/src/audit/leaf-list-intake.ts'
import type { HttpService, Relay } from '../node/src/relay/create-relay.ts'
import {
  buildWebApp,
  cspViolations,
  injectWallet,
  launchChromium,
  screenshot,
  sendMessage,
  shownMessage,
  type TestWallet,
  watchCsp,
} from './helpers/browser.ts'
import { startTestChain, type TestChain } from './helpers/chain.ts'
import { runCli, tempDir } from './helpers/cli.ts'
import { startBrowserRelay } from './helpers/web-stack.ts'

/** Generous for a loaded 2-core machine; never a speed check. */
const UI_TIMEOUT_MS = 45_000
/** The member who anchors (and pays): the test wallet's account. */
const MEMBER = 1

let chain: TestChain
let relay: Relay
let dataDir: string
let http: HttpService
let browser: Browser
let context: BrowserContext
let wallet: TestWallet
let page: Page
/** The messages sent so far, by text. */
const ids = new Map<string, string>()
let anchoredBlock = 0

beforeAll(async () => {
  const webRoot = await tempDir('web-anchor-member-dist-')
  await buildWebApp(webRoot)
  chain = await startTestChain()
  dataDir = await tempDir('web-anchor-member-relay-')
  // No anchorer: whatever gets anchored here, a member anchored.
  relay = await startBrowserRelay(chain, {
    webRoot,
    dataDir,
    services: { leafLists: leafLists({ provider: chain.provider, auditLog: chain.addresses.auditLog }) },
  })
  http = relay.services.http!
  browser = await launchChromium()
  context = await browser.newContext({ viewport: { width: 1100, height: 760 } })
  await watchCsp(context)
  wallet = await injectWallet(context, chain.accounts[MEMBER]!, chain.chainId)
  page = await context.newPage()
}, 180_000)

afterAll(async () => {
  await context?.close().catch(() => {})
  await browser?.close()
  await relay?.stop()
  await chain?.stop()
})

const message = (text: string) => shownMessage(page, text)

async function send(text: string): Promise<string> {
  const id = await sendMessage(page, text, UI_TIMEOUT_MS)
  ids.set(text, id)
  return id
}

const status = () => page.getByTestId('anchor-status')
/** What the status line says once the action is over, whichever way. */
const FINISHED = /^(Anchored \d+ messages? in|These \d+|Not anchored|Nothing to anchor|You rejected)/
/** The room's details, opened by its header's "Members": the paying action is there, not beside "Leave room". */
const details = () => page.getByRole('dialog', { name: '# self-audited' })

/**
 * Opens the room's details, clicks the action and waits until the status line says something that matches `done`;
 * runs `whileOpen`, then closes the details.
 */
async function anchorAndWait(done: RegExp, whileOpen: () => Promise<void> = async () => {}): Promise<string> {
  await page.getByRole('button', { name: 'Members' }).click()
  await details().getByRole('button', { name: 'Anchor recent messages' }).click()
  await expect.poll(async () => (await status().textContent())?.trim(), { timeout: UI_TIMEOUT_MS }).toMatch(done)
  const said = (await status().textContent())!.trim()
  await whileOpen()
  await details().getByRole('button', { name: 'Close' }).click()
  await details().waitFor({ state: 'hidden' })
  return said
}

describe('web app: a member anchors recent messages with a wallet transaction', () => {
  it('behavior: a rejected wallet prompt anchors nothing and says so', async () => {
    await page.goto(http.url)
    await page.getByRole('button', { name: 'Sign in with Test Wallet' }).click()
    await expect.poll(() => page.getByTestId('network').textContent(), { timeout: UI_TIMEOUT_MS }).toBe('online')
    await page.getByRole('button', { name: 'New room' }).click()
    await page.getByLabel('Name').fill('self-audited')
    await page.getByRole('button', { name: 'Create room' }).click()
    await page.getByRole('heading', { name: '# self-audited' }).waitFor({ timeout: UI_TIMEOUT_MS })
    await send('first, anchored by me')
    await send('second, anchored by me')

    wallet.rejectTransactions(true)
    // The header offers no paying action beside "Leave room".
    expect(
      await page.locator('sc-chat-view header').getByRole('button', { name: 'Anchor recent messages' }).count(),
    ).toBe(0)
    const said = await anchorAndWait(/rejected/, async () => {
      expect(await page.getByRole('alert').filter({ hasText: 'rejected' }).count()).toBe(1)
    })
    expect(said).toBe('You rejected the transaction in your wallet; nothing was anchored.')
    wallet.rejectTransactions(false)
    expect(wallet.transactions).toEqual([])
    expect(await page.locator('sc-anchor-mark').count()).toBe(0)
  })

  it('behavior: the wallet sends AuditLog.anchor; both messages get "Anchored in block N", N the block of that transaction; the relay keeps the leaf list', async () => {
    // What the page asks the chain's RPC meanwhile (JSON-RPC methods, batched or not).
    const rpcMethods: string[] = []
    const onRequest = (request: Request): void => {
      if (!request.url().startsWith(chain.rpcUrl) || request.method() !== 'POST') return
      const body = request.postDataJSON() as { method: string } | Array<{ method: string }>
      for (const call of Array.isArray(body) ? body : [body]) rpcMethods.push(call.method)
    }
    page.on('request', onRequest)
    const said = await anchorAndWait(FINISHED)
    page.off('request', onRequest)
    // The anchor the page read after its receipt marks the messages: the Anchored event is not looked up again.
    expect(rpcMethods).toContain('eth_getTransactionReceipt')
    expect(rpcMethods).not.toContain('eth_getLogs')
    expect(said).toMatch(/^Anchored 2 messages in block \d+\.$/)
    anchoredBlock = Number(/block (\d+)/.exec(said)![1])

    // The wallet sent one transaction, from the member's account, mined in that block.
    expect(wallet.transactions).toHaveLength(1)
    expect(wallet.requests).toContain('eth_sendTransaction')
    const receipt = await chain.provider.getTransactionReceipt(wallet.transactions[0]!)
    expect(receipt?.status).toBe(1)
    expect(receipt?.blockNumber).toBe(anchoredBlock)
    expect(receipt?.from).toBe(chain.accounts[MEMBER]!.address)
    expect(receipt?.to).toBe(chain.addresses.auditLog)
    const reader = auditLogReader({ runner: chain.provider, address: chain.addresses.auditLog })
    const [event, ...more] = await reader.anchoredEvents({ anchorer: chain.accounts[MEMBER]!.address })
    expect(more).toEqual([])
    expect(event).toMatchObject({ count: 2, blockNumber: anchoredBlock, transactionHash: receipt!.hash })

    for (const text of ids.keys()) {
      await message(text)
        .getByRole('button', { name: `Anchored in block ${anchoredBlock}` })
        .waitFor({ timeout: UI_TIMEOUT_MS })
    }
    await screenshot(page, 'anchor-member-action')
    // The relay checked the list against the chain and keeps it, under the CID the transaction named.
    expect(existsSync(join(dataDir, 'audit', 'member-batches', `${event!.root}.json`))).toBe(true)
    // …and answers the proofs of its leaves to anyone (the leaf hash is the one the mark's detail shows).
    const leafHash = await leafHashOfShown(ids.get('second, anchored by me')!)
    const proof = await fetch(`${http.url}audit/proof?leaf=${leafHash}`)
    expect(proof.status).toBe(200)
    expect(((await proof.json()) as { root: string }).root).toBe(event!.root)

    const mark = message('first, anchored by me').getByRole('button', { name: `Anchored in block ${anchoredBlock}` })
    await mark.click()
    const dialog = page.getByRole('dialog', { name: `Anchored in block ${anchoredBlock}` })
    await dialog.waitFor()
    const details = (await dialog.textContent()) ?? ''
    for (const shown of [event!.root, event!.cid, receipt!.hash, chain.accounts[MEMBER]!.address]) {
      expect(details).toContain(shown)
    }
    expect(details).toContain('You anchored this batch from this browser')
    await dialog.getByRole('button', { name: 'Close' }).click()
    await dialog.waitFor({ state: 'hidden' })
  })

  it('behavior: `securechat verify` proves a message anchored from the browser, fetching the leaf list from the relay over IPFS', async () => {
    await page.getByText('Invite people').click()
    const link = await page.locator('sc-invite-share input').inputValue()
    await page.getByText('Invite people').click()
    const invite = decodeURIComponent(link.slice(link.indexOf('#invite=') + '#invite='.length))
    const id = ids.get('second, anchored by me')!
    // The invite names the relay's WebSocket address: the CLI dials it and asks its IPFS node for the list.
    const verified = await runCli([
      'verify',
      '--room',
      invite,
      '--message',
      id,
      '--rpc',
      chain.rpcUrl,
      '--audit-log',
      chain.addresses.auditLog,
    ])
    expect(verified.stderr).not.toMatch(/unavailable|error/i)
    expect(verified.code, verified.stdout + verified.stderr).toBe(0)
    expect(verified.stdout).toContain(`VERIFIED: message ${id}`)
    expect(verified.stdout).toContain(`in block ${anchoredBlock}`)
    expect(verified.stdout).toContain(`by ${chain.accounts[MEMBER]!.address}`)
  })

  it('behavior: with every message marked there is nothing to anchor; a new message is anchored alone, in a new block', async () => {
    expect(await anchorAndWait(/Nothing to anchor/)).toBe(
      'Nothing to anchor: every message here is marked as anchored.',
    )
    expect(wallet.transactions).toHaveLength(1)

    await send('third, after the first anchor')
    const said = await anchorAndWait(FINISHED)
    expect(said).toMatch(/^Anchored 1 message in block \d+\.$/)
    const block = Number(/block (\d+)/.exec(said)![1])
    expect(block).toBeGreaterThan(anchoredBlock)
    expect(wallet.transactions).toHaveLength(2)
    await message('third, after the first anchor')
      .getByRole('button', { name: `Anchored in block ${block}` })
      .waitFor({ timeout: UI_TIMEOUT_MS })
    // The earlier messages keep their own anchor.
    await message('first, anchored by me')
      .getByRole('button', { name: `Anchored in block ${anchoredBlock}` })
      .waitFor()
  })

  it('behavior: a leaf list the relay could not take survives a reload and is handed over when the app next connects', async () => {
    // The relay's HTTP side is unreachable for the hand-in (the transaction itself goes through the wallet).
    await page.route('**/audit/leaf-lists', (route) => route.abort('connectionrefused'))
    await send('fourth, its leaf list delayed')
    const said = await anchorAndWait(FINISHED)
    expect(said).toMatch(/^Anchored 1 message in block \d+\. But the relay did not keep the leaf list/)
    expect(said).toContain('This device keeps it and hands it over when it next connects.')
    const leafHash = await leafHashOfShown(ids.get('fourth, its leaf list delayed')!)
    expect((await fetch(`${http.url}audit/proof?leaf=${leafHash}`)).status).toBe(404)

    await page.unroute('**/audit/leaf-lists')
    await page.reload()
    await expect.poll(() => page.getByTestId('network').textContent(), { timeout: UI_TIMEOUT_MS }).toBe('online')
    await expect
      .poll(async () => (await fetch(`${http.url}audit/proof?leaf=${leafHash}`)).status, { timeout: UI_TIMEOUT_MS })
      .toBe(200)
    expect(wallet.transactions).toHaveLength(3)
  }, 90_000)

  it('security: zero CSP or Trusted Types violations, the wallet transaction and the POST included', async () => {
    expect(await cspViolations(page)).toEqual([])
  })
})

/** The leaf hash the page asks the relay about for a message it shows (from its anchor's detail). */
async function leafHashOfShown(id: string): Promise<string> {
  const item = page.locator(`sc-chat-view li[data-message-id="${id}"]`)
  await item.getByRole('button', { name: /^Anchored in block/ }).click()
  const dialog = page.getByRole('dialog', { name: /^Anchored in block/ })
  const text = (await dialog.locator('dd').last().textContent())!.trim()
  await dialog.getByRole('button', { name: 'Close' }).click()
  await dialog.waitFor({ state: 'hidden' })
  return text
}
