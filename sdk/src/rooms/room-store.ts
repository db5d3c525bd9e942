/**
 * Rooms in the vault (docs/security.md): which rooms this device joined, so a restarted client
 * can join them again, and each room's inbound sender keys, so a restarted device still reads the
 * epochs of other members it held keys for. The vault encrypts every entry
 * under its non-extractable key, bound to the entry's name (`vault/vault.ts`).
 *
 * Entries (JSON, like DM sessions in `dm/session-store.ts`):
 *
 * ```
 * room/joined/<roomId> = { v: 1, manifest: SignedManifest, relays: string[], joinedAtMs }
 * room/messages/<roomId> = { v: 2, states: SavedMessageStates,   (message-state.ts: texts, versions, reactions…)
 *                            position: { lamport, ids, liveAtMs? },  (HistoryPosition: where catch-up starts)
 *                            keys: { v: 4, inbound: b64url(InboundSenderKeys.serialize()),
 *                                    channels: [{ peer, state: b64url(InboundChannel.serialize()) }],
 *                                    members: [{ peer, address, bundle, bundleHash, absentSinceMs? }] } }
 * ```
 *
 * `room/messages/` is the room's own history on this device, bounded (`MAX_MESSAGE_STATES`): the state a restart
 * applies later edits, deletes and reactions to, and that an app rebuilds its list from when its own copy missed a
 * message (a reload just after it came). The position and the sender keys are in the same entry, written with the
 * states, and taken when no message is half-way (its key used and its place in the position taken, its state not
 * yet there). Saved apart, either could reach the vault first: a device that stopped in between — a crash, a tab
 * closed or reloaded before its writes ran — skipped on restart a message its position named and its states lacked,
 * or fetched it again with its key already used, unreadable for good (`test/restart-history.test.ts`).
 * Entries of earlier versions: `room/messages/` held the states alone, beside `room/history/<roomId> = { v: 2,
 * lamport, ids, liveAtMs? }` and `room/keys/<roomId>` (the `keys` above, v1–v4); both are still read while the
 * states entry holds no position or keys.
 *
 * `keys` holds each member's chain as this device last saved it, with the bounded skipped
 * keys of messages not yet received. Saves come after delivery, coalesced
 * ({@link MESSAGE_STATES_SAVE_DELAY_MS}): a restart may find a chain a few messages behind, which still
 * derives every later key; a newly installed chain is saved at once, before anything read with it is
 * delivered unless a message was half-way then (a restart without the chain reads its keys record again
 * from the stores). Our own chain is not stored at all: a restarted device starts a new epoch (random
 * number) and seals it to the members again, so no message key it used can come back from the
 * vault. Entries of version 1 also held that chain (`outbound`); it is ignored.
 *
 * `channels` holds the receiving end of each member's pairwise channel (`crypto/pairwise-channel.ts`)
 * at the step after the last key it carried, saved with the chains it installed: a restarted device
 * opens the member's next rotation without a new hybrid seal. Entries of version 2 have none (every
 * member seals afresh when asked, see `room-keys.ts`).
 *
 * `members` holds the members our sender key is sealed to — present ones and absent ones
 * (`absent-members.ts`, with since when) — with their key bundles: a restarted device seals its
 * new epoch to them all, not only to those it hears live again, and a member away cannot be
 * asked for its bundle. Each bundle is verified again against its PeerId and hash when read.
 * Entries of versions 1–3 have none (such a restart seals to members as it hears them).
 *
 * `room/history/` of version 1 held the ids at the highest clock only and no `liveAtMs`: it loads
 * as a position without one (catch-up asks by Lamport clock once, then saves it with the states).
 *
 * ```
 * room/moderation/<roomId> = { v: 1, events: ModerationEvent[] }   (the log's kept events, parents first)
 * ```
 *
 * The room's moderation log as this device last knew it: a restarted device knows who is banned, muted, locked out
 * or a moderator before any relay answers (a banned member's presence is not taken in meanwhile), and what the
 * stores send again is no news (`listen` prints only what is new). Each event is judged again as it loads, its
 * signature recovered (a few ms each, at most `MAX_MODERATION_EVENTS`).
 */
import { z } from 'zod'
import {
  MAX_LAMPORT_CLOCK,
  MAX_MODERATION_EVENTS,
  MAX_POSITION_IDS,
  MAX_ROOM_CHANNELS,
  MAX_SAVED_ROOM_MEMBERS,
  MESSAGE_STATES_SAVE_DELAY_MS,
} from '../constants.ts'
import type { VerifiedKeyBundle } from '../crypto/key-bundle.ts'
import { deserializeInboundChannel, type InboundChannel } from '../crypto/pairwise-channel.ts'
import { wipe } from '../crypto/primitives.ts'
import { deserializeInboundSenderKeys, type InboundSenderKeys } from '../crypto/sender-keys.ts'
import { base64urlDecode, base64urlEncode, utf8 } from '../encoding.ts'
import { VaultCorruptError } from '../errors.ts'
import { keyBundleTextSchema, peerIdTextSchema, recordTimeSchema, sha256HexSchema } from '../json-records.ts'
import type { Logger } from '../logger.ts'
import { type SavedMessageStates, savedMessageStatesSchema } from '../message-state.ts'
import type { Address, SavedRoom } from '../types.ts'
import type { Vault } from '../vault/vault.ts'
import type { HistoryPosition } from './history-sink.ts'
import { roomIdOf, type SignedManifest, signedManifestSchema } from './manifest.ts'
import { verifyMemberBundle } from './member-bundle.ts'
import type { ModerationEvent } from './moderation-event.ts'

/** Vault entry names of rooms: `joined` + roomId (the manifest), `keys` + roomId (sender keys). */
export const ROOM_ENTRY_PREFIXES = {
  joined: 'room/joined/',
  keys: 'room/keys/',
  history: 'room/history/',
  messages: 'room/messages/',
  moderation: 'room/moderation/',
} as const

const b64 = z.string().regex(/^[A-Za-z0-9_-]+$/)
const joinedSchema = z
  .object({
    v: z.literal(1),
    manifest: signedManifestSchema,
    relays: z.array(z.string().max(512)).max(16),
    joinedAtMs: z.number().int().nonnegative(),
  })
  .strict()
const channelsSchema = z
  .array(z.object({ peer: peerIdTextSchema, state: b64.max(256) }).strict())
  .max(MAX_ROOM_CHANNELS)
const membersSchema = z
  .array(
    z
      .object({
        peer: peerIdTextSchema,
        address: z.string().regex(/^0x[0-9a-fA-F]{40}$/),
        bundle: keyBundleTextSchema,
        bundleHash: sha256HexSchema,
        absentSinceMs: recordTimeSchema.optional(),
      })
      .strict(),
  )
  .max(MAX_SAVED_ROOM_MEMBERS)
const keysSchema = z.union([
  z.object({ v: z.literal(4), inbound: b64, channels: channelsSchema, members: membersSchema }).strict(),
  // Version 3 held no members.
  z.object({ v: z.literal(3), inbound: b64, channels: channelsSchema }).strict(),
  // Version 2 held no pairwise channels.
  z.object({ v: z.literal(2), inbound: b64 }).strict(),
  // Version 1 also held our own chain, which a restart no longer resumes.
  z.object({ v: z.literal(1), outbound: b64, inbound: b64 }).strict(),
])

const positionFields = {
  lamport: z.number().int().nonnegative().max(MAX_LAMPORT_CLOCK),
  ids: z.array(sha256HexSchema).max(MAX_POSITION_IDS),
}
const positionSchema = z.union([
  z.object({ v: z.literal(2), ...positionFields, liveAtMs: recordTimeSchema.optional() }).strict(),
  // Version 1: no `liveAtMs`, at most 64 ids.
  z.object({ v: z.literal(1), ...positionFields }).strict(),
])

/** A member our sender key is sealed to, as saved (its bundle as the certificate protocol carries it). */
export interface SavedMember {
  peer: string
  address: Address
  bundle: string
  bundleHash: string
  /** Since when it is absent (`absent-members.ts`); undefined when it was present. */
  absentSinceMs?: number
}

/**
 * A room's sender-key state as loaded from the vault: the other members' chains and the receiving
 * ends of their pairwise channels, by sender PeerId, and the members our key is sealed to (their
 * bundles verified again). Secret.
 */
export interface StoredRoomKeys {
  inbound: InboundSenderKeys
  channels: Map<string, InboundChannel>
  members: Array<SavedMember & { verified: VerifiedKeyBundle }>
}

/** What {@link saveRoomKeys} writes: `members` is read when the write runs. */
export interface RoomKeysToSave {
  inbound: InboundSenderKeys
  channels: Map<string, InboundChannel>
  members: () => SavedMember[]
}

/** Remembers a joined room; the first join's time is kept when it is already remembered. */
export async function saveJoinedRoom(
  vault: Vault,
  params: { roomId: string; manifest: SignedManifest; relays: string[] },
): Promise<void> {
  const name = `${ROOM_ENTRY_PREFIXES.joined}${sha256HexSchema.parse(params.roomId)}`
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

/** Forgets a room: its manifest, sender keys, history and moderation log. */
export async function forgetRoom(vault: Vault, roomId: string): Promise<void> {
  for (const prefix of Object.values(ROOM_ENTRY_PREFIXES)) await vault.delete(`${prefix}${roomId}`)
}

/**
 * Writes of `roomId`'s entries still waiting for their delay, made now: a room joined again at once (a rejoin after a
 * kick) reads what its last run knew, not what it knew a second earlier.
 */
export async function flushRoomEntries(vault: Vault, roomId: string): Promise<void> {
  for (const prefix of Object.values(ROOM_ENTRY_PREFIXES)) await vault.flush(`${prefix}${roomId}`)
}

/** A room's `room/moderation/` entry: each event is checked by the log as it is added again. */
const moderationLogSchema = z
  .object({ v: z.literal(1), events: z.array(z.unknown()).max(MAX_MODERATION_EVENTS) })
  .strict()

/** Saves `events()` as they are when the write runs, within `delayMs` (saves asked for before then share it). */
export function saveModerationLog(
  vault: Vault,
  roomId: string,
  events: () => ModerationEvent[],
  delayMs = MESSAGE_STATES_SAVE_DELAY_MS,
): Promise<void> {
  return vault.putLatest(
    `${ROOM_ENTRY_PREFIXES.moderation}${sha256HexSchema.parse(roomId)}`,
    () => utf8.encode(JSON.stringify({ v: 1, events: events() } satisfies z.input<typeof moderationLogSchema>)),
    { delayMs },
  )
}

/** The moderation events an earlier run saved for `roomId`, unchecked (the log judges each), or undefined. */
export async function loadModerationLog(vault: Vault, roomId: string): Promise<unknown[] | undefined> {
  const stored = await vault.getJson(
    `${ROOM_ENTRY_PREFIXES.moderation}${sha256HexSchema.parse(roomId)}`,
    moderationLogSchema,
  )
  return stored?.events
}

/**
 * A room's `room/messages/` entry. Version 2 holds the history position with the message states, written together:
 * a position saved apart (version 1 kept it in `room/history/`) could reach the vault ahead of the states, and a
 * restart then skipped a message its catch-up never delivered again while the states, which an app rebuilds its
 * list from, did not hold it.
 */
const roomMessagesSchema = z.union([
  z
    .object({
      v: z.literal(2),
      states: savedMessageStatesSchema,
      position: z.object({ ...positionFields, liveAtMs: recordTimeSchema.optional() }).strict(),
      /** Absent until the room first saved its keys with them (`room/keys/` is read then). */
      keys: keysSchema.optional(),
    })
    .strict(),
  // Version 1: the states alone (they carry `v: 1` themselves).
  savedMessageStatesSchema,
])

/**
 * What a room keeps of its history, written as one (`room/messages/`): its messages' states, its position and its
 * sender keys — none on disk ahead of the others (see the module comment).
 */
export interface SavedRoomHistory {
  states: SavedMessageStates
  position: HistoryPosition
  keys: RoomKeysRecord | undefined
}

async function loadRoomMessages(vault: Vault, roomId: string): Promise<z.infer<typeof roomMessagesSchema> | undefined> {
  return vault.getJson(`${ROOM_ENTRY_PREFIXES.messages}${sha256HexSchema.parse(roomId)}`, roomMessagesSchema)
}

/** The room's message states as last saved; undefined when none. Throws `VaultCorruptError` when unreadable. */
export async function loadMessageStates(vault: Vault, roomId: string): Promise<SavedMessageStates | undefined> {
  const stored = await loadRoomMessages(vault, roomId)
  return stored === undefined || stored.v === 1 ? stored : stored.states
}

/**
 * Where catch-up of `roomId` starts, as last saved with the message states; from the `room/history/` entry of an
 * earlier version when they hold none. Undefined when this device has nothing yet.
 */
export async function loadHistoryPosition(vault: Vault, roomId: string): Promise<HistoryPosition | undefined> {
  const stored = await loadRoomMessages(vault, roomId).catch(() => undefined)
  if (stored?.v === 2) {
    const { lamport, ids, liveAtMs } = stored.position
    return liveAtMs === undefined ? { lamport, ids } : { lamport, ids, liveAtMs }
  }
  const old = await vault.getJson(`${ROOM_ENTRY_PREFIXES.history}${sha256HexSchema.parse(roomId)}`, positionSchema)
  if (old === undefined) return undefined
  const { lamport, ids } = old
  return old.v === 2 && old.liveAtMs !== undefined ? { lamport, ids, liveAtMs: old.liveAtMs } : { lamport, ids }
}

/**
 * Saves `history()` as it is when the write runs, within `delayMs` (saves asked for before then share it): one
 * entry, so neither the position nor the sender keys on disk are ever ahead of the states on disk.
 */
export function saveRoomHistory(
  vault: Vault,
  roomId: string,
  history: () => SavedRoomHistory,
  delayMs = MESSAGE_STATES_SAVE_DELAY_MS,
): Promise<void> {
  return vault.putLatest(
    `${ROOM_ENTRY_PREFIXES.messages}${roomId}`,
    () => {
      const { states, position, keys } = history()
      const { lamport, ids, liveAtMs } = position
      return utf8.encode(
        JSON.stringify({
          v: 2,
          states,
          position: { lamport, ids, liveAtMs },
          keys,
        } satisfies z.input<typeof roomMessagesSchema>),
      )
    },
    { delayMs },
  )
}

/**
 * The stored sender keys of `roomId`, or undefined when there are none. Throws
 * `VaultCorruptError` when the entry cannot be read or belongs to another room.
 */
export async function loadRoomKeys(vault: Vault, roomId: string): Promise<StoredRoomKeys | undefined> {
  const combined = await loadRoomMessages(vault, roomId)
  if (combined?.v === 2 && combined.keys !== undefined) {
    return decodeRoomKeys(`${ROOM_ENTRY_PREFIXES.messages}${roomId}`, combined.keys, roomId)
  }
  const name = `${ROOM_ENTRY_PREFIXES.keys}${sha256HexSchema.parse(roomId)}`
  const stored = await vault.getJson(name, keysSchema)
  return stored === undefined ? undefined : decodeRoomKeys(name, stored, roomId)
}

async function decodeRoomKeys(
  name: string,
  stored: z.infer<typeof keysSchema>,
  roomId: string,
): Promise<StoredRoomKeys> {
  let inbound: InboundSenderKeys
  const channels = new Map<string, InboundChannel>()
  const members: StoredRoomKeys['members'] = []
  try {
    if (stored.v === 4) {
      for (const member of stored.members) {
        const verified = await verifyMemberBundle(member.peer, member.bundle, member.bundleHash)
        const { absentSinceMs, ...rest } = member
        members.push({
          ...rest,
          address: member.address as Address,
          verified,
          ...(absentSinceMs === undefined ? {} : { absentSinceMs }),
        })
      }
    }
    inbound = deserializeInboundSenderKeys(base64urlDecode(stored.inbound))
    if (stored.v === 3 || stored.v === 4) {
      for (const { peer, state } of stored.channels)
        channels.set(peer, deserializeInboundChannel(base64urlDecode(state)))
    }
  } catch (cause) {
    throw new VaultCorruptError(`the vault entry ${name} cannot be decoded`, { details: { name }, cause })
  }
  if (inbound.roomId !== roomId) {
    throw new VaultCorruptError(`the vault entry ${name} belongs to another room`, { details: { name } })
  }
  return { inbound, channels, members }
}

/** What the keys of a room are saved as (the `keys` of `room/messages/`). Secret. */
export type RoomKeysRecord = z.input<typeof keysSchema>

/** `keys` as they are now, as saved: the members' chains, the receiving ends of their channels, those sealed to. */
export function roomKeysRecord(keys: RoomKeysToSave): RoomKeysRecord {
  const bytes = keys.inbound.serialize()
  const states = [...keys.channels].slice(0, MAX_ROOM_CHANNELS).map(([peer, channel]) => ({
    peer,
    state: channel.serialize(),
  }))
  try {
    return {
      v: 4,
      inbound: base64urlEncode(bytes),
      channels: states.map(({ peer, state }) => ({ peer, state: base64urlEncode(state) })),
      members: keys.members().slice(0, MAX_SAVED_ROOM_MEMBERS),
    }
  } finally {
    wipe(bytes, ...states.map((s) => s.state))
  }
}
