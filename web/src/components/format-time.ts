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
