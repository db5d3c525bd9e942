/**
 * The devnet's rooms are the same on every `npm start`: a room id is the hash of its manifest, so
 * the manifest's salt and creation time are derived from what is fixed (the owner, one of
 * Hardhat's well-known accounts, and the room's name) instead of drawn at random. Invites and web
 * links printed by an earlier run keep working; messages sent before a restart stay in their room.
 */
import { createHash } from 'node:crypto'

/** When every devnet room says it was created (2026-01-01T00:00:00Z). */
export const DEVNET_ROOMS_CREATED_AT_MS = Date.UTC(2026, 0, 1)

/** `salt` and `now` for `createManifest`: the same for the same owner and name, run after run. */
export function stableRoomParams(owner: string, name: string): { salt: string; now: number } {
  const salt = createHash('sha256').update(`securechat devnet room\n${owner.toLowerCase()}\n${name}`).digest('hex')
  return { salt: salt.slice(0, 32), now: DEVNET_ROOMS_CREATED_AT_MS }
}
