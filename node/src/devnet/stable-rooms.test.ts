import { walletSigner } from '@securechat/sdk/identity'
import { createManifest, encodeInvite, roomIdOf } from '@securechat/sdk/rooms'
import { Wallet } from 'ethers'
import { describe, expect, it } from 'vitest'
import { stableRoomParams } from './stable-rooms.ts'

describe('stable devnet rooms', () => {
  it('behavior: the same owner and name make the same signed manifest, so the same room and invite, run after run', async () => {
    // Hardhat's first dev account: a public test key.
    const owner = new Wallet('0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80')
    const make = (name: string) =>
      createManifest({
        signer: walletSigner({ type: 'eoa', signer: owner }),
        name,
        domains: ['localhost'],
        chainIds: [31337],
        ...stableRoomParams(owner.address, name),
      })
    const [first, second, other] = [await make('lobby'), await make('lobby'), await make('members')]
    expect(encodeInvite({ manifest: second, relays: [] })).toBe(encodeInvite({ manifest: first, relays: [] }))
    expect(roomIdOf(other.manifest)).not.toBe(roomIdOf(first.manifest))
  })
})
