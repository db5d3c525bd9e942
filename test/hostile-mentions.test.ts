/**
 * A member whose software lies about mentions, through a real relay to an honest member: a list naming a wallet its
 * text does not show is trimmed to what the text shows, and a list past `MAX_MENTIONS` makes that one message
 * unreadable with the reason, while the messages after it arrive as ever. The liar is this process's own sdk with
 * what it lists swapped (`mentionsToSend`); the honest member checks with the real `acceptMentions`.
 */
import { MAX_MENTIONS } from '@securechat/sdk/constants'
import type { Room } from '@securechat/sdk/rooms'
import type { RoomMessage, UndecryptableMessage } from '@securechat/sdk/types'
import { Wallet } from 'ethers'
import { describe, expect, it, vi } from 'vitest'
import { startDevices } from './helpers/device.ts'
import { startRelay, stopAfterEach } from './helpers/stoppers.ts'

/** What the lying sender lists for its next texts; undefined: what an honest one lists. */
const lie = vi.hoisted(() => ({ list: undefined as string[] | undefined }))

vi.mock('../sdk/src/mentions.ts', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../sdk/src/mentions.ts')>()
  return { ...actual, mentionsToSend: (text: string) => lie.list ?? actual.mentionsToSend(text) }
})

const stoppers = stopAfterEach()

function next<T extends { id: string }>(room: Room, event: 'message:received' | 'message:undecryptable', id: string) {
  return new Promise<T>((resolve) => {
    const listener = ({ detail }: CustomEvent<T>): void => {
      if (detail.id === id) resolve(detail)
    }
    room.addEventListener(event, listener as EventListener)
  })
}

describe('hostile mention lists', () => {
  it('security: a forged mention is trimmed, an oversize list refuses its message with the reason, and the room goes on', async () => {
    const relay = await startRelay(stoppers)
    const address = relay.multiaddrs[0]!
    const [mallory, bob] = (await startDevices(2, { bootstrap: [address] }, stoppers)).map((device) => device.client)
    const { room: malloryRoom, invite } = await mallory.createRoom({ name: 'liars' })
    const bobRoom = await bob.joinRoom(invite)
    await Promise.all([malloryRoom.waitForPeers(), bobRoom.waitForPeers()])
    const received: RoomMessage[] = []
    bobRoom.addEventListener('message:received', ({ detail }) => received.push(detail))
    const victim = Wallet.createRandom().address

    // Lists bob and a wallet the text never shows: bob keeps the one he can see.
    lie.list = [bob.address, victim, bob.address]
    const forged = await malloryRoom.send(`hi @${bob.address}`)
    expect((await next<RoomMessage>(bobRoom, 'message:received', forged.id)).mentions).toEqual([bob.address])

    // One more than the bound: that message is refused, with why.
    lie.list = Array.from({ length: MAX_MENTIONS + 1 }, () => Wallet.createRandom().address)
    const flood = await malloryRoom.send('everyone!')
    const refused = await next<UndecryptableMessage>(bobRoom, 'message:undecryptable', flood.id)
    expect(refused.reason).toBe(
      `InvalidInputError: the decrypted envelope is malformed (mentions: a message mentions at most ${MAX_MENTIONS} members)`,
    )

    // Not an address at all.
    lie.list = ['<img src=x onerror=alert(1)>']
    const junk = await malloryRoom.send('look')
    expect((await next<UndecryptableMessage>(bobRoom, 'message:undecryptable', junk.id)).reason).toContain(
      'mentions.0: a mention is a wallet address',
    )

    // The room goes on: the next honest message arrives, mentioning nobody.
    lie.list = undefined
    const after = await malloryRoom.send('sorry')
    expect((await next<RoomMessage>(bobRoom, 'message:received', after.id)).mentions).toEqual([])
    expect(received.map((m) => m.text)).toEqual([`hi @${bob.address}`, 'sorry'])
    expect(bobRoom.message(forged.id)?.mentions).toEqual([bob.address])
  }, 120_000)
})
