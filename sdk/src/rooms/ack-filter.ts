import { ACK_FILTER_BITS_PER_ID, ACK_FILTER_HASHES, MAX_ACK_FILTER_IDS } from '../constants.ts'
import { base64urlDecode, base64urlEncode } from '../encoding.ts'

/**
 * The acknowledgement a member's presence carries (`acks`): a Bloom filter of the ids of the room
 * messages it received lately, as in Scalable Data Sync. A sender reads it to see which of its own
 * messages each member holds (`outgoing-buffer.ts`); a false positive (about 1 %) only means one
 * member's copy is taken for granted, which the receiver's own gap repair covers.
 *
 * Message ids are sha256 hex already, so the filter's hash functions are slices of the id:
 * {@link ACK_FILTER_HASHES} 32-bit words, each taken modulo the filter's size in bits.
 */
export function ackFilterOf(ids: readonly string[]): string {
  const bits = Math.max(64, Math.ceil(ids.length * ACK_FILTER_BITS_PER_ID))
  const filter = new Uint8Array(Math.ceil(bits / 8))
  const size = filter.length * 8
  for (const id of ids) {
    for (const index of indices(id, size)) filter[index >> 3]! |= 1 << (index & 7)
  }
  return base64urlEncode(filter)
}

/** Reads an `acks` field; undefined for one that is not base64url or empty (the schema bounds its length). */
export function readAckFilter(text: string): AckFilter | undefined {
  let bytes: Uint8Array
  try {
    bytes = base64urlDecode(text)
  } catch {
    return undefined
  }
  return bytes.length === 0 ? undefined : new AckFilter(bytes)
}

export class AckFilter {
  readonly #bytes: Uint8Array
  constructor(bytes: Uint8Array) {
    this.#bytes = bytes
  }

  /** Whether `id` (sha256 hex) is probably in the filter; never false for one that is. */
  has(id: string): boolean {
    const size = this.#bytes.length * 8
    for (const index of indices(id, size)) {
      if ((this.#bytes[index >> 3]! & (1 << (index & 7))) === 0) return false
    }
    return true
  }
}

function indices(id: string, size: number): number[] {
  const out: number[] = []
  for (let i = 0; i < ACK_FILTER_HASHES; i++) out.push(Number.parseInt(id.slice(i * 8, i * 8 + 8), 16) % size)
  return out
}

/**
 * Ids of the messages this device received lately, for its next presence's `acks`: the newest
 * {@link MAX_ACK_FILTER_IDS} of the last `windowMs` (the room makes it span two heartbeats at
 * least, `ACK_WINDOW_PRESENCE_INTERVALS`, so one lost presence loses no acknowledgement).
 */
export class ReceivedIds {
  readonly #ids: Array<{ id: string; atMs: number }> = []
  readonly #windowMs: number

  constructor(init: { windowMs: number }) {
    this.#windowMs = init.windowMs
  }

  add(id: string, nowMs = Date.now()): void {
    this.#ids.push({ id, atMs: nowMs })
    // Trimmed in batches, not one shift per message; `filter` takes the newest only.
    if (this.#ids.length > 2 * MAX_ACK_FILTER_IDS) this.#ids.splice(0, this.#ids.length - MAX_ACK_FILTER_IDS)
  }

  /** The filter of what is still in the window, or undefined when nothing is. */
  filter(nowMs = Date.now()): string | undefined {
    const cutoff = nowMs - this.#windowMs
    const first = this.#ids.findIndex((entry) => entry.atMs >= cutoff)
    this.#ids.splice(0, first === -1 ? this.#ids.length : first)
    return this.#ids.length === 0
      ? undefined
      : ackFilterOf(this.#ids.slice(-MAX_ACK_FILTER_IDS).map((entry) => entry.id))
  }
}
