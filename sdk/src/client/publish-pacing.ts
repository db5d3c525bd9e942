import type { GossipSub } from '@libp2p/gossipsub'
import { sleep } from '../async.ts'
import { MAX_PACED_TOPICS, SEND_RECORD_BURST, SEND_RECORDS_PER_SECOND } from '../constants.ts'

export interface PublishPacingInit {
  /** Records this device publishes to one topic per second, on average; {@link SEND_RECORDS_PER_SECOND} by default. */
  perSecond?: number
  /** Records it may publish to one topic at once; {@link SEND_RECORD_BURST} by default. */
  burst?: number
  /** Clock, in milliseconds (tests pass a fake one). */
  now?: () => number
}

interface TopicBucket {
  tokens: number
  atMs: number
  /** The publication before this one on the topic: each waits its turn, so records go out in the order sent. */
  turn: Promise<void>
}

/**
 * Paces what this device publishes, per topic. Relays count the records each device publishes to a topic, drop
 * what is over their limit and cut off a device that stays over it (`--records-per-second`; their default is twice
 * this pace). A client sending a thousand messages in a loop — a bot, an import, a re-publish after a partition —
 * must not be taken for a flooder and lose messages: past its burst, a publication waits for a token instead, so a
 * burst slows down and arrives whole. The pace is half the relays' default because the network can bunch records
 * sent apart (a stalled connection delivers them at once), and a relay's bucket is full, not fuller, meanwhile.
 *
 * Wraps `pubsub.publish` in place: every publication of the sdk (room messages, presence, keys, DMs, re-publishes)
 * goes through it, and gossipsub's forwarding of others' records does not.
 */
export function pacePublishing(pubsub: GossipSub, init: PublishPacingInit = {}): void {
  const perSecond = init.perSecond ?? SEND_RECORDS_PER_SECOND
  const burst = init.burst ?? SEND_RECORD_BURST
  const now = init.now ?? Date.now
  for (const [field, value] of [
    ['perSecond', perSecond],
    ['burst', burst],
  ] as const) {
    if (!(value > 0) || !Number.isFinite(value)) {
      throw new RangeError(`publish pacing ${field} must be a positive number, got ${value}`)
    }
  }
  const buckets = new Map<string, TopicBucket>()
  const refill = (bucket: TopicBucket): void => {
    const nowMs = now()
    bucket.tokens = Math.min(burst, bucket.tokens + (Math.max(0, nowMs - bucket.atMs) / 1000) * perSecond)
    bucket.atMs = nowMs
  }
  const takeToken = async (bucket: TopicBucket): Promise<void> => {
    for (refill(bucket); bucket.tokens < 1; refill(bucket)) {
      await sleep(Math.ceil(((1 - bucket.tokens) / perSecond) * 1000))
    }
    bucket.tokens -= 1
  }
  const bucketOf = (topic: string): TopicBucket => {
    let bucket = buckets.get(topic)
    if (bucket === undefined) {
      // Topics this device left stay idle: a full bucket is one that a new one would equal.
      if (buckets.size >= MAX_PACED_TOPICS) {
        for (const [key, idle] of buckets) {
          refill(idle)
          if (idle.tokens >= burst) buckets.delete(key)
        }
      }
      bucket = { tokens: burst, atMs: now(), turn: Promise.resolve() }
      buckets.set(topic, bucket)
    }
    return bucket
  }
  const publish = pubsub.publish.bind(pubsub)
  pubsub.publish = async (topic: string, data?: Uint8Array) => {
    const bucket = bucketOf(topic)
    const turn = bucket.turn.then(() => takeToken(bucket))
    bucket.turn = turn
    await turn
    return publish(topic, data)
  }
}
