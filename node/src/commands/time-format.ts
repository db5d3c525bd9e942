/**
 * Times as the CLI prints them. Times in records are bounded at validation (sdk constants
 * `MAX_RECORD_TIME_MS`), but a printer must not die on whatever still gets through (a peer
 * running other code, a corrupt store): `new Date(x).toISOString()` throws for an invalid date.
 */

/** ISO 8601, or `null` when `ms` is no valid date. */
export function isoTime(ms: number): string | null {
  const date = new Date(ms)
  return Number.isNaN(date.getTime()) ? null : date.toISOString()
}

/** `HH:MM:SS` (UTC), or `??:??:??` when `ms` is no valid date. */
export function clockTime(ms: number): string {
  return isoTime(ms)?.slice(11, 19) ?? '??:??:??'
}
