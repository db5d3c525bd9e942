/**
 * The message store inside a real `securechat relay` process: what members said in a room
 * passes through the relay, survives the relay's restart, and is served over
 * `/securechat/store/1.0.0` to a plain libp2p node, which re-verifies every record and parses it
 * as a room record.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createClient, createSecureChatLibp2p, type SecureChatClient } from '@securechat/sdk/client'
import { queryHistory } from '@securechat/sdk/history'
import { walletSigner } from '@securechat/sdk/identity'
import { decodeRecord, messageIdOf, roomTopic } from '@securechat/sdk/rooms'
import type { RoomMessage } from '@securechat/sdk/types'
import { Wallet } from 'ethers'
import { afterEach, describe, expect, it } from 'vitest'
import { DEFAULT_CLI_DOMAIN, DEVNET_CHAIN_ID } from '../node/src/constants.ts'
import { type RelayProcess, startRelayProcess, tempDir } from './helpers/cli.ts'

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
  const client = createClient({
    domain: DEFAULT_CLI_DOMAIN,
    chainId: DEVNET_CHAIN_ID,
    signer: walletSigner({ type: 'eoa', signer: new Wallet(Wallet.createRandom().privateKey) }),
    bootstrap: [bootstrap],
    presenceIntervalMs: 1_000,
  })
  await client.start()
  cleanups.push(() => client.stop())
  return client
}

describe('relay process with a message store', () => {
  it('behavior: room records survive a relay restart and are served, re-verified, to a libp2p client', async () => {
    const dataDir = await tempDir('store-relay-')
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
