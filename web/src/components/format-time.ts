/**
 * Times as the app shows them. Times in records are bounded at validation (sdk constants
 * `MAX_RECORD_TIME_MS`), but what a peer states is shown defensively all the same: an invalid
 * date shows as nothing rather than "Invalid Date" (or a thrown RangeError in stricter formatters).
 */

/** One formatter for every message: `toLocaleTimeString` with options builds a new one per call, which a list of 1,000 messages re-rendered per arriving message made the page's main cost. */
const SHORT_TIME = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' })

/** Hours and minutes in the reader's locale; '' when `ms` is no valid date. */
export function shortTime(ms: number): string {
  const date = new Date(ms)
  return Number.isNaN(date.getTime()) ? '' : SHORT_TIME.format(date)
}

/** Date and time in the reader's locale; '' when `ms` is no valid date. */
export function dateTime(ms: number): string {
  const date = new Date(ms)
  return Number.isNaN(date.getTime()) ? '' : date.toLocaleString()
}

/** ISO 8601 (UTC); '' when `ms` is no valid date. */
export function isoDateTime(ms: number): string {
  const date = new Date(ms)
  return Number.isNaN(date.getTime()) ? '' : date.toISOString()
}

/** One formatter for every day separator (see {@link SHORT_TIME}). */
const DAY = new Intl.DateTimeFormat(undefined, { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' })

/** The reader's local calendar day of `ms` (`2026-12-05`), to tell days apart; '' when `ms` is no valid date. */
export function dayKey(ms: number): string {
  const date = new Date(ms)
  if (Number.isNaN(date.getTime())) return ''
  return `${date.getFullYear()}-${date.getMonth() + 1}-${date.getDate()}`
}

/** "Today", "Yesterday", else the day in the reader's locale ("Friday, December 4, 2026"); '' when no valid date. */
export function dayLabel(ms: number, nowMs: number = Date.now()): string {
  const key = dayKey(ms)
  if (key === '') return ''
  if (key === dayKey(nowMs)) return 'Today'
  const yesterday = new Date(nowMs)
  yesterday.setDate(yesterday.getDate() - 1)
  if (key === dayKey(yesterday.getTime())) return 'Yesterday'
  return DAY.format(new Date(ms))
}
