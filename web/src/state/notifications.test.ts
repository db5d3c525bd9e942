import { describe, expect, it } from 'vitest'
import type { ChatEntry } from './history-store.ts'
import { isNews, NOTIFY_CATCH_UP_GRACE_MS, NOTIFY_WITHIN_MS } from './notifications.ts'

const ME = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC'
const NOW = 1_800_000_000_000

function entry(over: Partial<ChatEntry> = {}): ChatEntry {
  return {
    id: 'a'.repeat(64),
    sender: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
    text: 'hello',
    sentAtMs: NOW - 1000,
    receivedAtMs: NOW,
    mine: false,
    state: 'ok',
    ...over,
  } as ChatEntry
}

describe('isNews', () => {
  it('behavior: a DM, or a room message that mentions me, written lately by someone else', () => {
    const dm = { kind: 'dm', catchingUp: undefined } as const
    const room = { kind: 'room', catchingUp: undefined } as const
    expect(isNews(entry(), dm, ME, NOW)).toBe(true)
    expect(isNews(entry(), room, ME, NOW)).toBe(false)
    expect(isNews(entry({ mentions: [ME] }), room, ME, NOW)).toBe(true)
    expect(isNews(entry({ mine: true }), dm, ME, NOW)).toBe(false)
    expect(isNews(entry({ notice: { kind: 'timer', seconds: 60 } }), dm, ME, NOW)).toBe(false)
    expect(isNews(entry({ sentAtMs: NOW - NOTIFY_WITHIN_MS - 1 }), dm, ME, NOW)).toBe(false)
  })

  it('behavior: while a catch-up runs, what it brings from well before it began is not news; what was written since, or just before (a connection that dropped for a moment), is', () => {
    const catchingUp = { delivered: 3, fetched: 40, sinceMs: NOW - 5000 }
    const room = { kind: 'room', catchingUp } as const
    const dm = { kind: 'dm', catchingUp } as const
    const backlog = NOW - 5000 - NOTIFY_CATCH_UP_GRACE_MS - 1
    expect(isNews(entry({ mentions: [ME], sentAtMs: backlog }), room, ME, NOW)).toBe(false)
    expect(isNews(entry({ sentAtMs: backlog }), dm, ME, NOW)).toBe(false)
    expect(isNews(entry({ mentions: [ME], sentAtMs: NOW - 2000 }), room, ME, NOW)).toBe(true)
    expect(isNews(entry({ sentAtMs: NOW - 5000 - 1000 }), dm, ME, NOW)).toBe(true)
  })
})
