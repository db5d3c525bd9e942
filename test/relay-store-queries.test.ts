/**
 * Store queries per peer (issue 13, item 2), against a real `securechat relay` process with its default limits: a
 * peer querying the relay's store in a loop, many queries at once, is refused (`limited`, with a wait), counted in
 * `/metrics` by reason and logged once per reason; a member returning from 500 messages away catches up on every one
 * of them meanwhile, and is never refused.
 */
import type { Libp2p } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import {
  decodeHistoryResponse,
  encodeHistoryRequest,
  fetchHistory,
  MAX_HISTORY_RESPONSE_BYTES,
  STORE_PROTOCOL,
} from '@securechat/sdk/history'
import { memoryVaultBackend } from '@securechat/sdk/vault'
import { Wallet } from 'ethers'
import { describe, expect, it } from 'vitest'
import { bulkSender } from './helpers/bulk-sender.ts'
import { killAfterEach, startRelayProcess } from './helpers/cli.ts'
import { startDevice } from './helpers/device.ts'
import { readOnceThenAway } from './helpers/member-events.ts'
import { metrics, refusalLines, refused } from './helpers/relay-metrics.ts'
import { stopAfterEach } from './helpers/stoppers.ts'

const track = killAfterEach()
const stoppers = stopAfterEach()

/** Queries the looping peer keeps under way at once: more than the relay answers one peer at once. */
const LOOP_AT_ONCE = 16

/** One raw store query, as a peer that ignores the sdk's pacing and back-off sends it: the answer's kind. */
async function ask(libp2p: Libp2p, relay: string, topic: string): Promise<string> {
  const stream = await libp2p.dialProtocol(peerIdFromString(relay), STORE_PROTOCOL, {
    signal: AbortSignal.timeout(10_000),
  })
  const lp = lpStream(stream, { maxDataLength: MAX_HISTORY_RESPONSE_BYTES })
  await lp.write(encodeHistoryRequest({ type: 'query', topic, range: { by: 'lamport' }, limit: 1 }))
  const decoded = decodeHistoryResponse((await lp.read()).subarray())
  await stream.close()
  if (!decoded.ok) return 'malformed'
  return decoded.response.type === 'error' ? decoded.response.code : 'records'
}

/** Resolves once `check()` holds, asked again every 50 ms (a relay process tells of its store and limits by no event). */
async function until(check: () => Promise<boolean>, describeState: () => string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not met in ${timeoutMs} ms: ${describeState()}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

describe('relay limits: store queries per peer', () => {
  it('behavior: a peer querying the store in a loop is refused, counted and logged once per reason; a member returning from 500 messages away still gets every one', async () => {
    // Alice sends the backlog as an import does (at the defaults, 10 a second, it takes most of the test's time).
    const count = 500
    const bulk = bulkSender(count)
    const relay = track(await startRelayProcess({ args: ['--http', '0', ...bulk.relayArgs] }))
    const address = relay.multiaddrs[0]!
    const [aliceWallet, bobWallet] = [Wallet.createRandom(), Wallet.createRandom()]
    const alice = await startDevice({
      wallet: aliceWallet,
      bootstrap: [address],
      publishPacing: bulk.publishPacing,
    })
    stoppers.push(alice.close)
    const bobVault = memoryVaultBackend()
    const bob = await startDevice({ wallet: bobWallet, bootstrap: [address], backend: bobVault })
    stoppers.push(bob.close)
    const looper = await startDevice({ wallet: Wallet.createRandom(), bootstrap: [address] })
    stoppers.push(looper.close)

    const { room, invite } = await alice.client.createRoom({ name: 'queried' })
    await readOnceThenAway(room, {
      peerId: bob.client.peerId.toString(),
      join: () => bob.client.joinRoom(invite),
      close: bob.close,
    })

    // Bob away: 500 messages, kept by the relay.
    const sent: string[] = []
    for (let i = 0; i < count; i++) sent.push((await room.send(`while away ${i}`)).id)
    const last = { topic: room.topic, ids: [sent.at(-1)!] }
    await until(
      async () =>
        fetchHistory(alice.client.libp2p, peerIdFromString(relay.peerId), last).then(
          (answer) => answer.records.length === 1,
          () => false,
        ),
      () => 'the relay never stored the last message',
    )

    // The loop: LOOP_AT_ONCE queries at once, each asked again as soon as it is answered, until Bob is done.
    const answers = new Map<string, number>()
    let looping = true
    const loop = async (): Promise<void> => {
      while (looping) {
        const kind = await ask(looper.client.libp2p, relay.peerId, room.topic).catch(() => 'broken')
        answers.set(kind, (answers.get(kind) ?? 0) + 1)
      }
    }
    const loops = Array.from({ length: LOOP_AT_ONCE }, loop)
    // Refused for its rate too before Bob returns: the loop went through its burst.
    await until(
      async () => refused(await metrics(relay), 'store-query-rate-per-peer') > 0,
      () => `the looping peer was never refused for its rate: ${JSON.stringify([...answers])}`,
    )

    const bobAgain = await startDevice({ wallet: bobWallet, bootstrap: [address], backend: bobVault })
    stoppers.push(bobAgain.close)
    const roomAgain = await bobAgain.client.joinRoom(invite, { catchUp: 'later' })
    const received: string[] = []
    roomAgain.addEventListener('message:received', (event) => received.push(event.detail.id))
    const progress = await bobAgain.client.catchUp(roomAgain)
    looping = false
    await Promise.all(loops)

    expect(progress).toMatchObject({ relays: 1, failed: 0, delivered: sent.length, undecryptable: 0 })
    expect(received).toEqual(sent)
    // The loop was answered `limited`, never `busy`: one peer cannot take every place the relay answers at once.
    expect(answers.get('limited')).toBeGreaterThan(0)
    expect(answers.get('records')).toBeGreaterThan(0)
    expect(answers.has('busy')).toBe(false)
    console.log(`store-query loop while Bob caught up: ${JSON.stringify(Object.fromEntries(answers))}`)

    const samples = await metrics(relay)
    expect(refused(samples, 'store-queries-at-once-per-peer')).toBeGreaterThan(0)
    expect(refused(samples, 'store-query-rate-per-peer')).toBeGreaterThan(0)
    expect(refused(samples, 'store-queries-total')).toBe(0)
    expect(samples.get('securechat_store_history_errors_total{code="limited"}')).toBe(answers.get('limited'))
    // One line per reason for the looping peer, whatever it asked; nobody else is named.
    const lines = refusalLines(relay).filter(({ event }) => event === 'limit:refused')
    expect(lines.map(({ offender }) => offender)).toEqual(lines.map(() => looper.client.peerId.toString()))
    expect(new Set(lines.map(({ reason }) => reason))).toEqual(
      new Set(['store-queries-at-once-per-peer', 'store-query-rate-per-peer']),
    )
    expect(lines).toHaveLength(2)
  }, 180_000)
})
