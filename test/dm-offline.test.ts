import { multiaddr } from '@multiformats/multiaddr'
import type { ClientInit, SecureChatClient } from '@securechat/sdk/client'
import { parseRatchetMessage } from '@securechat/sdk/crypto'
import { DM_TOPIC_PREFIX, decodeDmRecord, dmRecordId, inboxTopic } from '@securechat/sdk/dm'
import { fetchHistory, type HistoryRecord, MAX_HISTORY_PAGE_RECORDS, queryHistory } from '@securechat/sdk/history'
import type { DirectMessage, DmDelivered, DmHistoryGap, DmHistoryProgress } from '@securechat/sdk/types'
import { memoryVaultBackend, type VaultBackend } from '@securechat/sdk/vault'
import { type HDNodeWallet, Wallet } from 'ethers'
import { afterEach, describe, expect, it } from 'vitest'
import { type BulkSender, bulkSender } from './helpers/bulk-sender.ts'
import { startDevice } from './helpers/device.ts'
import { dropOnArrival } from './helpers/drop-gossip.ts'
import { LossyLink } from './helpers/lossy-link.ts'
import { startLyingStore } from './helpers/lying-store.ts'
import { startStoreRelay } from './helpers/stoppers.ts'

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

interface Device {
  client: SecureChatClient
  received: DirectMessage[]
  /** Resolves with the first catch-up's final progress. */
  caughtUp: Promise<DmHistoryProgress>
  close: () => Promise<void>
}

/** A started client whose DMs run; its messages and first catch-up are recorded from the start. */
async function device(
  wallet: HDNodeWallet,
  bootstrap: string[],
  backend?: VaultBackend,
  publishPacing?: ClientInit['publishPacing'],
): Promise<Device> {
  const { client, close } = await startDevice({
    wallet,
    bootstrap,
    ...(backend === undefined ? {} : { backend }),
    ...(publishPacing === undefined ? {} : { publishPacing }),
  })
  cleanups.push(close)
  const received: DirectMessage[] = []
  // Listeners go on before anything is fetched: the getter starts the DM layer, its catch-up runs later.
  const dms = client.dms
  dms.addEventListener('message:received', (event) => received.push(event.detail))
  const caughtUp = new Promise<DmHistoryProgress>((resolve) => {
    const listener = (event: CustomEvent<DmHistoryProgress>): void => {
      if (!event.detail.done) return
      dms.removeEventListener('history:progress', listener)
      resolve(event.detail)
    }
    dms.addEventListener('history:progress', listener)
  })
  await dms.ready()
  return { client, received, caughtUp, close }
}

/** `bulk`: one device may send that many records in a loop ({@link bulkSender}). */
async function storeRelay(bulk?: BulkSender): Promise<string> {
  const relay = await startStoreRelay(cleanups, bulk === undefined ? {} : { recordRates: bulk.recordRates })
  return relay.multiaddrs[0] as string
}

/** Resolves once every id in `ids` was reported delivered by `peerId`. */
function deliveredAll(client: SecureChatClient, peerId: string, ids: string[]): Promise<void> {
  const missing = new Set(ids)
  return new Promise((resolve) => {
    const listener = (event: CustomEvent<DmDelivered>): void => {
      if (event.detail.peerId === peerId) missing.delete(event.detail.id)
      if (missing.size > 0) return
      client.dms.removeEventListener('message:delivered', listener)
      resolve()
    }
    client.dms.addEventListener('message:delivered', listener)
  })
}

function nextDm(client: SecureChatClient, text: string): Promise<DirectMessage> {
  return new Promise((resolve) => {
    const listener = (event: CustomEvent<DirectMessage>): void => {
      if (event.detail.text !== text) return
      client.dms.removeEventListener('message:received', listener)
      resolve(event.detail)
    }
    client.dms.addEventListener('message:received', listener)
  })
}

/** How many records of `topic` the store at `relay` holds from `client`'s device. */
async function storedCount(client: SecureChatClient, relay: string, topic: string): Promise<number> {
  const from = client.peerId.toString()
  let count = 0
  let cursor: string | undefined
  do {
    const page = await queryHistory(client.libp2p, multiaddr(relay), {
      topic,
      range: { by: 'time' },
      limit: MAX_HISTORY_PAGE_RECORDS,
      ...(cursor === undefined ? {} : { cursor }),
    })
    count += page.records.filter(({ record }) => record.from === from).length
    cursor = page.cursor
  } while (cursor !== undefined)
  return count
}

async function until(condition: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

describe('direct messages while offline', () => {
  it('behavior: a device away while 1,000 DMs are sent gets all of them on return, in order, once; the sender sees delivered', async () => {
    // Alice sends as an import does (at the defaults, 10 a second, it would take minutes).
    const count = 1_000
    const bulk = bulkSender(count)
    const relay = await storeRelay(bulk)
    const alice = await device(Wallet.createRandom(), [relay], undefined, bulk.publishPacing)
    const bobWallet = Wallet.createRandom()
    const bobVault = memoryVaultBackend()
    const bob = await device(bobWallet, [relay], bobVault)
    const conversation = alice.client.dm(bob.client.address)
    const hello = nextDm(bob.client, 'hello')
    const established = new Promise((resolve) =>
      alice.client.dms.addEventListener('session:established', resolve, { once: true }),
    )
    const first = await conversation.send('hello')
    await Promise.all([hello, established])
    const bobPeer = bob.client.peerId.toString()
    await deliveredAll(alice.client, bobPeer, [first.id])
    expect(alice.client.dms.status(first.id)).toEqual([
      { address: bob.client.address, peerId: bobPeer, status: 'delivered' },
    ])
    await bob.close()

    const sent: string[] = []
    for (let i = 0; i < 1_000; i += 1) {
      const result = await conversation.send(`while away ${i}`)
      expect(result.delivery).toMatchObject([{ peerId: bobPeer, status: 'sent', handshake: false }])
      sent.push(result.id)
    }
    expect(alice.client.dms.status(sent[999]!)).toEqual([
      { address: bob.client.address, peerId: bobPeer, status: 'sent' },
    ])

    // Bob returns once the relay has taken them all (its validation and store may lag Alice's sending).
    const pair = alice.client.libp2p.services.pubsub.getTopics().find((t) => t.startsWith(DM_TOPIC_PREFIX))!
    await until(
      async () => (await storedCount(alice.client, relay, pair)) >= 1_000,
      'the relay keeps all 1,000',
      60_000,
    )
    const delivered = deliveredAll(alice.client, bobPeer, sent)
    const startedMs = Date.now()
    const bobAgain = await device(bobWallet, [relay], bobVault)
    const progress = await bobAgain.caughtUp
    const catchUpMs = Date.now() - startedMs
    expect(bobAgain.received.map((m) => m.id)).toEqual(sent)
    expect(bobAgain.received.map((m) => m.text)).toEqual(sent.map((_, i) => `while away ${i}`))
    expect(progress).toMatchObject({ relays: 1, fetched: 1_000, delivered: 1_000, undecryptable: 0, rejected: 0 })
    await delivered
    expect(alice.client.dms.status(sent[999]!)).toEqual([
      { address: bob.client.address, peerId: bobPeer, status: 'delivered' },
    ])
    console.info(`DM catch-up of 1,000 messages: ${catchUpMs} ms from start to done`)
    // Kept by the store, then answered: nothing waits; what was re-published is the relay storing late.
    const outgoing = alice.client.dms.outgoing
    expect(outgoing).toMatchObject({ sent: 1_001, pending: 0, unacknowledged: 0 })
    console.info(`DM re-publishes for 1,000 messages to a device away: ${outgoing.republished}`)

    // Asked again (a relay reconnects) and after a restart: nothing is delivered twice.
    const again = new Promise<DmHistoryProgress>((resolve) =>
      bobAgain.client.dms.addEventListener('history:progress', (event) => {
        if (event.detail.done) resolve(event.detail)
      }),
    )
    bobAgain.client.dms.catchUpSoon()
    expect(await again).toMatchObject({ delivered: 0, undecryptable: 0 })
    const live = nextDm(bobAgain.client, 'back online')
    await conversation.send('back online')
    await live
    await bobAgain.close()
    const bobThird = await device(bobWallet, [relay], bobVault)
    expect(await bobThird.caughtUp).toMatchObject({ delivered: 0, undecryptable: 0 })
    expect(bobThird.received).toEqual([])
    expect(bobAgain.received).toHaveLength(1_001)
  }, 180_000)

  it('behavior: a first contact to a device that is offline (no session yet) is delivered when it returns', async () => {
    const relay = await storeRelay()
    const bobWallet = Wallet.createRandom()
    const bobVault = memoryVaultBackend()
    // Bob's device announces itself once (the relay keeps its latest announcement), then goes away.
    const bob = await device(bobWallet, [relay], bobVault)
    const bobPeer = bob.client.peerId.toString()
    await bob.caughtUp
    const inbox = { topic: inboxTopic(bobWallet.address), range: { by: 'time' as const }, types: ['device'] }
    await until(
      async () => (await queryHistory(bob.client.libp2p, multiaddr(relay), inbox)).records.length > 0,
      "the relay keeps Bob's announcement",
    )
    await bob.close()

    const alice = await device(Wallet.createRandom(), [relay])
    const conversation = alice.client.dm(bobWallet.address)
    const sent: string[] = []
    for (let i = 0; i < 20; i += 1) {
      const result = await conversation.send(`first contact ${i}`)
      expect(result.delivery).toMatchObject([{ peerId: bobPeer, status: 'sent', handshake: true }])
      sent.push(result.id)
    }
    await until(async () => (await storedCount(alice.client, relay, inbox.topic)) >= 20, 'the relay keeps all 20')
    const delivered = deliveredAll(alice.client, bobPeer, sent)
    const established = new Promise((resolve) =>
      alice.client.dms.addEventListener('session:established', resolve, { once: true }),
    )
    const bobAgain = await device(bobWallet, [relay], bobVault)
    await bobAgain.caughtUp
    expect(bobAgain.received.map((m) => m.text)).toEqual(sent.map((_, i) => `first contact ${i}`))
    expect(bobAgain.received[0]).toMatchObject({ handshake: true, conversation: alice.client.address })
    await Promise.all([delivered, established])
    // The session is established: the next message goes on the pair topic, live.
    const next = nextDm(bobAgain.client, 'now we talk')
    const result = await conversation.send('now we talk')
    expect(result.delivery).toMatchObject([{ peerId: bobPeer, handshake: false }])
    await next
  }, 120_000)
})

describe('direct messages from a store that lies', () => {
  it('error: an altered or invented record is rejected, an omitted one stays missing, a duplicate shows once', async () => {
    const relay = await storeRelay()
    const alice = await device(Wallet.createRandom(), [relay])
    const bobWallet = Wallet.createRandom()
    const bobVault = memoryVaultBackend()
    const bob = await device(bobWallet, [relay], bobVault)
    const conversation = alice.client.dm(bob.client.address)
    const hello = nextDm(bob.client, 'hello')
    const established = new Promise((resolve) =>
      alice.client.dms.addEventListener('session:established', resolve, { once: true }),
    )
    await conversation.send('hello')
    await Promise.all([hello, established])
    await bob.close()
    const sent: string[] = []
    for (let i = 0; i < 8; i += 1) sent.push((await conversation.send(`while away ${i}`)).id)

    // The liar answers from the relay's store, with one record left out, one altered, one invented and one
    // sent twice. It tells them apart by their ratchet header: DM ids are inside the ciphertext.
    const lies = { omitted: 2, altered: 4, invented: 6, doubled: 7 }
    const alicePeer = alice.client.peerId.toString()
    const liar = await startLyingStore(relay, (record) => {
      // "while away i" is message i of Alice's sending chain after Bob's answer.
      const i = messageNumber(record, alicePeer)
      if (i === lies.omitted) return 'omit'
      if (i === lies.altered) return 'alter'
      if (i === lies.invented) return 'invent'
      return i === lies.doubled ? 'double' : undefined
    })
    cleanups.push(liar.stop)
    const expected = sent.map((_, i) => i).filter((i) => i !== lies.omitted && i !== lies.altered)
    const bobAgain = await device(bobWallet, [liar.address], bobVault)
    const progress = await bobAgain.caughtUp
    expect(bobAgain.received.map((m) => m.text)).toEqual(expected.map((i) => `while away ${i}`))
    // The altered record (id mismatch) and the invented one (bad signature); nothing undecryptable.
    expect(progress).toMatchObject({ relays: 1, delivered: expected.length, undecryptable: 0, rejected: 2, done: true })
  }, 60_000)
})

/** The message number of a ratchet message from `from` in a stored `msg` record; -1 for anything else. */
function messageNumber(record: HistoryRecord, from: string): number {
  const decoded = decodeDmRecord(record.data)
  if (record.from !== from || decoded.status !== 'ok' || decoded.record.type !== 'msg') return -1
  return parseRatchetMessage(new Uint8Array(Buffer.from(decoded.record.ct, 'base64url'))).header.n
}

/** A path to the relay at `relay` that a test can cut: a TCP proxy, and the address to bootstrap through it. */
async function cuttableLink(relay: string): Promise<{ link: LossyLink; address: string; relayPeer: string }> {
  const [, , , , port, , relayPeer] = relay.split('/')
  const link = new LossyLink({ host: '127.0.0.1', port: Number(port) })
  await link.start()
  cleanups.push(() => link.stop())
  return { link, address: `/ip4/127.0.0.1/tcp/${link.port}/p2p/${relayPeer}`, relayPeer: relayPeer! }
}

/** Cuts `link` (its connections reset, new ones held) and resolves once `client` no longer has the relay. */
async function cut(link: LossyLink, client: SecureChatClient, relayPeer: string): Promise<void> {
  link.partition()
  link.reset()
  await until(async () => client.libp2p.getConnections().every((c) => c.remotePeer.toString() !== relayPeer), 'cut')
}

/** Alice and Bob with a session (Bob answered), Alice reaching the only relay through `via`. */
async function talking(relay: string, via: string, aliceVault?: VaultBackend) {
  const aliceWallet = Wallet.createRandom()
  const alice = await device(aliceWallet, [via], aliceVault)
  const bob = await device(Wallet.createRandom(), [relay])
  const conversation = alice.client.dm(bob.client.address)
  const hello = nextDm(bob.client, 'hello')
  const established = new Promise((resolve) =>
    alice.client.dms.addEventListener('session:established', resolve, { once: true }),
  )
  await conversation.send('hello')
  await Promise.all([hello, established])
  return { alice, aliceWallet, bob, bobPeer: bob.client.peerId.toString(), conversation }
}

describe('direct messages no store kept', () => {
  it("behavior: a DM sent while the sender's link to the only relay is cut is re-sent when it is back, read once, and ends delivered", async () => {
    const relay = await storeRelay()
    const { link, address, relayPeer } = await cuttableLink(relay)
    const { alice, bob, bobPeer, conversation } = await talking(relay, address)
    await cut(link, alice.client, relayPeer)

    const result = await conversation.send('while cut')
    expect(result.delivery).toMatchObject([{ peerId: bobPeer, status: 'sent', handshake: false, recipients: 0 }])
    const [{ record }] = result.delivery as Array<{ record: Uint8Array }>
    const pair = alice.client.libp2p.services.pubsub.getTopics().find((t) => t.startsWith(DM_TOPIC_PREFIX))!
    const kept = await fetchHistory(bob.client.libp2p, multiaddr(relay), { topic: pair, ids: [dmRecordId(record!)] })
    expect(kept.records).toEqual([])
    expect(alice.client.dms.status(result.id)).toEqual([
      { address: bob.client.address, peerId: bobPeer, status: 'sent' },
    ])

    const delivered = deliveredAll(alice.client, bobPeer, [result.id])
    const healedMs = Date.now()
    link.heal()
    await delivered
    console.info(`a DM no store kept: delivered ${Date.now() - healedMs} ms after the link came back`)
    expect(alice.client.dms.status(result.id)).toEqual([
      { address: bob.client.address, peerId: bobPeer, status: 'delivered' },
    ])
    expect(bob.received.map((m) => m.text)).toEqual(['hello', 'while cut'])
    expect(alice.client.dms.outgoing).toMatchObject({ sent: 2, pending: 0 })
    expect(alice.client.dms.outgoing.republished).toBeGreaterThan(0)

    // Another copy of the same record (a re-send whose receipt crossed it) is dropped by id; the session goes on.
    const undecryptable: unknown[] = []
    bob.client.dms.addEventListener('message:undecryptable', (event) => undecryptable.push(event.detail))
    await alice.client.libp2p.services.pubsub.publish(pair, record!)
    const after = nextDm(bob.client, 'after')
    await conversation.send('after')
    await after
    expect(bob.received.map((m) => m.text)).toEqual(['hello', 'while cut', 'after'])
    expect(undecryptable).toEqual([])
  }, 60_000)

  it('behavior: a DM no store kept and no receipt answered is re-sent after the sender restarts (its vault keeps it)', async () => {
    const relay = await storeRelay()
    const { link, address, relayPeer } = await cuttableLink(relay)
    const aliceVault = memoryVaultBackend()
    const { alice, aliceWallet, bob, bobPeer, conversation } = await talking(relay, address, aliceVault)
    await cut(link, alice.client, relayPeer)
    const result = await conversation.send('before the restart')
    expect(result.delivery).toMatchObject([{ peerId: bobPeer, status: 'sent', recipients: 0 }])
    await alice.close()

    link.heal()
    const aliceAgain = await device(aliceWallet, [address], aliceVault)
    // Restored from the vault: still waiting on Bob's device.
    expect(aliceAgain.client.dms.status(result.id)).toEqual([
      { address: bob.client.address, peerId: bobPeer, status: 'sent' },
    ])
    await deliveredAll(aliceAgain.client, bobPeer, [result.id])
    expect(aliceAgain.client.dms.status(result.id)).toEqual([
      { address: bob.client.address, peerId: bobPeer, status: 'delivered' },
    ])
    expect(bob.received.map((m) => m.text)).toEqual(['hello', 'before the restart'])
  }, 60_000)
})

describe('DM gap repair', () => {
  it('behavior: a DM dropped on its way to the reader is shown as a gap, filled from the store, and read once', async () => {
    const relay = await storeRelay()
    const { alice, bob, conversation } = await talking(relay, relay)
    const bobPair = bob.client.libp2p.services.pubsub.getTopics().find((t) => t.startsWith(DM_TOPIC_PREFIX))!
    // The network loses the next record Alice sends Bob (the relay has kept it).
    const alicePeer = alice.client.peerId
    let dropped = 0
    dropOnArrival(bob.client.libp2p.services.pubsub, bobPair, (m) => {
      if (dropped > 0 || m.type !== 'signed' || !m.from.equals(alicePeer)) return false
      dropped += 1
      return true
    })
    const gaps: DmHistoryGap[] = []
    bob.client.dms.addEventListener('history:gap', (event) => gaps.push(event.detail))
    const inConversation: DmHistoryGap[] = []
    bob.client.dm(alice.client.address).addEventListener('history:gap', (event) => inConversation.push(event.detail))

    const lost = await conversation.send('lost on the way')
    const lostDelivered = deliveredAll(alice.client, bob.client.peerId.toString(), [lost.id])
    const repaired = nextDm(bob.client, 'lost on the way')
    const named = await conversation.send('this one names it')
    await repaired
    expect(dropped).toBe(1)
    const id = dmRecordId((lost.delivery[0] as { record: Uint8Array }).record)
    // `before`: the message that named it (its id inside the record, where a list shows the gap).
    const gap = { sender: alice.client.address, senderPeerId: alicePeer.toString(), id, before: named.id }
    expect(gaps).toEqual([
      { ...gap, state: 'missing' },
      { ...gap, state: 'filled' },
    ])
    expect(inConversation).toEqual(gaps)
    // Live first, the repaired one when it came; each once; and Alice sees both delivered.
    expect(bob.received.map((m) => m.text)).toEqual(['hello', 'this one names it', 'lost on the way'])
    // ...and the late one says where it belongs: before the message that named it.
    expect(bob.received.map((m) => m.before)).toEqual([undefined, undefined, named.id])
    await lostDelivered
    // The store had it all along: the sender published nothing twice.
    expect(alice.client.dms.outgoing).toEqual({ sent: 3, pending: 0, republished: 0, unacknowledged: 0 })
  }, 60_000)
})
