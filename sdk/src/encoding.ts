const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

export const utf8 = {
  encode: (text: string): Uint8Array => encoder.encode(text),
  /** Throws on invalid UTF-8 instead of inventing replacement characters. */
  decode: (bytes: Uint8Array): string => decoder.decode(bytes),
}

/**
 * Canonical JSON for the values we hash and sign (RFC 8785 for our subset: objects with
 * string keys sorted by code unit, arrays, strings, safe integers, booleans, null).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new TypeError(`canonicalJson: only safe integers, got ${value}`)
    return JSON.stringify(value)
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`
  }
  throw new TypeError(`canonicalJson: unsupported ${typeof value}`)
}

/** base64url's alphabet (RFC 4648 §5), and each character's value (-1: not in it). */
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
const BASE64URL_CODES = Uint8Array.from(BASE64URL, (c) => c.charCodeAt(0))
const BASE64URL_VALUES = new Int8Array(128).fill(-1)
for (let i = 0; i < BASE64URL.length; i++) BASE64URL_VALUES[BASE64URL.charCodeAt(i)] = i
const ascii = new TextDecoder('latin1')

/**
 * Unpadded base64url. By table, not through `btoa`: every stored record and room payload goes
 * through here, and a binary string built a character at a time cost more than the rest.
 */
export function base64urlEncode(bytes: Uint8Array): string {
  const out = new Uint8Array(Math.ceil((bytes.length * 4) / 3))
  let o = 0
  let i = 0
  for (; i + 2 < bytes.length; i += 3) {
    const n = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8) | (bytes[i + 2] as number)
    out[o++] = BASE64URL_CODES[n >> 18] as number
    out[o++] = BASE64URL_CODES[(n >> 12) & 63] as number
    out[o++] = BASE64URL_CODES[(n >> 6) & 63] as number
    out[o++] = BASE64URL_CODES[n & 63] as number
  }
  const rest = bytes.length - i
  if (rest > 0) {
    const n = ((bytes[i] as number) << 16) | (rest === 2 ? (bytes[i + 1] as number) << 8 : 0)
    out[o++] = BASE64URL_CODES[n >> 18] as number
    out[o++] = BASE64URL_CODES[(n >> 12) & 63] as number
    if (rest === 2) out[o++] = BASE64URL_CODES[(n >> 6) & 63] as number
  }
  return ascii.decode(out)
}

/**
 * Unpadded base64url (as `atob` reads it: bits past the last whole byte are ignored). Throws a
 * TypeError on any character outside the alphabet, padding included, and on a length that
 * leaves a single character over.
 */
export function base64urlDecode(text: string): Uint8Array {
  if (text.length % 4 === 1) throw new TypeError('not base64url')
  const out = new Uint8Array(Math.floor((text.length * 3) / 4))
  const value = (i: number): number => {
    const code = text.charCodeAt(i)
    const v = code < 128 ? (BASE64URL_VALUES[code] as number) : -1
    if (v < 0) throw new TypeError('not base64url')
    return v
  }
  let o = 0
  let i = 0
  for (; i + 3 < text.length; i += 4) {
    const n = (value(i) << 18) | (value(i + 1) << 12) | (value(i + 2) << 6) | value(i + 3)
    out[o++] = n >> 16
    out[o++] = (n >> 8) & 0xff
    out[o++] = n & 0xff
  }
  const rest = text.length - i
  if (rest > 1) {
    const n = (value(i) << 18) | (value(i + 1) << 12) | (rest === 3 ? value(i + 2) << 6 : 0)
    out[o++] = n >> 16
    if (rest === 3) out[o++] = (n >> 8) & 0xff
  }
  return out
}
