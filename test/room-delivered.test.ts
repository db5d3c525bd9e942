/**
 * "Delivered" for one's own room messages through the sdk: three members over a real relay. Alice's message counts
 * each member wallet whose device acknowledged it (its presence's filter, or a message's `deps`) — bob's, and
 * carol's though she turned read receipts off: a delivery acknowledgement is the protocol's, which re-publishing
 * needs, not a receipt. `Room.delivery(id)` says where it stands; `message:delivered` tells each step.
 */
import type { Room } from '@securechat/sdk/rooms'
import type { MessageDelivered } from '@securechat/sdk/types'
import { describe, expect, it } from 'vitest'
import { startClient } from './helpers/device.ts'
import { startRelay, stopAfterEach } from './helpers/stoppers.ts'

const stoppers = stopAfterEach()

/** Resolves with the `message:delivered` of message `id` once every present member has it. */
function deliveredToAll(room: Room, id: string): Promise<MessageDelivered[]> {
  const steps: MessageDelivered[] = []
  return new Promise((resolve) => {
    const listener = ({ detail }: CustomEvent<MessageDelivered>): void => {
      if (detail.id !== id) return
      steps.push(detail)
      if (detail.delivered.length < detail.present.length) return
      room.removeEventListener('message:delivered', listener)
      resolve(steps)
    }
    room.addEventListener('message:delivered', listener)
  })
}

describe('room delivery', () => {
  it('behavior: own message delivered to 2 of 2 members present, a member with receipts off included; the others see no delivery of it', async () => {
    const relay = await startRelay(stoppers)
    const address = relay.multiaddrs[0]!
    const [alice, bob, carol] = await Promise.all([
      startClient(address, stoppers),
      startClient(address, stoppers),
      startClient(address, stoppers),
    ])
    carol.setSignalSettings({ receipts: false, typing: false })
    const { room: aliceRoom, invite } = await alice.createRoom({ name: 'delivered' })
    const [bobRoom, carolRoom] = await Promise.all([bob.joinRoom(invite), carol.joinRoom(invite)])
    await expect.poll(() => aliceRoom.members().length, { timeout: 30_000 }).toBe(3)

    const sent = await aliceRoom.send('did you get this?')
    expect(aliceRoom.delivery(sent.id)?.present.sort()).toEqual([bob.address, carol.address].sort())
    const steps = await deliveredToAll(aliceRoom, sent.id)
    expect(steps.map((step) => step.address).sort()).toEqual([bob.address, carol.address].sort())
    expect(steps.at(-1)?.delivered.sort()).toEqual([bob.address, carol.address].sort())
    expect(aliceRoom.delivery(sent.id)).toMatchObject({ roomId: aliceRoom.id, id: sent.id })
    expect(aliceRoom.delivery(sent.id)?.delivered.sort()).toEqual([bob.address, carol.address].sort())
    // Only the sender's device knows how far its message got.
    expect(bobRoom.delivery(sent.id)).toBeUndefined()
    expect(carolRoom.delivery(sent.id)).toBeUndefined()
  })
})
