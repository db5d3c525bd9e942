/**
 * `securechat disappear --room|--dm <duration|off>`: sets a conversation's disappearing-messages timer; and how
 * `listen`, `history` and `chat` print a timer change (`timer:changed`), a refused one (`timer:refused`, DMs) and
 * messages that expired (`message:expired`), in rooms and DMs alike.
 */
import { describeTimer, parseTimer } from '@securechat/sdk/disappearing'
import type { DmExpiry, DmTimerUpdate, RefusedTimer, RoomExpiry, RoomTimerUpdate } from '@securechat/sdk/types'
import { isoTime, shortAddress } from './cli-format.ts'
import { type DmFlags, dmWrite } from './dm.ts'
import { requireOneTarget, type WriteFlags } from './message-kinds.ts'
import { moderate } from './moderation.ts'

/**
 * Sets the timer of `duration` (`off`, `10s`, `5m`, `1h`, `1d`, `1w`), checked before joining. A room's is an event
 * of its moderation log, which its owner's wallet signs after catching up (as `mute` or `lock`): it prints what
 * those print. A DM's is an encrypted message, printed as `send` prints one.
 */
export async function disappear(duration: string, flags: WriteFlags): Promise<void> {
  const seconds = parseTimer(duration)
  requireOneTarget(flags, 'the timer is a room’s (--room, its owner only) or a DM conversation’s (--dm)')
  const { room, dm, json: _json, ...client } = flags
  if (room !== undefined) return moderate('timer', undefined, { ...client, room }, { seconds })
  return dmWrite(client as DmFlags, dm!, (conversation, options) => conversation.setDisappearing(seconds, options))
}

/** What a room or the DMs report about disappearing messages; `print` takes one line each. */
export interface TimerEvents {
  addEventListener(type: 'timer:changed', listener: (event: CustomEvent<RoomTimerUpdate | DmTimerUpdate>) => void): void
  addEventListener(type: 'timer:refused', listener: (event: CustomEvent<RefusedTimer>) => void): void
  addEventListener(type: 'message:expired', listener: (event: CustomEvent<RoomExpiry | DmExpiry>) => void): void
}

export function printTimerEvents(target: TimerEvents, json: boolean, print: (line: string) => void): void {
  target.addEventListener('timer:changed', ({ detail }) => print(formatTimerChange(detail, json)))
  target.addEventListener('timer:refused', ({ detail }) => print(formatTimerRefused(detail, json)))
  target.addEventListener('message:expired', ({ detail }) => print(formatExpired(detail, json)))
}

const where = (detail: { roomId: string } | { conversation: string }): Record<string, string> =>
  'roomId' in detail ? { roomId: detail.roomId } : { conversation: detail.conversation }

export function formatTimerChange(detail: RoomTimerUpdate | DmTimerUpdate, json: boolean): string {
  const { change } = detail
  if (json) {
    return JSON.stringify({
      type: 'timer',
      ...where(detail),
      id: change.id,
      sender: change.sender,
      senderPeerId: change.senderPeerId,
      seconds: change.seconds,
      sentAt: isoTime(change.sentAtMs),
    })
  }
  return change.seconds === 0
    ? `* ${shortAddress(change.sender)} turned disappearing messages off`
    : `* ${shortAddress(change.sender)} set disappearing messages to ${describeTimer(change.seconds)}`
}

export function formatTimerRefused(refused: RefusedTimer, json: boolean): string {
  const { change, reason } = refused
  return json
    ? JSON.stringify({ type: 'refused', kind: 'timer', id: change.id, sender: change.sender, reason })
    : `! a disappearing-messages timer from ${change.sender} was refused: ${reason}`
}

export function formatExpired(detail: RoomExpiry | DmExpiry, json: boolean): string {
  if (json) return JSON.stringify({ type: 'expired', ...where(detail), ids: detail.ids })
  return `* ${detail.ids.length} message${detail.ids.length === 1 ? '' : 's'} disappeared (timer)`
}
