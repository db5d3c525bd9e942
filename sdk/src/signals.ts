/**
 * Typing indicators and read positions, the parts rooms (`rooms/room-signals.ts`) and DMs (`dm/dm-signals.ts`) share:
 * what a person turned off, how often a device tells them, and how many a sender may make this device open.
 *
 * Turned off is off both ways, as Signal does for read receipts: a device that does not tell its own read position
 * (or typing) does not show others' either — it drops theirs unread. Reciprocity keeps it fair, and a device that
 * neither sends nor decrypts them costs nothing for them. In a DM a read position still goes to the wallet's own
 * other devices with receipts off (it is the person's own state, and DMs go device by device); in a room it cannot
 * (one record under one key reaches every member), so with receipts off a room's read position stays on the device.
 */
import { evictOldest, setNewest } from './bounded-map.ts'
import {
  MAX_SIGNAL_SENDERS,
  READ_SEND_DELAY_MS,
  SIGNAL_RECEIVE_BURST,
  SIGNALS_RECEIVED_PER_SECOND,
  TYPING_SEND_INTERVAL_MS,
} from './constants.ts'
import { type BucketRate, type TokenBucket, tokensAt } from './token-bucket.ts'
import type { ReadSignal } from './types.ts'

/** What this device tells others and shows of theirs; both on by default. */
export interface SignalSettings {
  /** Read receipts ("seen by", "read"): this device's read position goes to the others, theirs are shown. */
  receipts: boolean
  /** Typing indicators. */
  typing: boolean
}

export const DEFAULT_SIGNAL_SETTINGS: Readonly<SignalSettings> = Object.freeze({ receipts: true, typing: true })

export interface SignalPacerInit {
  /** Sends a typing record (`typing`: started or still typing, or stopped). */
  sendTyping: (typing: boolean) => Promise<void>
  /** Sends a read record naming the last message read. */
  sendRead: (upTo: string) => Promise<void>
  typingIntervalMs?: number
  readDelayMs?: number
  now?: () => number
}

/**
 * One conversation's outgoing typing and read records: while a person types, one `typing` record every
 * {@link TYPING_SEND_INTERVAL_MS} at most, and one "stopped" when the composer is cleared or sent (only after a
 * "typing"); read positions coalesced over {@link READ_SEND_DELAY_MS}, the last one named. Failures are the
 * caller's `send*` to log: nothing here throws.
 */
export class SignalPacer {
  readonly #init: SignalPacerInit
  readonly #typingIntervalMs: number
  readonly #readDelayMs: number
  readonly #now: () => number
  #typingSentAtMs = Number.NEGATIVE_INFINITY
  #typing = false
  #readDue: string | undefined
  #readTimer: ReturnType<typeof setTimeout> | undefined

  constructor(init: SignalPacerInit) {
    this.#init = init
    this.#typingIntervalMs = init.typingIntervalMs ?? TYPING_SEND_INTERVAL_MS
    this.#readDelayMs = init.readDelayMs ?? READ_SEND_DELAY_MS
    this.#now = init.now ?? Date.now
  }

  /** The person typed (`true`) or cleared or sent the composer (`false`). Returns whether a record went out. */
  typing(typing: boolean): boolean {
    const nowMs = this.#now()
    if (typing) {
      if (this.#typing && nowMs - this.#typingSentAtMs < this.#typingIntervalMs) return false
      this.#typing = true
      this.#typingSentAtMs = nowMs
    } else {
      if (!this.#typing) return false
      this.#typing = false
      this.#typingSentAtMs = Number.NEGATIVE_INFINITY
    }
    void this.#init.sendTyping(typing)
    return true
  }

  /** The person has read up to message `upTo`: told within the read delay, with any later one instead. */
  read(upTo: string): void {
    this.#readDue = upTo
    this.#readTimer ??= setTimeout(() => this.flush(), this.#readDelayMs)
  }

  /** Sends the read position due now, if any. */
  flush(): void {
    clearTimeout(this.#readTimer)
    this.#readTimer = undefined
    const upTo = this.#readDue
    this.#readDue = undefined
    if (upTo !== undefined) void this.#init.sendRead(upTo)
  }

  /** Drops what is due (the conversation stopped): no timer outlives it. */
  stop(): void {
    clearTimeout(this.#readTimer)
    this.#readTimer = undefined
    this.#readDue = undefined
  }
}

/**
 * How many typing and read records each sender may make this device decrypt: {@link SIGNALS_RECEIVED_PER_SECOND}
 * per sender, bucketed, over at most {@link MAX_SIGNAL_SENDERS} senders (the oldest forgotten). A flood is dropped
 * before any work; relays drop it first on their own budget (`node/src/relay/record-rates.ts`).
 */
export class SignalGuard {
  readonly #rate: BucketRate
  readonly #buckets = new Map<string, TokenBucket>()
  readonly #now: () => number
  dropped = 0

  constructor(init: { rate?: BucketRate; now?: () => number } = {}) {
    this.#rate = init.rate ?? { perSecond: SIGNALS_RECEIVED_PER_SECOND, burst: SIGNAL_RECEIVE_BURST }
    this.#now = init.now ?? Date.now
  }

  /** Takes a token of `sender`; false (and counted) when it has none. */
  admit(sender: string): boolean {
    const nowMs = this.#now()
    const tokens = tokensAt(this.#buckets.get(sender), this.#rate, nowMs)
    this.#buckets.delete(sender)
    if (tokens < 1) {
      this.#buckets.set(sender, { tokens, atMs: nowMs })
      this.dropped += 1
      return false
    }
    this.#buckets.set(sender, { tokens: tokens - 1, atMs: nowMs })
    evictOldest(this.#buckets, MAX_SIGNAL_SENDERS)
    return true
  }
}

/**
 * The read positions a conversation heard, by reader (`K`: a room's wallet, or a DM's wallet and whether it is this
 * one's own): each reader's newest by its clock — an older one arriving late changes nothing — over at most
 * {@link MAX_SIGNAL_SENDERS} readers, the most recently heard kept.
 */
export class ReadPositions<K> {
  readonly #reads = new Map<K, ReadSignal>()

  /** Keeps `read` as `key`'s position unless one as new is here; true when kept (it is news to tell). */
  take(key: K, read: ReadSignal): boolean {
    const known = this.#reads.get(key)
    if (known !== undefined && known.sentAtMs >= read.sentAtMs) return false
    setNewest(this.#reads, key, read, MAX_SIGNAL_SENDERS)
    return true
  }

  get(key: K): ReadSignal | undefined {
    const read = this.#reads.get(key)
    return read === undefined ? undefined : { ...read }
  }

  /** Every position kept: this wallet's own (`own`) always, the others' only while `receipts` are on. */
  list(receipts: boolean): ReadSignal[] {
    return [...this.#reads.values()].filter((read) => read.own || receipts).map((read) => ({ ...read }))
  }
}
