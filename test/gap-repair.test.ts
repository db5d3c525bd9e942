/**
 * Gap repair (issue 12): a message later records name (`deps`) and this device lacks is fetched
 * by id from the relays' stores or the room's peers and delivered, or reported lost. Real relay
 * with a store, real clients; a store that omits and alters records is a real libp2p node.
 */
import { rm } from 'node:fs/promises'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Message } from '@libp2p/gossipsub'
import { tcp } from '@libp2p/tcp'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { createSecureChatLibp2p } from '@securechat/sdk/client'
import {
  decodeHistoryRequest,
  encodeRecordsResponse,
  fetchHistory,
  type HistoryRecord,
  type HistoryResult,
  MAX_HISTORY_REQUEST_BYTES,
  queryHistory,
  STORE_PROTOCOL,
} from '@securechat/sdk/history'
import { decodeInvite, encodeInvite, type Room } from '@securechat/sdk/rooms'
import type { HistoryGap, RoomMessage } from '@securechat/sdk/types'
import { memoryVaultBackend, type VaultBackend } from '@securechat/sdk/vault'
import { type HDNodeWallet, Wallet } from 'ethers'
import { afterEach, describe, expect, it } from 'vitest'
import { type CliProcess, spawnCli, tempDir, untilStderr } from './helpers/cli.ts'
import { type Device, startDevice } from './helpers/device.ts'
import { dropOnArrival } from './helpers/drop-gossip.ts'
import { BOB } from './helpers/keys.ts'
import { nextMemberEvent, nextMessage } from './helpers/member-events.ts'
import { startStoreRelay } from './helpers/stoppers.ts'

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function storeRelay(): Promise<string> {
  const relay = await startStoreRelay(cleanups)
  return relay.multiaddrs[0] as string
}

describe('gap repair on the live path', () => {
  it('behavior: a message dropped on its way to a member is named by the next one, fetched from the store and delivered once', async () => {
    const relay = await storeRelay()
    const alice = await device(Wallet.createRandom(), [relay])
    const bob = await device(Wallet.createRandom(), [relay])
    const { room, invite } = await alice.client.createRoom({ name: 'lossy' })
    // The network loses the first message record Alice sends to Bob.
    const alicePeer = alice.client.peerId
    let dropped = 0
    dropOnArrival(bob.client.libp2p.services.pubsub, room.topic, (m) => {
      if (dropped > 0 || m.type !== 'signed' || !m.from.equals(alicePeer) || recordType(m) !== 'message') return false
      dropped += 1
      return true
    })
    const bobRoom = await bob.client.joinRoom(invite)
    await Promise.all([room.waitForPeers(), bobRoom.waitForPeers()])
    const received = collect(bobRoom)
    const gaps = collectGaps(bobRoom)

    const lost = await room.send('this one is lost on the way')
    const next = await room.send('this one names it')
    const filled = gapEvent(bobRoom, lost.id, 'filled')
    const repaired = new Promise<void>((resolve) =>
      bobRoom.addEventListener('message:received', (event) => event.detail.id === lost.id && resolve()),
    )
    await Promise.all([filled, repaired])
    expect(dropped).toBe(1)
    // Placed before the message that named it.
    expect(gaps).toEqual([
      { roomId: room.id, id: lost.id, state: 'missing', before: next.id },
      { roomId: room.id, id: lost.id, state: 'filled', before: next.id },
    ])
    // Live first, the repaired one when it came; each once.
    expect(received.map((m) => m.id)).toEqual([next.id, lost.id])
    expect(received.map((m) => m.text)).toEqual(['this one names it', 'this one is lost on the way'])
  }, 60_000)
})

describe('gap repair against a store that omits and alters records', () => {
  it('error: omitted records show as gaps; one a peer holds is filled from it, one nobody holds (or only altered) is lost', async () => {
    const relay = await storeRelay()
    const alice = await device(Wallet.createRandom(), [relay])
    const bobWallet = Wallet.createRandom()
    const bobVault = memoryVaultBackend()
    const bob = await device(bobWallet, [relay], bobVault)
    // Carol stays in the room throughout and answers peers from what she received; she too misses one.
    const carol = await device(Wallet.createRandom(), [relay], undefined, ['/ip4/127.0.0.1/tcp/0'])
    const { room, invite } = await alice.client.createRoom({ name: 'omitted' })
    const bobRoom = await bob.client.joinRoom(invite)
    const alicePeer = alice.client.peerId
    // Message records from Alice first arrive at Carol in order: 'hello', then 'while away 0', 1, … Counted by their
    // bytes: Alice re-publishes a record nobody acknowledged yet (on a loaded machine, 'hello' before Bob's
    // acknowledgement), and Carol drops every copy of the one she misses.
    const fromAlice: string[] = []
    const carolMisses = 1
    dropOnArrival(carol.client.libp2p.services.pubsub, room.topic, (m) => {
      if (m.type !== 'signed' || !m.from.equals(alicePeer) || recordType(m) !== 'message') return false
      const record = Buffer.from(m.data).toString('base64')
      if (!fromAlice.includes(record)) fromAlice.push(record)
      return fromAlice.indexOf(record) === carolMisses + 1
    })
    const carolRoom = await carol.client.joinRoom(invite)
    await Promise.all([room.waitForPeers(), bobRoom.waitForPeers(), carolRoom.waitForPeers()])
    const hello = nextMessage(bobRoom)
    await room.send('hello')
    await hello
    const bobPeer = bob.client.peerId.toString()
    const left = nextMemberEvent(room, 'member:left', bobPeer)
    await bob.close()
    await left

    // Away: six messages. Carol reads all but #1 live (each record is dropped or kept as it comes).
    const carolGot = collect(carolRoom)
    const carolReadLast = new Promise<void>((resolve) =>
      carolRoom.addEventListener('message:received', (event) => {
        if (event.detail.text === 'while away 5') resolve()
      }),
    )
    const sent: string[] = []
    for (let i = 0; i < 6; i++) sent.push((await room.send(`while away ${i}`)).id)
    await carolReadLast
    // Only these: 'hello' may reach her late too (her key from Alice can come after it).
    const carolAway = carolGot.filter((m) => m.text.startsWith('while away'))
    expect(carolAway.map((m) => m.id).slice(0, 5)).toEqual(sent.filter((_, i) => i !== carolMisses))
    const [nobodyHas, carolHas] = [sent[1]!, sent[3]!]
    // Alice goes: she holds every message she sent, and would send what Bob lacks again once he is back (Carol, who
    // missed #1, would then hold it too).
    await alice.close()

    // The liar answers from the real store, without #1 and #3; asked for them by id, it sends
    // #1 altered (the same id over other data) and leaves #3 out.
    const liar = await liarStore(relay, (record) => {
      if (record.id === carolHas) return []
      if (record.id !== nobodyHas) return [record]
      const data = record.data.slice()
      data[data.length - 3] ^= 1
      return [{ ...record, data }]
    })
    const bobAgain = await device(bobWallet, [liar, ...carol.client.libp2p.getMultiaddrs().map(String)], bobVault)
    // Bob hears nothing of Alice live: what he reads comes from the liar, Carol or repair.
    dropOnArrival(
      bobAgain.client.libp2p.services.pubsub,
      room.topic,
      (m) => m.type === 'signed' && m.from.equals(alicePeer),
    )
    const bobRoomAgain = await bobAgain.client.joinRoom(withoutRelays(invite), { catchUp: 'later' })
    const received = collect(bobRoomAgain)
    const gaps = collectGaps(bobRoomAgain)
    const filled = gapEvent(bobRoomAgain, carolHas, 'filled')
    const lost = gapEvent(bobRoomAgain, nobodyHas, 'lost')
    const progress = await bobAgain.client.catchUp(bobRoomAgain)
    expect(progress).toMatchObject({ relays: 1, delivered: 4, rejected: 1, done: true })
    const repaired = received.some((m) => m.id === carolHas)
      ? undefined
      : new Promise<void>((resolve) =>
          bobRoomAgain.addEventListener('message:received', (event) => event.detail.id === carolHas && resolve()),
        )
    await Promise.all([filled, lost, repaired])
    expect(received.map((m) => m.id)).toEqual([sent[0], sent[2], sent[4], sent[5], carolHas])
    const states = (id: string): string[] => gaps.filter((g) => g.id === id).map((g) => g.state)
    expect(states(carolHas)).toEqual(['missing', 'filled'])
    expect(states(nobodyHas)).toEqual(['missing', 'lost'])
    expect(gaps.filter((g) => g.id !== carolHas && g.id !== nobodyHas)).toEqual([])

    // Carol answers by id from memory; what she holds verifies like a stored record.
    const asked: HistoryResult = await fetchHistory(
      bobAgain.client.libp2p,
      carol.client.peerId,
      { topic: room.topic, ids: [carolHas, nobodyHas] },
      { protocol: '/securechat/recent/1.0.0' },
    )
    expect(asked.records.map(({ record }) => record.id)).toEqual([carolHas])
  }, 90_000)
})

describe('listen and history show a repaired gap', () => {
  it.each(['listen', 'history'] as const)(
    'behavior: `%s --json` prints a message a store left out once repair fetched it, and a gap line',
    async (command) => {
      const relay = await storeRelay()
      const alice = await device(Wallet.createRandom(), [relay])
      const { room, invite } = await alice.client.createRoom({ name: 'shown' })
      const bobDir = await tempDir('gap-bob-')
      cleanups.push(() => rm(bobDir, { recursive: true, force: true }))
      const env = { SECURECHAT_PRIVATE_KEY: BOB.key, SECURECHAT_VAULT_PASSPHRASE: 'bob keeps this one somewhere safe' }

      // Bob listens once (his device gets a position), then is away while three messages are sent.
      const first = run(['listen', '--room', invite, '--json', '--data-dir', bobDir], env)
      await untilStderr(first, '(peer ')
      const bobPeer = /\(peer ([^)]+)\)/.exec(first.stderr())![1]!
      if (!room.members().some((m) => m.peerId === bobPeer)) await nextMemberEvent(room, 'member:joined', bobPeer)
      const hello = await room.send('hello')
      await first.waitForLine((line) => line.includes(hello.id))
      const left = nextMemberEvent(room, 'member:left', bobPeer)
      first.kill('SIGTERM')
      await first.exited
      await left
      const sent: string[] = []
      for (let i = 0; i < 3; i++) sent.push((await room.send(`while away ${i}`)).id)
      const omitted = sent[1]!

      // Back through a store that leaves #1 out of its answer to the catch-up (it has it by id).
      let queried = false
      const liar = await liarStore(
        relay,
        (record, type) => {
          if (type === 'query') queried = true
          return type === 'query' && record.id === omitted ? [] : [record]
        },
        room.topic,
      )
      const second = run(
        [command, '--room', withoutRelays(invite), '--json', '--data-dir', bobDir, '--bootstrap', liar],
        env,
      )
      // The process starts, catches up, then repairs: on a loaded machine that is tens of seconds.
      const gapLine = await second.waitForLine((line) => line.includes('"type":"gap"'), 75_000)
      expect(queried).toBe(true)
      // Named by the next message: the one it came before.
      expect(JSON.parse(gapLine)).toEqual({
        type: 'gap',
        roomId: room.id,
        id: omitted,
        state: 'filled',
        before: sent[2],
      })
      // `history` waits for the gap to end, prints what filled it, and exits.
      if (command === 'history') expect(await second.exited).toBe(0)
      await second.waitForLine((line) => line.includes('"type":"message"') && line.includes(omitted))
      const printed = second.lines.map((line) => JSON.parse(line) as { type: string; id: string })
      expect(printed.filter((r) => r.type === 'message').map((r) => r.id)).toEqual([sent[0], sent[2], omitted])
    },
    120_000,
  )
})

function run(args: string[], env: Record<string, string>): CliProcess {
  const cli = spawnCli(args, env)
  cleanups.push(async () => {
    cli.kill('SIGKILL')
    await cli.exited
  })
  return cli
}

/**
 * A store protocol node that answers queries and fetches from `relay`'s store, through `edit`;
 * subscribed to `topic` when given (a CLI waits for a neighbour in the room).
 */
async function liarStore(
  relay: string,
  edit: (record: HistoryRecord, type: 'query' | 'fetch') => HistoryRecord[],
  topic?: string,
): Promise<string> {
  const liar = await createSecureChatLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    transports: [tcp()],
  })
  cleanups.push(async () => {
    await liar.stop()
  })
  if (topic !== undefined) liar.services.pubsub.subscribe(topic)
  await liar.handle(STORE_PROTOCOL, async (stream) => {
    const lp = lpStream(stream, { maxDataLength: MAX_HISTORY_REQUEST_BYTES })
    const decoded = decodeHistoryRequest((await lp.read()).subarray())
    if (!decoded.ok) throw new Error('unexpected request')
    const { type, ...request } = decoded.request
    const honest =
      type === 'query'
        ? await queryHistory(liar, multiaddr(relay), request as Parameters<typeof queryHistory>[2])
        : await fetchHistory(liar, multiaddr(relay), request as Parameters<typeof fetchHistory>[2])
    const records = honest.records.flatMap(({ record }) => edit(record, type))
    await lp.write(encodeRecordsResponse({ records, more: false }).bytes)
    await stream.close()
  })
  return liar.getMultiaddrs()[0]!.toString()
}

/** The invite without its relay hints: a client dials those too, and these tests choose its relays. */
function withoutRelays(invite: string): string {
  return encodeInvite({ manifest: decodeInvite(invite).manifest, relays: [] })
}

function recordType(message: Message): string | undefined {
  try {
    return (JSON.parse(new TextDecoder().decode(message.data)) as { type?: string }).type
  } catch {
    return undefined
  }
}

async function device(
  wallet: HDNodeWallet,
  bootstrap: string[],
  backend?: VaultBackend,
  listen?: string[],
): Promise<Device> {
  const started = await startDevice({
    wallet,
    bootstrap,
    presenceIntervalMs: 1_000,
    ...(backend === undefined ? {} : { backend }),
    ...(listen === undefined ? {} : { listen }),
  })
  cleanups.push(started.close)
  return started
}

function collect(room: Room): RoomMessage[] {
  const received: RoomMessage[] = []
  room.addEventListener('message:received', (event) => received.push(event.detail))
  return received
}

function collectGaps(room: Room): HistoryGap[] {
  const gaps: HistoryGap[] = []
  room.addEventListener('history:gap', (event) => gaps.push(event.detail))
  return gaps
}

function gapEvent(room: Room, id: string, state: HistoryGap['state']): Promise<void> {
  return new Promise((resolve) => {
    const listener = (event: CustomEvent<HistoryGap>): void => {
      if (event.detail.id !== id || event.detail.state !== state) return
      room.removeEventListener('history:gap', listener)
      resolve()
    }
    room.addEventListener('history:gap', listener)
  })
}
