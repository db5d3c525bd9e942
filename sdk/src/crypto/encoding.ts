/**
 * Canonical binary encoding used by every wire format and serialized state of the crypto core:
 * big-endian integers, fixed-size fields, and length-prefixed byte strings. One encoding per
 * value (no optional padding, no trailing bytes), so encodings can be hashed and signed.
 *
 * Internal to `sdk/src/crypto`.
 */

import { MalformedMessageError } from './errors.ts'

const textEncoder = new TextEncoder()
const textDecoder = new TextDecoder('utf-8', { fatal: true })

export function utf8Encode(text: string): Uint8Array {
  return textEncoder.encode(text)
}

export class ByteWriter {
  #buffer: Uint8Array
  #view: DataView
  #length = 0

  constructor(initialCapacity = 256) {
    this.#buffer = new Uint8Array(initialCapacity)
    this.#view = new DataView(this.#buffer.buffer)
  }

  #reserve(extra: number): void {
    const needed = this.#length + extra
    if (needed <= this.#buffer.length) return
    let capacity = this.#buffer.length * 2
    while (capacity < needed) capacity *= 2
    const next = new Uint8Array(capacity)
    next.set(this.#buffer.subarray(0, this.#length))
    this.#buffer.fill(0) // the old buffer may hold secrets (serialized states)
    this.#buffer = next
    this.#view = new DataView(next.buffer)
  }

  u8(value: number): this {
    checkUint(value, 0xff, 'u8')
    this.#reserve(1)
    this.#view.setUint8(this.#length, value)
    this.#length += 1
    return this
  }

  u16(value: number): this {
    checkUint(value, 0xffff, 'u16')
    this.#reserve(2)
    this.#view.setUint16(this.#length, value)
    this.#length += 2
    return this
  }

  u32(value: number): this {
    checkUint(value, 0xffff_ffff, 'u32')
    this.#reserve(4)
    this.#view.setUint32(this.#length, value)
    this.#length += 4
    return this
  }

  /** A non-negative safe integer as 8 bytes big-endian (milliseconds since the epoch, …). */
  u64(value: number): this {
    checkUint(value, Number.MAX_SAFE_INTEGER, 'u64')
    this.#reserve(8)
    this.#view.setBigUint64(this.#length, BigInt(value))
    this.#length += 8
    return this
  }

  /** Fixed-size field: the reader must know the length. */
  raw(bytes: Uint8Array): this {
    this.#reserve(bytes.length)
    this.#buffer.set(bytes, this.#length)
    this.#length += bytes.length
    return this
  }

  /** Byte string with a u16 length prefix (identifiers, labels). */
  bytes16(bytes: Uint8Array): this {
    return this.u16(bytes.length).raw(bytes)
  }

  /** Byte string with a u32 length prefix (payloads, associated data). */
  bytes32(bytes: Uint8Array): this {
    return this.u32(bytes.length).raw(bytes)
  }

  /** UTF-8 string with a u16 length prefix. */
  string16(text: string): this {
    return this.bytes16(utf8Encode(text))
  }

  get length(): number {
    return this.#length
  }

  /** A copy of the written bytes; the internal buffer is wiped. */
  finish(): Uint8Array {
    const out = this.#buffer.slice(0, this.#length)
    this.#buffer.fill(0)
    return out
  }
}

function checkUint(value: number, max: number, kind: string): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`${kind} out of range: ${value}`)
  }
}

export class ByteReader {
  readonly #bytes: Uint8Array
  readonly #view: DataView
  readonly #what: string
  #offset = 0

  /** @param what - what is being decoded, for error messages ("double ratchet message"). */
  constructor(bytes: Uint8Array, what: string) {
    this.#bytes = bytes
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    this.#what = what
  }

  #need(length: number, field: string): void {
    if (this.#offset + length > this.#bytes.length) {
      throw new MalformedMessageError(`truncated ${this.#what}`, {
        details: { what: this.#what, field, offset: this.#offset, needed: length, total: this.#bytes.length },
      })
    }
  }

  fail(field: string, reason: string, details: Record<string, unknown> = {}): never {
    throw new MalformedMessageError(`invalid ${field} in ${this.#what}: ${reason}`, {
      details: { what: this.#what, field, offset: this.#offset, ...details },
    })
  }

  u8(field: string): number {
    this.#need(1, field)
    const value = this.#view.getUint8(this.#offset)
    this.#offset += 1
    return value
  }

  u16(field: string): number {
    this.#need(2, field)
    const value = this.#view.getUint16(this.#offset)
    this.#offset += 2
    return value
  }

  u32(field: string): number {
    this.#need(4, field)
    const value = this.#view.getUint32(this.#offset)
    this.#offset += 4
    return value
  }

  u64(field: string): number {
    this.#need(8, field)
    const value = this.#view.getBigUint64(this.#offset)
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(field, 'exceeds the safe integer range')
    this.#offset += 8
    return Number(value)
  }

  /** A boolean flag byte: exactly 0 or 1 (canonical). */
  flag(field: string): boolean {
    const value = this.u8(field)
    if (value > 1) this.fail(field, 'flag must be 0 or 1', { received: value })
    return value === 1
  }

  /** A fixed-size field, copied (the result never aliases the input). */
  raw(length: number, field: string): Uint8Array {
    this.#need(length, field)
    const out = this.#bytes.slice(this.#offset, this.#offset + length)
    this.#offset += length
    return out
  }

  bytes16(field: string, maxLength = 0xffff): Uint8Array {
    const length = this.u16(field)
    if (length > maxLength) this.fail(field, 'too long', { length, maxLength })
    return this.raw(length, field)
  }

  bytes32(field: string, maxLength = 0xffff_ffff): Uint8Array {
    const length = this.u32(field)
    if (length > maxLength) this.fail(field, 'too long', { length, maxLength })
    return this.raw(length, field)
  }

  string16(field: string): string {
    const bytes = this.bytes16(field)
    try {
      return textDecoder.decode(bytes)
    } catch (cause) {
      return this.fail(field, 'not valid UTF-8', { cause })
    }
  }

  /** Everything not read yet, copied. */
  rest(): Uint8Array {
    const out = this.#bytes.slice(this.#offset)
    this.#offset = this.#bytes.length
    return out
  }

  get remaining(): number {
    return this.#bytes.length - this.#offset
  }

  /** Canonical encodings have no trailing bytes. */
  end(): void {
    if (this.#offset !== this.#bytes.length) {
      throw new MalformedMessageError(`trailing bytes after ${this.#what}`, {
        details: { what: this.#what, offset: this.#offset, total: this.#bytes.length },
      })
    }
  }
}
