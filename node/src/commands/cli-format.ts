/**
 * What peers state, as the CLI prints it for people. Times in records are bounded at validation (sdk constants
 * `MAX_RECORD_TIME_MS`), but a printer must not die on whatever still gets through (a peer
 * running other code, a corrupt store): `new Date(x).toISOString()` throws for an invalid date.
 */
import { mentionsAddress } from '@securechat/sdk/mentions'

/** ISO 8601, or `null` when `ms` is no valid date. */
export function isoTime(ms: number): string | null {
  const date = new Date(ms)
  return Number.isNaN(date.getTime()) ? null : date.toISOString()
}

/** A wallet address for people: `0x1234…abcd`. */
export function shortAddress(address: string): string {
  return `${address.slice(0, 6)}…${address.slice(-4)}`
}

/** `HH:MM:SS` (UTC), or `??:??:??` when `ms` is no valid date. */
export function clockTime(ms: number): string {
  return isoTime(ms)?.slice(11, 19) ?? '??:??:??'
}

/**
 * `text` for a terminal: control characters (C0, DEL, C1, line and paragraph separators) shown as
 * `\uXXXX`, so a message cannot move the cursor, recolour the terminal or fake another line.
 * `--json` output is for programs and left to JSON's own escaping.
 */
export function printable(text: string): string {
  return text.replace(CONTROL_CHARACTERS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/** C0, DEL, C1, U+2028 and U+2029, built from code points (a regex literal of them trips the linter). */
const CONTROL_CHARACTERS = new RegExp(
  `[${String.fromCharCode(0)}-${String.fromCharCode(0x1f)}${String.fromCharCode(0x7f)}-${String.fromCharCode(0x9f)}\u2028\u2029]`,
  'g',
)

/**
 * What `--json` says of a message's mentions (`@0x…` in its text, `@securechat/sdk/mentions`): every wallet it
 * mentions, and whether `self` is one of them.
 */
export function mentionsToJson(mentions: readonly string[], self: string): { mentions: string[]; mentionsMe: boolean } {
  return { mentions: [...mentions], mentionsMe: mentionsAddress(mentions, self) }
}

/** What a line for people adds when a message mentions `self`. */
export function mentionNote(mentions: readonly string[], self: string): string {
  return mentionsAddress(mentions, self) ? ' (mentions you)' : ''
}

/** Bytes for people: 1.5 GiB, 340 MiB, 12 KiB, 900 B. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes
  let unit = 0
  // Rounded first: 1023.7 KiB reads 1.0 MiB, not "1024 KiB"; a speed's fraction of a byte is not printed.
  while (Math.round(value) >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  if (unit === 0) return `${Math.round(value)} B`
  return `${value < 9.95 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`
}
