/**
 * A neighbour that keeps its connection but reads none of its gossip (`node/src/relay/unread-bytes.ts`): the relay
 * holds a bounded amount for it, then aborts its connection and says why, while a member that reads gets everything.
 */
import { randomBytes } from 'node:crypto'
import { WIRE_VERSION } from '@securechat/sdk/constants'
import { walletSigner } from '@securechat/sdk/identity'
import { createManifest, encodeRecord, roomIdOf } from '@securechat/sdk/rooms'
import { Wallet } from 'ethers'
import { describe, expect, it } from 'vitest'
import { drainRecords, enterRoom, type LightClient, presenceRecord, startLightClient } from '../bench/light-client.ts'
import { DEFAULT_CLI_DOMAIN, DEVNET_CHAIN_ID } from '../node/src/constants.ts'
import { lightClients, startRelay, stopAfterEach, tcpAddressOf } from './helpers/stoppers.ts'

const MAX_UNREAD_BYTES = 512 * 1024
/** Records of about 48 KiB: 40 of them (1.9 MiB) are far past the bound and the stream's 256 KiB muxer window. */
const RECORDS = 40
const CIPHERTEXT_BYTES = 36 * 1024
const STEP_TIMEOUT_MS = 30_000

const stoppers = stopAfterEach()

async function eventually(check: () => boolean, what: () => string, timeoutMs = STEP_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what()}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

describe('a neighbour that does not read its gossip', () => {
  it('security: the relay holds a bounded amount for it, then cuts it and counts why; a member that reads gets every record', async () => {
    const relay = await startRelay(stoppers, { limits: { maxUnreadBytesPerPeer: MAX_UNREAD_BYTES } })
    const clients = lightClients(stoppers)
    const address = tcpAddressOf(relay)
    const signer = walletSigner({ type: 'eoa', signer: Wallet.createRandom() })
    const start = (): Promise<LightClient> => startLightClient({ relay: address, signer, timeoutMs: STEP_TIMEOUT_MS })
    const sender = await start()
    const reader = await start()
    const stalled = await start()
    clients.push(sender, reader, stalled)
    const manifest = await createManifest({
      signer,
      name: 'unread',
      domains: [DEFAULT_CLI_DOMAIN],
      chainIds: [DEVNET_CHAIN_ID],
    })
    const roomId = roomIdOf(manifest.manifest)
    let topic = ''
    for (const client of [sender, reader, stalled]) topic = enterRoom(client, manifest, roomId)
    const received = new Set<string>()
    drainRecords(reader, (data) => {
      const record = JSON.parse(Buffer.from(data).toString()) as { type: string; lamport?: number }
      if (record.type === 'message') received.add(String(record.lamport))
    })

    // The relay takes the sender's presence (it forwards a member's records only), and has a stream to each member.
    let accepted = false
    relay.addEventListener('record:accepted', (event) => {
      if (event.detail.record.from === sender.peerId) accepted = true
    })
    const pubsub = relay.libp2p.services.pubsub
    await eventually(
      () => {
        if (!accepted) void sender.libp2p.services.pubsub.publish(topic, presenceRecord(sender)).catch(() => undefined)
        return (
          accepted &&
          [reader, stalled].every((c) => pubsub.getSubscribers(topic).some((p) => p.toString() === c.peerId))
        )
      },
      () => `presence taken: ${accepted}, subscribers: ${pubsub.getSubscribers(topic).length}`,
    )

    // The stalled member stops reading the relay's gossip stream: its muxer sends no more window updates.
    const inbound = (
      stalled.libp2p.services.pubsub as unknown as { streamsInbound: Map<string, { rawStream: { pause(): void } }> }
    ).streamsInbound
    await eventually(
      () => inbound.has(relay.peerId),
      () => 'no gossip stream from the relay yet',
    )
    inbound.get(relay.peerId)!.rawStream.pause()

    for (let lamport = 1; lamport <= RECORDS; lamport++) {
      const record = encodeRecord({
        v: WIRE_VERSION,
        type: 'message',
        room: roomId,
        lamport,
        deps: [],
        sentAtMs: Date.now(),
        payload: { enc: 'sender-key', ct: randomBytes(CIPHERTEXT_BYTES).toString('base64url') },
      })
      await sender.libp2p.services.pubsub.publish(topic, record)
    }

    // Cut, and said why; the member that reads has every record.
    const relayPeer = stalled.libp2p.getConnections().find((c) => c.remotePeer.toString() === relay.peerId)?.remotePeer
    await eventually(
      () => relay.limits.refusals.counts()['unread-bytes'] === 1,
      () => `refusals: ${JSON.stringify(relay.limits.refusals.counts()['unread-bytes'])}`,
    )
    await eventually(
      () => relayPeer === undefined || stalled.libp2p.getConnections(relayPeer).length === 0,
      () => 'the stalled member is still connected',
    )
    expect(relay.libp2p.getConnections().map((c) => c.remotePeer.toString())).not.toContain(stalled.peerId)
    await eventually(
      () => received.size === RECORDS,
      () => `the reader has ${received.size} of ${RECORDS}`,
    )
    expect(relay.libp2p.getConnections().map((c) => c.remotePeer.toString())).toContain(reader.peerId)
  }, 120_000)
})
