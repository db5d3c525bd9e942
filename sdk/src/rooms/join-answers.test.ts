import { describe, expect, it } from 'vitest'
import { JOIN_ANSWER_MAX_MS, JOIN_ANSWER_MIN_MS } from '../constants.ts'
import { joinAnswerDelayMs, joinAnswerWindowMs } from './join-answers.ts'

describe('joinAnswerWindowMs', () => {
  it('behavior: a small room answers within 250 ms as before; the window grows with the room, up to the bound', () => {
    for (const members of [1, 2, 5]) expect(joinAnswerWindowMs(members)).toBe(250)
    expect(joinAnswerWindowMs(30)).toBeGreaterThan(joinAnswerWindowMs(10))
    expect(joinAnswerWindowMs(50)).toBeLessThanOrEqual(JOIN_ANSWER_MAX_MS)
    expect(joinAnswerWindowMs(10_000)).toBe(JOIN_ANSWER_MAX_MS)
  })
})

describe('joinAnswerDelayMs', () => {
  it('behavior: jittered within the window, never sooner than the shortest wait', () => {
    for (const members of [2, 30, 1_000]) {
      expect(joinAnswerDelayMs(members, () => 0)).toBe(JOIN_ANSWER_MIN_MS)
      expect(joinAnswerDelayMs(members, () => 0.999_999)).toBeLessThanOrEqual(joinAnswerWindowMs(members))
      expect(joinAnswerDelayMs(members, () => 0.5)).toBeGreaterThan(JOIN_ANSWER_MIN_MS)
    }
  })
})
