/**
 * The web app over HTTPS from the relay itself (`--tls-cert`, `--tls-key`), in Debian's Chromium: the relay serves
 * the page and `/config.json` over HTTPS and `wss://` on a `/tls/ws` listener, with a certificate from a CA this test
 * makes; Chromium trusts that CA only (by its key's hash). The page loads, dials the relay over `wss://` — nothing
 * else is offered to it — signs in with a test wallet and chats with a terminal client.
 */
import { rm } from 'node:fs/promises'
import { createClient } from '@securechat/sdk/client'
import { walletSigner } from '@securechat/sdk/identity'
import type { Browser, BrowserContext } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEFAULT_CLI_DOMAIN, DEVNET_CHAIN_ID } from '../node/src/constants.ts'
import type { Relay } from '../node/src/relay/create-relay.ts'
import { loadTlsCredentials } from '../node/src/relay/tls.ts'
import { buildWebApp, injectWallet, launchChromium, shownMessage } from './helpers/browser.ts'
import { startTestChain, type TestChain } from './helpers/chain.ts'
import { tempDir } from './helpers/cli.ts'
import { createTestCa, issueServerCertificate } from './helpers/test-ca.ts'
import { startBrowserRelay } from './helpers/web-stack.ts'

/** Deliveries cross the relay; generous for a loaded 2-core machine, never a speed check. */
const UI_TIMEOUT_MS = 30_000

let dir: string
let webRoot: string
let chain: TestChain
let relay: Relay
let browser: Browser
let context: BrowserContext | undefined

beforeAll(async () => {
  dir = await tempDir('web-tls-')
  webRoot = await tempDir('web-tls-dist-')
  const ca = await createTestCa(dir)
  const tls = await loadTlsCredentials(await issueServerCertificate(ca, 'relay'))
  await buildWebApp(webRoot)
  chain = await startTestChain()
  relay = await startBrowserRelay(chain, {
    webRoot,
    // TCP for the terminal client; wss:// only for browsers.
    listen: ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/tls/ws'],
    tls,
  })
  // Trust for this CA's key and nothing else: no --ignore-certificate-errors.
  browser = await launchChromium([`--ignore-certificate-errors-spki-list=${ca.spkiSha256}`])
}, 180_000)

afterAll(async () => {
  await context?.close().catch(() => {})
  await browser?.close()
  await relay?.stop()
  await chain?.stop()
  for (const path of [dir, webRoot]) if (path !== undefined) await rm(path, { recursive: true, force: true })
})

describe('web app over HTTPS and wss:// from the relay itself', () => {
  it('behavior: the page loads over HTTPS, dials the relay over wss://, signs in and chats with a terminal client', async () => {
    const url = relay.services.http!.url
    expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/)
    const wss = relay.multiaddrs.find((address) => address.includes('/tls/ws'))!
    const wssUrl = `wss://127.0.0.1:${/\/tcp\/(\d+)/.exec(wss)![1]}`

    context = await browser.newContext()
    const wallet = await injectWallet(context, chain.accounts[1]!, chain.chainId)
    const page = await context.newPage()
    const sockets: string[] = []
    page.on('websocket', (socket) => sockets.push(socket.url()))
    const response = await page.goto(url)
    expect(response?.status()).toBe(200)
    expect(await page.evaluate(() => [location.protocol, isSecureContext])).toEqual(['https:', true])

    await page.getByRole('button', { name: 'Sign in with Test Wallet' }).click()
    await page.getByTestId('address').waitFor({ timeout: UI_TIMEOUT_MS })
    await expect.poll(() => page.getByTestId('network').textContent(), { timeout: UI_TIMEOUT_MS }).toBe('online')
    expect(wallet.signatures()).toBe(3)
    // The relay is reached over TLS: its wss:// listener, and no plain ws:// anywhere.
    expect(sockets.some((socket) => socket.startsWith(wssUrl))).toBe(true)
    expect(sockets.filter((socket) => !socket.startsWith('wss://'))).toEqual([])

    const terminal = createClient({
      domain: DEFAULT_CLI_DOMAIN,
      chainId: DEVNET_CHAIN_ID,
      signer: walletSigner({ type: 'eoa', signer: chain.accounts[5]! }),
      bootstrap: [relay.multiaddrs.find((address) => !address.includes('/ws'))!],
      presenceIntervalMs: 1_000,
    })
    await terminal.start()
    try {
      const { room, invite } = await terminal.createRoom({ name: 'tls', domains: ['localhost', new URL(url).host] })
      const received = new Promise<string>((resolve) =>
        room.addEventListener('message:received', (event) => resolve(event.detail.text), { once: true }),
      )
      await page.goto(`${url}#invite=${encodeURIComponent(invite)}`)
      await page.getByRole('heading', { name: '# tls' }).waitFor({ timeout: UI_TIMEOUT_MS })
      await expect
        .poll(() => room.members().map((m) => m.address), { timeout: UI_TIMEOUT_MS })
        .toContain(chain.accounts[1]!.address)
      await page.getByRole('textbox', { name: 'Message' }).fill('from a page served over https')
      await page.getByRole('button', { name: 'Send' }).click()
      expect(await received).toBe('from a page served over https')
      await room.send('and back over wss')
      await shownMessage(page, 'and back over wss').waitFor({ timeout: UI_TIMEOUT_MS })
    } finally {
      await terminal.stop()
    }
  }, 120_000)
})
