/**
 * `npm start`: a complete SecureChat network on this machine — a local Hardhat chain with the
 * contracts deployed and demo tokens minted, a relay that reads that chain, a public demo room
 * and a token-gated one — printing exactly what to do next. Ctrl-C stops everything, the chain
 * process included.
 *
 * The relay also serves the web app, built first with Vite (SECURECHAT_WEB_BUILD=0 serves
 * web/dist as it is).
 *
 * Environment: SECURECHAT_CHAIN_PORT, SECURECHAT_RELAY_TCP_PORT, SECURECHAT_RELAY_WS_PORT,
 * SECURECHAT_HTTP_PORT, SECURECHAT_WEB_BUILD, SECURECHAT_DEVNET_DIR, SECURECHAT_LOG_LEVEL
 * (defaults in ../constants.ts).
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join, relative, resolve } from 'node:path'
import { raceSignal } from '@securechat/sdk/async'
import { describeGateRule, type TokenRule } from '@securechat/sdk/gates'
import { walletSigner } from '@securechat/sdk/identity'
import { createManifest, encodeInvite, type RoomAccess } from '@securechat/sdk/rooms'
import { JsonRpcProvider, Wallet } from 'ethers'
import { DEVNET_ANCHOR_INTERVAL_MS, DEVNET_ANCHORER_ACCOUNT } from '../audit/constants.ts'
import {
  DEFAULT_CLI_DOMAIN,
  DEMO_ERC20_AMOUNT,
  DEMO_ERC1155_AMOUNT,
  DEMO_ERC1155_ID,
  DEVNET_CHAIN_PORT,
  DEVNET_DIR,
  DEVNET_HOST,
  DEVNET_HTTP_PORT,
  DEVNET_RELAY_TCP_PORT,
  DEVNET_RELAY_WS_PORT,
} from '../constants.ts'
import { ConfigError } from '../errors.ts'
import { createNodeLogger } from '../log.ts'
import { createRelay } from '../relay/create-relay.ts'
import { filePins } from '../relay/file-pins.ts'
import { httpServer } from '../relay/http/service.ts'
import { loadOrCreatePeerKey } from '../relay/peer-key.ts'
import { messageStore } from '../relay/store-service.ts'
import { hardhatDevAccounts, startChain } from './chain.ts'
import { deployContracts, mintDemoTokens } from './deploy.ts'
import { stableRoomParams } from './stable-rooms.ts'
import { buildWebApp } from './web-build.ts'

const env = process.env
const devnetDir = resolve(env.SECURECHAT_DEVNET_DIR || DEVNET_DIR)
const chainPort = port('SECURECHAT_CHAIN_PORT', DEVNET_CHAIN_PORT)
const relayTcpPort = port('SECURECHAT_RELAY_TCP_PORT', DEVNET_RELAY_TCP_PORT)
const relayWsPort = port('SECURECHAT_RELAY_WS_PORT', DEVNET_RELAY_WS_PORT)
const httpPort = port('SECURECHAT_HTTP_PORT', DEVNET_HTTP_PORT)

const out = (line = ''): void => {
  process.stdout.write(`${line}\n`)
}

function port(name: string, fallback: number): number {
  const value = env[name] || undefined
  const number = value === undefined ? fallback : Number(value)
  if (!Number.isInteger(number) || number < 0 || number > 65_535) {
    throw new ConfigError(`${name} must be a port number, got ${JSON.stringify(value)}`)
  }
  return number
}

/** Aborted by Ctrl-C (SIGINT) or SIGTERM: what has started stops, and nothing else starts. */
const interrupt = new AbortController()

async function main(): Promise<void> {
  // Installed first, so a signal at any moment is handled.
  const interrupted = new Promise<void>((done) => {
    const stop = (): void => {
      interrupt.abort(new Error('interrupted'))
      done()
    }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })
  const signal = interrupt.signal
  const stops: Array<() => Promise<void> | void> = []
  try {
    await run(signal, stops)
    await interrupted
    out('stopping…')
  } finally {
    for (const stop of stops.reverse()) {
      try {
        await stop()
      } catch (err) {
        process.stderr.write(`error while stopping: ${String(err)}\n`)
      }
    }
  }
  out('devnet stopped.')
}

async function run(signal: AbortSignal, stops: Array<() => Promise<void> | void>): Promise<void> {
  const { factory } = createNodeLogger({ json: false, level: 'warn' })
  out('starting a local chain, deploying the contracts, starting a relay…')
  // Anchoring (issue #6) loads Helia, which takes a moment: import it while the chain starts.
  const anchoringModule = import('../audit/relay-anchoring.ts')
  anchoringModule.catch(() => undefined)
  const leafListsModule = import('../audit/leaf-list-intake.ts')
  leafListsModule.catch(() => undefined)
  // The web app builds (~15 s) while the chain starts and the contracts deploy; buildWebApp never throws.
  const webBuild = buildWebApp({ skip: env.SECURECHAT_WEB_BUILD === '0' })

  const chain = await startChain({ port: chainPort }, { signal }).catch((cause: unknown) => {
    if (signal.aborted) throw cause
    throw new ConfigError(`the local chain could not start on 127.0.0.1:${chainPort}`, {
      cause,
      hint: 'is another `npm start` (or a Hardhat node) running? Stop it, or set SECURECHAT_CHAIN_PORT',
    })
  })
  stops.push(() => chain.stop())
  // No response cache: deploying reads the nonce after every transaction.
  const provider = new JsonRpcProvider(chain.rpcUrl, chain.chainId, { staticNetwork: true, cacheTimeout: -1 })
  stops.push(() => provider.destroy())

  const [deployerAccount, alice, bob, carol] = hardhatDevAccounts()
  const deployer = new Wallet(deployerAccount!.privateKey, provider)
  const addresses = await deployContracts({ signer: deployer }, { signal })
  await mintDemoTokens({ signer: deployer, addresses, holders: [alice!.address, bob!.address] }, { signal })
  signal.throwIfAborted()

  // --- The relay: it anchors what it accepts every few seconds, paid by a demo account (issue #6); takes the
  // leaf lists of members who anchor from the web app (served on IPFS); serves the web app (issue #5), told to
  // dial the relay on loopback: this is a devnet.
  const anchorer = hardhatDevAccounts()[DEVNET_ANCHORER_ACCOUNT]!
  const web = await raceSignal(webBuild, signal)
  const relay = createRelay({
    privateKey: await loadOrCreatePeerKey(join(devnetDir, 'relay')),
    listen: [`/ip4/127.0.0.1/tcp/${relayTcpPort}`, `/ip4/127.0.0.1/tcp/${relayWsPort}/ws`],
    provider,
    dataDir: join(devnetDir, 'relay'),
    logger: factory,
    services: {
      anchoring: (await anchoringModule).anchoring({
        rpcUrl: chain.rpcUrl,
        chainId: chain.chainId,
        auditLog: addresses.auditLog,
        wallet: new Wallet(anchorer.privateKey),
        intervalMs: DEVNET_ANCHOR_INTERVAL_MS,
      }),
      leafLists: (await leafListsModule).leafLists({ provider, auditLog: addresses.auditLog }),
      store: messageStore(),
      // The files its members share, kept as a `securechat relay` keeps them (under the devnet's data dir).
      files: filePins({}),
      http: httpServer({
        port: httpPort,
        host: DEVNET_HOST,
        webRoot: web.webRoot,
        // Loopback: host candidates are enough, and the browsers' default STUN servers are unreachable.
        app: {
          chainId: chain.chainId,
          rpcUrl: chain.rpcUrl,
          contracts: { ...addresses },
          allowPrivateAddresses: true,
          iceServers: [],
        },
      }),
    },
  })
  try {
    await relay.start()
  } catch (cause) {
    // The HTTP server's own error is a ConfigError; libp2p's listen errors are not.
    throw cause instanceof ConfigError
      ? new ConfigError(`the web app could not be served on ${DEVNET_HOST}:${httpPort}`, {
          cause,
          hint: 'is another `npm start` running? Stop it, or set SECURECHAT_HTTP_PORT',
        })
      : new ConfigError(`the relay could not listen on 127.0.0.1:${relayTcpPort} and :${relayWsPort}`, {
          cause,
          hint: 'is another `npm start` running? Stop it, or set SECURECHAT_RELAY_TCP_PORT / SECURECHAT_RELAY_WS_PORT',
        })
  }
  stops.push(() => relay.stop())
  signal.throwIfAborted()
  const http = relay.services.http!
  const webBuilt = await http.hasWebApp()

  const [tcpAddress, wsAddress] = relay.multiaddrs
  const rule: TokenRule = { type: 'erc721', chainId: chain.chainId, contract: addresses.memberNft, minBalance: '1' }
  const owner = walletSigner({ type: 'eoa', signer: new Wallet(alice!.privateKey) })
  await mkdir(devnetDir, { recursive: true })
  /** Invite links that open a room in the web app. */
  const webLinks = new Map<string, string>()
  // Terminal clients sign in as `localhost`, browsers as the app's host (typed as 127.0.0.1 or as localhost): the
  // devnet's rooms take all of them, and so does the room the last lines tell a newcomer to make.
  const appHost = new URL(http.url)
  const domains = [DEFAULT_CLI_DOMAIN, appHost.host, `localhost:${appHost.port}`]
  const writeInvite = async (name: string, access: RoomAccess): Promise<string> => {
    // The same manifest every run (stable-rooms.ts), so earlier invites and links still lead here.
    const manifest = await createManifest({
      signer: owner,
      name,
      access,
      domains,
      chainIds: [chain.chainId],
      ...stableRoomParams(alice!.address, name),
    })
    const file = join(devnetDir, `${name}.invite`)
    const invite = encodeInvite({ manifest, relays: [tcpAddress!] })
    await writeFile(file, `${invite}\n`)
    webLinks.set(name, `${http.url.replace(/\/$/, '')}/#invite=${encodeURIComponent(invite)}`)
    return file
  }
  const lobbyFile = await writeInvite('lobby', { type: 'public' })
  const membersFile = await writeInvite('members', { type: 'gated', rule })
  // For scripts and tests: everything printed below, as JSON.
  await writeFile(
    join(devnetDir, 'devnet.json'),
    `${JSON.stringify(
      {
        rpcUrl: chain.rpcUrl,
        chainId: chain.chainId,
        chainPid: chain.pid,
        contracts: addresses,
        relay: relay.multiaddrs,
        web: http.url,
        invites: { lobby: lobbyFile, members: membersFile },
        inviteLinks: Object.fromEntries(webLinks),
      },
      null,
      2,
    )}\n`,
  )

  const show = (file: string): string => {
    const path = relative(process.cwd(), file)
    return path.startsWith('..') ? file : path
  }
  const key = (account: { privateKey: string }): string => `SECURECHAT_PRIVATE_KEY=${account.privateKey}`
  // The relay reads the chain: name the token as the chain does.
  const gate =
    (await relay.node.gates?.describe(rule, { signal: AbortSignal.timeout(5_000) })) ?? describeGateRule(rule)

  out()
  out('SecureChat devnet is running.')
  out()
  out(`  chain              ${chain.rpcUrl}   (Hardhat, chain id ${chain.chainId}, pid ${chain.pid})`)
  out(`  relay (Node peers) ${tcpAddress}`)
  out(`  relay (browsers)   ${wsAddress}`)
  out(`  web app            ${http.url}${webBuilt ? '' : '   (not built: pages answer 503)'}`)
  out()
  out(`Contracts on chain ${chain.chainId}:`)
  out(`  AuditLog        ${addresses.auditLog}`)
  out(`  MemberNFT       ${addresses.memberNft}   ERC-721 "SecureChat Member"`)
  out(`  DemoMultiToken  ${addresses.demoMultiToken}   ERC-1155`)
  out(`  DemoToken       ${addresses.demoToken}   ERC-20 "SecureChat Demo Token"`)
  out()
  out('Demo wallets. These are PUBLIC Hardhat test keys, known to everyone: use them on this local chain only.')
  out(`  alice  ${alice!.address}  ${alice!.privateKey}`)
  out(`  bob    ${bob!.address}  ${bob!.privateKey}`)
  out(`  carol  ${carol!.address}  ${carol!.privateKey}`)
  out(
    `  alice and bob each hold 1 MemberNFT, ${DEMO_ERC1155_AMOUNT} DemoMultiToken #${DEMO_ERC1155_ID} and ${DEMO_ERC20_AMOUNT} DemoToken; carol holds nothing.`,
  )
  out()
  if (web.status !== 'built') out(`Web app not rebuilt: ${web.reason}. Serving ${show(web.webRoot)} as it is.`)
  if (!webBuilt) out('  Build it with `npm run build -w @securechat/web`, then reload the page.')
  out(`In the browser, open ${http.url} with MetaMask:`)
  out(
    `  add the network: Networks → Add a network manually → name "SecureChat devnet", RPC URL ${chain.rpcUrl}, chain ID ${chain.chainId}, currency symbol ETH;`,
  )
  out('  import alice or bob: account menu → Add account → Import account → paste the private key above.')
  out('  Public test keys, as above: never send real funds to these accounts.')
  out()
  out('Rooms (owned by alice):')
  out(`  lobby    public; invite in ${show(lobbyFile)}`)
  out(`  members  token-gated, requires ${gate}; invite in ${show(membersFile)}`)
  out('  Open them in the web app (browsers and terminals share these rooms):')
  out(`    lobby    ${webLinks.get('lobby')}`)
  out(`    members  ${webLinks.get('members')}`)
  out()
  out('Chat in the lobby from two terminals:')
  out(`  ${key(alice!)} npx securechat chat --room ${show(lobbyFile)}`)
  out(`  ${key(bob!)} npx securechat chat --room ${show(lobbyFile)}`)
  out()
  out('Chat in the gated room (--rpc lets the client read the chain); carol is refused:')
  out(`  ${key(alice!)} npx securechat chat --room ${show(membersFile)} --rpc ${chain.rpcUrl}`)
  out(`  ${key(bob!)} npx securechat chat --room ${show(membersFile)} --rpc ${chain.rpcUrl}`)
  out(`  ${key(carol!)} npx securechat listen --room ${show(membersFile)} --rpc ${chain.rpcUrl}`)
  out()
  out(
    `Anchoring: the relay anchors the messages it relays every ${DEVNET_ANCHOR_INTERVAL_MS / 1000} s in AuditLog, as ${anchorer.address} (a demo account).`,
  )
  out('Prove a message (its id is in `listen --json`), or export what you hear and verify it offline:')
  out(`  npx securechat verify --room ${show(lobbyFile)} --message <id> --rpc ${chain.rpcUrl}`)
  out(`  ${key(bob!)} npx securechat export --room ${show(lobbyFile)} --out lobby.json --rpc ${chain.rpcUrl}`)
  out(`  npx securechat verify --file lobby.json --rpc ${chain.rpcUrl}`)
  out()
  out('Your own gated room, for terminals and this web app alike (each --domain is a sign-in the room accepts):')
  out(
    `  ${key(alice!)} npx securechat room create --name <name> --gate erc721:${addresses.memberNft} --bootstrap ${tcpAddress} ${domains.map((domain) => `--domain ${domain}`).join(' ')}`,
  )
  out(`Everything above is also in ${show(join(devnetDir, 'devnet.json'))}.`)
  out('Ctrl-C stops the devnet (relay, web app and chain).')
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    if (interrupt.signal.aborted) {
      process.stdout.write('devnet stopped before it was ready.\n')
      process.exit(0)
    }
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`)
    const hint = (err as { hint?: string }).hint
    if (hint !== undefined) process.stderr.write(`hint: ${hint}\n`)
    process.exit(1)
  },
)
