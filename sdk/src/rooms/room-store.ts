/**
 * Rooms in the vault (README, Security): which rooms this device joined, so a restarted client
 * can join them again, and each room's sender keys, so a restarted device keeps its epoch and
 * still reads the epochs of other members it held keys for. The vault encrypts every entry
 * under its non-extractable key, bound to the entry's name (`vault/vault.ts`).
 *
 * Entries (JSON, like DM sessions in `dm/direct-messages.ts`):
 *
 * ```
 * room/joined/<roomId> = { v: 1, manifest: SignedManifest, relays: string[], joinedAtMs }
 * room/keys/<roomId>   = { v: 1, outbound: b64url(OutboundSenderKey.serialize()),
 *                              inbound: b64url(InboundSenderKeys.serialize()) }
 * ```
 *
 * `room/keys/` holds only the current state of each chain: our own chain key as it is after the
 * last message we encrypted, and each member's chain after the last message we decrypted, with
 * the bounded skipped keys of messages not yet received. A message key already used cannot be
 * derived from it (forward secrecy holds for the stored state too); `RoomKeys` saves each advance
 * before the ciphertext is published or the plaintext delivered.
 */
import { z } from 'zod'
import { wipe } from '../crypto/primitives.ts'
import {
  deserializeInboundSenderKeys,
  deserializeOutboundSenderKey,
  type InboundSenderKeys,
  type OutboundSenderKey,
} from '../crypto/sender-keys.ts'
import { base64urlDecode, base64urlEncode } from '../encoding.ts'
import { VaultCorruptError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import type { SavedRoom } from '../types.ts'
import type { Vault } from '../vault/vault.ts'
import { roomIdOf, type SignedManifest, signedManifestSchema } from './manifest.ts'

/** Vault entry names of rooms: `joined` + roomId (the manifest), `keys` + roomId (sender keys). */
export const ROOM_ENTRY_PREFIXES = { joined: 'room/joined/', keys: 'room/keys/' } as const

const b64 = z.string().regex(/^[A-Za-z0-9_-]+$/)
const roomIdSchema = z.string().regex(/^[0-9a-f]{64}$/)
const joinedSchema = z
  .object({
    v: z.literal(1),
    manifest: signedManifestSchema,
    relays: z.array(z.string().max(512)).max(16),
    joinedAtMs: z.number().int().nonnegative(),
  })
  .strict()
const keysSchema = z.object({ v: z.literal(1), outbound: b64, inbound: b64 }).strict()

/** A room's sender-key state as loaded from the vault. Secret. */
export interface StoredRoomKeys {
  outbound: OutboundSenderKey
  inbound: InboundSenderKeys
}

/** Remembers a joined room; the first join's time is kept when it is already remembered. */
export async function saveJoinedRoom(
  vault: Vault,
  params: { roomId: string; manifest: SignedManifest; relays: string[] },
): Promise<void> {
  const name = `${ROOM_ENTRY_PREFIXES.joined}${roomIdSchema.parse(params.roomId)}`
  if ((await vault.list(name)).includes(name)) return
  await vault.putJson(name, {
    v: 1,
    manifest: params.manifest,
    relays: params.relays.slice(0, 16),
    joinedAtMs: Date.now(),
  } satisfies z.input<typeof joinedSchema>)
}

/**
 * The rooms remembered in `vault`, oldest joined first. An entry that cannot be read is
 * reported to `log` and skipped (and left as it is).
 */
export async function loadSavedRooms(vault: Vault, log?: Logger): Promise<SavedRoom[]> {
  const rooms: SavedRoom[] = []
  for (const name of await vault.list(ROOM_ENTRY_PREFIXES.joined)) {
    try {
      const stored = await vault.getJson(name, joinedSchema)
      if (stored === undefined) continue
      const roomId = roomIdOf(stored.manifest.manifest)
      if (name !== `${ROOM_ENTRY_PREFIXES.joined}${roomId}`) {
        throw new VaultCorruptError('a saved room is stored under another room id', { details: { name, roomId } })
      }
      rooms.push({
        roomId,
        name: stored.manifest.manifest.name,
        manifest: stored.manifest,
        relays: stored.relays,
        joinedAtMs: stored.joinedAtMs,
      })
    } catch (err) {
      log?.warn('a saved room could not be read; its entry is kept as it is', { entry: name, error: String(err) })
    }
  }
  return rooms.sort((a, b) => a.joinedAtMs - b.joinedAtMs)
}

/** Forgets a room: its manifest and its sender keys. */
export async function forgetRoom(vault: Vault, roomId: string): Promise<void> {
  await vault.delete(`${ROOM_ENTRY_PREFIXES.joined}${roomId}`)
  await vault.delete(`${ROOM_ENTRY_PREFIXES.keys}${roomId}`)
}

/**
 * The stored sender keys of `roomId`, or undefined when there are none. Throws
 * `VaultCorruptError` when the entry cannot be read or belongs to another room or device.
 */
export async function loadRoomKeys(
  vault: Vault,
  params: { roomId: string; selfPeerId: string },
): Promise<StoredRoomKeys | undefined> {
  const name = `${ROOM_ENTRY_PREFIXES.keys}${roomIdSchema.parse(params.roomId)}`
  const stored = await vault.getJson(name, keysSchema)
  if (stored === undefined) return undefined
  let keys: StoredRoomKeys
  try {
    keys = {
      outbound: deserializeOutboundSenderKey(base64urlDecode(stored.outbound)),
      inbound: deserializeInboundSenderKeys(base64urlDecode(stored.inbound)),
    }
  } catch (cause) {
    throw new VaultCorruptError(`the vault entry ${name} cannot be decoded`, { details: { name }, cause })
  }
  const { outbound, inbound } = keys
  if (
    outbound.roomId !== params.roomId ||
    inbound.roomId !== params.roomId ||
    outbound.senderId !== params.selfPeerId
  ) {
    throw new VaultCorruptError(`the vault entry ${name} belongs to another room or device`, { details: { name } })
  }
  return keys
}

/** Stores the current state of a room's sender keys (never an older one: callers save each advance). */
export function saveRoomKeys(vault: Vault, roomId: string, keys: StoredRoomKeys): Promise<void> {
  const outbound = keys.outbound.serialize()
  const inbound = keys.inbound.serialize()
  try {
    return vault.putJson(`${ROOM_ENTRY_PREFIXES.keys}${roomId}`, {
      v: 1,
      outbound: base64urlEncode(outbound),
      inbound: base64urlEncode(inbound),
    } satisfies z.input<typeof keysSchema>)
  } finally {
    wipe(outbound, inbound)
  }
}
