/**
 * The SFrame header (RFC 9605 section 4.3): a config byte, then the KID and the CTR when they do not fit in it.
 *
 * ```
 *  0 1 2 3 4 5 6 7
 * +-+-+-+-+-+-+-+-+------------+------------+
 * |X|  K  |Y|  C  |   KID...   |   CTR...   |
 * +-+-+-+-+-+-+-+-+------------+------------+
 * ```
 *
 * A value below 8 is carried in its 3 bits (K or C) with its flag (X or Y) clear. A larger one follows the config
 * byte as a big-endian integer of the fewest bytes that hold it (1 to 8), KID first, its flag set and its 3 bits
 * holding the length minus one. So a header is 1 to 17 bytes.
 *
 * Decoding is strict, since the bytes come from the network: a header cut short, or one not minimally encoded (an
 * extended value below 8, or a leading zero byte), is `SFrameDecryptionError` with reason `malformed` — never
 * another exception. The RFC makes the minimal form a MUST for senders; refusing the others keeps one encoding per
 * (KID, CTR). (Accepting them would not let a frame through — the header is authenticated — but the reference
 * implementation's lenient reader is no reason to be.)
 */
import { InvalidInputError } from '../errors.ts'
import { SFRAME_MAX_COUNTER, SFRAME_MAX_KID } from './constants.ts'
import { SFrameDecryptionError } from './errors.ts'

/** A decoded header: its values, and how many bytes of the input it took (the ciphertext follows). */
export interface SFrameHeader {
  readonly kid: bigint
  readonly counter: bigint
  readonly length: number
}

/** The longest header: the config byte, an 8-byte KID and an 8-byte CTR. */
export const SFRAME_MAX_HEADER_BYTES = 17

const EXTENDED_FLAG = 0b1000
const VALUE_BITS = 0b0111

/** The header of (`kid`, `counter`), both integers in 0 .. 2^64 − 1, in its one minimal encoding. */
export function encodeSFrameHeader(params: { kid: bigint; counter: bigint }): Uint8Array {
  const { kid, counter } = params
  assertUint64(kid, SFRAME_MAX_KID, 'kid')
  assertUint64(counter, SFRAME_MAX_COUNTER, 'counter')
  const kidBytes = kid < 8n ? 0 : byteLength(kid)
  const counterBytes = counter < 8n ? 0 : byteLength(counter)
  const out = new Uint8Array(1 + kidBytes + counterBytes)
  out[0] = (nibble(kid, kidBytes) << 4) | nibble(counter, counterBytes)
  writeBigEndian(out, 1, kidBytes, kid)
  writeBigEndian(out, 1 + kidBytes, counterBytes, counter)
  return out
}

/**
 * Reads the header at the start of `bytes` (an SFrame ciphertext: the rest is the AEAD output). Throws
 * `SFrameDecryptionError` (`malformed`) on anything but a complete, minimally encoded header.
 */
export function decodeSFrameHeader(bytes: Uint8Array): SFrameHeader {
  if (bytes.length === 0) throw malformed('empty frame: no SFrame header', { length: 0 })
  const config = bytes[0]!
  let offset = 1
  const kid = readField(bytes, config >> 4, offset, 'kid')
  offset += kid.length
  const counter = readField(bytes, config & 0x0f, offset, 'counter')
  offset += counter.length
  return { kid: kid.value, counter: counter.value, length: offset }
}

/** One 4-bit half of the config byte and the bytes it announces. */
function readField(
  bytes: Uint8Array,
  half: number,
  offset: number,
  field: 'kid' | 'counter',
): { value: bigint; length: number } {
  if ((half & EXTENDED_FLAG) === 0) return { value: BigInt(half & VALUE_BITS), length: 0 }
  const length = (half & VALUE_BITS) + 1
  if (offset + length > bytes.length) {
    throw malformed(`SFrame header cut short in its ${field}`, {
      field,
      needed: offset + length,
      length: bytes.length,
    })
  }
  if (length > 1 && bytes[offset] === 0) {
    throw malformed(`SFrame header ${field} has a leading zero byte (not minimally encoded)`, { field, length })
  }
  let value = 0n
  for (let i = 0; i < length; i++) value = (value << 8n) | BigInt(bytes[offset + i]!)
  if (value < 8n) {
    throw malformed(`SFrame header ${field} below 8 in extended form (not minimally encoded)`, { field })
  }
  return { value, length }
}

function malformed(message: string, details: Record<string, unknown>): SFrameDecryptionError {
  return new SFrameDecryptionError('malformed', message, { details })
}

/** The config byte's half for a value: the value itself, or the extended flag and its byte length minus one. */
function nibble(value: bigint, bytes: number): number {
  return bytes === 0 ? Number(value) : EXTENDED_FLAG | (bytes - 1)
}

/** How many bytes a positive integer needs. */
function byteLength(value: bigint): number {
  let bytes = 0
  for (let rest = value; rest > 0n; rest >>= 8n) bytes++
  return bytes
}

function writeBigEndian(out: Uint8Array, offset: number, bytes: number, value: bigint): void {
  let rest = value
  for (let i = offset + bytes - 1; i >= offset; i--) {
    out[i] = Number(rest & 0xffn)
    rest >>= 8n
  }
}

/** Throws `InvalidInputError` unless `value` is a bigint in 0 .. `max`, naming the field and what it got. */
export function assertUint64(value: bigint, max: bigint, field: string): void {
  if (typeof value !== 'bigint' || value < 0n || value > max) {
    throw new InvalidInputError(`${field} must be a bigint from 0 to 2^64 - 1`, {
      details: { field, received: typeof value === 'bigint' ? value.toString() : typeof value },
    })
  }
}
