import { ACK_FILTER_BITS_PER_ID, ACK_FILTER_HASHES, ACK_PRESENCES, MAX_ACK_FILTER_IDS } from '../constants.ts'
import { base64urlDecode, base64urlEncode } from '../encoding.ts'

/**
 * The acknowledgement a member's presence carries (`acks`): a Bloom filter of the ids of the room
 * messages it received lately, as in Scalable Data Sync. A sender reads it to see which of its own
 * messages each member holds (`outgoing-buffer.ts`); a false positive (about 1 in 100,000) means one
 * member's copy is taken for granted (kept rare: `ACK_FILTER_BITS_PER_ID`).
 *
 * Message ids are sha256 hex already, so the filter's hash functions come from slices of the id.
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

/** Kirsch and Mitzenmacher's double hashing: h1 + i·h2, from two independent 32-bit slices of the id. */
function indices(id: string, size: number): number[] {
  const h1 = Number.parseInt(id.slice(0, 8), 16)
  const h2 = Number.parseInt(id.slice(8, 16), 16) || 1
  const out: number[] = []
  for (let i = 0; i < ACK_FILTER_HASHES; i++) out.push((h1 + i * h2) % size)
  return out
}

/**
 * Ids of the messages this device received lately, for its presence's `acks`: each id rides in the
 * next {@link ACK_PRESENCES} presences (one may be lost), counted in presences rather than time so
 * that a heartbeat a busy process sends late still carries what arrived meanwhile; at most the
 * newest {@link MAX_ACK_FILTER_IDS}.
 */
export class ReceivedIds {
  readonly #ids: Array<{ id: string; carried: number }> = []

  add(id: string): void {
    this.#ids.push({ id, carried: 0 })
    // Trimmed in batches, not one shift per message; `filter` takes the newest only.
    if (this.#ids.length > 2 * MAX_ACK_FILTER_IDS) this.#ids.splice(0, this.#ids.length - MAX_ACK_FILTER_IDS)
  }

  /** The filter for the presence about to be sent, or undefined when there is nothing to acknowledge. */
  filter(): string | undefined {
    const carried = this.#ids.slice(-MAX_ACK_FILTER_IDS)
    this.#ids.length = 0
    for (const entry of carried) {
      entry.carried += 1
      if (entry.carried < ACK_PRESENCES) this.#ids.push(entry)
    }
    return carried.length === 0 ? undefined : ackFilterOf(carried.map((entry) => entry.id))
  }
}
