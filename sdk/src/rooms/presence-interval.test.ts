import { describe, expect, it } from 'vitest'
import {
  MAX_PRESENCE_INTERVAL_MS,
  PRESENCE_FULL_RATE_MEMBERS,
  PRESENCE_INTERVAL_MS,
  PRESENCE_TIMEOUT_MS,
} from '../constants.ts'
import { presenceIntervalFor, presenceTimeoutFor } from './presence-interval.ts'

describe('presenceIntervalFor', () => {
  it('behavior: the base interval up to the full-rate size, then what each member receives stays constant, up to the bound', () => {
    const at = (members: number) => presenceIntervalFor({ baseMs: PRESENCE_INTERVAL_MS, members })
    for (const members of [1, 2, 10, PRESENCE_FULL_RATE_MEMBERS]) expect(at(members)).toBe(PRESENCE_INTERVAL_MS)
    // Presence records the room sends per minute (what each member receives, about): the same at 100, 500 and
    // 1,000 members as at 50.
    const perMinute = (members: number) => (members * 60_000) / at(members)
    for (const members of [100, 500, 1_000]) expect(perMinute(members)).toBe(perMinute(PRESENCE_FULL_RATE_MEMBERS))
    expect(at(1_000)).toBe(MAX_PRESENCE_INTERVAL_MS)
    expect(at(100_000)).toBe(MAX_PRESENCE_INTERVAL_MS)
  })

  it('behavior: a shorter base (tests, devnets) scales the same, and a base beyond the bound is kept', () => {
    expect(presenceIntervalFor({ baseMs: 1_000, members: 5 })).toBe(1_000)
    expect(presenceIntervalFor({ baseMs: 1_000, members: 200 })).toBe(4_000)
    expect(presenceIntervalFor({ baseMs: 2 * MAX_PRESENCE_INTERVAL_MS, members: 3 })).toBe(2 * MAX_PRESENCE_INTERVAL_MS)
  })
})

describe('presenceTimeoutFor', () => {
  it('behavior: three announced intervals, never less than the device’s own timeout', () => {
    expect(presenceTimeoutFor({ timeoutMs: PRESENCE_TIMEOUT_MS, announcedEveryMs: undefined })).toBe(
      PRESENCE_TIMEOUT_MS,
    )
    expect(presenceTimeoutFor({ timeoutMs: PRESENCE_TIMEOUT_MS, announcedEveryMs: 1_000 })).toBe(PRESENCE_TIMEOUT_MS)
    expect(presenceTimeoutFor({ timeoutMs: PRESENCE_TIMEOUT_MS, announcedEveryMs: 120_000 })).toBe(360_000)
  })
})
