import { Wallet } from 'ethers'
import { describe, expect, it } from 'vitest'
import { DuplicateMessageError } from '../crypto/errors.ts'
import { createInboundSenderKeys, createOutboundSenderKey } from '../crypto/sender-keys.ts'
import { VaultCorruptError } from '../errors.ts'
import { walletSigner } from '../identity/signer.ts'
import { silentLoggerFactory } from '../logger.ts'
import { VAULT_ARGON2ID_MIN } from '../vault/constants.ts'
import { memoryVaultBackend, openVault, type Vault, type VaultBackend } from '../vault/vault.ts'
import { createManifest, roomIdOf } from './manifest.ts'
import { type DeviceEncryptionKeys, RoomKeys } from './room-keys.ts'
import {
  forgetRoom,
  loadRoomKeys,
  loadSavedRooms,
  type StoredRoomKeys,
  saveJoinedRoom,
  saveRoomKeys,
} from './room-store.ts'

const SELF = '12D3KooWSelfSelfSelfSelfSelfSelfSelfSelfSelfSelfSelf'
const OTHER = '12D3KooWOtherOtherOtherOtherOtherOtherOtherOtherOth'
const ROOM = 'ab'.repeat(32)
const HEADER = { room: ROOM, lamport: 1, deps: [], sentAtMs: 0 }
// Encrypting and decrypting never touch the device keys (only key distribution does).
const NO_DEVICE = {} as DeviceEncryptionKeys

/** A vault in memory that counts the writes reaching its backend. */
async function countingVault(): Promise<{ vault: Vault; writes: () => number }> {
  const backend = memoryVaultBackend()
  let writes = 0
  const counting: VaultBackend = {
    ...backend,
    put: (name, value) => {
      writes += 1
      return backend.put(name, value)
    },
  }
  const vault = await openVault({
    backend: counting,
    unlock: { type: 'passphrase', passphrase: 'correct horse battery' },
    argon2id: VAULT_ARGON2ID_MIN,
  })
  return { vault, writes: () => writes }
}

function roomKeys(params: { vault?: Vault; roomId?: string; selfPeerId?: string; stored?: StoredRoomKeys }): RoomKeys {
  return new RoomKeys({
    roomId: params.roomId ?? ROOM,
    selfPeerId: params.selfPeerId ?? SELF,
    device: NO_DEVICE,
    log: silentLoggerFactory('test'),
    ...(params.vault === undefined ? {} : { vault: params.vault }),
    ...(params.stored === undefined ? {} : { stored: params.stored }),
  })
}

describe('rooms in the vault', () => {
  it('behavior: every ciphertext is returned after its chain is saved; concurrent sends share writes', async () => {
    const { vault, writes } = await countingVault()
    const keys = roomKeys({ vault })
    const count = 20
    const cts = await Promise.all(
      Array.from({ length: count }, (_, i) => keys.encrypt(Uint8Array.of(i), { ...HEADER, lamport: i })),
    )
    expect(writes()).toBeLessThan(count)
    const stored = await loadRoomKeys(vault, { roomId: ROOM, selfPeerId: SELF })
    expect(stored!.outbound.epoch).toBe(keys.epoch)
    expect(stored!.outbound.iteration).toBe(count)
    // The stored chain reads none of the messages already sent.
    const reader = createInboundSenderKeys({ roomId: ROOM })
    reader.install({ distribution: stored!.outbound.exportForMember(), from: SELF })
    for (const ct of cts) {
      await expect(reader.decrypt({ senderId: SELF, message: Buffer.from(ct, 'base64url') })).rejects.toBeInstanceOf(
        DuplicateMessageError,
      )
    }
  })

  it('behavior: a room resumed from the vault goes on with its epoch and the chains it held', async () => {
    const { vault } = await countingVault()
    const other = createOutboundSenderKey({ roomId: ROOM, senderId: OTHER })
    const inbound = createInboundSenderKeys({ roomId: ROOM })
    inbound.install({ distribution: other.exportForMember(), from: OTHER })
    const mine = createOutboundSenderKey({ roomId: ROOM, senderId: SELF })
    await saveRoomKeys(vault, ROOM, { outbound: mine, inbound })
    const epoch = mine.epoch

    const stored = await loadRoomKeys(vault, { roomId: ROOM, selfPeerId: SELF })
    const keys = roomKeys({ vault, ...(stored === undefined ? {} : { stored }) })
    expect(keys.epoch).toBe(epoch)
    // The other member goes on with the chain we held for it.
    const sender = roomKeys({
      selfPeerId: OTHER,
      stored: { outbound: other, inbound: createInboundSenderKeys({ roomId: ROOM }) },
    })
    const ct = await sender.encrypt(Uint8Array.of(7), HEADER)
    expect(await keys.decrypt(OTHER, ct, HEADER)).toEqual(Uint8Array.of(7))
    // Once read, its key is gone from the vault as well.
    const after = await loadRoomKeys(vault, { roomId: ROOM, selfPeerId: SELF })
    await expect(
      after!.inbound.decrypt({ senderId: OTHER, message: Buffer.from(ct, 'base64url') }),
    ).rejects.toBeInstanceOf(DuplicateMessageError)
  })

  it('error: sender keys stored for another device or room are refused as corrupt', async () => {
    const { vault } = await countingVault()
    await saveRoomKeys(vault, ROOM, {
      outbound: createOutboundSenderKey({ roomId: ROOM, senderId: OTHER }),
      inbound: createInboundSenderKeys({ roomId: ROOM }),
    })
    await expect(loadRoomKeys(vault, { roomId: ROOM, selfPeerId: SELF })).rejects.toBeInstanceOf(VaultCorruptError)
    const elsewhere = 'cd'.repeat(32)
    await saveRoomKeys(vault, elsewhere, {
      outbound: createOutboundSenderKey({ roomId: ROOM, senderId: SELF }),
      inbound: createInboundSenderKeys({ roomId: ROOM }),
    })
    await expect(loadRoomKeys(vault, { roomId: elsewhere, selfPeerId: SELF })).rejects.toBeInstanceOf(VaultCorruptError)
  })

  it('behavior: joined rooms are listed oldest first, and a forgotten room leaves no entry', async () => {
    const { vault } = await countingVault()
    const signer = walletSigner({ type: 'eoa', signer: Wallet.createRandom() })
    const lobby = await createManifest({ signer, name: 'lobby', domains: ['localhost'], chainIds: [31337] })
    const team = await createManifest({ signer, name: 'team', domains: ['localhost'], chainIds: [31337] })
    const lobbyId = roomIdOf(lobby.manifest)
    const teamId = roomIdOf(team.manifest)
    await saveJoinedRoom(vault, { roomId: lobbyId, manifest: lobby, relays: ['/ip4/127.0.0.1/tcp/4001'] })
    await new Promise((resolve) => setTimeout(resolve, 2))
    await saveJoinedRoom(vault, { roomId: teamId, manifest: team, relays: [] })
    const first = await loadSavedRooms(vault)
    expect(first.map((r) => r.name)).toEqual(['lobby', 'team'])
    expect(first[0]).toMatchObject({ roomId: lobbyId, manifest: lobby, relays: ['/ip4/127.0.0.1/tcp/4001'] })
    // Joining again keeps the first join's time.
    await saveJoinedRoom(vault, { roomId: lobbyId, manifest: lobby, relays: [] })
    expect((await loadSavedRooms(vault))[0]!.joinedAtMs).toBe(first[0]!.joinedAtMs)

    await roomKeys({ vault, roomId: lobbyId }).encrypt(Uint8Array.of(1), { ...HEADER, room: lobbyId })
    expect(await vault.list(`room/keys/${lobbyId}`)).toEqual([`room/keys/${lobbyId}`])
    await forgetRoom(vault, lobbyId)
    expect((await loadSavedRooms(vault)).map((r) => r.name)).toEqual(['team'])
    expect(await vault.list(`room/keys/${lobbyId}`)).toEqual([])
  })
})
