/**
 * `securechat reply`, `react`, `edit` and `delete`, in a room (`--room`) or a DM conversation (`--dm`); how
 * `listen`, `history` and `chat` print what they change is in `message-updates.ts`.
 */
import type { Conversation } from '@securechat/sdk/dm'
import type { Room } from '@securechat/sdk/rooms'
import type { AbortOptions } from '@securechat/sdk/types'
import { ConfigError } from '../errors.ts'
import { type DmFlags, dmWrite } from './dm.ts'
import { type ClientFlags, roomWrite } from './room-client.ts'

/** What each command does, in a room and in a DM conversation alike. */
export interface Write {
  room: (room: Room) => ReturnType<Room['send']>
  dm: (conversation: Conversation, options: AbortOptions) => ReturnType<Conversation['send']>
}

export type WriteFlags = Omit<ClientFlags, 'room'> & { room?: string; dm?: string; json?: boolean }

/** Runs `write` in the room of `--room` or the conversation with `--dm`; prints what `send` and `dm` print. */
export async function writeMessage(flags: WriteFlags, write: Write): Promise<void> {
  requireOneTarget(flags)
  if (flags.dm !== undefined) {
    const { dm, room: _room, ...rest } = flags
    return dmWrite(rest as DmFlags, dm, write.dm)
  }
  return roomWrite({ ...flags, room: flags.room! }, write.room)
}

/** `--room` or `--dm`, and not both; `hint` says what the choice is for. */
export function requireOneTarget(
  flags: WriteFlags,
  hint = 'the message id names a message of that room or conversation (listen --json prints it)',
): void {
  if ((flags.room === undefined) === (flags.dm === undefined)) {
    throw new ConfigError('give --room <invite> or --dm <address>, one of them', { hint })
  }
}

/** `react` and `react --remove`. */
export function reactWrite(id: string, emoji: string, remove: boolean): Write {
  return remove
    ? { room: (room) => room.unreact(id, emoji), dm: (c, options) => c.unreact(id, emoji, options) }
    : { room: (room) => room.react(id, emoji), dm: (c, options) => c.react(id, emoji, options) }
}
