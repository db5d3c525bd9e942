import type { GossipSub } from '@libp2p/gossipsub'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { pacePublishing } from './publish-pacing.ts'

/** A pubsub that records what reached it, and when. */
function recordingPubsub(): { pubsub: GossipSub; published: Array<{ topic: string; n: number; atMs: number }> } {
  const published: Array<{ topic: string; n: number; atMs: number }> = []
  const pubsub = {
    publish: async (topic: string, data?: Uint8Array) => {
      published.push({ topic, n: data?.[0] ?? -1, atMs: Date.now() })
      return { recipients: [] }
    },
  } as unknown as GossipSub
  return { pubsub, published }
}

describe('pacePublishing', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('behavior: a burst goes at once, what follows waits for the pace, and every record goes out in the order sent', async () => {
    const { pubsub, published } = recordingPubsub()
    pacePublishing(pubsub, { perSecond: 10, burst: 5 })
    const sends = Array.from({ length: 25 }, (_, n) => pubsub.publish('room', Uint8Array.of(n)))
    await vi.advanceTimersByTimeAsync(0)
    expect(published.map((p) => p.n)).toEqual([0, 1, 2, 3, 4])
    await vi.advanceTimersByTimeAsync(1_000)
    expect(published).toHaveLength(15)
    await vi.advanceTimersByTimeAsync(1_000)
    await Promise.all(sends)
    expect(published.map((p) => p.n)).toEqual(Array.from({ length: 25 }, (_, n) => n))
    // Never faster than the pace past the burst: the 6th record no sooner than 100 ms, the 25th than 2 s.
    expect(published[5]!.atMs).toBeGreaterThanOrEqual(100)
    expect(published[24]!.atMs).toBeGreaterThanOrEqual(2_000)
  })

  it('behavior: topics are paced apart, and an idle topic has its whole burst again', async () => {
    const { pubsub, published } = recordingPubsub()
    pacePublishing(pubsub, { perSecond: 1, burst: 2 })
    for (let n = 0; n < 3; n++) void pubsub.publish('a', Uint8Array.of(n))
    for (let n = 0; n < 2; n++) void pubsub.publish('b', Uint8Array.of(n))
    const of = (topic: string) => published.filter((p) => p.topic === topic).map((p) => p.n)
    await vi.advanceTimersByTimeAsync(0)
    expect([of('a'), of('b')]).toEqual([
      [0, 1],
      [0, 1],
    ])
    await vi.advanceTimersByTimeAsync(10_000)
    expect(of('a')).toEqual([0, 1, 2])
    for (let n = 3; n < 5; n++) void pubsub.publish('a', Uint8Array.of(n))
    await vi.advanceTimersByTimeAsync(0)
    expect(published).toHaveLength(7)
  })

  it('behavior: a topic with its own pace (a rate tier) goes at it, its burst as many seconds of it, and follows it when it changes', async () => {
    const { pubsub, published } = recordingPubsub()
    const paces = new Map<string, number>([['tiered', 40]])
    // The default: 10 a second, a burst of 2 seconds' worth; the tiered topic's burst is then 80.
    pacePublishing(pubsub, { perSecond: 10, burst: 20, topicPace: (topic) => paces.get(topic) })
    for (let n = 0; n < 100; n++) void pubsub.publish('tiered', Uint8Array.of(n))
    for (let n = 0; n < 30; n++) void pubsub.publish('plain', Uint8Array.of(n))
    const of = (topic: string) => published.filter((p) => p.topic === topic).length
    await vi.advanceTimersByTimeAsync(0)
    expect([of('tiered'), of('plain')]).toEqual([80, 20])
    await vi.advanceTimersByTimeAsync(500)
    expect([of('tiered'), of('plain')]).toEqual([100, 25])
    // Idle long enough to refill at 40/s; then the tier drops (tokens sold): the topic slows to the new pace at once,
    // with what it holds cut to the new burst (4).
    await vi.advanceTimersByTimeAsync(2_000)
    paces.set('tiered', 2)
    for (let n = 0; n < 10; n++) void pubsub.publish('tiered', Uint8Array.of(n))
    await vi.advanceTimersByTimeAsync(0)
    expect(of('tiered')).toBe(104)
    await vi.advanceTimersByTimeAsync(1_000)
    expect(of('tiered')).toBe(106)
  })

  it('behavior: a pace that is not a positive number is refused', () => {
    expect(() => pacePublishing(recordingPubsub().pubsub, { perSecond: 0 })).toThrow(/perSecond/)
    expect(() => pacePublishing(recordingPubsub().pubsub, { burst: Number.NaN })).toThrow(/burst/)
  })
})
