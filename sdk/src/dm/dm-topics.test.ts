import type { GossipSub } from '@libp2p/gossipsub'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { DM_NEIGHBOUR_WAIT_MS } from './constants.ts'
import { DmTopics } from './dm-topics.ts'
import type { DmGatekeeper } from './gatekeeper.ts'
import type { DmRecord } from './wire.ts'

/** The gossipsub surface DmTopics uses: a node connected to one relay that may or may not carry the topic. */
class OneRelay extends EventTarget {
  readonly topicValidators = new Map<string, unknown>()
  readonly carried = new Set<string>()
  readonly published: string[] = []
  getPeers = (): string[] => ['relay']
  getSubscribers = (topic: string): string[] => (this.carried.has(topic) ? ['relay'] : [])
  subscribe = (): void => {}
  unsubscribe = (): void => {}
  publish = async (topic: string): Promise<{ recipients: string[] }> => {
    this.published.push(topic)
    return { recipients: this.getSubscribers(topic) }
  }

  /** The relay says it carries `topic` (a round trip after the device subscribed). */
  tell(topic: string): void {
    this.carried.add(topic)
    this.dispatchEvent(new Event('subscription-change'))
  }
}

const record = { v: 1, type: 'msg' } as unknown as DmRecord
const settled = async (promise: Promise<unknown>): Promise<boolean> => {
  let done = false
  void promise.then(() => {
    done = true
  })
  await vi.advanceTimersByTimeAsync(0)
  return done
}

describe('DmTopics.publish', () => {
  let pubsub: OneRelay
  let topics: DmTopics

  beforeEach(() => {
    vi.useFakeTimers()
    pubsub = new OneRelay()
    topics = new DmTopics(pubsub as unknown as GossipSub, { validate: () => {} } as unknown as DmGatekeeper)
    topics.start()
  })

  afterEach(() => {
    vi.useRealTimers()
  })

  it('behavior: a record right after subscribing waits for the relay to say it carries the topic, then goes to it', async () => {
    topics.subscribe('pair')
    const sent = topics.publish('pair', record)
    expect(await settled(sent)).toBe(false)
    expect(pubsub.published).toEqual([])
    pubsub.tell('pair')
    expect(await sent).toMatchObject({ recipients: 1 })
  })

  it('behavior: with nobody there the wait ends DM_NEIGHBOUR_WAIT_MS after subscribing, and later records go at once', async () => {
    topics.subscribe('pair')
    await vi.advanceTimersByTimeAsync(DM_NEIGHBOUR_WAIT_MS / 2)
    const first = topics.publish('pair', record)
    expect(await settled(first)).toBe(false)
    // Only what is left of the wait since subscribing, not a wait of its own.
    await vi.advanceTimersByTimeAsync(DM_NEIGHBOUR_WAIT_MS / 2)
    expect(await first).toMatchObject({ recipients: 0 })
    for (let i = 0; i < 3; i++) expect(await settled(topics.publish('pair', record))).toBe(true)
    expect(pubsub.published).toHaveLength(4)
  })

  it('behavior: a topic not subscribed to (another wallet’s inbox asked once) never waits', async () => {
    expect(await settled(topics.publish('inbox', record))).toBe(true)
  })
})
