/**
 * Sealing to a member never met (issue 12, item 3): a device that was never online with a member
 * learns it from the room's presence the relays kept and fetches its key bundle from them, so what
 * it says while the member is away reaches the member's catch-up readable.
 */
import type { Room } from '@securechat/sdk/rooms'
import type { RoomMessage } from '@securechat/sdk/types'
import { memoryVaultBackend } from '@securechat/sdk/vault'
import { Wallet } from 'ethers'
import { describe, expect, it } from 'vitest'
import type { MessageStoreService } from '../node/src/relay/store-service.ts'
import { runCli } from './helpers/cli.ts'
import { startDevice } from './helpers/device.ts'
import { startStoreRelay, stopAfterEach } from './helpers/stoppers.ts'

const stoppers = stopAfterEach()

describe('sealing to a member never met', () => {
  it('behavior: a one-shot send without a data dir, while the reader is away, is read in the reader’s catch-up', async () => {
    const relay = await startStoreRelay(stoppers)
    const relayAddress = relay.multiaddrs[0] as string
    const readerWallet = Wallet.createRandom()
    const readerVault = memoryVaultBackend()

    // The reader creates the room, is seen by the relay (which keeps its presence), and goes away.
    const reader = await startDevice({ wallet: readerWallet, bootstrap: [relayAddress], backend: readerVault })
    stoppers.push(reader.close)
    const { room, invite } = await reader.client.createRoom({ name: 'never met' })
    await room.waitForPeers()
    await reader.close()
    await (relay.services.store as MessageStoreService).flush()

    // A newcomer's first and only run: nobody else online, no vault, no earlier run.
    const sent = await runCli(['send', '--room', invite, 'hello, whoever reads this'], {
      SECURECHAT_PRIVATE_KEY: Wallet.createRandom().privateKey,
    })
    expect(sent.code, sent.stderr).toBe(0)
    const { id } = JSON.parse(sent.stdout) as { id: string }

    // The reader returns and reads it in its catch-up.
    const back = await startDevice({ wallet: readerWallet, bootstrap: [relayAddress], backend: readerVault })
    stoppers.push(back.close)
    const roomAgain = await back.client.joinRoom(invite, { catchUp: 'later' })
    const { received, undecryptable } = collect(roomAgain)
    const progress = await back.client.catchUp(roomAgain)
    expect(undecryptable).toEqual([])
    expect(received.map((m) => [m.id, m.text])).toEqual([[id, 'hello, whoever reads this']])
    expect(progress).toMatchObject({ delivered: 1, undecryptable: 0 })
  }, 60_000)
})

function collect(room: Room): { received: RoomMessage[]; undecryptable: string[] } {
  const received: RoomMessage[] = []
  const undecryptable: string[] = []
  room.addEventListener('message:received', (event) => received.push(event.detail))
  room.addEventListener('message:undecryptable', (event) => undecryptable.push(event.detail.reason))
  return { received, undecryptable }
}
