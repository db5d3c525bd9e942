/**
 * Records per second per device and topic, on the relay's gossipsub topic validators (room and DM topics). A device
 * is the gossip `from`: the key that signed the record, checked by gossipsub (`StrictSign`) before any validator.
 * Counting by `from` and not by the connection a record came over is what makes the limit fair: a linked relay
 * forwards the records of many devices over one connection, and a flooder reaching us through another relay is still
 * the one counted.
 *
 * The devices of one wallet (the certificate's address) also share a budget per topic,
 * {@link RELAY_RECORD_WALLET_FACTOR} times a device's: a wallet certifying ten devices does not get ten budgets. A record
 * over its wallet's rate is dropped and counted like one over its device's, and charged to the device that sent it.
 *
 * A record over its device's rate is dropped with `Ignore` and counted (`records-per-second`). Not `Reject`: gossipsub
 * charges a rejected record to whoever forwarded it (P4), and to every peer that forwards a duplicate of it later —
 * an honest relay that accepted the record within its own limit would pay for the flooder. Instead the device itself
 * pays, and only when it sent its own records over its own connection: while its records are being dropped its score
 * carries {@link FLOODER_PENALTY} (gossipsub's P5; `scoring.ts`), below the publish threshold, so the relay stops
 * forwarding anything to it. A device dropped for `floodBanAfterMs` without a pause is banned (`limits.ts`):
 * disconnected and refused for `floodBanMs`, and its records forwarded by others are dropped meanwhile.
 *
 * The limit is looked at before the validator, and taken after it. Validation is the costly part (certificate, record
 * parsing, gate checks), and a flood of valid records from ten devices of one wallet, paid for in full before being
 * counted, left the relay seconds behind with honest records queued after the flood's. So a device with no token in
 * any of the topic's budgets — the record's type is unknown before validation — or whose wallet has none (known from
 * the device's earlier accepted records) is dropped first, unvalidated; the token itself is taken after validation,
 * from the budget of the record's type.
 */
import { type Message, TopicValidatorResult } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import { SCORE_THRESHOLDS } from '@securechat/sdk/client'
import {
  RELAY_CONTROL_RECORD_BURST,
  RELAY_CONTROL_RECORDS_PER_SECOND,
  RELAY_MAX_TIER_RECORDS_PER_SECOND,
  RELAY_RECORD_BURST,
  RELAY_RECORD_FLOOD_BAN_AFTER_MS,
  RELAY_RECORD_FLOOD_BAN_MS,
  RELAY_RECORD_FLOOD_PAUSE_MS,
  RELAY_RECORD_RATE_MAX_BUCKETS,
  RELAY_RECORD_WALLET_FACTOR,
  RELAY_RECORDS_PER_SECOND,
  RELAY_SIGNAL_RECORD_BURST,
  RELAY_SIGNAL_RECORDS_PER_SECOND,
} from '../constants.ts'
import type { RelayLimits } from './limits.ts'
import { RateLimiter } from './rate-limit.ts'

/** Every field optional; defaults in constants.ts. */
export interface RecordRatesInit {
  /** Chat messages per device and topic per second, on average, and at once. */
  recordsPerSecond?: number
  recordBurst?: number
  /** Control records (presence, sender keys, DM device lists and queries) per device and topic, likewise. */
  controlRecordsPerSecond?: number
  controlRecordBurst?: number
  /** Typing and read records per device and topic per second, likewise. */
  signalRecordsPerSecond?: number
  signalRecordBurst?: number
  /** A device whose records are dropped this long without a pause is banned, for `floodBanMs`. */
  floodBanAfterMs?: number
  floodBanMs?: number
  /**
   * The most chat messages per second a gated room's rate tier may give one device (the room's manifest names its
   * tiers, the operator caps them here); its burst is in the proportion of `recordBurst` to `recordsPerSecond`.
   */
  maxTierRecordsPerSecond?: number
}

/** A room's token tiers (a gated room's manifest names them, `rate-tiers.ts`). */
export interface TierRate {
  /**
   * The chat-message rate a record's sender has in its room, read from the sender's gate result; undefined for the
   * relay's own rate.
   */
  rate: (message: Message) => number | undefined | Promise<number | undefined>
  /** Whether the room has tiers now: then a sender may have up to the operator's ceiling. */
  tiered: () => boolean
}

/**
 * Which budget a record counts against: chat messages, control records, or signals (typing indicators, read
 * positions and call signals), which have their own so that typing or a call never takes a token a message needs.
 */
export type RecordBudget = 'messages' | 'control' | 'signals'

type Validator = (source: PeerId, message: Message) => TopicValidatorResult | Promise<TopicValidatorResult>

/** What a topic's gatekeeper judged of the records its validator saw (a room's or the DMs' gatekeeper). */
export interface JudgedRecords<T extends string> {
  /** What the validator accepted, with the certificate that names the sender's wallet. */
  accepted(message: Message): { type: T; certificate: { address: string } } | undefined
  /** The type of a record the validator decoded, whatever it decided; undefined for one it could not decode. */
  typeOf(message: Message): string | undefined
}

/**
 * A guarded validator, with its look at the limit as `first` too: a node that paces validation runs `first` as a
 * record arrives, before it waits its turn (`FirstCheckedValidator`, sdk/src/client/paced-validation.ts), so a flood
 * over its rate never queues in front of anyone's records.
 */
export type GuardedValidator = Validator & {
  first: (source: PeerId, message: Message) => TopicValidatorResult | undefined
}

/** The score (P5) of a device while its own records are dropped: below the publish threshold, above the graylist. */
export const FLOODER_PENALTY = SCORE_THRESHOLDS.publishThreshold - 1

interface Streak {
  sinceMs: number
  lastMs: number
  /** Whether the device sent records over its own connection in this streak: then it carries the penalty. */
  direct: boolean
}

export class RecordRates {
  readonly #limits: RelayLimits
  readonly #buckets: Record<RecordBudget, RateLimiter>
  /** The same budgets per wallet and topic, {@link RELAY_RECORD_WALLET_FACTOR} times larger. */
  readonly #walletBuckets: Record<RecordBudget, RateLimiter>
  readonly #floodBanAfterMs: number
  readonly #floodBanMs: number
  readonly #maxTierRate: number
  /** Seconds of a tier's rate its burst holds: the relay's own burst over its own rate. */
  readonly #burstSeconds: number
  /** Devices whose records are being dropped, oldest streak first (bounded like the buckets). */
  readonly #streaks = new Map<string, Streak>()
  /** The wallet of each device, from its last accepted record, oldest first (bounded like the buckets). */
  readonly #wallets = new Map<string, string>()

  constructor(init: RecordRatesInit & { limits: RelayLimits }) {
    this.#limits = init.limits
    this.#floodBanAfterMs = init.floodBanAfterMs ?? RELAY_RECORD_FLOOD_BAN_AFTER_MS
    this.#floodBanMs = init.floodBanMs ?? RELAY_RECORD_FLOOD_BAN_MS
    this.#maxTierRate = init.maxTierRecordsPerSecond ?? RELAY_MAX_TIER_RECORDS_PER_SECOND
    const recordsPerSecond = init.recordsPerSecond ?? RELAY_RECORDS_PER_SECOND
    const recordBurst = init.recordBurst ?? RELAY_RECORD_BURST
    this.#burstSeconds = recordBurst / recordsPerSecond
    for (const [field, value] of [
      ['floodBanAfterMs', this.#floodBanAfterMs],
      ['floodBanMs', this.#floodBanMs],
      ['maxTierRecordsPerSecond', this.#maxTierRate],
    ] as const) {
      if (!(value > 0) || !Number.isFinite(value)) {
        throw new RangeError(`relay limit ${field} must be a positive number, got ${value}`)
      }
    }
    const budgets = (factor: number): Record<RecordBudget, RateLimiter> => ({
      messages: new RateLimiter({
        perSecond: factor * recordsPerSecond,
        burst: factor * recordBurst,
        maxClients: RELAY_RECORD_RATE_MAX_BUCKETS,
      }),
      control: new RateLimiter({
        perSecond: factor * (init.controlRecordsPerSecond ?? RELAY_CONTROL_RECORDS_PER_SECOND),
        burst: factor * (init.controlRecordBurst ?? RELAY_CONTROL_RECORD_BURST),
        maxClients: RELAY_RECORD_RATE_MAX_BUCKETS,
      }),
      signals: new RateLimiter({
        perSecond: factor * (init.signalRecordsPerSecond ?? RELAY_SIGNAL_RECORDS_PER_SECOND),
        burst: factor * (init.signalRecordBurst ?? RELAY_SIGNAL_RECORD_BURST),
        maxClients: RELAY_RECORD_RATE_MAX_BUCKETS,
      }),
    })
    this.#buckets = budgets(1)
    this.#walletBuckets = budgets(RELAY_RECORD_WALLET_FACTOR)
  }

  /**
   * The score penalty of `peer` for gossipsub (`ScoringInit.penalty`): {@link FLOODER_PENALTY} while its own records
   * are dropped, else 0. A relay forwarding a flooder's records never gets it.
   */
  readonly penalty = (peer: string): number => {
    const streak = this.#streaks.get(peer)
    return streak?.direct === true && Date.now() - streak.lastMs < RELAY_RECORD_FLOOD_PAUSE_MS ? FLOODER_PENALTY : 0
  }

  /**
   * `validate` with the limit after it: a record it accepts counts against its device's and its wallet's budgets for
   * the topic, the ones `budgets` names for the record's type (`judged`: what `validate` accepted, and the
   * certificate that names the wallet). Records that fail validation cost no token: they are rejected and scored
   * already. Records it drops without rejecting them cost their device one ({@link #chargeIgnored}). `tierRate` gives
   * a chat message's sender the rate its room's tiers give it (capped by `maxTierRecordsPerSecond`) instead of the
   * relay's own, and its wallet that rate times {@link RELAY_RECORD_WALLET_FACTOR}.
   */
  guard<T extends string>(
    validate: Validator,
    judged: JudgedRecords<T>,
    budgets: Record<T, RecordBudget>,
    tierRate?: TierRate,
  ): GuardedValidator {
    const kinds = [...new Set(Object.values<RecordBudget>(budgets))]
    const first = (source: PeerId, message: Message): TopicValidatorResult | undefined => {
      if (message.type !== 'signed') return undefined
      const from = message.from.toString()
      if (this.#limits.isBanned(from)) return this.#drop(from, source, message.topic)
      const spent = this.#spent(from, message.topic, kinds, tierRate?.tiered() === true)
      return spent === undefined ? undefined : this.#drop(from, source, message.topic, spent)
    }
    const guarded: Validator = (source, message) => {
      if (message.type !== 'signed') return validate(source, message)
      const from = message.from.toString()
      const early = first(source, message)
      if (early !== undefined) return early
      const take = (budget: RecordBudget, tier: number | undefined, wallet: string): TopicValidatorResult => {
        const rate = this.#tiered(tier)
        if (!this.#buckets[budget].take(`${from} ${message.topic}`, rate).allowed) {
          return this.#drop(from, source, message.topic)
        }
        const walletRate =
          rate === undefined
            ? undefined
            : { perSecond: rate.perSecond * RELAY_RECORD_WALLET_FACTOR, burst: rate.burst * RELAY_RECORD_WALLET_FACTOR }
        if (!this.#walletBuckets[budget].take(`${wallet} ${message.topic}`, walletRate).allowed) {
          return this.#drop(from, source, message.topic, { wallet })
        }
        return TopicValidatorResult.Accept
      }
      const limit = (result: TopicValidatorResult): TopicValidatorResult | Promise<TopicValidatorResult> => {
        if (result === TopicValidatorResult.Ignore) {
          return this.#chargeIgnored(from, source, message, judged.typeOf(message), budgets, kinds)
        }
        const record = judged.accepted(message)
        if (result !== TopicValidatorResult.Accept || record === undefined) return result
        const budget = budgets[record.type]
        const wallet = record.certificate.address
        this.#remember(from, wallet)
        const tier = budget === 'messages' ? tierRate?.rate(message) : undefined
        return tier instanceof Promise ? tier.then((rate) => take(budget, rate, wallet)) : take(budget, tier, wallet)
      }
      const result = validate(source, message)
      return result instanceof Promise ? result.then(limit) : limit(result)
    }
    return Object.assign(guarded, { first })
  }

  /**
   * Whether `from` is out of tokens in every one of `kinds` for `topic`, or its wallet is (then `wallet` names it),
   * looked at without taking one. In a room with tiers a device's messages are looked at with the operator's ceiling,
   * the most a tier may give: what a tier would let through is never dropped here.
   */
  #spent(from: string, topic: string, kinds: RecordBudget[], tiered: boolean): { wallet?: string } | undefined {
    const ceiling = tiered ? this.#tiered(this.#maxTierRate) : undefined
    const rate = (kind: RecordBudget, factor: number): { perSecond: number; burst: number } | undefined =>
      kind === 'messages' && ceiling !== undefined
        ? { perSecond: ceiling.perSecond * factor, burst: ceiling.burst * factor }
        : undefined
    if (kinds.every((kind) => this.#buckets[kind].available(`${from} ${topic}`, rate(kind, 1)) < 1)) return {}
    const wallet = this.#wallets.get(from)
    if (wallet === undefined) return undefined
    const factor = RELAY_RECORD_WALLET_FACTOR
    return kinds.every((kind) => this.#walletBuckets[kind].available(`${wallet} ${topic}`, rate(kind, factor)) < 1)
      ? { wallet }
      : undefined
  }

  /** The wallet that certified `device`, from its last accepted record; undefined before one. */
  walletOf(device: string): string | undefined {
    return this.#wallets.get(device)
  }

  #remember(device: string, wallet: string): void {
    if (this.#wallets.get(device) === wallet) return
    this.#wallets.delete(device)
    this.#wallets.set(device, wallet)
    if (this.#wallets.size > RELAY_RECORD_RATE_MAX_BUCKETS)
      this.#wallets.delete(this.#wallets.keys().next().value as string)
  }

  /** A tier's rate and burst, capped by the operator's ceiling; undefined for the relay's own. */
  #tiered(rate: number | undefined): { perSecond: number; burst: number } | undefined {
    if (rate === undefined) return undefined
    const perSecond = Math.min(rate, this.#maxTierRate)
    return { perSecond, burst: Math.max(1, Math.round(perSecond * this.#burstSeconds)) }
  }

  /**
   * A record its validator dropped without rejecting it — a sender it cannot verify (a certificate signed by another
   * wallet looks like a contract wallet's to a relay with no chain), a type it does not know, a gate it cannot read —
   * costs its device the token an accepted record of its type would (presence's when the type is not one of
   * `budgets`), and never its wallet's, which nothing proved. Such records cost no score, so before, a device could
   * send them as fast as the relay would check them, uncounted; now past its rate they are dropped, counted and, kept
   * up, banned like any flood. An honest device's are within its rate, as its accepted ones are.
   */
  #chargeIgnored<T extends string>(
    from: string,
    source: PeerId,
    message: Message,
    type: string | undefined,
    budgets: Record<T, RecordBudget>,
    kinds: RecordBudget[],
  ): TopicValidatorResult {
    const budget =
      type !== undefined && Object.hasOwn(budgets, type)
        ? budgets[type as T]
        : kinds.includes('control')
          ? 'control'
          : kinds[0]!
    if (this.#buckets[budget].take(`${from} ${message.topic}`).allowed) return TopicValidatorResult.Ignore
    return this.#drop(from, source, message.topic)
  }

  /** `over`: the wallet whose shared budget is spent, when it is that and not the device's own. */
  #drop(from: string, source: PeerId, topic: string, over: { wallet?: string } = {}): TopicValidatorResult {
    const nowMs = Date.now()
    const direct = source.toString() === from
    let streak = this.#streaks.get(from)
    if (streak === undefined || nowMs - streak.lastMs >= RELAY_RECORD_FLOOD_PAUSE_MS) {
      this.#streaks.delete(from)
      streak = { sinceMs: nowMs, lastMs: nowMs, direct }
      this.#streaks.set(from, streak)
      if (this.#streaks.size > RELAY_RECORD_RATE_MAX_BUCKETS) {
        this.#streaks.delete(this.#streaks.keys().next().value as string)
      }
    }
    streak.lastMs = nowMs
    streak.direct ||= direct
    const forwarder = direct ? {} : { forwarder: source.toString() }
    this.#limits.refusals.refuse('records-per-second', from, { topic, ...forwarder, ...over })
    if (nowMs - streak.sinceMs >= this.#floodBanAfterMs && !this.#limits.isBanned(from)) {
      this.#limits.ban(from, this.#floodBanMs, 'record-flood', { topic, overLimitMs: nowMs - streak.sinceMs })
    }
    return TopicValidatorResult.Ignore
  }
}
