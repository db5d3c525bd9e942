/**
 * Hostile numbers in room records, through a real `securechat relay` process to the three ways a
 * person reads a room: `securechat listen --json`, `securechat chat` and the web app in Chromium.
 * Two senders: a bare libp2p node with a valid certificate that publishes crafted records (garbage
 * ciphertext), and a real sdk client, a member whose clock states what fast-check picks.
 */
import { randomBytes } from 'node:crypto'
import { createClient, type SecureChatClient, type SecureChatLibp2p } from '@securechat/sdk/client'
import { MAX_LAMPORT_CLOCK, MAX_RECORD_TIME_MS, WIRE_VERSION } from '@securechat/sdk/constants'
import { walletSigner } from '@securechat/sdk/identity'
import {
  createManifest,
  encodeInvite,
  type MessageRecord,
  messageIdOf,
  type Room,
  roomIdOf,
  roomTopic,
} from '@securechat/sdk/rooms'
import { Wallet } from 'ethers'
import fc from 'fast-check'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildWebApp, injectWallet, launchChromium, shownMessage } from './helpers/browser.ts'
import { type CliProcess, type RelayProcess, spawnCli, startRelayProcess, tempDir, untilStderr } from './helpers/cli.ts'
import { publishToRelay, startForger } from './helpers/forger.ts'
import { until } from './helpers/room-inbox.ts'

/** A CLI client's SIWE domain, and the devnet chain the relay names to the app. */
const CLI_DOMAIN = 'localhost'
const CHAIN_ID = 31337
/** Deliveries cross a relay; generous for a loaded 2-core machine, never a speed check. */
const TIMEOUT_MS = 60_000
/** A CLI process starting (loading, dialling, joining) on a machine busy with other tests. */
const START_TIMEOUT_MS = 90_000
/** Few runs: each crosses three processes and a browser. */
const RUNS = 8

const wallet = (): Wallet => new Wallet(Wallet.createRandom().privateKey)

let relay: RelayProcess
let invite: string
let topic: string
let roomId: string
let listener: CliProcess
let chatter: CliProcess
let forger: { libp2p: SecureChatLibp2p }
let member: { client: SecureChatClient; room: Room }
let browser: Browser
let page: Page
/** The Lamport clock of the member's last message, as listen printed it. */
let lastLamport = 0
/** What the member's clock says while it stamps a record (`sendAt`); the real time otherwise. */
let memberClockMs: number | undefined
/** The connections of the member and the forger that closed, when and to whom. */
const closed: string[] = []
const processes: CliProcess[] = []

beforeAll(async () => {
  const webRoot = await tempDir('hostile-web-')
  await buildWebApp(webRoot)
  relay = await startRelayProcess({
    listen: ['/ip4/127.0.0.1/tcp/0/ws'],
    args: ['--http', '0', '--web-root', webRoot, '--web-allow-private', '--chain-id', String(CHAIN_ID)],
  })
  processes.push(relay)
  const relayAddress = relay.multiaddrs[0]!
  const manifest = await createManifest({
    signer: walletSigner({ type: 'eoa', signer: wallet() }),
    name: 'hostile',
    domains: [CLI_DOMAIN, new URL(relay.web!).host],
    chainIds: [CHAIN_ID],
  })
  invite = encodeInvite({ manifest, relays: [relayAddress] })
  roomId = roomIdOf(manifest.manifest)
  topic = roomTopic(roomId)

  listener = spawnCli(['listen', '--room', invite, '--json'], { SECURECHAT_PRIVATE_KEY: wallet().privateKey })
  chatter = spawnCli(['chat', '--room', invite], { SECURECHAT_PRIVATE_KEY: wallet().privateKey })
  processes.push(listener, chatter)
  await chatter.waitForLine((line) => line.includes('joined hostile'), START_TIMEOUT_MS)
  await untilStderr(listener, 'listening on room')

  // The page: signed in with its own wallet, in the room by its invite link.
  browser = await launchChromium()
  const context = await browser.newContext()
  const pageWallet = wallet()
  await injectWallet(context, pageWallet, CHAIN_ID)
  page = await context.newPage()
  await page.goto(relay.web!)
  await page.getByRole('button', { name: 'Sign in with Test Wallet' }).click()
  await page.getByTestId('address').waitFor({ timeout: TIMEOUT_MS })
  await page.goto(new URL(`/#invite=${encodeURIComponent(invite)}`, relay.web).href)
  await page.getByRole('heading', { name: '# hostile' }).waitFor({ timeout: TIMEOUT_MS })

  // The member who states hostile times, and the forger of records.
  const memberWallet = wallet()
  const client = createClient({
    signer: walletSigner({ type: 'eoa', signer: memberWallet }),
    bootstrap: [relayAddress],
    domain: CLI_DOMAIN,
    chainId: CHAIN_ID,
    // Only the member's record stamps read this clock; its libp2p node keeps the process clock.
    now: () => memberClockMs ?? Date.now(),
  })
  await client.start()
  const room = await client.joinRoom(manifest)
  await room.waitForPeers({ signal: AbortSignal.timeout(TIMEOUT_MS) })
  member = { client, room }
  forger = { libp2p: await announcedForger(relayAddress) }
  // Closed connections, told in a failure: a record published meanwhile went to fewer peers.
  for (const [who, node] of [
    ['member', client.libp2p],
    ['forger', forger.libp2p],
  ] as const) {
    node.addEventListener('connection:close', (event) => {
      closed.push(`${new Date().toISOString()} ${who}–${event.detail.remotePeer} ${event.detail.status}`)
    })
  }
  // Everyone the member must share its sender key with is present, the page too.
  await until(
    [[room, 'member:joined']],
    () => room.members().some((m) => m.address === pageWallet.address),
    () => `members: ${JSON.stringify(room.members().map((m) => m.address))}`,
    TIMEOUT_MS,
  )
}, 240_000)

afterAll(async () => {
  await browser?.close()
  await member?.client.stop()
  await forger?.libp2p.stop()
  for (const cli of processes) {
    cli.kill('SIGKILL')
    await cli.exited
  }
})

/** The forger (`helpers/forger.ts`), announced by its presence until the member and the chatter list it. */
async function announcedForger(relayAddress: string): Promise<SecureChatLibp2p> {
  const { libp2p, address, presence } = await startForger({
    roomId,
    relayAddress,
    domain: CLI_DOMAIN,
    chainId: CHAIN_ID,
    timeoutMs: TIMEOUT_MS,
  })
  const pubsub = libp2p.services.pubsub
  // Announced on every heartbeat, as a member announces itself, until the others list it: its
  // records are then judged at once (a missed presence would send them looking for the certificate).
  const announce = (): void => void pubsub.publish(topic, presence).catch(() => undefined)
  pubsub.addEventListener('gossipsub:heartbeat', announce)
  try {
    announce()
    await until(
      [[member.room, 'member:joined']],
      () => member.room.members().some((m) => m.address === address),
      () => 'the member never listed the forger',
      TIMEOUT_MS,
    )
    await chatter.waitForLine((line) => line.includes(`* ${address} joined`), TIMEOUT_MS)
  } finally {
    pubsub.removeEventListener('gossipsub:heartbeat', announce)
  }
  return libp2p
}

/** A message record with garbage ciphertext (not even a sender-key header), as the forger publishes it. */
function forged(fields: Partial<MessageRecord>): Uint8Array {
  const record = {
    v: WIRE_VERSION,
    type: 'message',
    room: roomId,
    lamport: 1,
    deps: [],
    sentAtMs: Date.now(),
    payload: { enc: 'sender-key', ct: 'f39n4rbAgEGbagE' },
    ...fields,
  }
  return new TextEncoder().encode(JSON.stringify(record))
}

/**
 * The member sends `text` with its clock saying `sentAtMs`. Only its records' stamps read that
 * clock: replacing the global `Date.now` also fed the hostile time to every libp2p node in this
 * process (gossipsub's timers, the ping's adaptive timeout, which a clock going back turns into
 * NaN: every later ping then throws and closes its connection).
 */
async function sendAt(text: string, sentAtMs: number, parentId?: string): Promise<string> {
  // A neighbour to send to: the member redials the relay if the connection was closed.
  await member.room.waitForPeers({ signal: AbortSignal.timeout(TIMEOUT_MS) })
  memberClockMs = sentAtMs
  try {
    const sent = await member.room.send(text, parentId === undefined ? {} : { parentId })
    expect(sent.delivery.recipients, 'the member sent to no neighbour').not.toEqual([])
    return sent.id
  } finally {
    memberClockMs = undefined
  }
}

/** The forger publishes `bytes`, and the relay gets them (`helpers/forger.ts`). */
async function forge(bytes: Uint8Array): Promise<void> {
  await publishToRelay(forger.libp2p, topic, relay.multiaddrs[0]!, bytes, TIMEOUT_MS)
}

function alive(cli: CliProcess): void {
  expect(cli.child.exitCode, cli.stderr()).toBeNull()
  expect(cli.child.signalCode, cli.stderr()).toBeNull()
}

async function rejectedByRelay(): Promise<number> {
  const metrics = await (await fetch(new URL('/metrics', relay.web))).text()
  return Number(/^securechat_relay_records_rejected_total (\d+)$/m.exec(metrics)?.[1] ?? Number.NaN)
}

describe('hostile numbers in room records', () => {
  it('error: a sentAtMs of 8.64e15 + 1 (no Date at all) is refused by the relay; listen --json keeps running and prints the next message', async () => {
    const rejectedBefore = await rejectedByRelay()
    await forge(forged({ sentAtMs: 8.64e15 + 1 }))
    const id = await sendAt('the next honest message', Date.now())
    const line = JSON.parse(await listener.waitForLine((l) => l.includes(id), TIMEOUT_MS)) as Record<string, unknown>
    expect(line).toMatchObject({ type: 'message', id, text: 'the next honest message' })
    lastLamport = line.lamport as number
    alive(listener)
    alive(chatter)
    // Refused where it entered, as every peer would refuse it: it never reached them.
    await expect.poll(rejectedByRelay, { timeout: TIMEOUT_MS }).toBe(rejectedBefore + 1)
    expect(listener.lines.filter((l) => l.includes('undecryptable'))).toEqual([])
  })

  it('behavior: schema-valid hostile times, clocks, parents and texts reach listen --json, chat and the page, which all keep going', async () => {
    const time = fc.oneof(fc.constantFrom(0, MAX_RECORD_TIME_MS), fc.integer({ min: 0, max: MAX_RECORD_TIME_MS }))
    const lamport = fc.oneof(fc.constantFrom(0, MAX_LAMPORT_CLOCK), fc.integer({ min: 0, max: MAX_LAMPORT_CLOCK }))
    const hex64 = fc.stringMatching(/^[0-9a-f]{64}$/)
    // Any code points, less those the page reads as Markdown (line breaks, emphasis, code, links, escapes): the page
    // must show this text exactly as sent. How Markdown and hostile Markdown are drawn: test/web-conversation.test.ts.
    const text = fc
      .string({ unit: 'binary', maxLength: 80 })
      .filter((s) => s.isWellFormed())
      .map((s) => s.replace(/[\r\n*_`[\\]/g, ''))
    let run = 0
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          forgedAtMs: time,
          forgedLamport: lamport,
          deps: fc.array(hex64, { maxLength: 2 }),
          sentAtMs: time,
          body: text,
          parentId: fc.option(hex64, { nil: undefined }),
        }),
        async ({ forgedAtMs, forgedLamport, deps, sentAtMs, body, parentId }) => {
          run += 1
          // The forger's record: readable by no one, shown as undecryptable, and its clock taken up.
          // A fresh dependency id keeps the record unique: peers drop a repeated record silently.
          const unique = randomBytes(32).toString('hex')
          const bytes = forged({ sentAtMs: forgedAtMs, lamport: forgedLamport, deps: [...deps, unique] })
          const forgedId = messageIdOf(bytes)
          const seen = new Set<string>()
          const onUndecryptable = (event: CustomEvent<{ id: string }>): void => {
            seen.add(event.detail.id)
          }
          member.room.addEventListener('message:undecryptable', onUndecryptable)
          await forge(bytes)
          await until(
            [[member.room, 'message:undecryptable']],
            () => seen.has(forgedId),
            () =>
              `the member never got the forged record; listen got it: ${listener.lines.some((l) => l.includes(forgedId))}; the relay logged: ${relay.lines.slice(-5).join(' | ')}; closed: ${closed.join(' | ')}`,
            TIMEOUT_MS,
          )
          member.room.removeEventListener('message:undecryptable', onUndecryptable)
          const undecryptable = JSON.parse(
            await listener.waitForLine((l) => l.includes(forgedId), TIMEOUT_MS),
          ) as Record<string, unknown>
          expect(undecryptable).toMatchObject({ type: 'undecryptable', sentAt: new Date(forgedAtMs).toISOString() })

          // The member's message, stamped with a hostile time, after a clock pushed by the forger.
          const marker = `run-${run}-marker`
          const full = `${marker} ${body}`
          const id = await sendAt(full, sentAtMs, parentId)
          lastLamport = Math.min(Math.max(lastLamport, forgedLamport) + 1, MAX_LAMPORT_CLOCK)
          const line = JSON.parse(await listener.waitForLine((l) => l.includes(id), TIMEOUT_MS)) as Record<
            string,
            unknown
          >
          expect(line).toMatchObject({
            type: 'message',
            id,
            text: full,
            lamport: lastLamport,
            sentAt: new Date(sentAtMs).toISOString(),
            ...(parentId === undefined ? {} : { parentId }),
          })
          await chatter.waitForLine((l) => l.includes(marker), TIMEOUT_MS)
          const shown = shownMessage(page, marker)
          await shown.waitFor({ timeout: TIMEOUT_MS })
          expect(await shown.locator('.text').textContent()).toBe(full)
          alive(listener)
          alive(chatter)
        },
      ),
      // No shrinking: each attempt crosses processes and a browser, and a failure is reported with its values.
      { numRuns: RUNS, endOnFailure: true },
    )
    expect(await page.getByRole('alert').count()).toBe(0)
  }, 240_000)
})
