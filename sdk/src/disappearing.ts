/**
 * Disappearing messages: the rules of a conversation's timer, the same in rooms and DMs (`message-state.ts` keeps
 * the timer's changes beside the messages; `rooms/room.ts` and `dm/direct-messages.ts` send and check them).
 *
 * - In a DM a timer change is one more encrypted record (`kind: 'timer'`), and either wallet of the conversation may
 *   make it; anyone else's is refused by every honest device, with a reason. In a room it is a `timer` event of the
 *   room's moderation log (`rooms/moderation-event.ts`), signed by its owner's wallet and judged by the log like
 *   every event: the stores keep the log, so a member who joins later learns the timer with the owner away.
 * - Each message keeps the timer in force when it was sent (the latest change by the senders' clocks, then id, at
 *   or before its send time): setting a timer does not take earlier messages away, and turning it off does not
 *   keep the ones sent under it. Every device with the same records computes the same timer for each message,
 *   whatever order they came in.
 * - A message expires its timer after its sent time as the sender states it, but counted from no later than its
 *   arrival plus {@link DISAPPEAR_CLOCK_SKEW_MS}: a sender's clock ahead cannot make its message outlive the timer
 *   by more than that; a clock behind only shortens its own messages' life. A device that receives a message
 *   already past its time (a catch-up after being offline) never shows it.
 */
import { z } from 'zod'
import {
  DISAPPEAR_CLOCK_SKEW_MS,
  DISAPPEAR_MAX_SECONDS,
  DISAPPEAR_MIN_SECONDS,
  EXPIRY_SWEEP_MAX_WAIT_MS,
  MAX_TIMER_CHANGES,
} from './constants.ts'
import { InvalidInputError } from './errors.ts'
import { recordTimeSchema } from './json-records.ts'
import type { Address, TimerChange } from './types.ts'

/** 0 (off), or {@link DISAPPEAR_MIN_SECONDS} to {@link DISAPPEAR_MAX_SECONDS}. */
export function isTimerSeconds(seconds: number): boolean {
  return (
    Number.isInteger(seconds) &&
    (seconds === 0 || (seconds >= DISAPPEAR_MIN_SECONDS && seconds <= DISAPPEAR_MAX_SECONDS))
  )
}

/** A timer as records carry it (in seconds; 0 is off). */
export const timerSecondsSchema = z
  .number()
  .int()
  .refine(isTimerSeconds, { message: `0 (off) or ${DISAPPEAR_MIN_SECONDS} to ${DISAPPEAR_MAX_SECONDS} seconds` })

export function checkTimerSeconds(seconds: number): number {
  if (isTimerSeconds(seconds)) return seconds
  throw new InvalidInputError('not a disappearing-messages timer', {
    details: { seconds },
    hint: `use off, or ${DISAPPEAR_MIN_SECONDS} seconds to ${DISAPPEAR_MAX_SECONDS / 86_400} days`,
  })
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 }

/** `off`, or a number and a unit: `10s`, `5m`, `1h`, `1d`, `1w` (a bare number is seconds). Checked. */
export function parseTimer(text: string): number {
  const value = text.trim().toLowerCase()
  if (value === 'off' || value === '0') return 0
  return checkTimerSeconds(parseDurationSeconds(text, 'off, or '))
}

/**
 * A number and a unit, `10s`, `5m`, `1h`, `1d`, `1w` (a bare number is seconds), in seconds; unchecked beyond its
 * form (a mute's `--for` as a timer's). `hint` comes before the examples of the error's hint.
 */
export function parseDurationSeconds(text: string, hint = ''): number {
  const match = /^(\d+)\s*([smhdw]?)$/.exec(text.trim().toLowerCase())
  if (match === null) {
    throw new InvalidInputError(`not a duration: ${text}`, { hint: `write ${hint}e.g. 10s, 5m, 1h, 1d, 1w` })
  }
  return Number(match[1]) * UNITS[match[2] === '' ? 's' : match[2]!]!
}

const NAMES: Array<[number, string]> = [
  [604_800, 'week'],
  [86_400, 'day'],
  [3600, 'hour'],
  [60, 'minute'],
  [1, 'second'],
]

/** For people: `off`, `1 hour`, `5 minutes`, `90 seconds` (the largest unit that divides it). */
export function describeTimer(seconds: number): string {
  if (seconds === 0) return 'off'
  const [unit, name] = NAMES.find(([size]) => seconds % size === 0)!
  const count = seconds / unit
  return `${count} ${name}${count === 1 ? '' : 's'}`
}

/**
 * Why `sender` may not change a DM's timer (either of its two `wallets` may), or undefined when it may. A room's is
 * the moderation log's to judge (`Room.disappearingRefusal`).
 */
export function dmTimerRefusal(wallets: readonly Address[], sender: string): string | undefined {
  const same = (a: string): boolean => a.toLowerCase() === sender.toLowerCase()
  return wallets.some(same) ? undefined : 'only the two wallets of a conversation may change its timer'
}

/** When a message counts from: its stated send time, no later than its arrival plus the clock skew allowed. */
export function countsFromMs(sentAtMs: number, receivedAtMs: number): number {
  return Math.min(sentAtMs, receivedAtMs + DISAPPEAR_CLOCK_SKEW_MS)
}

const savedTimerSchema = z
  .object({
    id: z.string().regex(/^[0-9a-f]{32}$|^[0-9a-f]{64}$/),
    sender: z.string().regex(/^0x[0-9a-fA-F]{40}$/),
    senderPeerId: z.string().max(128),
    sentAtMs: recordTimeSchema,
    seconds: timerSecondsSchema,
  })
  .strict()
export const savedTimersSchema = z.array(savedTimerSchema).max(MAX_TIMER_CHANGES)

const order = (a: TimerChange, b: TimerChange): number =>
  a.sentAtMs - b.sentAtMs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)

/** A conversation's timer changes, oldest first (by sender's clock, then id); the oldest go past {@link MAX_TIMER_CHANGES}. */
export class TimerHistory {
  #changes: TimerChange[]

  constructor(saved: ReadonlyArray<z.infer<typeof savedTimerSchema>> = []) {
    this.#changes = saved.map((change) => ({ ...change, sender: change.sender as Address })).sort(order)
  }

  /** Adds a change; false when it is here already. */
  add(change: TimerChange): boolean {
    if (this.#changes.some((c) => c.id === change.id)) return false
    this.#changes = [...this.#changes, change].sort(order)
    if (this.#changes.length > MAX_TIMER_CHANGES) this.#changes = this.#changes.slice(-MAX_TIMER_CHANGES)
    return true
  }

  /** The change in force now (the latest), if any was made. */
  current(): TimerChange | undefined {
    return this.#changes.at(-1)
  }

  /** The timer of a message sent at `sentAtMs` (seconds, 0: it does not disappear). */
  secondsAt(sentAtMs: number): number {
    let seconds = 0
    for (const change of this.#changes) {
      if (change.sentAtMs > sentAtMs) break
      seconds = change.seconds
    }
    return seconds
  }

  /** When a message sent at `sentAtMs`, counting from `fromMs` ({@link countsFromMs}), expires; undefined: never. */
  expiresAtMs(sentAtMs: number, fromMs: number): number | undefined {
    const seconds = this.secondsAt(sentAtMs)
    return seconds === 0 ? undefined : fromMs + seconds * 1000
  }

  get size(): number {
    return this.#changes.length
  }

  serialize(): TimerChange[] {
    return this.#changes.map((change) => ({ ...change }))
  }
}

/**
 * Runs `sweep` when the next message expires (`next()`: its time, or undefined when none will), and again after
 * each sweep; at least every {@link EXPIRY_SWEEP_MAX_WAIT_MS}. `schedule()` after anything that may move the next
 * expiry (a timer change, a start), `added(atMs)` after a message came; nothing runs between `stop()` and the next
 * `schedule()` or `added()`.
 */
export class ExpiryClock {
  readonly #next: () => number | undefined
  readonly #sweep: () => void
  #timer: ReturnType<typeof setTimeout> | undefined
  #atMs: number | undefined

  constructor(init: { next: () => number | undefined; sweep: () => void }) {
    this.#next = init.next
    this.#sweep = init.sweep
  }

  schedule(): void {
    this.#sweepBy(this.#next())
  }

  /**
   * A message came that expires at `atMs` (undefined: never): the sweep comes no later. Only a message added can
   * bring the next expiry closer, so this needs no `next()` — which walks every message — once per message.
   */
  added(atMs: number | undefined): void {
    this.#sweepBy(atMs)
  }

  #sweepBy(next: number | undefined): void {
    if (next === undefined) return
    const atMs = Math.min(next, Date.now() + EXPIRY_SWEEP_MAX_WAIT_MS)
    if (this.#timer !== undefined && this.#atMs !== undefined && this.#atMs <= atMs) return
    this.stop()
    this.#atMs = atMs
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined
        this.#atMs = undefined
        this.#sweep()
        this.schedule()
      },
      Math.max(0, atMs - Date.now()),
    )
  }

  stop(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#atMs = undefined
  }
}
