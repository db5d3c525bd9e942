import type { Logger } from '@securechat/sdk/logger'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { Refusals } from './refusals.ts'

function recordingLog(): { lines: Array<{ msg: string; fields: Record<string, unknown> }>; log: Logger } {
  const lines: Array<{ msg: string; fields: Record<string, unknown> }> = []
  const record = (msg: string, fields: Record<string, unknown> = {}): void => void lines.push({ msg, fields })
  return { lines, log: { debug: record, info: record, warn: record, error: record } }
}

describe('Refusals', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('behavior: counts every refusal by reason, logs one line per offender and reason per interval, then a summary', () => {
    vi.useFakeTimers()
    const { lines, log } = recordingLog()
    const refusals = new Refusals({ log, intervalMs: 60_000 })
    refusals.start()
    for (let i = 0; i < 1_000; i++) refusals.refuse('connections-per-ip', '203.0.113.7')
    refusals.refuse('reservations-per-ip', '203.0.113.7')
    refusals.refuse('connections-per-ip', '198.51.100.1')
    expect(refusals.counts()).toMatchObject({ 'connections-per-ip': 1_001, 'reservations-per-ip': 1 })
    expect(lines.map(({ fields }) => [fields.event, fields.reason, fields.offender])).toEqual([
      ['limit:refused', 'connections-per-ip', '203.0.113.7'],
      ['limit:refused', 'reservations-per-ip', '203.0.113.7'],
      ['limit:refused', 'connections-per-ip', '198.51.100.1'],
    ])
    expect(lines[0]!.fields.hint).toContain('--max-connections-per-ip')

    vi.advanceTimersByTime(60_000)
    expect(lines.slice(3).map(({ fields }) => fields)).toEqual([
      { event: 'limit:refused-summary', reason: 'connections-per-ip', refused: 999, offenders: 1, intervalMs: 60_000 },
    ])
    // A new interval: the same offender is logged again, once.
    refusals.refuse('connections-per-ip', '203.0.113.7')
    refusals.refuse('connections-per-ip', '203.0.113.7')
    expect(lines).toHaveLength(5)
    refusals.stop()
    expect(lines).toHaveLength(6)
    refusals.stop()
    expect(lines).toHaveLength(6)
  })

  it('behavior: many offenders cost at most the line budget per interval, and one summary line per reason', () => {
    vi.useFakeTimers()
    const { lines, log } = recordingLog()
    const refusals = new Refusals({ log, intervalMs: 60_000, maxOffendersPerInterval: 10 })
    refusals.start()
    for (let i = 0; i < 5_000; i++) refusals.refuse('connections-per-peer', `peer-${i}`)
    expect(lines).toHaveLength(10)
    vi.advanceTimersByTime(60_000)
    expect(lines).toHaveLength(11)
    expect(lines[10]!.fields).toMatchObject({ reason: 'connections-per-peer', refused: 4_990, offenders: 10 })
    refusals.stop()
  })
})
