import type { SignedMessage } from '@libp2p/gossipsub'
import { describe, expect, it } from 'vitest'
import { MAX_OPEN_GAPS } from '../constants.ts'
import { silentLoggerFactory } from '../logger.ts'
import type { GapFill, RoomGapSink } from '../rooms/history-sink.ts'
import type { HistoryGap } from '../types.ts'
import { GapRepair, type GapSource } from './gap-repair.ts'
import type { HistoryRecord } from './wire.ts'

const id = (n: number): string => n.toString(16).padStart(64, '0')
const TOPIC = '/securechat/1/room/test'

/** A room that has what it was told, and a source that holds `held` (records answered by id). */
function setup(held: Map<string, number>, fill: (id: string) => GapFill = () => 'delivered') {
  const known = new Set<string>()
  const gaps: HistoryGap[] = []
  const asked: string[][] = []
  const waiters: Array<() => void> = []
  let repair: GapRepair
  const sink: RoomGapSink = {
    roomId: 'r',
    topic: TOPIC,
    known: (x) => known.has(x),
    fill: async (message) => {
      const got = (message as unknown as { id: string }).id
      const outcome = fill(got)
      if (outcome === 'delivered') {
        known.add(got)
        repair.saw(got, [])
      }
      return outcome
    },
    report: (gap) => {
      gaps.push(gap)
      for (const wake of waiters.splice(0)) wake()
    },
  }
  const source: GapSource = {
    fetch: async (_topic, ids) => {
      asked.push(ids)
      return ids.flatMap((x) =>
        held.has(x)
          ? [
              {
                message: { id: x } as unknown as SignedMessage,
                record: { id: x, receivedAtMs: held.get(x)! } as HistoryRecord,
              },
            ]
          : [],
      )
    },
  }
  repair = new GapRepair({ sink, source, log: silentLoggerFactory('test'), graceMs: 20, retryMs: 30, lostAfterMs: 200 })
  const until = async (test: () => boolean): Promise<void> => {
    while (!test()) await new Promise<void>((resolve) => waiters.push(resolve))
  }
  return { repair, known, gaps, asked, until }
}

describe('gap repair', () => {
  it('behavior: a message named and absent is reported missing, asked for, and filled; one nobody holds is lost', async () => {
    const { repair, known, gaps, asked, until } = setup(new Map([[id(1), 5]]))
    known.add(id(9))
    repair.saw(id(3), [id(1), id(2), id(9)])
    await until(() => gaps.some((g) => g.state === 'lost'))
    expect(gaps).toEqual([
      { roomId: 'r', id: id(1), state: 'missing' },
      { roomId: 'r', id: id(2), state: 'missing' },
      { roomId: 'r', id: id(1), state: 'filled' },
      { roomId: 'r', id: id(2), state: 'lost' },
    ])
    // Asked together, then only for what was still missing.
    expect(asked[0]).toEqual([id(1), id(2)])
    expect(asked.slice(1).every((ids) => ids.length === 1 && ids[0] === id(2))).toBe(true)
    expect(repair.open).toBe(0)
    // Named again: not reopened; arriving after all: filled.
    repair.saw(id(4), [id(2)])
    expect(repair.open).toBe(0)
    repair.saw(id(2), [])
    expect(gaps.at(-1)).toEqual({ roomId: 'r', id: id(2), state: 'filled' })
    repair.stop()
  })

  it('behavior: a message that arrives within the grace is never shown as a gap', async () => {
    const { repair, gaps, asked } = setup(new Map())
    repair.saw(id(2), [id(1)])
    repair.saw(id(1), [])
    expect(repair.open).toBe(0)
    await new Promise((resolve) => setTimeout(resolve, 60))
    expect(gaps).toEqual([])
    expect(asked).toEqual([])
    repair.stop()
  })

  it('error: a record that fails the room’s checks leaves the gap open until it is lost; open gaps are bounded', async () => {
    const { repair, gaps, until } = setup(new Map([[id(1), 5]]), () => 'rejected')
    repair.saw(id(2), [id(1)])
    await until(() => gaps.length === 2)
    expect(gaps.map((g) => g.state)).toEqual(['missing', 'lost'])
    repair.saw(
      id(0),
      Array.from({ length: MAX_OPEN_GAPS + 10 }, (_, i) => id(1_000 + i)),
    )
    expect(repair.open).toBe(MAX_OPEN_GAPS)
    repair.stop()
    expect(repair.open).toBe(0)
  })

  it('behavior: a record the room already had (older than its horizon) closes the gap without a delivery', async () => {
    const { repair, gaps, until } = setup(new Map([[id(1), 5]]), () => 'had')
    repair.saw(id(2), [id(1)])
    await until(() => gaps.length === 2)
    expect(gaps.map((g) => g.state)).toEqual(['missing', 'filled'])
    repair.stop()
  })
})
