import type { SignedMessage } from '@libp2p/gossipsub'
import { describe, expect, it } from 'vitest'
import { MAX_OPEN_GAPS } from '../constants.ts'
import { silentLoggerFactory } from '../logger.ts'
import type { GapFill, GapReport, GapSink } from '../types.ts'
import { GapRepair, type GapSource } from './gap-repair.ts'
import type { HistoryRecord } from './wire.ts'

const id = (n: number): string => n.toString(16).padStart(64, '0')
const TOPIC = '/securechat/1/room/test'

/** A room that has what it was told, and a source that holds `held` (records answered by id). */
function setup(
  held: Map<string, number>,
  fill: (id: string) => GapFill = () => 'delivered',
  topics = [TOPIC],
  heldOn = (_id: string): string => TOPIC,
) {
  const known = new Set<string>()
  const gaps: GapReport[] = []
  const asked: string[][] = []
  const askedTopics: string[] = []
  const waiters: Array<() => void> = []
  let repair: GapRepair
  const sink: GapSink = {
    topics,
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
    fetch: async (topic, ids) => {
      asked.push(ids)
      askedTopics.push(topic)
      return ids.flatMap((x) =>
        held.has(x) && heldOn(x) === topic
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
  return { repair, known, gaps, asked, askedTopics, until }
}

describe('gap repair', () => {
  it('behavior: a message named and absent is reported missing, asked for, and filled; one nobody holds is lost', async () => {
    const { repair, known, gaps, asked, until } = setup(new Map([[id(1), 5]]))
    known.add(id(9))
    repair.saw(id(3), [id(1), id(2), id(9)])
    await until(() => gaps.some((g) => g.state === 'lost'))
    // Each says which message named it: the missing one came before that one.
    expect(gaps).toEqual([
      { id: id(1), state: 'missing', before: id(3) },
      { id: id(2), state: 'missing', before: id(3) },
      { id: id(1), state: 'filled', before: id(3) },
      { id: id(2), state: 'lost', before: id(3) },
    ])
    // Asked together, then only for what was still missing.
    expect(asked[0]).toEqual([id(1), id(2)])
    expect(asked.slice(1).every((ids) => ids.length === 1 && ids[0] === id(2))).toBe(true)
    expect(repair.open).toBe(0)
    // Named again: not reopened; arriving after all: filled.
    repair.saw(id(4), [id(2)])
    expect(repair.open).toBe(0)
    repair.saw(id(2), [])
    expect(gaps.at(-1)).toEqual({ id: id(2), state: 'filled', before: id(3) })
    repair.stop()
  })

  it('behavior: settled waits for every open gap to be filled or lost, and is immediate with none open', async () => {
    const { repair, gaps, until } = setup(new Map([[id(1), 5]]))
    await repair.settled()
    repair.saw(id(3), [id(1), id(2)])
    let settled = false
    const waiting = repair.settled().then(() => {
      settled = true
    })
    await until(() => gaps.some((g) => g.state === 'filled'))
    expect(settled).toBe(false) // id(2) is still being asked for
    await waiting
    expect(gaps.map((g) => `${g.id === id(1) ? 1 : 2} ${g.state}`)).toEqual([
      '1 missing',
      '2 missing',
      '1 filled',
      '2 lost',
    ])
    expect(repair.open).toBe(0)
    // Aborted first: rejects with the signal's reason.
    repair.saw(id(5), [id(4)])
    await expect(repair.settled({ signal: AbortSignal.abort(new Error('gave up')) })).rejects.toThrow('gave up')
    repair.stop()
    await repair.settled()
  })

  it('behavior: what the first topic lacks is asked for on the next (a DM sent before its session was answered)', async () => {
    const inbox = '/securechat/1/dm-inbox/test'
    const { repair, gaps, asked, askedTopics, until } = setup(
      new Map([
        [id(1), 5],
        [id(2), 5],
      ]),
      () => 'delivered',
      [TOPIC, inbox],
      (x) => (x === id(2) ? inbox : TOPIC),
    )
    repair.saw(id(3), [id(1), id(2)])
    await until(() => gaps.filter((g) => g.state === 'filled').length === 2)
    expect(askedTopics.slice(0, 2)).toEqual([TOPIC, inbox])
    expect(asked.slice(0, 2)).toEqual([[id(1), id(2)], [id(2)]])
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
