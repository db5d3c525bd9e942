/**
 * Replies, reactions, edits and deletes in a DM conversation: real clients through a real relay. What they change
 * reaches the other wallet as `message:updated`, inside the Double Ratchet sessions: the relay forwards none of it
 * in the clear.
 */
import type { Message } from '@libp2p/gossipsub'
import type { SecureChatClient } from '@securechat/sdk/client'
import { isDmTopic } from '@securechat/sdk/dm'
import type { DirectMessage, DmMessageUpdate } from '@securechat/sdk/types'
import { describe, expect, it } from 'vitest'
import type { RelayNode } from '../node/src/relay/relay.ts'
import { startDmDevice } from './helpers/device.ts'
import { startRelay, stopAfterEach } from './helpers/stoppers.ts'

const stoppers = stopAfterEach()

const startDevice = (relay: RelayNode): Promise<SecureChatClient> => startDmDevice(stoppers, relay)

function next<T>(
  client: SecureChatClient,
  event: 'message:received' | 'message:updated',
  match: (detail: T) => boolean,
): Promise<T> {
  return new Promise((resolve) => {
    const listener = (e: Event): void => {
      const detail = (e as CustomEvent<T>).detail
      if (!match(detail)) return
      client.dms.removeEventListener(event, listener)
      resolve(detail)
    }
    client.dms.addEventListener(event, listener)
  })
}

const updated = (client: SecureChatClient, kind: string): Promise<DmMessageUpdate> =>
  next<DmMessageUpdate>(client, 'message:updated', (u) => u.change.kind === kind)

describe('DM message kinds', () => {
  it('behavior: a reply, a reaction and its removal, an edit and a delete reach the other wallet; only the sender may edit or delete', async () => {
    const relay = await startRelay(stoppers)
    const forwarded: Message[] = []
    relay.libp2p.services.pubsub.addEventListener('message', (event) => {
      if (isDmTopic(event.detail.topic)) forwarded.push(event.detail)
    })
    const [alice, bob] = await Promise.all([startDevice(relay), startDevice(relay)])
    const secret = `s${Math.random().toString(36).slice(2)}`

    const first = next<DirectMessage>(bob, 'message:received', (m) => m.text === `alpha ${secret}`)
    const sent = await alice.dm(bob.address).send(`alpha ${secret}`)
    await first
    const toAlice = bob.dm(alice.address)

    const reacted = updated(alice, 'react')
    await toAlice.react(sent.id, '👍')
    expect((await reacted).message.reactions).toEqual([{ emoji: '👍', count: 1, by: [bob.address] }])
    const unreacted = updated(alice, 'react')
    await toAlice.unreact(sent.id, '👍')
    expect((await unreacted).message.reactions).toEqual([])

    const replied = next<DirectMessage>(alice, 'message:received', (m) => m.parentId === sent.id)
    const thread = updated(alice, 'reply')
    const reply = await toAlice.reply(sent.id, `beta ${secret}`)
    expect((await replied).text).toBe(`beta ${secret}`)
    expect((await thread).message.thread).toEqual({
      count: 1,
      last: { id: reply.id, sender: bob.address, sentAtMs: reply.sentAtMs },
    })

    const edited = updated(bob, 'edit')
    await alice.dm(bob.address).edit(sent.id, `gamma ${secret}`)
    expect((await edited).message).toMatchObject({ text: `gamma ${secret}`, edited: true })
    expect(toAlice.message(sent.id)?.versions.map((v) => v.body)).toEqual([`alpha ${secret}`, `gamma ${secret}`])

    await expect(toAlice.delete(sent.id)).rejects.toMatchObject({ name: 'InvalidInputError' })
    await expect(toAlice.edit(sent.id, 'not mine')).rejects.toMatchObject({ name: 'InvalidInputError' })

    const deleted = updated(bob, 'delete')
    await alice.dm(bob.address).delete(sent.id)
    expect((await deleted).message).toMatchObject({ deleted: true, text: undefined, versions: [] })
    expect(alice.dm(bob.address).message(sent.id)?.deleted).toBe(true)

    // Every DM record the relay forwarded is ciphertext: no text, emoji or kind in the clear.
    expect(forwarded.length).toBeGreaterThan(6)
    for (const message of forwarded) {
      const bytes = Buffer.from(message.data)
      for (const clear of [secret, '👍', '"react"', '"edit"', '"delete"'])
        expect(bytes.includes(Buffer.from(clear))).toBe(false)
    }
  }, 120_000)
})
