import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { describe, expect, it, vi } from 'vitest'
import { z } from 'zod'
import { LATE_MEMBER_WINDOW_MS } from '../constants.ts'
import { DuplicateMessageError } from '../crypto/errors.ts'
import { bundleHash, createKeyBundle, encodeKeyBundle, generateDeviceKeys } from '../crypto/key-bundle.ts'
import { bytesToHex } from '../crypto/primitives.ts'
import { base64urlEncode } from '../encoding.ts'
import { VaultCorruptError } from '../errors.ts'
import { silentLoggerFactory } from '../logger.ts'
import type { VerifiedCertificate } from '../types.ts'
import { VAULT_ARGON2ID_MIN } from '../vault/constants.ts'
import { memoryVaultBackend, openVault, type Vault } from '../vault/vault.ts'
import { RoomKeys } from './room-keys.ts'
import { loadRoomKeys, type StoredRoomKeys, saveRoomHistory } from './room-store.ts'
import { decodeRecord, encodeRecord, type KeysRecord } from './wire.ts'

const ROOM = 'cd'.repeat(32)
const HEADER = { room: ROOM, lamport: 1, deps: [], sentAtMs: 0 }

interface Party {
  peerId: string
  device: Awaited<ReturnType<typeof generateDeviceKeys>>
  bundle: string
  certificate: VerifiedCertificate
}

async function party(): Promise<Party> {
  const key = await generateKeyPair('Ed25519')
  const device = await generateDeviceKeys({ oneTimePrekeyCount: 0 })
  const bundle = await createKeyBundle({ deviceKeys: device, sign: async (data) => key.sign(data) })
  return {
    peerId: peerIdFromPrivateKey(key).toString(),
    device,
    bundle: base64urlEncode(encodeKeyBundle(bundle)),
    // RoomKeys reads only the bundle commitment of a certificate the room already verified.
    certificate: {
      bundleHash: bytesToHex(bundleHash(bundle)),
      address: `0x${bytesToHex(bundleHash(bundle)).slice(0, 40)}`,
    } as VerifiedCertificate,
  }
}

/** With `vault`, saving as a room does: the keys in the room's history entry (`saveRoomHistory`). */
function keysOf(
  self: Party,
  params: { vault?: Vault; stored?: StoredRoomKeys; absentSince?: (peerId: string) => number | undefined } = {},
) {
  const { vault, ...rest } = params
  const keys: RoomKeys = new RoomKeys({
    roomId: ROOM,
    selfPeerId: self.peerId,
    device: { identityKey: self.device.identityKey, kemKey: self.device.kemKey, bundle: self.bundle },
    log: silentLoggerFactory('test'),
    ...rest,
    ...(vault === undefined
      ? {}
      : {
          save: ({ installed }) =>
            saveRoomHistory(
              vault,
              ROOM,
              () => ({
                states: { v: 1, messages: [], pending: [] },
                position: { lamport: 0, ids: [] },
                keys: keys.record(),
              }),
              installed === true ? 0 : undefined,
            ),
        }),
  })
  return keys
}

async function vault(): Promise<Vault> {
  return openVault({
    backend: memoryVaultBackend(),
    unlock: { type: 'passphrase', passphrase: 'correct horse battery' },
    argon2id: VAULT_ARGON2ID_MIN,
  })
}

/** The records as a receiver decodes them from the wire (so every schema bound applies). */
async function distribute(sender: RoomKeys): Promise<KeysRecord[]> {
  return (await sender.distributions()).map((record) => {
    const decoded = decodeRecord(encodeRecord(record))
    if (decoded.status !== 'ok' || decoded.record.type !== 'keys') throw new Error('keys record refused by the schema')
    return decoded.record
  })
}

function entryKinds(records: KeysRecord[]): string[] {
  return records.flatMap((r) => r.to.map((e) => ('sealed' in e ? 'sealed' : 'wrapped')))
}

const [alice, bob, carol] = await Promise.all([party(), party(), party()])

describe('sender keys over pairwise channels', () => {
  it('behavior: the first distribution opens a channel, every rotation after it is a short wrapped entry', async () => {
    const sender = keysOf(alice)
    const receiver = keysOf(bob)
    await sender.addMember(bob.peerId, bob.bundle, bob.certificate)
    await receiver.addMember(alice.peerId, alice.bundle, alice.certificate)
    const first = await distribute(sender)
    expect(entryKinds(first)).toEqual(['sealed'])
    expect(await receiver.receive(alice.peerId, first[0]!)).toBe('installed')
    for (let i = 0; i < 3; i++) {
      sender.rotate()
      const next = await distribute(sender)
      expect(entryKinds(next)).toEqual(['wrapped'])
      expect(encodeRecord(next[0]!).length).toBeLessThan(600)
      expect(await receiver.receive(alice.peerId, next[0]!)).toBe('installed')
      const ct = await sender.encrypt(Uint8Array.of(i), HEADER)
      expect(await receiver.decrypt(alice.peerId, ct, HEADER)).toEqual(Uint8Array.of(i))
    }
    // Replayed, the last rotation's entry is refused (its channel step is used).
    sender.rotate()
    const replayed = await distribute(sender)
    expect(await receiver.receive(alice.peerId, replayed[0]!)).toBe('installed')
    expect(await receiver.receive(alice.peerId, replayed[0]!)).toBe('invalid')
  })

  it('behavior: a receiver restarted from its vault opens the next wrapped entry; one without it asks and gets a new opening', async () => {
    const sender = keysOf(alice)
    const bobVault = await vault()
    const receiver = keysOf(bob, { vault: bobVault })
    await sender.addMember(bob.peerId, bob.bundle, bob.certificate)
    await receiver.addMember(alice.peerId, alice.bundle, alice.certificate)
    expect(await receiver.receive(alice.peerId, (await distribute(sender))[0]!)).toBe('installed')
    await bobVault.flush()

    const stored = await loadRoomKeys(bobVault, ROOM)
    expect(stored?.channels.size).toBe(1)
    const restarted = keysOf(bob, stored === undefined ? {} : { stored })
    await restarted.addMember(alice.peerId, alice.bundle, alice.certificate)
    sender.rotate()
    const wrapped = await distribute(sender)
    expect(entryKinds(wrapped)).toEqual(['wrapped'])
    expect(await restarted.receive(alice.peerId, wrapped[0]!)).toBe('installed')

    // A new start without the vault entry holds no channel: it asks (presence `want`) and the
    // sender's answer opens a new one.
    const fresh = keysOf(bob)
    await fresh.addMember(alice.peerId, alice.bundle, alice.certificate)
    sender.rotate()
    expect(await fresh.receive(alice.peerId, (await distribute(sender))[0]!)).toBe('no-channel')
    sender.resend(bob.peerId)
    const reopened = await distribute(sender)
    expect(entryKinds(reopened)).toEqual(['sealed'])
    expect(await fresh.receive(alice.peerId, reopened[0]!)).toBe('installed')
    const ct = await sender.encrypt(Uint8Array.of(9), HEADER)
    expect(await fresh.decrypt(alice.peerId, ct, HEADER)).toEqual(Uint8Array.of(9))
  })

  it('behavior: a sender restarted from its vault seals its new epoch to the members it sealed to before, absent ones with their absence', async () => {
    const aliceVault = await vault()
    const absentSinceMs = 1_700_000_000_000
    const sender = keysOf(alice, {
      vault: aliceVault,
      absentSince: (peerId) => (peerId === carol.peerId ? absentSinceMs : undefined),
    })
    await sender.addMember(bob.peerId, bob.bundle, bob.certificate)
    await sender.addMember(carol.peerId, carol.bundle, carol.certificate)
    await aliceVault.flush()

    const stored = await loadRoomKeys(aliceVault, ROOM)
    expect(stored?.members.map(({ peer, absentSinceMs }) => ({ peer, absentSinceMs }))).toEqual([
      { peer: bob.peerId, absentSinceMs: undefined },
      { peer: carol.peerId, absentSinceMs },
    ])
    // Restarted: nobody heard live yet, and carol's bundle could not be fetched from her.
    const restarted = keysOf(alice, stored === undefined ? {} : { stored })
    expect(restarted.epoch).not.toBe(sender.epoch)
    expect(restarted.memberIds.sort()).toEqual([bob.peerId, carol.peerId].sort())
    const records = await distribute(restarted)
    expect(records.flatMap((r) => r.to.map((e) => e.peer)).sort()).toEqual([bob.peerId, carol.peerId].sort())
    const receiver = keysOf(carol)
    await receiver.addMember(alice.peerId, alice.bundle, alice.certificate)
    expect(await receiver.receive(alice.peerId, records[0]!)).toBe('installed')
    const ct = await restarted.encrypt(Uint8Array.of(5), HEADER)
    expect(await receiver.decrypt(alice.peerId, ct, HEADER)).toEqual(Uint8Array.of(5))
  })

  it('error: a saved member whose bundle does not verify against its PeerId and hash makes the entry corrupt', async () => {
    const aliceVault = await vault()
    const sender = keysOf(alice, { vault: aliceVault })
    await sender.addMember(bob.peerId, bob.bundle, bob.certificate)
    await aliceVault.flush()
    const name = `room/messages/${ROOM}`
    const entry = (await aliceVault.getJson(name, z.any())) as { keys: { members: Array<{ bundle: string }> } }
    entry.keys.members[0]!.bundle = carol.bundle
    await aliceVault.putJson(name, entry)
    await expect(loadRoomKeys(aliceVault, ROOM)).rejects.toBeInstanceOf(VaultCorruptError)
  })

  it('security: a removed member gets no later rotation and its channel is dropped; back, it gets a new opening', async () => {
    const sender = keysOf(alice)
    for (const p of [bob, carol]) await sender.addMember(p.peerId, p.bundle, p.certificate)
    const receiver = keysOf(carol)
    await receiver.addMember(alice.peerId, alice.bundle, alice.certificate)
    const first = await distribute(sender)
    expect(await receiver.receive(alice.peerId, first[0]!)).toBe('installed')
    sender.removeMember(carol.peerId)
    const after = await distribute(sender)
    expect(after.flatMap((r) => r.to.map((e) => e.peer))).toEqual([bob.peerId])
    expect(entryKinds(after)).toEqual(['wrapped'])
    await sender.addMember(carol.peerId, carol.bundle, carol.certificate)
    const back = await distribute(sender)
    expect(back.flatMap((r) => r.to.map((e) => [e.peer, 'sealed' in e ? 'sealed' : 'wrapped']))).toEqual([
      [carol.peerId, 'sealed'],
    ])
    expect(await receiver.receive(alice.peerId, back[0]!)).toBe('installed')
    // A wrapped entry meant for Bob, relabelled for Carol, names Bob's channel: nothing opens it.
    sender.rotate()
    const forBob = (await distribute(sender))[0]!
    const relabelled = { ...forBob, to: forBob.to.map((e) => ({ ...e, peer: carol.peerId })) }
    expect(await receiver.receive(alice.peerId, relabelled)).toBe('no-channel')
  })
  it('behavior: a member counted before its bundle arrived reads every message sent from then on, across a rotation, and none sent before', async () => {
    const sender = keysOf(alice)
    sender.rotate() // past the join grace: late members read from where they were counted, not from the start
    const receiver = keysOf(bob)
    await receiver.addMember(alice.peerId, alice.bundle, alice.certificate)
    const before = await sender.encrypt(Uint8Array.of(0), HEADER)
    sender.expectMember(bob.peerId)
    // Sent while bob's bundle is on its way: nothing can be sealed to him yet, the chain moves on.
    const counted = await sender.encrypt(Uint8Array.of(1), HEADER)
    sender.rotate() // carol left, say: a new epoch before bob's bundle came
    const rotated = await sender.encrypt(Uint8Array.of(2), HEADER)
    await sender.addMember(bob.peerId, bob.bundle, bob.certificate)
    const records = await distribute(sender)
    // The earlier epoch first (the channel's opening), then the current one (its next step).
    expect(records.map((r) => r.epoch)).toEqual([sender.epoch - 1, sender.epoch])
    expect(entryKinds(records)).toEqual(['sealed', 'wrapped'])
    for (const record of records) expect(await receiver.receive(alice.peerId, record)).toBe('installed')
    expect(await receiver.decrypt(alice.peerId, counted, HEADER)).toEqual(Uint8Array.of(1))
    expect(await receiver.decrypt(alice.peerId, rotated, HEADER)).toEqual(Uint8Array.of(2))
    await expect(receiver.decrypt(alice.peerId, before, HEADER)).rejects.toBeInstanceOf(DuplicateMessageError)
    // Sealed once: the next distribution has nothing for him, and what follows reads on.
    expect(await distribute(sender)).toEqual([])
    const next = await sender.encrypt(Uint8Array.of(3), HEADER)
    expect(await receiver.decrypt(alice.peerId, next, HEADER)).toEqual(Uint8Array.of(3))
  })

  it('behavior: a member whose presence reached us after we sent reads from its join on, within the window, nothing before', async () => {
    const sender = keysOf(alice)
    sender.rotate() // past the join grace
    const receiver = keysOf(bob)
    await receiver.addMember(alice.peerId, alice.bundle, alice.certificate)
    const now = Date.now()
    const at = (sentAtMs: number) => ({ ...HEADER, sentAtMs })
    const before = await sender.encrypt(Uint8Array.of(0), at(now - 2_000))
    // Bob joined (his presence is signed) here; we send before it reaches us (a busy device, a slow link).
    const unheard = await sender.encrypt(Uint8Array.of(1), at(now - 500))
    sender.expectMember(bob.peerId, now - 1_000)
    await sender.addMember(bob.peerId, bob.bundle, bob.certificate)
    for (const record of await distribute(sender))
      expect(await receiver.receive(alice.peerId, record)).toBe('installed')
    expect(await receiver.decrypt(alice.peerId, unheard, at(now - 500))).toEqual(Uint8Array.of(1))
    await expect(receiver.decrypt(alice.peerId, before, at(now - 2_000))).rejects.toBeInstanceOf(DuplicateMessageError)

    // A rotation (someone left) empties the window: a member counted after it reads from then on, whatever its stamp.
    const carolKeys = keysOf(carol)
    await carolKeys.addMember(alice.peerId, alice.bundle, alice.certificate)
    sender.rotate()
    sender.expectMember(carol.peerId, now - 1_000)
    const afterRotation = await sender.encrypt(Uint8Array.of(2), at(now))
    await sender.addMember(carol.peerId, carol.bundle, carol.certificate)
    for (const record of await distribute(sender))
      if (record.to.some((e) => e.peer === carol.peerId))
        expect(await carolKeys.receive(alice.peerId, record)).toBe('installed')
    expect(await carolKeys.decrypt(alice.peerId, afterRotation, at(now))).toEqual(Uint8Array.of(2))
    await expect(carolKeys.decrypt(alice.peerId, unheard, at(now - 500))).rejects.toThrow()
  })

  it('behavior: what a late member can read back is bounded by the window, whatever its presence claims', async () => {
    const sender = keysOf(alice)
    sender.rotate()
    const receiver = keysOf(bob)
    await receiver.addMember(alice.peerId, alice.bundle, alice.certificate)
    const at = (sentAtMs: number) => ({ ...HEADER, sentAtMs })
    vi.useFakeTimers({ toFake: ['Date'] })
    try {
      const start = Date.now()
      const old = await sender.encrypt(Uint8Array.of(0), at(start))
      vi.setSystemTime(start + LATE_MEMBER_WINDOW_MS / 2)
      const recent = await sender.encrypt(Uint8Array.of(1), at(Date.now()))
      vi.setSystemTime(start + LATE_MEMBER_WINDOW_MS + 1)
      // Stamped at the epoch's start: it still reads only what the window kept.
      sender.expectMember(bob.peerId, start)
      await sender.addMember(bob.peerId, bob.bundle, bob.certificate)
      for (const record of await distribute(sender))
        expect(await receiver.receive(alice.peerId, record)).toBe('installed')
      expect(await receiver.decrypt(alice.peerId, recent, at(start + LATE_MEMBER_WINDOW_MS / 2))).toEqual(
        Uint8Array.of(1),
      )
      await expect(receiver.decrypt(alice.peerId, old, at(start))).rejects.toBeInstanceOf(DuplicateMessageError)
    } finally {
      vi.useRealTimers()
    }
  })

  it('behavior: a member counted before its bundle arrived, added twice at once, still reads what was sent meanwhile', async () => {
    const sender = keysOf(alice)
    sender.rotate()
    const receiver = keysOf(bob)
    await receiver.addMember(alice.peerId, alice.bundle, alice.certificate)
    sender.expectMember(bob.peerId)
    const counted = await sender.encrypt(Uint8Array.of(1), HEADER)
    // Two presences of the newcomer, each fetching its bundle: both arrive together.
    expect(
      await Promise.all([
        sender.addMember(bob.peerId, bob.bundle, bob.certificate),
        sender.addMember(bob.peerId, bob.bundle, bob.certificate),
      ]),
    ).toEqual([true, true])
    for (const record of await distribute(sender)) {
      expect(await receiver.receive(alice.peerId, record)).toBe('installed')
    }
    expect(await receiver.decrypt(alice.peerId, counted, HEADER)).toEqual(Uint8Array.of(1))
  })

  it('behavior: a member whose distribution was lost asks again and reads what was sent since it was first sealed, nothing before', async () => {
    const sender = keysOf(alice)
    sender.rotate() // past the join grace: a member reads from where it was sealed, not from the start
    const receiver = keysOf(bob)
    await receiver.addMember(alice.peerId, alice.bundle, alice.certificate)
    const before = await sender.encrypt(Uint8Array.of(0), HEADER)
    await sender.addMember(bob.peerId, bob.bundle, bob.certificate)
    // Lost on its way (a relay that did not know the sender yet dropped it; no store kept it).
    expect(await distribute(sender)).toHaveLength(1)
    const missed = [await sender.encrypt(Uint8Array.of(1), HEADER), await sender.encrypt(Uint8Array.of(2), HEADER)]
    // Its presence's `want`: the answer is a new opening of the state the lost record carried, not of the chain now.
    sender.resend(bob.peerId)
    const again = await distribute(sender)
    expect(entryKinds(again)).toEqual(['sealed'])
    expect(await receiver.receive(alice.peerId, again[0]!)).toBe('installed')
    for (const [i, ct] of missed.entries()) {
      expect(await receiver.decrypt(alice.peerId, ct, HEADER)).toEqual(Uint8Array.of(i + 1))
    }
    await expect(receiver.decrypt(alice.peerId, before, HEADER)).rejects.toBeInstanceOf(DuplicateMessageError)
    // A new epoch is sealed from its start; asked again, from there, not from the old epoch's state.
    sender.rotate()
    await distribute(sender)
    const rotated = await sender.encrypt(Uint8Array.of(3), HEADER)
    sender.resend(bob.peerId)
    for (const record of await distribute(sender))
      expect(await receiver.receive(alice.peerId, record)).toBe('installed')
    expect(await receiver.decrypt(alice.peerId, rotated, HEADER)).toEqual(Uint8Array.of(3))
  })

  it('security: a member whose bundle could not be had, or that was removed, gets nothing of what was kept for it', async () => {
    const sender = keysOf(alice)
    sender.rotate()
    const receiver = keysOf(bob)
    await receiver.addMember(alice.peerId, alice.bundle, alice.certificate)
    sender.expectMember(bob.peerId)
    const missed = await sender.encrypt(Uint8Array.of(1), HEADER)
    sender.forgetExpected(bob.peerId)
    await sender.addMember(bob.peerId, bob.bundle, bob.certificate)
    for (const record of await distribute(sender))
      expect(await receiver.receive(alice.peerId, record)).toBe('installed')
    await expect(receiver.decrypt(alice.peerId, missed, HEADER)).rejects.toBeInstanceOf(DuplicateMessageError)

    sender.expectMember(carol.peerId)
    const unsealed = await sender.encrypt(Uint8Array.of(2), HEADER)
    sender.removeMember(carol.peerId)
    await sender.addMember(carol.peerId, carol.bundle, carol.certificate)
    const back = await distribute(sender)
    expect(back.map((r) => r.epoch)).toEqual([sender.epoch])
    const carolKeys = keysOf(carol)
    await carolKeys.addMember(alice.peerId, alice.bundle, alice.certificate)
    for (const record of back) expect(await carolKeys.receive(alice.peerId, record)).toBe('installed')
    await expect(carolKeys.decrypt(alice.peerId, unsealed, HEADER)).rejects.toBeInstanceOf(DuplicateMessageError)
  })
})
