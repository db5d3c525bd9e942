import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  ACK_PRESENCES,
  MAX_ACK_FILTER_BYTES,
  MAX_ACK_FILTER_IDS,
  REPUBLISH_BATCH,
  REPUBLISH_BATCH_INTERVAL_MS,
  RETURNED_REPUBLISH_GAP_MS,
  STORE_CHECK_AFTER_MS,
} from '../constants.ts'
import { sha256Hex } from '../crypto/primitives.ts'
import { base64urlDecode } from '../encoding.ts'
import { silentLoggerFactory } from '../logger.ts'
import type { UnacknowledgedMessage } from '../types.ts'
import { ackFilterOf, ReceivedIds, readAckFilter } from './ack-filter.ts'
import { OutgoingBuffer } from './outgoing-buffer.ts'

const FIRST_DELAY_MS = 1_000
const idOf = (n: number): string => sha256Hex(new TextEncoder().encode(`message ${n}`))

function buffer(
  init: {
    maxMessages?: number
    firstDelayMs?: number
    stored?: (ids: string[]) => Promise<ReadonlySet<string> | undefined>
    /** Neighbours each re-publish reaches (1 by default). */
    reach?: () => number
  } = {},
) {
  const republished: string[] = []
  const given: UnacknowledgedMessage[] = []
  const acknowledged: string[] = []
  const outgoing = new OutgoingBuffer({
    roomId: 'room',
    firstDelayMs: FIRST_DELAY_MS,
    republish: async (bytes) => {
      republished.push(new TextDecoder().decode(bytes))
      return init.reach?.() ?? 1
    },
    onUnacknowledged: (detail) => given.push(detail),
    onAcknowledged: (id, member) => acknowledged.push(`${id === idOf(1) ? 1 : id === idOf(2) ? 2 : id} ${member}`),
    log: silentLoggerFactory('securechat:test'),
    ...init,
  })
  const add = (n: number, members: string[]): void =>
    outgoing.add(idOf(n), new TextEncoder().encode(`message ${n}`), members)
  return { outgoing, republished, given, acknowledged, add }
}

describe('outgoing buffer', () => {
  beforeEach(() => {
    vi.useFakeTimers()
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('behavior: a message every member acknowledged (deps or presence filter) is never re-published', async () => {
    const { outgoing, republished, add } = buffer()
    add(1, ['a', 'b'])
    add(2, ['a', 'b'])
    outgoing.acknowledgeIds('a', [idOf(1), idOf(2)])
    outgoing.acknowledgeFilter('b', readAckFilter(ackFilterOf([idOf(1), idOf(2)]))!)
    expect(outgoing.stats).toEqual({ sent: 2, pending: 0, republished: 0, unacknowledged: 0 })
    await vi.advanceTimersByTimeAsync(100 * FIRST_DELAY_MS)
    expect(republished).toEqual([])
  })

  it('behavior: each member that acknowledged a message it was waited for is told once; one forgotten is not', () => {
    const { outgoing, acknowledged, add } = buffer()
    add(1, ['a', 'b', 'c'])
    add(2, ['a'])
    outgoing.acknowledgeIds('a', [idOf(1)])
    // Told again (a later presence carries the id too): not news.
    outgoing.acknowledgeFilter('a', readAckFilter(ackFilterOf([idOf(1), idOf(2)]))!)
    outgoing.acknowledgeIds('z', [idOf(1)])
    outgoing.forget('c')
    outgoing.acknowledgeFilter('b', readAckFilter(ackFilterOf([idOf(1)]))!)
    expect(acknowledged).toEqual(['1 a', '2 a', '1 b'])
  })

  it('behavior: unacknowledged, it is re-published with backoff, then given up with the members that never answered', async () => {
    const { outgoing, republished, given, add } = buffer()
    add(1, ['a', 'b'])
    outgoing.acknowledgeIds('a', [idOf(1)])
    await vi.advanceTimersByTimeAsync(FIRST_DELAY_MS - 1)
    expect(republished).toEqual([])
    await vi.advanceTimersByTimeAsync(1)
    expect(republished).toEqual(['message 1'])
    // Twice as long before the next one.
    await vi.advanceTimersByTimeAsync(2 * FIRST_DELAY_MS - 1)
    expect(republished).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(1)
    expect(republished).toHaveLength(2)
    await vi.advanceTimersByTimeAsync(100 * FIRST_DELAY_MS)
    expect(republished).toHaveLength(3)
    expect(given).toEqual([{ roomId: 'room', id: idOf(1), members: ['b'], attempts: 3, reason: 'unacknowledged' }])
    expect(outgoing.stats).toEqual({ sent: 1, pending: 0, republished: 3, unacknowledged: 1 })
  })

  it('behavior: a re-publish that reached no neighbour (a partition) is not an attempt: the message is not given up while cut off', async () => {
    let cutOff = true
    const { republished, given, outgoing, add } = buffer({ reach: () => (cutOff ? 0 : 1) })
    add(1, ['a'])
    // Far more than three re-publishes' worth of backoff while nobody can be reached.
    await vi.advanceTimersByTimeAsync(100 * FIRST_DELAY_MS)
    expect(republished.length).toBeGreaterThan(3)
    expect(given).toEqual([])
    expect(outgoing.stats).toMatchObject({ pending: 1, republished: 0 })
    cutOff = false
    await vi.advanceTimersByTimeAsync(100 * FIRST_DELAY_MS)
    expect(given).toMatchObject([{ id: idOf(1), members: ['a'], attempts: 3 }])
  })

  it('behavior: members that come back lacking a waiting message get it again at once, one re-publish for all', async () => {
    const firstDelayMs = 10_000
    const { outgoing, republished, given, add } = buffer({ firstDelayMs })
    add(1, ['a', 'b'])
    // Two re-publishes into a connection that went nowhere (they reached the relay): the next is 40 s away.
    await vi.advanceTimersByTimeAsync(3 * firstDelayMs)
    expect(republished).toHaveLength(2)
    await vi.advanceTimersByTimeAsync(firstDelayMs)
    outgoing.returned('a', 0, undefined)
    outgoing.returned('b', 0, undefined)
    await vi.advanceTimersByTimeAsync(0)
    expect(republished).toHaveLength(3)
    // One that comes back right after it went out waits for the gap, not for the backoff, and is not given up
    // though the attempts are spent.
    await vi.advanceTimersByTimeAsync(1_000)
    outgoing.returned('a', 0, undefined)
    await vi.advanceTimersByTimeAsync(RETURNED_REPUBLISH_GAP_MS - 1_000 - 1)
    expect(republished).toHaveLength(3)
    await vi.advanceTimersByTimeAsync(1)
    expect(republished).toHaveLength(4)
    expect(given).toEqual([])
    // Acknowledged by both, it is done.
    outgoing.acknowledgeIds('a', [idOf(1)])
    outgoing.acknowledgeIds('b', [idOf(1)])
    expect(outgoing.stats.pending).toBe(0)
  })

  it('behavior: a member that leaves is not waited for; nobody present means nothing to wait for', async () => {
    const { outgoing, republished, add } = buffer()
    add(1, ['a'])
    add(2, [])
    expect(outgoing.stats.pending).toBe(1)
    outgoing.forget('a')
    expect(outgoing.stats.pending).toBe(0)
    await vi.advanceTimersByTimeAsync(100 * FIRST_DELAY_MS)
    expect(republished).toEqual([])
  })

  it('behavior: sent while nobody else is present, it waits for a store: asked after STORE_CHECK_AFTER_MS, re-published until one holds it', async () => {
    // The relay's store holds message 1 at once; message 2 only once it has been published again.
    const held = new Set([idOf(1)])
    const asked: string[][] = []
    const firstDelayMs = 10 * STORE_CHECK_AFTER_MS
    const { outgoing, republished, given, add } = buffer({
      firstDelayMs,
      stored: async (ids) => {
        asked.push(ids)
        return new Set(ids.filter((id) => held.has(id)))
      },
    })
    add(1, [])
    add(2, [])
    expect(outgoing.stats.pending).toBe(2)
    await vi.advanceTimersByTimeAsync(STORE_CHECK_AFTER_MS)
    expect(asked).toEqual([[idOf(1), idOf(2)]])
    expect(outgoing.stats.pending).toBe(1)
    // Not in a store yet: asked again every STORE_CHECK_AFTER_MS, and re-published on the usual schedule.
    await vi.advanceTimersByTimeAsync(firstDelayMs - STORE_CHECK_AFTER_MS - 1)
    expect(asked).toHaveLength(firstDelayMs / STORE_CHECK_AFTER_MS - 1)
    expect(republished).toEqual([])
    await vi.advanceTimersByTimeAsync(1)
    expect(republished).toEqual(['message 2'])
    held.add(idOf(2))
    await vi.advanceTimersByTimeAsync(STORE_CHECK_AFTER_MS)
    expect(outgoing.stats).toEqual({ sent: 2, pending: 0, republished: 1, unacknowledged: 0 })
    expect(given).toEqual([])
  })

  it('behavior: no store to ask, a message sent alone is re-published and given up like an unacknowledged one', async () => {
    const { outgoing, republished, given, add } = buffer({ stored: async () => undefined })
    add(1, [])
    await vi.advanceTimersByTimeAsync(100 * FIRST_DELAY_MS)
    expect(republished).toHaveLength(3)
    expect(given).toEqual([{ roomId: 'room', id: idOf(1), members: [], attempts: 3, reason: 'unacknowledged' }])
    expect(outgoing.stats.pending).toBe(0)
  })

  it('behavior: a filter acknowledges only for the member that sent it, and only what it covers', async () => {
    const { outgoing, republished, add } = buffer()
    add(1, ['a', 'b'])
    add(2, ['a'])
    outgoing.acknowledgeFilter('b', readAckFilter(ackFilterOf([idOf(1), idOf(2)]))!)
    outgoing.acknowledgeFilter('a', readAckFilter(ackFilterOf([idOf(2)]))!)
    await vi.advanceTimersByTimeAsync(FIRST_DELAY_MS)
    expect(republished).toEqual(['message 1'])
  })

  it('bounds: what is due goes out REPUBLISH_BATCH at a time, REPUBLISH_BATCH_INTERVAL_MS apart', async () => {
    const { republished, add } = buffer()
    const count = 2 * REPUBLISH_BATCH + 20
    for (let n = 0; n < count; n++) add(n, ['a'])
    await vi.advanceTimersByTimeAsync(FIRST_DELAY_MS)
    expect(republished).toHaveLength(REPUBLISH_BATCH)
    await vi.advanceTimersByTimeAsync(REPUBLISH_BATCH_INTERVAL_MS)
    expect(republished).toHaveLength(2 * REPUBLISH_BATCH)
    await vi.advanceTimersByTimeAsync(REPUBLISH_BATCH_INTERVAL_MS)
    expect(republished).toHaveLength(count)
    expect(new Set(republished).size).toBe(count)
  })

  it('bounds: beyond maxMessages the oldest is given up as buffer-full', () => {
    const { outgoing, given, add } = buffer({ maxMessages: 2 })
    for (const n of [1, 2, 3]) add(n, ['a'])
    expect(given.map((g) => [g.id, g.reason])).toEqual([[idOf(1), 'buffer-full']])
    expect(outgoing.stats.pending).toBe(2)
  })

  it('lifecycle: stop() drops everything and leaves no timer', async () => {
    const { outgoing, republished, add } = buffer()
    add(1, ['a'])
    outgoing.stop()
    expect(vi.getTimerCount()).toBe(0)
    add(2, ['a'])
    await vi.advanceTimersByTimeAsync(100 * FIRST_DELAY_MS)
    expect(republished).toEqual([])
  })
})

describe('ack filter', () => {
  it('behavior: never misses an id it holds; false positives are rare (about 1 in 100,000)', () => {
    const held = Array.from({ length: 500 }, (_, n) => idOf(n))
    const filter = readAckFilter(ackFilterOf(held))!
    expect(held.every((id) => filter.has(id))).toBe(true)
    const others = Array.from({ length: 20_000 }, (_, n) => idOf(1_000_000 + n))
    expect(others.filter((id) => filter.has(id)).length).toBeLessThanOrEqual(2)
  })

  it('bounds: the largest filter fits the schema; empty or non-base64url text is no filter', () => {
    const full = ackFilterOf(Array.from({ length: MAX_ACK_FILTER_IDS }, (_, n) => idOf(n)))
    expect(base64urlDecode(full).length).toBeLessThanOrEqual(MAX_ACK_FILTER_BYTES)
    expect(readAckFilter('')).toBeUndefined()
    expect(readAckFilter('not base64url!')).toBeUndefined()
  })

  it('behavior: a received id rides in the next ACK_PRESENCES presences, then leaves; at most the newest MAX_ACK_FILTER_IDS', () => {
    const received = new ReceivedIds()
    expect(received.filter()).toBeUndefined()
    received.add(idOf(1))
    for (let n = 0; n < ACK_PRESENCES; n++) {
      if (n === 1) received.add(idOf(2))
      const filter = readAckFilter(received.filter()!)!
      expect(filter.has(idOf(1))).toBe(true)
    }
    expect(readAckFilter(received.filter()!)!.has(idOf(2))).toBe(true)
    for (let n = 0; n <= 3 * MAX_ACK_FILTER_IDS; n++) received.add(idOf(10 + n))
    const text = received.filter()!
    expect(base64urlDecode(text).length).toBeLessThanOrEqual(MAX_ACK_FILTER_BYTES)
    expect(readAckFilter(text)!.has(idOf(10 + 3 * MAX_ACK_FILTER_IDS))).toBe(true)
  })
})
