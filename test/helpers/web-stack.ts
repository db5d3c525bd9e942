/**
 * vitest helper for the browser tests: the relay component as browsers meet it on a devnet
 * (WebSockets on loopback, its HTTP server telling the app about the test chain). Callers stop
 * what they get.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createClient, type SecureChatClient } from '@securechat/sdk/client'
import { walletSigner } from '@securechat/sdk/identity'
import type { Room } from '@securechat/sdk/rooms'
import type { Browser, BrowserContext } from 'playwright-core'
import { DEFAULT_CLI_DOMAIN, DEVNET_CHAIN_ID } from '../../node/src/constants.ts'
import {
  createRelay,
  type HttpService,
  type Relay,
  type RelayServiceFactories,
} from '../../node/src/relay/create-relay.ts'
import { filePins } from '../../node/src/relay/file-pins.ts'
import { type HttpServiceInit, httpServer } from '../../node/src/relay/http/service.ts'
import type { RelayInit } from '../../node/src/relay/relay.ts'
import { type SfuInit, sfu } from '../../node/src/relay/sfu/sfu-service.ts'
import { messageStore } from '../../node/src/relay/store-service.ts'
import type { TlsCredentials } from '../../node/src/relay/tls.ts'
import {
  type AppPage,
  buildWebApp,
  type FakeMedia,
  launchChromium,
  openAppPage,
  signInWithTestWallet,
} from './browser.ts'
import { startTestChain, type TestChain } from './chain.ts'
import { tempDir } from './cli.ts'

/**
 * A started relay with a WebSocket listener on 127.0.0.1 that reads `chain`, and an HTTP server
 * serving `webRoot`, whose `/config.json` names `chain`, the audit log and `contracts`, and lets
 * the app dial loopback. `services` plugs in more (anchoring, leaf lists, a message store; they keep their files
 * in `dataDir`). `peers`: relays it stays connected to, which its `/config.json` names too (`--peer`).
 */
export async function startBrowserRelay(
  chain: TestChain,
  params: {
    webRoot: string
    contracts?: Record<string, string>
    dataDir?: string
    services?: Omit<RelayServiceFactories, 'http'>
    peers?: string[]
    /** Default: one WebSocket listener, `/ip4/127.0.0.1/tcp/0/ws`. */
    listen?: string[]
    /** The relay's TLS pair: its `/tls/ws` listeners serve `wss://`, its HTTP server HTTPS. */
    tls?: TlsCredentials
    /** Records a second per device (`--records-per-second`, `--record-burst`): raised for a test's bulk import. */
    recordRates?: RelayInit['recordRates']
  } & Omit<HttpServiceInit, 'port' | 'webRoot' | 'app'>,
): Promise<Relay> {
  const { webRoot, contracts, dataDir, services, peers, listen, tls, recordRates, ...http } = params
  const relay = createRelay({
    privateKey: await generateKeyPair('Ed25519'),
    listen: listen ?? ['/ip4/127.0.0.1/tcp/0/ws'],
    ...(tls === undefined ? {} : { tls }),
    provider: chain.provider,
    ...(dataDir === undefined ? {} : { dataDir }),
    ...(peers === undefined ? {} : { peers }),
    ...(recordRates === undefined ? {} : { recordRates }),
    services: {
      ...services,
      http: httpServer({
        ...http,
        port: 0,
        webRoot,
        app: {
          chainId: chain.chainId,
          rpcUrl: chain.rpcUrl,
          contracts: { auditLog: chain.addresses.auditLog, ...contracts },
          allowPrivateAddresses: true,
          ...(peers === undefined ? {} : { relays: peers }),
        },
      }),
    },
  })
  await relay.start()
  return relay
}

/** Sign-in and joining a room cross the relay; generous for a loaded 2-core machine, never a speed check. */
const SIGN_IN_TIMEOUT_MS = 30_000

/** A test chain, a browser relay serving the built app, and Chromium: what every web app test starts from. */
export interface WebStack {
  chain: TestChain
  relay: Relay
  http: HttpService
  browser: Browser
  /** The relay's data directory, holding its message store (`relayStore`). */
  relayDir?: string
  /**
   * A signed-in page of `chain.accounts[account]`; with `joinRoom`, then opened on that invite, its heading shown.
   * `prepare` runs on the page's context before the page opens; `browser`: another browser than the stack's (one
   * launched with other media switches), which the caller closes.
   */
  openApp(
    account: number,
    options?: {
      joinRoom?: { invite: string; name: string }
      prepare?: (context: BrowserContext) => Promise<void>
      browser?: Browser
    },
  ): Promise<AppPage>
  /** Closes the pages `openApp` opened, then the browser, the relay and the chain. */
  stop(): Promise<void>
}

/** A {@link WebStack} and a room a terminal sdk client, dave (`chain.accounts[5]`), made for the pages to join. */
export interface WebRoom extends Omit<WebStack, 'openApp'> {
  dave: SecureChatClient
  room: Room
  invite: string
  /** As {@link WebStack.openApp}; `joinRoom: true` joins dave's room. */
  openApp(
    account: number,
    options?: { joinRoom?: boolean; prepare?: (context: BrowserContext) => Promise<void>; browser?: Browser },
  ): Promise<AppPage>
}

/** Starts a {@link WebStack}; `name` names its temporary directories. On a failure it stops what it started. */
export function startWebStack(name: string, options: StackOptions = {}): Promise<WebStack> {
  return launchWebStack(name, options, async () => {})
}

/**
 * `relayStore`: the relay keeps history (its SQLite message store), as `securechat relay` does by default; `files`: it
 * keeps the files its rooms' members share (file pins, on disk), as `securechat relay` does by default too.
 */
export interface StackOptions {
  relayStore?: boolean
  files?: boolean
  /** What the stack's browser finds for the camera and microphone ({@link FakeMedia}; default `fake`). */
  media?: FakeMedia
  /** The relay runs a forwarding unit for calls (`--sfu`), with these settings. */
  sfu?: SfuInit
  /**
   * The address the chain, the relay's WebSocket and its HTTP server listen on instead of 127.0.0.1: one of a network
   * namespace's interfaces, for a browser in another namespace (`createLinkedNamespaces`).
   */
  host?: string
}

/** `beforeRelayStops` runs in `stop()` once the pages and the browser are closed: what used the relay goes first. */
async function launchWebStack(
  name: string,
  options: StackOptions,
  beforeRelayStops: () => Promise<void>,
): Promise<WebStack> {
  const pages: AppPage[] = []
  const started: Partial<WebStack> = {}
  const stop = async (): Promise<void> => {
    for (const person of pages) await person.context.close().catch(() => {})
    await started.browser?.close()
    await beforeRelayStops()
    await started.relay?.stop()
    await started.chain?.stop()
  }
  try {
    const webRoot = await tempDir(`${name}-dist-`)
    await buildWebApp(webRoot)
    const chain = await startTestChain(options.host === undefined ? {} : { host: options.host })
    started.chain = chain
    // Keeping history as `securechat relay` does by default: its SQLite store in its data directory.
    const relayDir =
      options.relayStore === true || options.files === true || options.sfu !== undefined
        ? await tempDir(`${name}-relay-`)
        : undefined
    const relay = await startBrowserRelay(chain, {
      webRoot,
      ...(options.host === undefined ? {} : { host: options.host, listen: [`/ip4/${options.host}/tcp/0/ws`] }),
      ...(relayDir === undefined
        ? {}
        : {
            dataDir: relayDir,
            services: {
              ...(options.relayStore === true ? { store: messageStore() } : {}),
              ...(options.files === true ? { files: filePins({}) } : {}),
              ...(options.sfu === undefined ? {} : { sfu: sfu(options.sfu) }),
            },
          }),
    })
    started.relay = relay
    const http = relay.services.http!
    // An address other than loopback is no secure context (no camera, no WebCrypto) unless Chromium is told it is.
    const browser = await launchChromium(
      options.host === undefined ? [] : [`--unsafely-treat-insecure-origin-as-secure=${new URL(http.url).origin}`],
      options.media,
    )
    started.browser = browser
    return {
      chain,
      relay,
      http,
      browser,
      ...(relayDir === undefined ? {} : { relayDir }),
      async openApp(account, { joinRoom, prepare, browser: other } = {}) {
        const person = await openAppPage(other ?? browser, chain.accounts[account]!, chain.chainId, http.url, prepare)
        pages.push(person)
        await signInWithTestWallet(person.page, SIGN_IN_TIMEOUT_MS)
        if (joinRoom !== undefined) {
          await person.page.goto(`${http.url}#invite=${encodeURIComponent(joinRoom.invite)}`)
          await person.page
            .getByRole('heading', { name: `# ${joinRoom.name}` })
            .waitFor({ timeout: SIGN_IN_TIMEOUT_MS })
        }
        return person
      },
      stop,
    }
  } catch (err) {
    await stop()
    throw err
  }
}

/**
 * Starts a {@link WebRoom}: dave signs in for the CLI's domain (`daveDomain: 'page'`: the page's, as a DM peer of the
 * app must), presence every second (`davePresenceIntervalMs`; `null`: the sdk's default), and creates room `room`
 * for the domains `localhost` and the relay's HTTP host.
 */
export async function startWebRoom(
  name: string,
  room: string,
  options: StackOptions & { daveDomain?: 'cli' | 'page'; davePresenceIntervalMs?: number | null } = {},
): Promise<WebRoom> {
  let dave: SecureChatClient | undefined
  const stack = await launchWebStack(name, options, async () => {
    await dave?.stop()
  })
  try {
    const host = new URL(stack.http.url).host
    const presenceIntervalMs = options.davePresenceIntervalMs === undefined ? 1_000 : options.davePresenceIntervalMs
    dave = createClient({
      domain: options.daveDomain === 'page' ? host : DEFAULT_CLI_DOMAIN,
      chainId: DEVNET_CHAIN_ID,
      signer: walletSigner({ type: 'eoa', signer: stack.chain.accounts[5]! }),
      bootstrap: [stack.relay.multiaddrs[0]!],
      provider: stack.chain.provider,
      ...(presenceIntervalMs === null ? {} : { presenceIntervalMs }),
    })
    await dave.start()
    const created = await dave.createRoom({ name: room, domains: ['localhost', host] })
    return {
      ...stack,
      dave,
      room: created.room,
      invite: created.invite,
      openApp: (account, { joinRoom = false, prepare, browser } = {}) =>
        stack.openApp(account, {
          ...(joinRoom ? { joinRoom: { invite: created.invite, name: room } } : {}),
          ...(prepare === undefined ? {} : { prepare }),
          ...(browser === undefined ? {} : { browser }),
        }),
    }
  } catch (err) {
    await stack.stop()
    throw err
  }
}
