/**
 * What the relay's limits refused, counted by reason for `/metrics` and logged boundedly: one line per offender and
 * reason per interval, at most {@link RELAY_REFUSAL_LOG_MAX_OFFENDERS} such lines per interval, and at the end of an
 * interval one summary line per reason that refused more than it logged. An attacker looping a refused connection
 * a million times costs one log line, not a million.
 */
import type { Logger } from '@securechat/sdk/logger'
import { RELAY_REFUSAL_LOG_INTERVAL_MS, RELAY_REFUSAL_LOG_MAX_OFFENDERS } from '../constants.ts'

/**
 * Why a limit refused an inbound connection, a circuit reservation, a gossip record (`records-per-second`; a
 * flooder's disconnection and each of its refused reconnections are `record-flood`, an address banned for its
 * flooders' and each of its refused connections `record-flood-per-ip`) or a store query (`store-*`,
 * `store-query-limits.ts`) or a file pin (`file-pin-*`, `file-pins.ts`) or an SFU stream (`sfu-*`, `sfu/sfu-service.ts`), or why a room or DM validator rejected a record (`invalid-record`: malformed, another
 * room's, an invalid certificate…; the log line says which); the `reason` label of `/metrics`.
 */
export const REFUSAL_REASONS = [
  'connections-total',
  'connections-per-ip',
  'connections-per-peer',
  'unread-bytes',
  'connection-rate-per-ip',
  'pending-connections',
  'reservations-total',
  'reservations-per-ip',
  'records-per-second',
  'record-flood',
  'record-flood-per-ip',
  'store-query-rate-per-peer',
  'store-query-rate-per-ip',
  'store-queries-at-once-per-peer',
  'store-queries-at-once-per-ip',
  'store-queries-total',
  'invalid-record',
  'sanctioned-record',
  'file-pin-not-a-member',
  'file-pin-too-large',
  'file-pin-room-quota',
  'file-pin-relay-full',
  'file-pin-malformed',
  'file-pin-busy',
  'sfu-malformed',
  'sfu-not-a-member',
  'sfu-full',
] as const
export type RefusalReason = (typeof REFUSAL_REASONS)[number]

/**
 * What each reason says in the log, with the setting an operator raises if honest clients meet it (none: no honest
 * client meets it).
 */
const EXPLAINED: Record<RefusalReason, { message: string; setting?: string }> = {
  'connections-total': { message: 'connection refused: the relay is full', setting: '--max-connections' },
  'connections-per-ip': {
    message: 'connection refused: too many connections from one address',
    setting: '--max-connections-per-ip (or name the address with --colocation-whitelist)',
  },
  'connections-per-peer': {
    message: 'connection refused: too many connections from one peer',
    setting: '--max-connections-per-peer',
  },
  'unread-bytes': {
    message: 'connection closed: the peer left too much of its gossip unread',
    setting: '--max-unread-bytes-per-peer',
  },
  'connection-rate-per-ip': {
    message: 'connection refused: one address opens connections too fast',
    setting: '--connection-rate-per-ip (or name the address with --colocation-whitelist)',
  },
  'pending-connections': {
    message: 'connection refused: too many connections being opened at once',
    setting: '--max-pending-connections',
  },
  'reservations-total': {
    message: 'circuit reservation refused: every slot is taken',
    setting: '--max-reservations',
  },
  'reservations-per-ip': {
    message: 'circuit reservation refused: too many reservations from one address',
    setting: '--max-reservations-per-ip (or name the address with --colocation-whitelist)',
  },
  'records-per-second': {
    message: 'record dropped: one device sends too many records to one topic',
    setting:
      '--records-per-second and --record-burst (presence and keys: --control-records-per-second, --control-record-burst)',
  },
  'record-flood': {
    message: 'device disconnected and refused: it kept sending too many records',
    setting: '--record-flood-ban-after-ms (or lower --record-flood-ban-ms)',
  },
  'record-flood-per-ip': {
    message: 'address refused: several of its devices were banned for flooding',
    setting: '--record-flood-bans-per-ip (or name the address with --colocation-whitelist)',
  },
  'store-query-rate-per-peer': {
    message: 'store query refused: one peer queries too fast',
    setting: '--store-queries-per-second and --store-query-burst',
  },
  'store-query-rate-per-ip': {
    message: 'store query refused: one address queries too fast',
    setting:
      '--store-queries-per-second-per-ip and --store-query-burst-per-ip (or name the address with --colocation-whitelist)',
  },
  'store-queries-at-once-per-peer': {
    message: 'store query refused: one peer has too many queries under way',
    setting: '--store-queries-at-once-per-peer',
  },
  'store-queries-at-once-per-ip': {
    message: 'store query refused: one address has too many queries under way',
    setting: '--store-queries-at-once-per-ip (or name the address with --colocation-whitelist)',
  },
  'store-queries-total': {
    message: 'store query refused: the relay answers too many queries at once',
    setting: '--store-queries-at-once',
  },
  // An honest client never sends one: the peer that forwarded it loses score (gossipsub's P4, scoring.ts) instead.
  'invalid-record': { message: 'record rejected: it failed validation' },
  // Valid, but the room's moderation log silences its sender here (banned, kicked, muted, locked out): dropped, and
  // its client was told why when it tried to send (a device that is not ours keeps trying).
  'sanctioned-record': { message: "record dropped: the room's moderation log silences its sender" },
  // Someone outside the conversation asking the relay to keep a file: honest clients ask only relays of their rooms.
  'file-pin-not-a-member': { message: 'file pin refused: the asker is not a member of the conversation here' },
  'file-pin-too-large': {
    message: 'file pin refused: the file is over the size kept per file',
    setting: '--file-max-bytes',
  },
  'file-pin-room-quota': {
    message: "file pin refused: the conversation's files fill its quota",
    setting: '--file-room-quota (or lower --file-retention-ms)',
  },
  'file-pin-relay-full': {
    message: 'file pin refused: the files kept fill the total quota or the disk',
    setting: '--file-total-quota (or lower --file-retention-ms; free disk space)',
  },
  // A request out of bounds, or a DAG other than the file claimed (larger, other codecs): a liar or a broken client.
  'file-pin-malformed': { message: 'file pin stopped: the request or the blocks are not a file as claimed' },
  'file-pin-busy': {
    message: 'file pin refused: too many pins under way (of this peer, or in all)',
  },
  // The SFU protocol out of order or out of bounds: a broken client or a prober.
  'sfu-malformed': { message: 'SFU stream refused: a frame out of order or out of bounds' },
  // Someone outside the room (or a DM) asking for the room's forwarding unit: honest devices ask their rooms' relays.
  'sfu-not-a-member': { message: 'SFU stream refused: the device is not a member of the room here' },
  'sfu-full': {
    message: 'SFU stream refused: the call, the relay or the device is at its bound',
    setting: '--sfu-max-publishers and --sfu-max-calls',
  },
}

export interface RefusalsInit {
  log: Logger
  /** Default {@link RELAY_REFUSAL_LOG_INTERVAL_MS}. */
  intervalMs?: number
  /** Default {@link RELAY_REFUSAL_LOG_MAX_OFFENDERS}. */
  maxOffendersPerInterval?: number
}

export class Refusals {
  readonly #log: Logger
  readonly #intervalMs: number
  readonly #maxOffenders: number
  readonly #counts = Object.fromEntries(REFUSAL_REASONS.map((reason) => [reason, 0])) as Record<RefusalReason, number>
  /** `reason offender` pairs logged in this interval. */
  readonly #logged = new Set<string>()
  /** Refusals not logged in this interval (already logged offender, or past the cap), by reason. */
  readonly #unlogged = new Map<RefusalReason, { refused: number; offenders: Set<string> }>()
  #timer: ReturnType<typeof setInterval> | undefined

  constructor(init: RefusalsInit) {
    this.#log = init.log
    this.#intervalMs = init.intervalMs ?? RELAY_REFUSAL_LOG_INTERVAL_MS
    this.#maxOffenders = init.maxOffendersPerInterval ?? RELAY_REFUSAL_LOG_MAX_OFFENDERS
  }

  start(): void {
    if (this.#timer !== undefined) return
    this.#timer = setInterval(() => this.#endInterval(), this.#intervalMs)
    this.#timer.unref()
  }

  /** Idempotent; what the current interval did not log yet is summarised now. */
  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
    this.#endInterval()
  }

  /** Refusals since start, by reason (every reason present). */
  counts(): Readonly<Record<RefusalReason, number>> {
    return { ...this.#counts }
  }

  /**
   * Counts one refusal; logs it when `offender` (an address key or a PeerId) has not been logged for `reason` in this
   * interval and the interval's line budget is not spent.
   */
  refuse(reason: RefusalReason, offender: string, fields: Record<string, unknown> = {}): void {
    this.#counts[reason] += 1
    const key = `${reason} ${offender}`
    if (this.#logged.has(key) || this.#logged.size >= this.#maxOffenders) {
      this.#skip(reason, offender)
      return
    }
    this.#logged.add(key)
    const { message, setting } = EXPLAINED[reason]
    const then =
      setting === undefined
        ? 'no honest client sends these, and the peer that forwarded it to the relay loses score'
        : `if honest clients meet it, raise ${setting}`
    this.#log.info(message, {
      event: 'limit:refused',
      reason,
      offender,
      ...fields,
      hint: `further refusals of this offender for this reason are counted in /metrics, not logged, for ${Math.round(this.#intervalMs / 1000)} s; ${then}`,
    })
  }

  #skip(reason: RefusalReason, offender: string): void {
    let unlogged = this.#unlogged.get(reason)
    if (unlogged === undefined) {
      unlogged = { refused: 0, offenders: new Set() }
      this.#unlogged.set(reason, unlogged)
    }
    unlogged.refused += 1
    // Bounded like the lines: past the cap only the refusals are counted, not who.
    if (unlogged.offenders.size < this.#maxOffenders) unlogged.offenders.add(offender)
  }

  #endInterval(): void {
    for (const [reason, { refused, offenders }] of this.#unlogged) {
      this.#log.info(`${EXPLAINED[reason].message} (${refused} more in this interval, not logged one by one)`, {
        event: 'limit:refused-summary',
        reason,
        refused,
        offenders: offenders.size,
        intervalMs: this.#intervalMs,
      })
    }
    this.#unlogged.clear()
    this.#logged.clear()
  }
}
