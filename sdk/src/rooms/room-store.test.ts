import { Wallet } from 'ethers'
import { describe, expect, it } from 'vitest'
import { DuplicateMessageError } from '../crypto/errors.ts'
import { sha256 } from '../crypto/primitives.ts'
import { createInboundSenderKeys, createOutboundSenderKey, type OutboundSenderKey } from '../crypto/sender-keys.ts'
import { canonicalJson, utf8 } from '../encoding.ts'
import { VaultCorruptError } from '../errors.ts'
import { walletSigner } from '../identity/signer.ts'
import { silentLoggerFactory } from '../logger.ts'
import { VAULT_ARGON2ID_MIN } from '../vault/constants.ts'
import { memoryVaultBackend, openVault, type Vault, type VaultBackend } from '../vault/vault.ts'
import { createManifest, roomIdOf } from './manifest.ts'
import { createModerationEvent } from './moderation-event.ts'
import { ModerationLog } from './moderation-log.ts'
import { type DeviceEncryptionKeys, headerDigest, RoomKeys } from './room-keys.ts'
import {
  forgetRoom,
  loadModerationLog,
  loadRoomKeys,
  loadSavedRooms,
  type RoomKeysRecord,
  roomKeysRecord,
  type StoredRoomKeys,
  saveJoinedRoom,
  saveModerationLog,
  saveRoomHistory,
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

/** A ciphertext of `sender`'s chain as `RoomKeys.encrypt` makes it for {@link HEADER}. */
async function encryptAs(sender: OutboundSenderKey, byte: number): Promise<string> {
  const ct = await sender.encrypt({ plaintext: Uint8Array.of(byte), messageId: headerDigest(HEADER) })
  return Buffer.from(ct).toString('base64url')
}

/** Saves `keys` as a room does: in its history entry, here with no messages. */
function saveKeys(vault: Vault, roomId: string, keys: () => RoomKeysRecord, delayMs?: number): Promise<void> {
  return saveRoomHistory(
    vault,
    roomId,
    () => ({ states: { v: 1, messages: [], pending: [] }, position: { lamport: 0, ids: [] }, keys: keys() }),
    delayMs,
  )
}

function roomKeys(params: { vault?: Vault; roomId?: string; selfPeerId?: string; stored?: StoredRoomKeys }): RoomKeys {
  const { vault } = params
  const keys: RoomKeys = new RoomKeys({
    roomId: params.roomId ?? ROOM,
    selfPeerId: params.selfPeerId ?? SELF,
    device: NO_DEVICE,
    log: silentLoggerFactory('test'),
    ...(vault === undefined
      ? {}
      : {
          save: ({ installed }) =>
            saveKeys(vault, params.roomId ?? ROOM, () => keys.record(), installed === true ? 0 : undefined),
        }),
    ...(params.stored === undefined ? {} : { stored: params.stored }),
  })
  return keys
}

describe('rooms in the vault', () => {
  it('behavior: sending writes nothing and the vault holds no chain of ours; a restart starts a new epoch', async () => {
    const { vault, writes } = await countingVault()
    const keys = roomKeys({ vault })
    for (let i = 0; i < 5; i++) await keys.encrypt(Uint8Array.of(i), { ...HEADER, lamport: i })
    await vault.flush()
    expect(writes()).toBe(0)
    expect(await loadRoomKeys(vault, ROOM)).toBeUndefined()
    expect(roomKeys({ vault }).epoch).not.toBe(keys.epoch)
  })

  it('behavior: reads are delivered before their save, saves coalesce, and the saved chain reads none of them', async () => {
    const { vault, writes } = await countingVault()
    const other = createOutboundSenderKey({ roomId: ROOM, senderId: OTHER })
    const inbound = createInboundSenderKeys({ roomId: ROOM })
    inbound.install({ distribution: other.exportForMember(), from: OTHER })
    const keys = roomKeys({ vault, stored: { inbound, channels: new Map(), members: [] } })
    const cts: string[] = []
    for (let i = 0; i < 20; i++) cts.push(await encryptAs(other, i))
    for (const [i, ct] of cts.entries()) expect(await keys.decrypt(OTHER, ct, HEADER)).toEqual(Uint8Array.of(i))
    expect(writes()).toBe(0)
    await vault.flush()
    expect(writes()).toBe(1)
    const stored = await loadRoomKeys(vault, ROOM)
    for (const ct of cts) {
      await expect(
        stored!.inbound.decrypt({ senderId: OTHER, message: Buffer.from(ct, 'base64url') }),
      ).rejects.toBeInstanceOf(DuplicateMessageError)
    }
  })

  it('behavior: a room resumed from the vault reads on with the chains it held', async () => {
    const { vault } = await countingVault()
    const other = createOutboundSenderKey({ roomId: ROOM, senderId: OTHER })
    const inbound = createInboundSenderKeys({ roomId: ROOM })
    inbound.install({ distribution: other.exportForMember(), from: OTHER })
    await saveKeys(vault, ROOM, () => roomKeysRecord({ inbound, channels: new Map(), members: () => [] }), 0)

    const stored = await loadRoomKeys(vault, ROOM)
    const keys = roomKeys({ vault, ...(stored === undefined ? {} : { stored }) })
    const ct = await encryptAs(other, 7)
    expect(await keys.decrypt(OTHER, ct, HEADER)).toEqual(Uint8Array.of(7))
    // Once read and saved, its key is gone from the vault as well.
    await vault.flush()
    const after = await loadRoomKeys(vault, ROOM)
    await expect(
      after!.inbound.decrypt({ senderId: OTHER, message: Buffer.from(ct, 'base64url') }),
    ).rejects.toBeInstanceOf(DuplicateMessageError)
  })

  it('behavior: the header digest is SHA-256 of the canonical JSON of the header', () => {
    const header = { room: ROOM, lamport: 12, deps: ['cd'.repeat(32), 'ef'.repeat(32)], sentAtMs: 1_760_000_000_000 }
    expect(headerDigest(header)).toEqual(sha256(utf8.encode(canonicalJson(header))))
    expect(() => headerDigest({ ...header, lamport: 2 ** 60 })).toThrow(TypeError)
  })

  it('error: sender keys stored for another room are refused as corrupt', async () => {
    const { vault } = await countingVault()
    const elsewhere = 'cd'.repeat(32)
    await saveKeys(
      vault,
      elsewhere,
      () =>
        roomKeysRecord({ inbound: createInboundSenderKeys({ roomId: ROOM }), channels: new Map(), members: () => [] }),
      0,
    )
    await expect(loadRoomKeys(vault, elsewhere)).rejects.toBeInstanceOf(VaultCorruptError)
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

    const lobbyKeys = () =>
      roomKeysRecord({ inbound: createInboundSenderKeys({ roomId: lobbyId }), channels: new Map(), members: () => [] })
    await saveKeys(vault, lobbyId, lobbyKeys, 0)
    expect(await vault.list(`room/messages/${lobbyId}`)).toEqual([`room/messages/${lobbyId}`])
    // A save still waiting for its delay is dropped with the room, not written after it.
    const late = saveKeys(vault, lobbyId, lobbyKeys)
    await forgetRoom(vault, lobbyId)
    await late
    await vault.flush()
    expect((await loadSavedRooms(vault)).map((r) => r.name)).toEqual(['team'])
    expect(await vault.list(`room/messages/${lobbyId}`)).toEqual([])
  })

  it('behavior: the moderation log saved is the one a restarted device takes up, its state and head; a forgotten room leaves none', async () => {
    const { vault } = await countingVault()
    const owner = Wallet.createRandom()
    const [moderator, member] = [Wallet.createRandom(), Wallet.createRandom()]
    const log = new ModerationLog({ roomId: ROOM, owner: owner.address })
    const byOwner = walletSigner({ type: 'eoa', signer: owner })
    for (const [action, target, now] of [
      ['mod-add', moderator.address, 1_000],
      ['ban', member.address, 2_000],
    ] as const) {
      const event = await createModerationEvent({ signer: byOwner, room: ROOM, prev: log.head, action, target, now })
      expect(log.add(event).status).toBe('applied')
    }
    await saveModerationLog(vault, ROOM, () => log.events(), 0)

    const saved = await loadModerationLog(vault, ROOM)
    const restarted = new ModerationLog({ roomId: ROOM, owner: owner.address })
    for (const event of saved ?? []) expect(restarted.add(event).status).toBe('applied')
    expect(restarted.head).toBe(log.head)
    expect(restarted.isBanned(member.address)).toBe(true)
    expect(restarted.roleOf(moderator.address)).toBe('moderator')

    await forgetRoom(vault, ROOM)
    expect(await loadModerationLog(vault, ROOM)).toBeUndefined()
  })
})
