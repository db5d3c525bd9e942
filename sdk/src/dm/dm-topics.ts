/**
 * The gossip topics the DM layer is on (this wallet's inbox, each session's pair topic, another wallet's inbox
 * while discovering it) with the DM validator on each, and publishing a record to one of them.
 */
import type { GossipSub } from '@libp2p/gossipsub'
import { waitForEvent } from '../event-stream.ts'
import { DM_NEIGHBOUR_WAIT_MS } from './constants.ts'
import type { DmGatekeeper } from './gatekeeper.ts'
import { type DmRecord, encodeDmRecord } from './wire.ts'

export class DmTopics {
  readonly #pubsub: GossipSub
  readonly #gatekeeper: DmGatekeeper
  /** Each topic subscribed to, with when (this process's clock): the neighbour wait runs from there. */
  readonly #subscribed = new Map<string, number>()
  #running = false

  constructor(pubsub: GossipSub, gatekeeper: DmGatekeeper) {
    this.#pubsub = pubsub
    this.#gatekeeper = gatekeeper
  }

  /** Between {@link start} and {@link stop}: only then does {@link subscribe} subscribe. */
  get running(): boolean {
    return this.#running
  }

  start(): void {
    this.#running = true
  }

  /** No new subscriptions from now on (work in progress may still publish). */
  stop(): void {
    this.#running = false
  }

  leaveAll(): void {
    for (const topic of [...this.#subscribed.keys()]) this.unsubscribe(topic)
  }

  has(topic: string): boolean {
    return this.#subscribed.has(topic)
  }

  subscribe(topic: string): void {
    if (this.#subscribed.has(topic) || !this.#running) return
    this.#subscribed.set(topic, Date.now())
    this.#pubsub.topicValidators.set(topic, this.#gatekeeper.validate)
    this.#pubsub.subscribe(topic)
  }

  unsubscribe(topic: string): void {
    if (!this.#subscribed.delete(topic)) return
    this.#pubsub.unsubscribe(topic)
    this.#pubsub.topicValidators.delete(topic)
  }

  /**
   * Publishes `record`; resolves to its bytes and how many gossip neighbours took it. On a topic this device
   * subscribed to less than {@link DM_NEIGHBOUR_WAIT_MS} ago, with neighbours connected but none known there yet, it
   * waits for one first, until that much time after subscribing: the relay tells its subscribers it carries a topic
   * when they subscribe, a round trip later. Past it nobody is coming (no relay carries the topic), and every record
   * goes at once, as before the wait: a conversation is never held 3 s per record.
   */
  async publish(topic: string, record: DmRecord): Promise<{ bytes: Uint8Array; recipients: number }> {
    const bytes = encodeDmRecord(record)
    const pubsub = this.#pubsub
    const subscribedAtMs = this.#subscribed.get(topic)
    const waitMs = subscribedAtMs === undefined ? 0 : subscribedAtMs + DM_NEIGHBOUR_WAIT_MS - Date.now()
    if (waitMs > 0 && pubsub.getSubscribers(topic).length === 0 && pubsub.getPeers().length > 0) {
      await waitForEvent(pubsub, 'subscription-change', {
        test: () => pubsub.getSubscribers(topic).length > 0,
        timeoutMs: waitMs,
      })
    }
    const { recipients } = await this.#pubsub.publish(topic, bytes)
    return { bytes, recipients: recipients.length }
  }
}
