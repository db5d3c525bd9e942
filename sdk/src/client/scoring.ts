/**
 * Gossipsub peer scoring for SecureChat: the one set of score parameters and thresholds that
 * relays and clients both run (`createSecureChatLibp2p`). A peer's score decides what gossipsub
 * does with it: below 0 it leaves the mesh, below {@link SCORE_THRESHOLDS}`.gossipThreshold` it
 * gets no gossip (so nothing at all is forwarded to it), below `publishThreshold` nothing is
 * published to it, below `graylistThreshold` everything it sends is ignored.
 *
 * What counts, and why:
 * - **Invalid records cost the forwarder** (P4, per topic). A record our validator rejects
 *   (`Reject`: bad signature, no certificate, malformed, out of bounds) lowers the score of the
 *   peer that sent it to us, quadratically in their number, with a half-life of
 *   {@link INVALID_RECORD_HALF_LIFE_MS}. `Ignore` (a token gate says no, a duplicate) costs
 *   nothing. Room and DM topics are scored; they are created at run time, so their parameters
 *   are found by topic prefix ({@link scoreSecureChatTopics}).
 * - **Slow or quiet peers are not punished** (P3/P3b off): chat is bursty and a quiet room
 *   delivers nothing for hours; gossipsub's mesh-delivery penalty would prune every member
 *   of such a room, and browsers on poor links with it.
 * - **No positive score** (P1/P2 off): it only feeds opportunistic grafting and peer exchange,
 *   which a star of clients around relays does not need, and a positive score makes gossipsub
 *   forget a departing peer's record of invalid messages.
 * - **Many peers behind one address are not punished by default** (P6 off). Gossipsub's default
 *   (−5 × (peers − 10)² for more than 10 peers on one IP, departed peers counted for an hour)
 *   made a relay go silent for everyone behind one NAT or TLS proxy after the eleventh client
 *   ever seen. One IP address is not one person: many honest clients share one. An operator
 *   can set a threshold ({@link ScoringInit.colocationThreshold}) and exempt its proxy's or
 *   private addresses ({@link ScoringInit.colocationWhitelist}); the job the penalty did —
 *   keep one address from filling the relay with PeerIds — belongs to per-IP connection caps.
 * - **A flooder costs itself, not its forwarders** (P5, relays only): a relay drops records over a
 *   device's rate (`Ignore`, so that no forwarder's P4 counts them — not even a relay forwarding
 *   duplicates of a dropped record) and gives its own penalty ({@link ScoringInit.penalty}) to
 *   the device that sent its own records too fast over its own connection. Clients set none.
 * - Broken gossip promises and GRAFT floods (P7, gossipsub's defaults) still count.
 */
import type { GossipSub } from '@libp2p/gossipsub'
import {
  createTopicScoreParams,
  type PeerScoreParams,
  type PeerScoreThresholds,
  type TopicScoreParams,
} from '@libp2p/gossipsub/score'
import { ROOM_TOPIC_PREFIX } from '../constants.ts'
import { DM_INBOX_TOPIC_PREFIX, DM_TOPIC_PREFIX } from '../dm/constants.ts'
import { SecureChatError } from '../errors.ts'

/** Operator choices; everything else is fixed here so that relays and clients score alike. */
export interface ScoringInit {
  /**
   * Peers seen from one IP address beyond which each of them is penalised (−5 × surplus²,
   * gossipsub's P6; departed peers count for {@link SCORE_RETAIN_MS}). Default
   * {@link DEFAULT_COLOCATION_THRESHOLD_PEERS}: 0, no penalty.
   */
  colocationThreshold?: number
  /** IP addresses never penalised for colocation: the operator's TLS proxy, a NAT it knows. */
  colocationWhitelist?: string[]
  /**
   * A penalty (≤ 0) the application gives a peer, added to its score (gossipsub's P5, weight 1): a
   * relay's for devices flooding it (`node/src/relay/record-rates.ts`). Called often: keep it cheap.
   */
  penalty?: (peerId: string) => number
}

/** No colocation penalty unless the operator sets a threshold (see the module comment). */
export const DEFAULT_COLOCATION_THRESHOLD_PEERS = 0

/** Weight of gossipsub's colocation penalty when a threshold is set (its own default). */
export const COLOCATION_PENALTY_WEIGHT = -5

/** How long the count of a peer's invalid records takes to halve. */
export const INVALID_RECORD_HALF_LIFE_MS = 60_000

/** How often gossipsub decays score counters (its default). */
export const SCORE_DECAY_INTERVAL_MS = 1_000

/**
 * How long the score of a departed peer with a score ≤ 0 is kept, so that reconnecting does not
 * wash out a penalty (gossipsub's default: one hour).
 */
export const SCORE_RETAIN_MS = 60 * 60 * 1000

/**
 * Each invalid record counts 1, the penalty is −count² (× topic weight 1): the 4th invalid record
 * in a minute puts a peer below the gossip threshold, the 9th on the graylist.
 */
export const INVALID_RECORD_WEIGHT = -1

/** Gossipsub's default thresholds, stated here so relays and clients and `/healthz` agree. */
export const SCORE_THRESHOLDS: PeerScoreThresholds = {
  gossipThreshold: -10,
  publishThreshold: -50,
  graylistThreshold: -80,
  acceptPXThreshold: 10,
  opportunisticGraftThreshold: 20,
}

/** The parameters of every room and DM topic. */
export const CHAT_TOPIC_SCORE_PARAMS: TopicScoreParams = createTopicScoreParams({
  topicWeight: 1,
  timeInMeshWeight: 0,
  timeInMeshQuantum: 1_000,
  timeInMeshCap: 1,
  firstMessageDeliveriesWeight: 0,
  meshMessageDeliveriesWeight: 0,
  meshFailurePenaltyWeight: 0,
  invalidMessageDeliveriesWeight: INVALID_RECORD_WEIGHT,
  invalidMessageDeliveriesDecay: 0.5 ** (SCORE_DECAY_INTERVAL_MS / INVALID_RECORD_HALF_LIFE_MS),
})

/** The topics scored with {@link CHAT_TOPIC_SCORE_PARAMS}. */
const SCORED_TOPIC_PREFIXES = [ROOM_TOPIC_PREFIX, DM_INBOX_TOPIC_PREFIX, DM_TOPIC_PREFIX]

/** Gossipsub's `scoreParams` option (topics are added by {@link scoreSecureChatTopics}). */
export function scoreParams(init: ScoringInit = {}): Partial<PeerScoreParams> {
  const threshold = init.colocationThreshold ?? DEFAULT_COLOCATION_THRESHOLD_PEERS
  if (!Number.isSafeInteger(threshold) || threshold < 0) {
    throw new SecureChatError(`colocationThreshold must be a whole number ≥ 0, got ${threshold}`, {
      details: { colocationThreshold: threshold },
      hint: 'give the number of peers one IP address may have before they are penalised, or 0 for no penalty',
    })
  }
  return {
    topicScoreCap: 10,
    appSpecificWeight: init.penalty === undefined ? 0 : 1,
    ...(init.penalty === undefined ? {} : { appSpecificScore: init.penalty }),
    IPColocationFactorWeight: threshold === 0 ? 0 : COLOCATION_PENALTY_WEIGHT,
    IPColocationFactorThreshold: Math.max(threshold, 1),
    IPColocationFactorWhitelist: new Set(init.colocationWhitelist ?? []),
    decayInterval: SCORE_DECAY_INTERVAL_MS,
    retainScore: SCORE_RETAIN_MS,
  }
}

/**
 * Scores every SecureChat topic with {@link CHAT_TOPIC_SCORE_PARAMS}. Gossipsub takes topic
 * parameters by exact name at construction, and room and DM topics are only known at run time:
 * its parameter table is replaced by one that answers by prefix. (The table is on gossipsub's
 * implementation, not its published interface; a test pins it.)
 */
export function scoreSecureChatTopics(pubsub: GossipSub): void {
  const score = (pubsub as unknown as { score?: { params?: Pick<PeerScoreParams, 'topics'> } }).score
  if (score?.params?.topics === undefined) {
    throw new SecureChatError('gossipsub has no score.params.topics: its implementation changed', {
      hint: 'check @libp2p/gossipsub against sdk/src/client/scoring.ts',
    })
  }
  const fixed = score.params.topics
  score.params.topics = new Proxy(fixed, {
    get: (target, topic) =>
      typeof topic === 'string' && SCORED_TOPIC_PREFIXES.some((prefix) => topic.startsWith(prefix))
        ? CHAT_TOPIC_SCORE_PARAMS
        : Reflect.get(target, topic),
  })
}

/** Gossipsub's score of a peer (0 when unknown); on its implementation, not its published interface. */
export function peerScore(pubsub: GossipSub, peerId: string): number {
  return (pubsub as unknown as { getScore(peerId: string): number }).getScore(peerId)
}
