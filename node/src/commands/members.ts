import { describeRole, type MemberListEntry, memberList } from '@securechat/sdk/rooms'
import { createNodeLogger } from '../log.ts'
import { isoTime } from './cli-format.ts'
import { type ClientFlags, joinFromFlags } from './room-client.ts'

export interface MembersFlags extends ClientFlags {
  json?: boolean
}

/**
 * `securechat members --room <room>`: who is in the room as this device sees it once joined — the members here now
 * (their presence reached it), those away that the room or the relays' stores know of, their roles and when each
 * was last seen — as the web app's member panel shows them; then it leaves (its own leaving presence tells the
 * others at once).
 */
export async function members(flags: MembersFlags): Promise<void> {
  const { factory } = createNodeLogger({ json: false, level: 'warn' })
  const { client, room, close } = await joinFromFlags(flags, factory)
  try {
    // The members away that only the relays' stores know of come with their stored presence.
    await room.membersKnown()
    const self = client.peerId.toString()
    const list = await memberList(room, { gates: client.gates })
    for (const entry of list) {
      const you = entry.peerIds.includes(self)
      process.stdout.write(`${flags.json === true ? toJson(entry, you) : format(entry, you)}\n`)
    }
  } finally {
    await close()
  }
}

function toJson(entry: MemberListEntry, you: boolean): string {
  return JSON.stringify({
    type: 'member',
    address: entry.address,
    status: entry.status,
    lastSeen: isoTime(entry.lastSeenMs),
    roles: entry.roles,
    devices: entry.peerIds.length,
    ...(you ? { you: true } : {}),
  })
}

/** `0x…  here  owner, token holder (5 messages/s)  last seen 2026-…` */
function format(entry: MemberListEntry, you: boolean): string {
  const roles = entry.roles.map(describeRole).join(', ')
  return [
    `${entry.address}${you ? ' (you)' : ''}`,
    entry.status,
    roles === '' ? 'member' : roles,
    entry.status === 'here' ? 'here now' : `last seen ${isoTime(entry.lastSeenMs) ?? 'unknown'}`,
  ].join('  ')
}
