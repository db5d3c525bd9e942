/**
 * The web app's "anchored in block N" marks, in Debian's Chromium: a relay that anchors what it accepts on a
 * Hardhat chain serves the app and `/audit/proof`; the browser recomputes each message's leaf, checks the relay's
 * proof against the root and the root against the chain itself. A relay that lies gets no mark.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { auditLogReader, type LeafValue } from '@securechat/sdk/audit'
import { concat, keccak256, randomBytes, Wallet } from 'ethers'
import type { Browser, BrowserContext, Page, Route } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { anchoring } from '../node/src/audit/relay-anchoring.ts'
import type { HttpService, Relay } from '../node/src/relay/create-relay.ts'
import {
  buildWebApp,
  cspViolations,
  injectWallet,
  launchChromium,
  screenshot,
  sendMessage,
  shownMessage,
  watchCsp,
} from './helpers/browser.ts'
import { startTestChain, type TestChain } from './helpers/chain.ts'
import { tempDir } from './helpers/cli.ts'
import { startBrowserRelay } from './helpers/web-stack.ts'

/** Anchoring every second, the app polling every few: generous for a loaded 2-core machine, never a speed check. */
const UI_TIMEOUT_MS = 45_000
const ANCHOR_INTERVAL_MS = 1_000

let chain: TestChain
let relay: Relay
let anchorDir: string
let http: HttpService
let browser: Browser
let context: BrowserContext
let page: Page
/** Every `/audit/proof` URL the page asked for, in order. */
const proofRequests: string[] = []

beforeAll(async () => {
  const webRoot = await tempDir('web-anchor-dist-')
  await buildWebApp(webRoot)
  chain = await startTestChain()
  const dataDir = await tempDir('web-anchor-relay-')
  anchorDir = join(dataDir, 'audit', 'anchorer', 'anchored')
  relay = await startBrowserRelay(chain, {
    webRoot,
    dataDir,
    services: {
      anchoring: anchoring({
        rpcUrl: chain.rpcUrl,
        chainId: chain.chainId,
        auditLog: chain.addresses.auditLog,
        wallet: new Wallet(chain.accounts[5]!.privateKey),
        intervalMs: ANCHOR_INTERVAL_MS,
        receiptPollIntervalMs: 50,
      }),
    },
  })
  http = relay.services.http!
  browser = await launchChromium()
  // No service worker: `page.route` must see the app's `/audit/proof` requests (the forged-proof test).
  context = await browser.newContext({ viewport: { width: 1100, height: 760 }, serviceWorkers: 'block' })
  await watchCsp(context)
  await injectWallet(context, chain.accounts[1]!, chain.chainId)
  page = await context.newPage()
  page.on('request', (request) => {
    if (new URL(request.url()).pathname === '/audit/proof') proofRequests.push(request.url())
  })
}, 180_000)

afterAll(async () => {
  await context?.close().catch(() => {})
  await browser?.close()
  await relay?.stop()
  await chain?.stop()
})

interface AnchoredFile {
  root: string
  cid: string
  leaves: LeafValue[]
  anchor: { blockNumber: number; transactionHash?: string }
}

/** The relay's anchored batch holding `messageId`, read from its data dir. */
function anchoredBatchOf(messageId: string): AnchoredFile | undefined {
  for (const name of readdirSync(anchorDir).filter((n) => n.endsWith('.json'))) {
    const file = JSON.parse(readFileSync(join(anchorDir, name), 'utf8')) as AnchoredFile
    if (file.leaves.some((value) => value[1] === `0x${messageId}`)) return file
  }
  return undefined
}

const message = (text: string) => shownMessage(page, text)
const send = (text: string) => sendMessage(page, text, UI_TIMEOUT_MS)

async function until(condition: () => boolean, what: () => string, timeoutMs = UI_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what()}`)
    await new Promise((done) => setTimeout(done, 50))
  }
}

describe('web app: anchored-in-block marks, checked against the chain', () => {
  it('behavior: a message sent in the browser gets "Anchored in block N", N the block of the anchor transaction; the detail view shows the root', async () => {
    await page.goto(http.url)
    await page.getByRole('button', { name: 'Sign in with Test Wallet' }).click()
    await expect.poll(() => page.getByTestId('network').textContent(), { timeout: UI_TIMEOUT_MS }).toBe('online')
    await page.getByRole('button', { name: 'New room' }).click()
    await page.getByLabel('Name').fill('audited')
    await page.getByRole('button', { name: 'Create room' }).click()
    await page.getByRole('heading', { name: '# audited' }).waitFor({ timeout: UI_TIMEOUT_MS })
    // The relay carries the room once it has seen the page subscribe: from then on it anchors what it accepts.
    await until(
      () => relay.stats().node.rooms > 0,
      () => 'the relay never joined the room',
    )

    const id = await send('anchor this one')
    const mark = message('anchor this one').getByRole('button', { name: /^Anchored in block \d+$/ })
    await mark.waitFor({ timeout: UI_TIMEOUT_MS })
    const block = Number((await mark.getAttribute('aria-label'))!.replace('Anchored in block ', ''))

    // The chain, read from here: the batch holding the message was anchored in that block, by that transaction.
    const batch = anchoredBatchOf(id)
    expect(batch, 'the relay anchored no batch holding the message').toBeDefined()
    const reader = auditLogReader({ runner: chain.provider, address: chain.addresses.auditLog })
    expect((await reader.anchorOf(batch!.root))?.blockNumber).toBe(block)
    const receipt = await chain.provider.getTransactionReceipt(batch!.anchor.transactionHash!)
    expect(receipt?.blockNumber).toBe(block)
    const [event] = await reader.anchoredEvents({ root: batch!.root })
    expect(event).toMatchObject({ blockNumber: block, cid: batch!.cid, transactionHash: receipt!.hash })

    await mark.click()
    const dialog = page.getByRole('dialog', { name: `Anchored in block ${block}` })
    await dialog.waitFor()
    expect(await dialog.getByTestId('anchor-root').textContent()).toBe(batch!.root)
    expect(await dialog.getByTestId('anchor-block').textContent()).toBe(String(block))
    const details = (await dialog.textContent()) ?? ''
    for (const shown of [batch!.cid, receipt!.hash, chain.accounts[5]!.address, chain.addresses.auditLog, id]) {
      expect(details).toContain(shown)
    }
    expect(details).toContain('What this browser checked')
    await screenshot(page, 'anchor-detail')
    await dialog.getByRole('button', { name: 'Close' }).click()
    await dialog.waitFor({ state: 'hidden' })

    // The relay endpoint the page used answers the same proof to anyone; the page asked only by leaf hash.
    const asked = proofRequests.at(-1)!
    expect(asked).toMatch(/\/audit\/proof\?leaf=0x[0-9a-f]{64}$/)
    const reply = await fetch(asked)
    expect(reply.status).toBe(200)
    expect(((await reply.json()) as { root: string }).root).toBe(batch!.root)
    expect((await fetch(`${http.url}audit/proof?leaf=0x${'00'.repeat(32)}`)).status).toBe(404)
    expect((await fetch(`${http.url}audit/proof?leaf=${id}`)).status).toBe(400)
  })

  it('behavior: after a reload the mark comes from the vault, without asking the relay again', async () => {
    const before = proofRequests.length
    await page.reload()
    await page.getByTestId('address').waitFor({ timeout: UI_TIMEOUT_MS })
    await page.locator('sc-conversation-list button', { hasText: 'audited' }).click()
    await message('anchor this one')
      .getByRole('button', { name: /^Anchored in block \d+$/ })
      .waitFor({ timeout: UI_TIMEOUT_MS })
    await expect.poll(() => page.getByTestId('network').textContent(), { timeout: UI_TIMEOUT_MS }).toBe('online')
    expect(proofRequests.slice(before)).toEqual([])
  })

  it('security: a relay answering a forged proof (bad proof, another root, a root never anchored) gets no mark', async () => {
    const forged: Record<string, number> = {}
    let mode: 'flip-proof' | 'wrong-root' | 'unanchored-root' = 'flip-proof'
    const realRoot = anchoredBatchOf((await message('anchor this one').getAttribute('data-message-id'))!)!.root
    const tamper = async (route: Route): Promise<void> => {
      const response = await route.fetch()
      if (response.status() !== 200) return route.fulfill({ response })
      const body = (await response.json()) as { root: string; proof: string[] }
      const leaf = new URL(route.request().url()).searchParams.get('leaf')!
      if (mode === 'flip-proof') {
        const first = body.proof[0] ?? leaf
        body.proof = [`${first.slice(0, -1)}${first.endsWith('0') ? '1' : '0'}`, ...body.proof.slice(1)]
      } else if (mode === 'wrong-root') {
        // Another batch's root, really anchored: the proof does not lead there.
        body.root = realRoot === body.root ? keccak256(randomBytes(32)) : realRoot
      } else {
        // A proof that holds, to a root nobody anchored.
        const sibling = keccak256(randomBytes(32))
        const [a, b] = [leaf, sibling].sort()
        body.proof = [sibling]
        body.root = keccak256(concat([a!, b!]))
      }
      forged[mode] = (forged[mode] ?? 0) + 1
      await route.fulfill({ response, json: body })
    }
    await page.route('**/audit/proof?*', tamper)
    const id = await send('forge my anchor')
    const item = message('forge my anchor')
    for (const next of ['flip-proof', 'wrong-root', 'unanchored-root'] as const) {
      mode = next
      // Two polls answered with this forgery: the page checked it twice, and marked nothing.
      const seen = forged[next] ?? 0
      await until(
        () => (forged[next] ?? 0) >= seen + 2,
        () => `the page asked ${JSON.stringify(forged)} times`,
      )
      expect(await item.locator('sc-anchor-mark').count(), next).toBe(0)
    }
    expect(anchoredBatchOf(id), 'the relay did anchor the message').toBeDefined()

    // The same message, with the relay's real answer: marked.
    await page.unroute('**/audit/proof?*', tamper)
    await item.getByRole('button', { name: /^Anchored in block \d+$/ }).waitFor({ timeout: UI_TIMEOUT_MS })
  }, 180_000)

  it('behavior: back in a room full of anchored messages the list lands at the bottom and keeps following; "New messages ↓" shows whenever the reader is not at the bottom', async () => {
    // The bug: the marks rendered after the list had scrolled, which left it past its follow margin for good.
    for (let i = 1; i <= 12; i++) await send(`backlog ${i}`)
    const list = page.locator('sc-chat-view ol')
    const marks = page.locator('sc-chat-view li sc-anchor-mark')
    await expect
      .poll(async () => (await marks.count()) === (await page.locator('sc-chat-view ol > li:not(.day)').count()), {
        timeout: UI_TIMEOUT_MS,
      })
      .toBe(true)
    expect(await list.evaluate((el) => el.scrollHeight > el.clientHeight)).toBe(true)
    const fromBottom = (): Promise<number> => list.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight)
    const newMessages = page.getByRole('button', { name: 'New messages ↓' })

    await page.getByRole('button', { name: 'New room' }).click()
    await page.getByLabel('Name').fill('elsewhere')
    await page.getByRole('button', { name: 'Create room' }).click()
    await page.getByRole('heading', { name: '# elsewhere' }).waitFor({ timeout: UI_TIMEOUT_MS })
    await page.locator('sc-conversation-list button', { hasText: 'audited' }).click()
    await page.getByRole('heading', { name: '# audited' }).waitFor()
    await marks.last().getByRole('button').waitFor()
    await expect.poll(fromBottom).toBeLessThanOrEqual(1)
    expect(await newMessages.count()).toBe(0)
    await send('after switching rooms')
    await expect.poll(fromBottom).toBeLessThanOrEqual(1)

    // Reading older ones: the control shows, and takes the reader to the newest.
    await list.evaluate((el) => {
      el.scrollTop = 0
    })
    await newMessages.waitFor()
    await newMessages.click()
    await expect.poll(fromBottom).toBeLessThanOrEqual(1)
    await newMessages.waitFor({ state: 'detached' })
    // One's own message always scrolls into view, wherever the reader was.
    await list.evaluate((el) => {
      el.scrollTop = 0
    })
    await newMessages.waitFor()
    await send('mine, from up there')
    await expect.poll(fromBottom).toBeLessThanOrEqual(1)
    await newMessages.waitFor({ state: 'detached' })
  }, 180_000)

  it('security: zero CSP or Trusted Types violations, the chain RPC included', async () => {
    expect(await cspViolations(page)).toEqual([])
  })
})
