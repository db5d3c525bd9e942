/**
 * Catch-up benchmark (issue 12), for `npm run bench`: a member away while `BENCH_CATCH_UP_MESSAGES`
 * messages are sent comes back and reads all of them from a relay's store, decrypted and in order.
 *
 * One process: a relay with its SQLite store (`messageStore()`, as `securechat relay` runs it),
 * Alice who sends, and Bob, whose device (vault) leaves after reading one message live and comes
 * back. The clock runs from `client.catchUp(room)` to its end: asking the relay which protocols
 * it speaks, fetching every page, verifying each record's id and gossip signature, the room's
 * gatekeeper, installing the sender keys sealed to Bob meanwhile, decrypting and delivering in
 * order, and saving Bob's position. The relay answers from the same thread, so its work counts.
 * `BENCH_CPU_PROF=catch-up` writes a V8 profile of the catch-up alone to `bench/results/prof/`.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { Session } from 'node:inspector/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createClient, type PublishPacingInit, type SecureChatClient } from '@securechat/sdk/client'
import { walletSigner } from '@securechat/sdk/identity'
import type { Room } from '@securechat/sdk/rooms'
import type { RoomMessage } from '@securechat/sdk/types'
import { memoryVaultBackend, openVault, VAULT_ARGON2ID_MIN, type VaultBackend } from '@securechat/sdk/vault'
import { type HDNodeWallet, Wallet } from 'ethers'
import { DEFAULT_CLI_DOMAIN, DEVNET_CHAIN_ID } from '../node/src/constants.ts'
import { createRelay } from '../node/src/relay/create-relay.ts'
import { type MessageStoreService, messageStore } from '../node/src/relay/store-service.ts'
import type { BenchRecord } from './types.ts'

/** Messages sent while the reader is away. */
const DEFAULT_MESSAGES = 10_000
/** Heartbeats a message stays in gossipsub's cache (its default `mcacheLength` is 5), and one more. */
const GOSSIP_CACHE_HEARTBEATS = 6
/**
 * How long the relay may take to accept and store what was sent: a connection lost on the way
 * costs a re-publish (two presence intervals, then `REPUBLISH_BATCH` every `REPUBLISH_BATCH_INTERVAL_MS`).
 */
const STORE_WAIT_MS = 180_000
/** The catch-up fails after this long. */
const CATCH_UP_TIMEOUT_MS = 120_000
/** The goal for 10,000 messages. */
const GOAL_MS = 2_000

export async function run(): Promise<BenchRecord[]> {
  const count = Number(process.env.BENCH_CATCH_UP_MESSAGES ?? DEFAULT_MESSAGES)
  const dir = await mkdtemp(join(tmpdir(), 'securechat-bench-catch-up-'))
  const stops: Array<() => Promise<unknown>> = []
  try {
    const storeFactory = messageStore()
    let store: MessageStoreService | undefined
    const relay = createRelay({
      privateKey: await generateKeyPair('Ed25519'),
      listen: ['/ip4/127.0.0.1/tcp/0'],
      dataDir: dir,
      // One device sends the whole backlog as fast as it can, as an import would: the operator
      // raises the per-device rate for it (`--records-per-second`), and the sender its own pace.
      recordRates: { recordsPerSecond: count, recordBurst: count },
      services: { store: (components) => (store = storeFactory(components)) },
    })
    await relay.start()
    stops.push(() => relay.stop())
    const bootstrap = [relay.multiaddrs[0] as string]
    const alice = await device(Wallet.createRandom(), bootstrap, undefined, { perSecond: count, burst: count })
    stops.push(alice.close)
    const bobWallet = Wallet.createRandom()
    const bobVault = memoryVaultBackend()
    const bob = await device(bobWallet, bootstrap, bobVault)
    const { room, invite } = await alice.client.createRoom({ name: 'catch-up bench' })
    const bobRoom = await bob.client.joinRoom(invite)
    await Promise.all([room.waitForPeers(), bobRoom.waitForPeers()])
    const hello = nextMessage(bobRoom)
    await room.send('hello')
    await hello
    const left = new Promise<void>((resolve) => {
      const peerId = bob.client.peerId.toString()
      const listener = (event: CustomEvent<{ peerId: string }>): void => {
        if (event.detail.peerId !== peerId) return
        room.removeEventListener('member:left', listener)
        resolve()
      }
      room.addEventListener('member:left', listener)
    })
    await bob.close()
    await left

    // Distinct ids: a message the outgoing buffer published again is accepted again (the store keeps it once).
    const acceptedIds = new Set<string>()
    relay.node.addEventListener('record:accepted', (event) => {
      const { record } = event.detail
      if (record.type === 'message') acceptedIds.add(record.id)
    })
    // As fast as `Room.send` goes: it waits only for its gossip streams to drain and for its turn
    // of the event loop, and what a connection loses on the way the outgoing buffer sends again.
    const sendStarted = performance.now()
    const sent: string[] = []
    for (let i = 0; i < count; i++) sent.push((await room.send(`while away ${i}: ${'x'.repeat(64)}`)).id)
    const sendMs = performance.now() - sendStarted
    // Every message is in the store before Bob asks (the relay validates, then writes in
    // batches), and out of the relay's gossip cache: a member back after an absence gets no
    // IHAVE for them, so the catch-up alone delivers them (mcacheLength, 5 heartbeats). Alice's
    // outgoing buffer is empty too (a store holds all she sent alone), so nothing of hers runs
    // during the catch-up.
    const pubsub = relay.node.libp2p.services.pubsub
    const deadline = performance.now() + STORE_WAIT_MS
    for (
      let beats = 0;
      acceptedIds.size < count || room.outgoing.pending > 0 || beats < GOSSIP_CACHE_HEARTBEATS;
      beats++
    ) {
      if (performance.now() > deadline) {
        throw new Error(
          `the relay accepted ${acceptedIds.size} of ${count} messages within ${STORE_WAIT_MS} ms: ${JSON.stringify(room.outgoing)}`,
        )
      }
      await new Promise((resolve) => pubsub.addEventListener('gossipsub:heartbeat', resolve, { once: true }))
    }
    await store?.flush()
    console.log(
      `catch-up: ${count} messages sent in ${Math.round(sendMs)} ms and stored (${room.outgoing.republished} sent again); bob comes back`,
    )

    const bobAgain = await device(bobWallet, bootstrap, bobVault)
    stops.push(bobAgain.close)
    const bobRoomAgain = await bobAgain.client.joinRoom(invite, { catchUp: 'later' })
    const received: string[] = []
    bobRoomAgain.addEventListener('message:received', (event) => received.push(event.detail.id))
    const profile = process.env.BENCH_CPU_PROF === 'catch-up' ? await startProfile() : undefined
    const cpuBefore = process.cpuUsage()
    const threadBefore = process.threadCpuUsage()
    const started = performance.now()
    const progress = await bobAgain.client.catchUp(bobRoomAgain, { signal: AbortSignal.timeout(CATCH_UP_TIMEOUT_MS) })
    const ms = performance.now() - started
    const cpu = process.cpuUsage(cpuBefore)
    const cpuMs = (cpu.user + cpu.system) / 1000
    const thread = process.threadCpuUsage(threadBefore)
    // The main thread's share: on an idle machine with a core to spare, what bounds the wall time.
    const mainThreadCpuMs = (thread.user + thread.system) / 1000
    if (profile !== undefined) console.log(`catch-up: profile in ${await profile()}`)

    const inOrder = received.length === sent.length && received.every((id, i) => id === sent[i])
    if (!inOrder) {
      throw new Error(
        `catch-up delivered ${received.length} of ${sent.length} messages${received.length === sent.length ? ', out of order' : ''}: ${JSON.stringify(progress)}`,
      )
    }
    const summary = {
      messages: count,
      ms: Math.round(ms),
      cpuMs: Math.round(cpuMs),
      mainThreadCpuMs: Math.round(mainThreadCpuMs),
      loadAverage: loadavg().map((n) => Number(n.toFixed(1))),
      perSecond: Math.round((count / ms) * 1000),
      goalMs: count === DEFAULT_MESSAGES ? GOAL_MS : undefined,
      goalMet: count === DEFAULT_MESSAGES ? ms <= GOAL_MS : undefined,
      sendMs: Math.round(sendMs),
      republished: room.outgoing.republished,
      // Store queries the relay refused (its per-peer and per-IP limits, at their defaults): an honest catch-up meets none.
      storeQueriesRefused: Object.entries(relay.node.limits.stats().refused)
        .filter(([reason]) => reason.startsWith('store-'))
        .reduce((sum, [, refused]) => sum + refused, 0),
      progress,
    }
    console.log(`catch-up: ${JSON.stringify(summary)}`)
    return [
      { name: `catch-up.${count}.ms`, unit: 'ms', value: ms },
      { name: 'catch-up.rate', unit: 'msg/s', value: (count / ms) * 1000 },
      { name: `catch-up.${count}.cpu`, unit: 'ms', value: cpuMs },
      { name: `catch-up.${count}.cpu.main_thread`, unit: 'ms', value: mainThreadCpuMs },
      { name: 'catch-up.send_rate', unit: 'msg/s', value: (count / sendMs) * 1000 },
    ]
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined)
    await rm(dir, { recursive: true, force: true })
  }
}

async function device(
  wallet: HDNodeWallet,
  bootstrap: string[],
  backend?: VaultBackend,
  publishPacing?: PublishPacingInit,
): Promise<{ client: SecureChatClient; close: () => Promise<void> }> {
  const vault =
    backend === undefined
      ? undefined
      : await openVault({
          backend,
          unlock: { type: 'passphrase', passphrase: 'only for this bench' },
          argon2id: VAULT_ARGON2ID_MIN,
        })
  const client = createClient({
    domain: DEFAULT_CLI_DOMAIN,
    chainId: DEVNET_CHAIN_ID,
    signer: walletSigner({ type: 'eoa', signer: wallet }),
    bootstrap,
    ...(vault === undefined ? {} : { vault }),
    ...(publishPacing === undefined ? {} : { publishPacing }),
  })
  await client.start()
  let closed = false
  return {
    client,
    close: async () => {
      if (closed) return
      closed = true
      await client.stop()
      await vault?.close()
    },
  }
}

function nextMessage(room: Room): Promise<RoomMessage> {
  return new Promise((resolve) =>
    room.addEventListener('message:received', (event) => resolve(event.detail), { once: true }),
  )
}

/** Starts the V8 profiler; the returned function stops it and writes the profile, returning its path. */
async function startProfile(): Promise<() => Promise<string>> {
  const session = new Session()
  session.connect()
  await session.post('Profiler.enable')
  await session.post('Profiler.start')
  return async () => {
    const { profile } = await session.post('Profiler.stop')
    session.disconnect()
    const dir = fileURLToPath(new URL('./results/prof/', import.meta.url))
    mkdirSync(dir, { recursive: true })
    const file = join(dir, `catch-up-${Date.now()}.cpuprofile`)
    writeFileSync(file, JSON.stringify(profile))
    return file
  }
}
