/**
 * Replies, reactions, edits and deletes in a room through the sdk: two members over a real relay, and a subscriber
 * that is not a member. Each member's `message(id)` and `thread(rootId)` agree; the relay and the non-member see
 * only ciphertext.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { createSecureChatLibp2p } from '@securechat/sdk/client'
import { type Room, roomTopic } from '@securechat/sdk/rooms'
import type { RoomMessageUpdate } from '@securechat/sdk/types'
import { describe, expect, it } from 'vitest'
import { startClient } from './helpers/device.ts'
import { startRelay, stopAfterEach } from './helpers/stoppers.ts'

const stoppers = stopAfterEach()

function nextUpdate(room: Room, kind: string): Promise<RoomMessageUpdate> {
  return new Promise((resolve) => {
    const listener = ({ detail }: CustomEvent<RoomMessageUpdate>): void => {
      if (detail.change.kind !== kind) return
      room.removeEventListener('message:updated', listener)
      resolve(detail)
    }
    room.addEventListener('message:updated', listener)
  })
}

function nextText(room: Room, id: string): Promise<unknown> {
  return new Promise((resolve) => {
    const listener = ({ detail }: CustomEvent<{ id: string }>): void => {
      if (detail.id !== id) return
      room.removeEventListener('message:received', listener)
      resolve(detail)
    }
    room.addEventListener('message:received', listener)
  })
}

describe('room message kinds', () => {
  it('behavior: a thread, reactions, an edit and a delete reach the other member; a non-member and the relay read none of it', async () => {
    const relay = await startRelay(stoppers)
    const address = relay.multiaddrs[0]!
    const seen: Uint8Array[] = []
    relay.libp2p.services.pubsub.addEventListener('message', (event) => seen.push(event.detail.data))
    const [alice, bob] = await Promise.all([startClient(address, stoppers), startClient(address, stoppers)])
    const { room: aliceRoom, invite } = await alice.createRoom({ name: 'kinds' })
    const outsider = await createSecureChatLibp2p({ privateKey: await generateKeyPair('Ed25519') })
    stoppers.push(async () => outsider.stop())
    outsider.services.pubsub.addEventListener('message', (event) => seen.push(event.detail.data))
    outsider.services.pubsub.subscribe(roomTopic(aliceRoom.id))
    await outsider.dial(multiaddr(address))
    const bobRoom = await bob.joinRoom(invite)
    await Promise.all([aliceRoom.waitForPeers(), bobRoom.waitForPeers()])
    const secret = `s${Math.random().toString(36).slice(2)}`

    const root = await aliceRoom.send(`root ${secret}`)
    await nextText(bobRoom, root.id)
    const threaded = nextUpdate(aliceRoom, 'reply')
    const reply = await bobRoom.reply(root.id, `reply ${secret}`)
    expect((await threaded).message.thread).toEqual({
      count: 1,
      last: { id: reply.id, sender: bob.address, sentAtMs: reply.sentAtMs },
    })
    expect(aliceRoom.thread(root.id).map((m) => m.text)).toEqual([`reply ${secret}`])

    const reacted = nextUpdate(aliceRoom, 'react')
    await bobRoom.react(root.id, '🎉')
    expect((await reacted).message.reactions).toEqual([{ emoji: '🎉', count: 1, by: [bob.address] }])
    const unreacted = nextUpdate(aliceRoom, 'react')
    await bobRoom.unreact(root.id, '🎉')
    expect((await unreacted).message.reactions).toEqual([])
    await expect(bobRoom.react(root.id, 'not an emoji')).rejects.toMatchObject({ name: 'InvalidInputError' })

    // Bob has Alice's message: his device refuses to edit or delete it.
    await expect(bobRoom.edit(root.id, 'mine now')).rejects.toMatchObject({ name: 'InvalidInputError' })
    await expect(bobRoom.delete(root.id)).rejects.toMatchObject({ name: 'InvalidInputError' })

    const edited = nextUpdate(bobRoom, 'edit')
    await aliceRoom.edit(root.id, `edited ${secret}`)
    expect((await edited).message).toMatchObject({ text: `edited ${secret}`, edited: true })
    expect(bobRoom.message(root.id)?.versions.map((v) => v.body)).toEqual([`root ${secret}`, `edited ${secret}`])

    const deleted = nextUpdate(bobRoom, 'delete')
    await aliceRoom.delete(root.id)
    expect((await deleted).message).toMatchObject({ deleted: true, text: undefined, versions: [] })
    expect(aliceRoom.message(root.id)?.deleted).toBe(true)
    // The reply stays, in a thread whose root is gone.
    expect(bobRoom.message(reply.id)).toMatchObject({ text: `reply ${secret}`, threadRootId: root.id })

    const records = seen.map((data) => Buffer.from(data))
    expect(records.filter((r) => r.includes(Buffer.from('"type":"message"'))).length).toBeGreaterThanOrEqual(10)
    for (const record of records) {
      for (const clear of [secret, '🎉', '"react"', '"edit"', '"delete"', '"parent"']) {
        expect(record.includes(Buffer.from(clear)), clear).toBe(false)
      }
    }
  }, 120_000)
})
