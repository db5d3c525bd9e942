import { ModeratedError } from '@securechat/sdk/errors'
import { describe, expect, it } from 'vitest'
import { describeSendProblem } from './errors.ts'

describe('describeSendProblem', () => {
  it("behavior: says a mute's end in the reader's own date and time, not the sdk's UTC; anything else as describeError", () => {
    const untilMs = Date.UTC(2026, 11, 7, 19, 4)
    const muted = new ModeratedError(`you are muted in this room until ${new Date(untilMs).toISOString()}`, {
      hint: 'wait',
      details: { reason: 'muted', untilMs },
    })
    const text = describeSendProblem(muted)
    expect(text).toContain(new Date(untilMs).toLocaleString())
    expect(text).not.toContain('2026-12-07T19:04')
    const locked = new ModeratedError('the room is read-only', { hint: 'wait until a moderator unlocks it' })
    expect(describeSendProblem(locked)).toBe('the room is read-only — wait until a moderator unlocks it')
  })
})
