/**
 * vitest helper: Debian's Chromium driven by playwright-core (docs/development.md, Tests),
 * and an injected EIP-1193 wallet that answers the requests MetaMask answers, signing in Node
 * with a demo account's key.
 */
import { execFile } from 'node:child_process'
import { mkdir } from 'node:fs/promises'
import { resolve } from 'node:path'
import { promisify } from 'node:util'
import { getBytes, type Wallet } from 'ethers'
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core'

/** Screenshots and other test output (not `artifacts/`: Hardhat builds contracts there). */
export const ARTIFACTS_DIR = resolve(import.meta.dirname, '../../test-results')
const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const REPO_ROOT = resolve(import.meta.dirname, '../..')
const VITE_BIN = resolve(REPO_ROOT, 'node_modules/vite/bin/vite.js')

/**
 * Builds the web app as `npm run build:web` does — in its own process with NODE_ENV=production
 * (inside vitest NODE_ENV is `test`, which would make Vite pick lit's development build) — into
 * `outDir`, a directory of the caller's own, so that another build at the same time (a test
 * file, `web/dist`) cannot pull it away.
 */
export async function buildWebApp(outDir: string): Promise<void> {
  await promisify(execFile)(
    process.execPath,
    [VITE_BIN, 'build', 'web', '--outDir', outDir, '--emptyOutDir', '--logLevel', 'error'],
    { cwd: REPO_ROOT, env: { ...process.env, NODE_ENV: 'production' } },
  )
}

/**
 * What a browser's pages find for `getUserMedia`: `fake` (the default) fake cameras (three, so that a call can switch:
 * `fake_device_0` gives I420 frames, `_1` Y16 — a depth camera's, which no video encoder takes, so nothing is sent —
 * and `_2` MJPEG) and microphones (Chromium's three), granted without a prompt
 * (`--use-fake-device-for-media-stream`, `--use-fake-ui-for-media-stream`); `prompt` the fake devices behind
 * the permission prompt, which headless Chromium answers with a refusal (`NotAllowedError`) unless the context was
 * granted `camera` and `microphone`; `none` no camera and no microphone at all (`NotFoundError`).
 */
export type FakeMedia = 'fake' | 'prompt' | 'none'

const MEDIA_SWITCHES: Record<FakeMedia, string[]> = {
  fake: ['--use-fake-device-for-media-stream=device-count=3', '--use-fake-ui-for-media-stream'],
  prompt: ['--use-fake-device-for-media-stream'],
  none: ['--use-fake-ui-for-media-stream'],
}

/**
 * `args`: more Chromium switches (a test CA's `--ignore-certificate-errors-spki-list`); `media`: see {@link FakeMedia};
 * `executablePath`: what to run instead of Chromium itself (a script that runs it in another network namespace).
 */
export function launchChromium(
  args: readonly string[] = [],
  media: FakeMedia = 'fake',
  executablePath = CHROMIUM_PATH,
): Promise<Browser> {
  return chromium.launch({
    executablePath,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...MEDIA_SWITCHES[media],
      ...args,
    ],
  })
}

export interface TestWallet {
  /** Every JSON-RPC method the page asked, in order (to count prompts). */
  readonly requests: string[]
  /** `personal_sign` requests: what MetaMask would show as signature prompts. */
  signatures(): number
  /** Hashes of the transactions the wallet sent for the page, in order. */
  readonly transactions: string[]
  /** From now on, answer `eth_sendTransaction` as a user who clicks Reject would (EIP-1193 error 4001), or stop. */
  rejectTransactions(reject: boolean): void
  /** From now on, answer `personal_sign` as a user who clicks Reject would (EIP-1193 error 4001), or stop. */
  rejectSignatures(reject: boolean): void
  /** Emits an EIP-1193 event in the page (`accountsChanged`, `chainChanged`). */
  emit(page: Page, event: string, value: unknown): Promise<void>
}

/** How the binding hands the page an EIP-1193 error with its code (see the page-side `request`). */
const RPC_ERROR = '__securechatRpcError'

/**
 * Announces a wallet named "Test Wallet" (EIP-6963, rdns `org.securechat.test-wallet`) in every
 * page of `context`, backed by `wallet`. The page-side provider is installed by the DevTools
 * protocol (not an inline script), so the page's CSP still governs everything else.
 * `eth_sendTransaction` signs and sends through `wallet`'s provider (pass a connected Wallet).
 */
export async function injectWallet(context: BrowserContext, wallet: Wallet, chainId: number): Promise<TestWallet> {
  const requests: string[] = []
  const transactions: string[] = []
  let rejectTransactions = false
  let rejectSignatures = false
  await context.exposeBinding('__securechatTestWallet', async (_source, method: string, params: unknown[]) => {
    requests.push(method)
    switch (method) {
      case 'eth_requestAccounts':
      case 'eth_accounts':
        return [wallet.address]
      case 'eth_chainId':
        return `0x${chainId.toString(16)}`
      case 'personal_sign': {
        const [message, account] = params as [string, string]
        if (account.toLowerCase() !== wallet.address.toLowerCase()) throw new Error('unknown account')
        if (rejectSignatures) return { [RPC_ERROR]: { code: 4001, message: 'User rejected the request.' } }
        return wallet.signMessage(getBytes(message))
      }
      case 'wallet_switchEthereumChain':
        return null
      case 'eth_sendTransaction': {
        // As MetaMask: the wallet fills in gas and nonce, signs, sends to its own chain and answers the hash.
        const [tx] = params as [{ from?: string; to?: string; data?: string; value?: string; gas?: string }]
        if (tx.from?.toLowerCase() !== wallet.address.toLowerCase()) throw new Error('unknown account')
        if (rejectTransactions) return { [RPC_ERROR]: { code: 4001, message: 'User rejected the request.' } }
        if (wallet.provider === null) throw new Error('The Test Wallet has no chain to send to (connect its Wallet)')
        const sent = await wallet.sendTransaction({
          ...(tx.to === undefined ? {} : { to: tx.to }),
          ...(tx.data === undefined ? {} : { data: tx.data }),
          ...(tx.value === undefined ? {} : { value: BigInt(tx.value) }),
          ...(tx.gas === undefined ? {} : { gasLimit: BigInt(tx.gas) }),
        })
        transactions.push(sent.hash)
        return sent.hash
      }
      default:
        throw new Error(`The Test Wallet does not support ${method}`)
    }
  })
  await context.addInitScript(() => {
    const listeners = new Map<string, Set<(value: unknown) => void>>()
    const call = (globalThis as unknown as Record<string, (m: string, p: unknown[]) => Promise<unknown>>)
      .__securechatTestWallet!
    const provider = {
      // A binding's thrown error reaches the page as a message only: EIP-1193 errors with a code come as values.
      request: async ({ method, params }: { method: string; params?: unknown[] }) => {
        const answer = (await call(method, params ?? [])) as {
          __securechatRpcError?: { code: number; message: string }
        }
        const error = answer?.__securechatRpcError
        if (error !== undefined) throw Object.assign(new Error(error.message), { code: error.code })
        return answer
      },
      on: (event: string, listener: (value: unknown) => void) => {
        if (!listeners.has(event)) listeners.set(event, new Set())
        listeners.get(event)!.add(listener)
      },
      removeListener: (event: string, listener: (value: unknown) => void) => listeners.get(event)?.delete(listener),
    }
    Object.defineProperty(globalThis, '__securechatTestWalletEmit', {
      value: (event: string, value: unknown) => {
        for (const listener of listeners.get(event) ?? []) listener(value)
      },
    })
    const info = {
      uuid: '6f1b2f5e-3f7e-4c59-9a55-0b3f1b7e1c01',
      name: 'Test Wallet',
      icon: 'data:image/svg+xml,%3Csvg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"%3E%3C/svg%3E',
      rdns: 'org.securechat.test-wallet',
    }
    const announce = () =>
      window.dispatchEvent(new CustomEvent('eip6963:announceProvider', { detail: Object.freeze({ info, provider }) }))
    window.addEventListener('eip6963:requestProvider', announce)
    announce()
  })
  return {
    requests,
    transactions,
    rejectTransactions: (reject) => {
      rejectTransactions = reject
    },
    rejectSignatures: (reject) => {
      rejectSignatures = reject
    },
    signatures: () => requests.filter((m) => m === 'personal_sign').length,
    emit: (page, event, value) =>
      page.evaluate(
        ([e, v]) =>
          (globalThis as unknown as Record<string, (e: unknown, v: unknown) => void>).__securechatTestWalletEmit!(e, v),
        [event, value] as const,
      ),
  }
}

/** Content-Security-Policy and Trusted Types violations seen by `page` (events and console). */
export async function watchCsp(context: BrowserContext): Promise<void> {
  await context.addInitScript(() => {
    const seen: string[] = []
    Object.defineProperty(globalThis, '__securechatCspViolations', { value: seen })
    document.addEventListener('securitypolicyviolation', (event) => {
      seen.push(`${event.effectiveDirective}: ${event.blockedURI} ${event.sample}`)
    })
  })
}

export function cspViolations(page: Page): Promise<string[]> {
  return page.evaluate(() => [...((globalThis as unknown as Record<string, string[]>).__securechatCspViolations ?? [])])
}

/** Console lines that report a CSP or Trusted Types refusal. */
export function recordCspConsole(page: Page, into: string[]): void {
  page.on('console', (message) => {
    const text = message.text()
    if (/Content Security Policy|Trusted Type|TrustedScript|TrustedHTML/i.test(text)) into.push(text)
  })
}

/** The last warnings and errors of each context's pages: a failed wait says what the page said. */
const consoleLines = new WeakMap<BrowserContext, string[]>()
const CONSOLE_LINES_KEPT = 40

/** Keeps the last {@link CONSOLE_LINES_KEPT} warnings and errors of `context`'s pages, for {@link pageConsole}. */
export function recordConsole(context: BrowserContext): void {
  const lines: string[] = []
  consoleLines.set(context, lines)
  const startedAtMs = Date.now()
  context.on('console', (message) => {
    if (message.type() !== 'warning' && message.type() !== 'error') return
    const atS = ((Date.now() - startedAtMs) / 1000).toFixed(1)
    lines.push(`+${atS}s ${message.type()}: ${message.text().slice(0, 400)}`)
    if (lines.length > CONSOLE_LINES_KEPT) lines.shift()
  })
}

/** What {@link recordConsole} kept for `page`'s context, a line each. */
export function pageConsole(page: Page): string {
  const lines = consoleLines.get(page.context())
  if (lines === undefined) return 'console not recorded'
  return lines.length === 0 ? 'no warnings or errors in the console' : `console:\n${lines.join('\n')}`
}

/** A page of the web app with a test wallet in it, its CSP and Trusted Types violations watched. */
export interface AppPage {
  context: BrowserContext
  page: Page
  wallet: TestWallet
  /** Console lines reporting a CSP or Trusted Types refusal. */
  consoleCsp: string[]
}

/**
 * Opens `url` in a new context of `browser` (desktop-sized) with `wallet` injected; not signed in yet. `prepare` runs
 * on the context before its page opens (more init scripts, routes).
 */
export async function openAppPage(
  browser: Browser,
  wallet: Wallet,
  chainId: number,
  url: string,
  prepare?: (context: BrowserContext) => Promise<void>,
): Promise<AppPage> {
  const context = await browser.newContext({ viewport: { width: 1100, height: 760 } })
  recordConsole(context)
  await watchCsp(context)
  const testWallet = await injectWallet(context, wallet, chainId)
  await prepare?.(context)
  const page = await context.newPage()
  const consoleCsp: string[] = []
  recordCspConsole(page, consoleCsp)
  await page.goto(url)
  return { context, page, wallet: testWallet, consoleCsp }
}

/** Signs in with the injected wallet and waits for the app to show its address. */
export async function signInWithTestWallet(page: Page, timeout: number): Promise<void> {
  await page.getByRole('button', { name: 'Sign in with Test Wallet' }).click()
  await page.getByTestId('address').waitFor({ timeout })
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(ARTIFACTS_DIR, { recursive: true })
  await page.screenshot({ path: resolve(ARTIFACTS_DIR, `${name}.png`) })
}

/** A message the open conversation shows as sent or received (not one still pending), found by its text. */
export function shownMessage(page: Page, text: string) {
  return page.locator('sc-chat-view li:not(.pending)', { has: page.locator('.text', { hasText: text }) })
}

/**
 * The open conversation's composer, where role queries for its box and button start. A page-wide `getByRole` has
 * Playwright work out the accessible name of every element in the page's own JavaScript: beside a history of a
 * thousand messages, each with its buttons, that took 2.7 s of the renderer's main thread for one query on a loaded
 * machine (a CPU profile of the page), and a step of the test 26 s in CI. A person's browser never pays it.
 */
export function composer(page: Page) {
  return page.locator('sc-composer.main')
}

/** Types `text` into the open conversation and sends it; resolves with its message id (a room's 64 hex digits, a DM's 32) once it is shown. */
export async function sendMessage(page: Page, text: string, timeout: number): Promise<string> {
  await composer(page).getByRole('textbox', { name: 'Message' }).fill(text)
  await composer(page).getByRole('button', { name: 'Send' }).click()
  const item = shownMessage(page, text)
  try {
    await item.waitFor({ timeout })
  } catch (err) {
    // What a person would look at: the message as shown (pending, with why) and the header's network state.
    const read = (text: Promise<string | null>) => text.catch(() => null)
    const pending = page.locator('sc-chat-view li.pending', { has: page.locator('.text', { hasText: text }) })
    const shown = await read(pending.textContent({ timeout: 1_000 }))
    const network = await read(page.getByTestId('network').textContent({ timeout: 1_000 }))
    throw new Error(
      `message "${text}" not sent within ${timeout} ms: pending as ${JSON.stringify(shown)}, network ${JSON.stringify(network)}\n${pageConsole(page)}`,
      { cause: err },
    )
  }
  const id = await item.getAttribute('data-message-id')
  if (id === null || !/^([0-9a-f]{32}){1,2}$/.test(id)) throw new Error(`message "${text}" is shown with id ${id}`)
  return id
}
