import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Message } from '@libp2p/gossipsub'
import { multiaddr } from '@multiformats/multiaddr'
import { createSecureChatLibp2p, type SecureChatLibp2p } from '@securechat/sdk/client'
import { SENDER_KEY_ROTATION_MESSAGES } from '@securechat/sdk/crypto'
import { roomTopic } from '@securechat/sdk/rooms'
import type { RoomMessage } from '@securechat/sdk/types'
import { describe, expect, it } from 'vitest'
import { startClient } from './helpers/device.ts'
import { startRelay, stopAfterEach } from './helpers/stoppers.ts'

interface WireRecord {
  type: string
  from: string
  epoch?: number
  to?: Array<{ peer: string }>
  payload?: { ct: string }
}

/** The epoch of a sender-key ciphertext: version byte, then epoch as a big-endian u32. */
function senderKeyEpoch(ct: string): number {
  const bytes = Buffer.from(ct, 'base64url')
  return bytes.readUInt32BE(1)
}

const stoppers = stopAfterEach()

function nextMessage(target: EventTarget, text: string): Promise<RoomMessage> {
  return new Promise((resolve) => {
    const listener = (event: Event): void => {
      const detail = (event as CustomEvent<RoomMessage>).detail
      if (detail.text === text) {
        target.removeEventListener('message:received', listener)
        resolve(detail)
      }
    }
    target.addEventListener('message:received', listener)
  })
}

describe('end-to-end encryption of rooms', () => {
  it('behavior: a subscriber that is not a member, and the relay, see only ciphertext', async () => {
    const relay = await startRelay(stoppers)
    const address = relay.multiaddrs[0]!
    const seenByRelay: Uint8Array[] = []
    relay.libp2p.services.pubsub.addEventListener('message', (event: CustomEvent<Message>) => {
      seenByRelay.push(event.detail.data)
    })
    const alice = await startClient(address, stoppers)
    const bob = await startClient(address, stoppers)
    const { room: aliceRoom, invite } = await alice.createRoom({ name: 'secret' })

    // An eavesdropper: a bare libp2p + gossipsub node with no certificate, on the room topic.
    const eavesdropper: SecureChatLibp2p = await createSecureChatLibp2p({
      privateKey: await generateKeyPair('Ed25519'),
    })
    stoppers.push(async () => eavesdropper.stop())
    const seenByEavesdropper: Uint8Array[] = []
    eavesdropper.services.pubsub.addEventListener('message', (event) => {
      seenByEavesdropper.push(event.detail.data)
    })
    eavesdropper.services.pubsub.subscribe(roomTopic(aliceRoom.id))
    await eavesdropper.dial(multiaddr(address))

    const bobRoom = await bob.joinRoom(invite)
    await Promise.all([aliceRoom.waitForPeers(), bobRoom.waitForPeers()])
    // No word a record carries by chance: '0000' once matched a random wallet address in a presence record.
    const secrets = ['the launch code is zebra', 'meet at the old mill at noon']
    const received = Promise.all([nextMessage(bobRoom, secrets[0]!), nextMessage(aliceRoom, secrets[1]!)])
    await aliceRoom.send(secrets[0]!)
    await bobRoom.send(secrets[1]!)
    const [atBob, atAlice] = await received
    expect(atBob.sender).toBe(alice.address)
    expect(atAlice.sender).toBe(bob.address)

    // Wait until the eavesdropper has the two message records, then look for any plaintext.
    const deadline = Date.now() + 10_000
    const messageRecords = (): number =>
      seenByEavesdropper.filter((d) => new TextDecoder().decode(d).includes('"type":"message"')).length
    while (messageRecords() < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
    expect(messageRecords()).toBeGreaterThanOrEqual(2)
    for (const secret of secrets) {
      // Whole secrets, and words of five letters or more: a short word or a number (4242) turns up by chance in
      // base64 and in timestamps (a record's `atMs` once ended in …794242).
      const needles = [secret, ...secret.split(' ').filter((w) => w.length >= 5 && !/^\d+$/.test(w))]
      for (const data of [...seenByEavesdropper, ...seenByRelay]) {
        const text = new TextDecoder().decode(data)
        for (const needle of needles) expect(text).not.toContain(needle)
        expect(Buffer.from(data).includes(Buffer.from(secret))).toBe(false)
      }
    }
  })

  it('behavior: a member who leaves cannot read what is sent after the others rotate', async () => {
    const relay = await startRelay(stoppers)
    const address = relay.multiaddrs[0]!
    const [alice, bob, carol] = await Promise.all([
      startClient(address, stoppers),
      startClient(address, stoppers),
      startClient(address, stoppers),
    ])
    const { room: aliceRoom, invite } = await alice.createRoom({ name: 'team' })
    // Bob's node records every record on the topic, tagged with its gossip sender.
    const bobWire: Uint8Array[] = []
    bob.libp2p.services.pubsub.addEventListener('message', (event) => {
      if (event.detail.type !== 'signed') return
      const record = JSON.parse(new TextDecoder().decode(event.detail.data)) as Record<string, unknown>
      bobWire.push(new TextEncoder().encode(JSON.stringify({ ...record, from: event.detail.from.toString() })))
    })
    const bobRoom = await bob.joinRoom(invite)
    const carolRoom = await carol.joinRoom(invite)
    await Promise.all([aliceRoom, bobRoom, carolRoom].map((r) => r.waitForPeers()))

    const before = Promise.all([nextMessage(bobRoom, 'all three'), nextMessage(carolRoom, 'all three')])
    await aliceRoom.send('all three')
    await before

    const left = new Promise((resolve) => aliceRoom.addEventListener('member:left', resolve, { once: true }))
    await carol.leaveRoom(carolRoom.id)
    await left
    // Reported once, as left for good: not away (an away member keeps its keys for its return; a gone one is rotated
    // out). Her unsubscribing is no departure notice that could overtake her leaving presence (`departures.ts`).
    expect(aliceRoom.away().map((m) => m.peerId)).not.toContain(carol.peerId.toString())

    const after = nextMessage(bobRoom, 'only bob and alice')
    await aliceRoom.send('only bob and alice')
    expect((await after).sender).toBe(alice.address)

    // What went over the topic, as Bob's node saw it: Alice's message after Carol left is under
    // a new epoch, and no key record of that epoch was sealed to Carol.
    const records = bobWire.map((d) => JSON.parse(new TextDecoder().decode(d)) as WireRecord)
    const fromAlice = (r: WireRecord): boolean => r.from === alice.peerId.toString()
    const lastMessage = records.filter((r) => r.type === 'message' && fromAlice(r)).at(-1)!
    const epochAfter = senderKeyEpoch(lastMessage.payload!.ct)
    const firstMessage = records.find((r) => r.type === 'message' && fromAlice(r))!
    expect(epochAfter).not.toBe(senderKeyEpoch(firstMessage.payload!.ct))
    const keysOfNewEpoch = records.filter((r) => r.type === 'keys' && fromAlice(r) && r.epoch === epochAfter)
    expect(keysOfNewEpoch.length).toBeGreaterThan(0)
    for (const record of keysOfNewEpoch) {
      expect(record.to!.some((entry) => entry.peer === carol.peerId.toString())).toBe(false)
      expect(record.to!.some((entry) => entry.peer === bob.peerId.toString())).toBe(true)
    }
  })
  it('behavior: periodic rotation loses nothing: every message past SENDER_KEY_ROTATION_MESSAGES decrypts', async () => {
    const relay = await startRelay(stoppers)
    const address = relay.multiaddrs[0]!
    const [alice, bob] = await Promise.all([startClient(address, stoppers), startClient(address, stoppers)])
    const { room: aliceRoom, invite } = await alice.createRoom({ name: 'chatty' })
    const bobRoom = await bob.joinRoom(invite)
    await Promise.all([aliceRoom.waitForPeers(), bobRoom.waitForPeers()])
    const received: string[] = []
    const undecryptable: string[] = []
    bobRoom.addEventListener('message:received', (event) => received.push(event.detail.text))
    bobRoom.addEventListener('message:undecryptable', (event) => undecryptable.push(event.detail.reason))
    const count = SENDER_KEY_ROTATION_MESSAGES + 20
    for (let i = 0; i < count; i++) await aliceRoom.send(`message ${i}`)
    const deadline = Date.now() + 20_000
    while (received.length < count && undecryptable.length === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    expect(undecryptable).toEqual([])
    expect(received.length).toBe(count)
  })
})
