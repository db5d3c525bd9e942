import { ABSENT_MEMBER_KEYS_MS, MAX_ABSENT_MEMBERS } from '../constants.ts'
import type { RoomMember } from '../types.ts'

/**
 * Members whose presence stopped without leaving the room for good (timed out, or went offline),
 * with since when. Who shares keys in a room keeps sealing them to these for
 * {@link ABSENT_MEMBER_KEYS_MS} (the stores' default retention), so a member that comes back
 * within it reads, through catch-up, what was sent meanwhile: it is still a member, and one that
 * holds the invite could rejoin and be sealed the keys anyway. Leaving for good (`forever`),
 * removal, failing the gate or an absence past the bound ends that, with a new epoch.
 */
export class AbsentMembers {
  readonly #absent = new Map<string, { member: RoomMember; sinceMs: number }>()

  get(peerId: string): RoomMember | undefined {
    return this.#absent.get(peerId)?.member
  }

  /** Since when `peerId` is absent; undefined when it is not. */
  sinceMs(peerId: string): number | undefined {
    return this.#absent.get(peerId)?.sinceMs
  }

  /** Whether {@link add} would drop someone: members learned from the stores are added only while not. */
  get full(): boolean {
    return this.#absent.size >= MAX_ABSENT_MEMBERS
  }

  members(): RoomMember[] {
    return [...this.#absent.values()].map((entry) => entry.member)
  }

  /** Notes `member` absent (from its first absence on); returns who is dropped past {@link MAX_ABSENT_MEMBERS}. */
  add(member: RoomMember, nowMs = Date.now()): RoomMember[] {
    if (!this.#absent.has(member.peerId)) this.#absent.set(member.peerId, { member, sinceMs: nowMs })
    const dropped: RoomMember[] = []
    for (const [peerId, entry] of this.#absent) {
      if (this.#absent.size <= MAX_ABSENT_MEMBERS) break
      this.#absent.delete(peerId)
      dropped.push(entry.member)
    }
    return dropped
  }

  /** Back (present again) or gone for good. */
  delete(peerId: string): void {
    this.#absent.delete(peerId)
  }

  /** Removes and returns the members absent longer than {@link ABSENT_MEMBER_KEYS_MS}. */
  expire(nowMs = Date.now()): RoomMember[] {
    const expired: RoomMember[] = []
    for (const [peerId, entry] of this.#absent) {
      if (entry.sinceMs >= nowMs - ABSENT_MEMBER_KEYS_MS) continue
      this.#absent.delete(peerId)
      expired.push(entry.member)
    }
    return expired
  }
}
