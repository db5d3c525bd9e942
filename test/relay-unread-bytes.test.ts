/**
 * A neighbour that keeps its connection but reads none of its gossip (`node/src/relay/unread-bytes.ts`): the relay
 * holds a bounded amount for it, then aborts its connection and says why, while a member that reads gets everything.
 */
import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import {
  drainRecords,
  enterRoom,
  type LightClient,
  messageRecord,
  newWalletSigner,
  presenceRecord,
  publicRoom,
  startLightClient,
} from '../bench/light-client.ts'
import { until } from './helpers/room-inbox.ts'
import { lightClients, startRelay, stopAfterEach, tcpAddressOf } from './helpers/stoppers.ts'

const MAX_UNREAD_BYTES = 512 * 1024
/** Records of about 48 KiB: 40 of them (1.9 MiB) are far past the bound and the stream's 256 KiB muxer window. */
const RECORDS = 40
const CIPHERTEXT_BYTES = 36 * 1024
const STEP_TIMEOUT_MS = 30_000

const stoppers = stopAfterEach()

describe('a neighbour that does not read its gossip', () => {
  it('security: the relay holds a bounded amount for it, then cuts it and counts why; a member that reads gets every record', async () => {
    const relay = await startRelay(stoppers, { limits: { maxUnreadBytesPerPeer: MAX_UNREAD_BYTES } })
    const clients = lightClients(stoppers)
    const address = tcpAddressOf(relay)
    const signer = newWalletSigner()
    const start = (): Promise<LightClient> => startLightClient({ relay: address, signer, timeoutMs: STEP_TIMEOUT_MS })
    const sender = await start()
    const reader = await start()
    const stalled = await start()
    clients.push(sender, reader, stalled)
    const { manifest, roomId } = await publicRoom('unread', signer)
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
    // Announced again on each of the relay's heartbeats until it took one (the first may beat its subscription).
    const heartbeat: [EventTarget, string] = [pubsub, 'gossipsub:heartbeat']
    await until(
      [heartbeat],
      () => {
        if (!accepted) void sender.libp2p.services.pubsub.publish(topic, presenceRecord(sender)).catch(() => undefined)
        return (
          accepted &&
          [reader, stalled].every((c) => pubsub.getSubscribers(topic).some((p) => p.toString() === c.peerId))
        )
      },
      () => `presence taken: ${accepted}, subscribers: ${pubsub.getSubscribers(topic).length}`,
      STEP_TIMEOUT_MS,
    )

    // The stalled member stops reading the relay's gossip stream: its muxer sends no more window updates.
    const inbound = (
      stalled.libp2p.services.pubsub as unknown as { streamsInbound: Map<string, { rawStream: { pause(): void } }> }
    ).streamsInbound
    await until(
      [heartbeat],
      () => inbound.has(relay.peerId),
      () => 'no gossip stream from the relay yet',
      STEP_TIMEOUT_MS,
    )
    inbound.get(relay.peerId)!.rawStream.pause()

    for (let lamport = 1; lamport <= RECORDS; lamport++) {
      const ciphertext = randomBytes(CIPHERTEXT_BYTES).toString('base64url')
      await sender.libp2p.services.pubsub.publish(topic, messageRecord(roomId, lamport, ciphertext))
    }

    // Cut, and said why; the member that reads has every record.
    const relayPeer = stalled.libp2p.getConnections().find((c) => c.remotePeer.toString() === relay.peerId)?.remotePeer
    await until(
      [heartbeat],
      () => relay.limits.refusals.counts()['unread-bytes'] === 1,
      () => `refusals: ${JSON.stringify(relay.limits.refusals.counts()['unread-bytes'])}`,
      STEP_TIMEOUT_MS,
    )
    await until(
      [heartbeat, [stalled.libp2p, 'connection:close']],
      () => relayPeer === undefined || stalled.libp2p.getConnections(relayPeer).length === 0,
      () => 'the stalled member is still connected',
      STEP_TIMEOUT_MS,
    )
    expect(relay.libp2p.getConnections().map((c) => c.remotePeer.toString())).not.toContain(stalled.peerId)
    await until(
      [heartbeat],
      () => received.size === RECORDS,
      () => `the reader has ${received.size} of ${RECORDS}`,
      STEP_TIMEOUT_MS,
    )
    expect(relay.libp2p.getConnections().map((c) => c.remotePeer.toString())).toContain(reader.peerId)
  }, 120_000)
})
