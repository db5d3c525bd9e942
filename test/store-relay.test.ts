/**
 * The message store inside a real relay: what members said in a room or a DM passes through
 * the relay, survives the relay process's restart, and is served over `/securechat/store/1.0.0`
 * to a plain libp2p node, which re-verifies every record.
 */
import { rm } from 'node:fs/promises'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createSecureChatLibp2p, type SecureChatClient } from '@securechat/sdk/client'
import { queryHistory } from '@securechat/sdk/history'
import { decodeRecord, messageIdOf, roomTopic } from '@securechat/sdk/rooms'
import type { RoomMessage } from '@securechat/sdk/types'
import { Wallet } from 'ethers'
import { afterEach, describe, expect, it } from 'vitest'
import { type RelayProcess, startRelayProcess, tempDir } from './helpers/cli.ts'
import { startDevice } from './helpers/device.ts'
import { startStoreRelay } from './helpers/stoppers.ts'

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function stopProcess(relay: RelayProcess): Promise<void> {
  if (relay.child.exitCode !== null) return
  relay.kill('SIGTERM')
  await relay.exited
}

async function member(bootstrap: string): Promise<SecureChatClient> {
  const { client, close } = await startDevice({
    wallet: Wallet.createRandom(),
    bootstrap: [bootstrap],
    presenceIntervalMs: 1_000,
  })
  cleanups.push(close)
  return client
}

describe('relay process with a message store', () => {
  it('behavior: room records survive a relay restart and are served, re-verified, to a libp2p client', async () => {
    const dataDir = await tempDir('store-relay-')
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }))
    const first = await startRelayProcess({ dataDir })
    cleanups.push(() => stopProcess(first))
    const address = first.multiaddrs[0] as string

    const alice = await member(address)
    const bob = await member(address)
    const alicePeer = alice.peerId.toString()
    const { room, invite } = await alice.createRoom({ name: 'kept' })
    const bobRoom = await bob.joinRoom(invite)
    await Promise.all([room.waitForPeers(), bobRoom.waitForPeers()])
    const count = 5
    const received: RoomMessage[] = []
    const allReceived = new Promise<void>((resolve) => {
      bobRoom.addEventListener('message:received', (event) => {
        received.push(event.detail)
        if (received.length === count) resolve()
      })
    })
    const sentIds: string[] = []
    for (let i = 0; i < count; i++) {
      const result = await room.send(`kept message ${i}`)
      sentIds.push(messageIdOf(result.record))
    }
    // Bob is reached only through the relay: once he has them all, the relay accepted them all.
    await allReceived
    await bob.stop()
    await alice.stop()
    // A graceful stop writes what is queued.
    await stopProcess(first)

    const second = await startRelayProcess({ dataDir })
    cleanups.push(() => stopProcess(second))
    expect(second.peerId).toBe(first.peerId)
    const reader = await createSecureChatLibp2p({
      privateKey: await generateKeyPair('Ed25519'),
      listen: [],
      transports: [tcp()],
    })
    cleanups.push(async () => {
      await reader.stop()
    })
    const served = multiaddr(second.multiaddrs[0] as string)
    const page = await queryHistory(reader, served, {
      topic: roomTopic(room.id),
      range: { by: 'lamport' },
      types: ['message'],
    })
    expect(page.rejected).toEqual([])
    expect(page.records.map(({ record }) => record.id)).toEqual(sentIds)
    for (const { message } of page.records) {
      const decoded = decodeRecord(message.data)
      expect(decoded).toMatchObject({ status: 'ok', record: { type: 'message', room: room.id } })
      expect(message.from.toString()).toBe(alicePeer)
    }
    // Sender keys are history too, and presence is kept as each device's latest.
    const others = await queryHistory(reader, served, {
      topic: roomTopic(room.id),
      range: { by: 'time' },
      types: ['keys', 'presence'],
    })
    expect(others.rejected).toEqual([])
    const types = others.records.map(({ record }) => record.type)
    expect(types).toContain('keys')
    expect(types.filter((t) => t === 'presence').length).toBeLessThanOrEqual(2)
  })
})

describe('relay component with a message store', () => {
  it('behavior: DM session inits and messages are kept and served on their topics; inbox queries are not', async () => {
    const relay = await startStoreRelay(cleanups)
    const kept = new Map<string, string>()
    relay.node.addEventListener('dm-record:accepted', (event) => {
      kept.set(messageIdOf(event.detail.message.data), event.detail.record.type)
    })
    const address = relay.multiaddrs[0] as string
    const alice = await member(address)
    const bob = await member(address)
    await Promise.all([alice.dms.ready(), bob.dms.ready()])
    const texts = ['first, with the handshake', 'second']
    const received = new Promise<void>((resolve) => {
      let n = 0
      bob.dms.addEventListener('message:received', () => {
        n += 1
        if (n === texts.length) resolve()
      })
    })
    for (const text of texts) await alice.dm(bob.address).send(text)
    await received

    const reader = await createSecureChatLibp2p({
      privateKey: await generateKeyPair('Ed25519'),
      listen: [],
      transports: [tcp()],
    })
    cleanups.push(async () => {
      await reader.stop()
    })
    const served = multiaddr(address)
    // Every DM topic a session record travelled on, read back from the store.
    const sessionIds = [...kept].filter(([, type]) => type === 'init' || type === 'msg').map(([id]) => id)
    expect(sessionIds.length).toBeGreaterThanOrEqual(texts.length)
    const topics = new Set<string>()
    relay.node.libp2p.services.pubsub.getTopics().forEach((topic) => {
      topics.add(topic)
    })
    const found: string[] = []
    for (const topic of topics) {
      const page = await queryHistory(reader, served, { topic, range: { by: 'time' } })
      expect(page.rejected).toEqual([])
      for (const { record } of page.records) {
        found.push(record.id)
        expect(['init', 'msg', 'device', 'message', 'keys', 'presence']).toContain(record.type)
        expect(record.type).not.toBe('query')
      }
    }
    for (const id of sessionIds) expect(found).toContain(id)
    const metrics = relay.metrics().map((metric) => metric.name)
    expect(metrics).toEqual(
      expect.arrayContaining([
        'securechat_store_records',
        'securechat_store_bytes',
        'securechat_store_query_seconds_total',
      ]),
    )
  })
})
