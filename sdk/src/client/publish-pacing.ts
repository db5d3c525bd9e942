import type { GossipSub } from '@libp2p/gossipsub'
import { sleep } from '../async.ts'
import { MAX_PACED_TOPICS, SEND_RECORD_BURST, SEND_RECORDS_PER_SECOND } from '../constants.ts'
import { type BucketRate, msUntilToken, type TokenBucket, tokensAt } from '../token-bucket.ts'

export interface PublishPacingInit {
  /** Records this device publishes to one topic per second, on average; {@link SEND_RECORDS_PER_SECOND} by default. */
  perSecond?: number
  /** Records it may publish to one topic at once; {@link SEND_RECORD_BURST} by default. */
  burst?: number
  /**
   * A topic's own pace, asked at every publication: records per second (its burst: as many seconds of it as
   * `burst` is of `perSecond`), or undefined for `perSecond`. The client sets a gated room's from the rate tier its
   * wallet reaches (`tier-pacing.ts`).
   */
  topicPace?: (topic: string) => number | undefined
  /** Clock, in milliseconds (tests pass a fake one). */
  now?: () => number
}

interface TopicBucket extends TokenBucket {
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
  const fallback: BucketRate = { perSecond, burst }
  const rateOf = (topic: string): BucketRate => {
    const pace = init.topicPace?.(topic)
    return pace === undefined || !(pace > 0) || !Number.isFinite(pace)
      ? fallback
      : { perSecond: pace, burst: Math.max(1, (pace * burst) / perSecond) }
  }
  const buckets = new Map<string, TopicBucket>()
  const refill = (bucket: TopicBucket, rate: BucketRate): void => {
    const nowMs = now()
    bucket.tokens = tokensAt(bucket, rate, nowMs)
    bucket.atMs = nowMs
  }
  const takeToken = async (topic: string, bucket: TopicBucket): Promise<void> => {
    // The topic's pace is asked again after every wait: a tier that changed meanwhile applies at once.
    for (;;) {
      const rate = rateOf(topic)
      refill(bucket, rate)
      if (bucket.tokens >= 1) break
      await sleep(msUntilToken(bucket.tokens, rate))
    }
    bucket.tokens -= 1
  }
  const bucketOf = (topic: string): TopicBucket => {
    let bucket = buckets.get(topic)
    if (bucket === undefined) {
      // Topics this device left stay idle: a full bucket is one that a new one would equal.
      if (buckets.size >= MAX_PACED_TOPICS) {
        for (const [key, idle] of buckets) {
          const rate = rateOf(key)
          if (tokensAt(idle, rate, now()) >= rate.burst) buckets.delete(key)
        }
      }
      bucket = { tokens: rateOf(topic).burst, atMs: now(), turn: Promise.resolve() }
      buckets.set(topic, bucket)
    }
    return bucket
  }
  const publish = pubsub.publish.bind(pubsub)
  pubsub.publish = async (topic: string, data?: Uint8Array) => {
    const bucket = bucketOf(topic)
    const turn = bucket.turn.then(() => takeToken(topic, bucket))
    bucket.turn = turn
    await turn
    return publish(topic, data)
  }
}
