/**
 * Bounds what the relay holds for a neighbour that does not read. Gossipsub writes every record for a member to the
 * member's stream at once; what the member's muxer window does not take waits in the stream's write buffer, which
 * libp2p does not bound. A member whose link stalls outright stops answering pings and is cut after the ping timeout,
 * but one that keeps its connection alive and never reads its gossip stream (a slow phone for minutes, or an attacker,
 * who only has to withhold the stream's window updates) made the relay hold every record of its rooms for it, for as
 * long as it liked: memory an attacker could grow with each connection the per-IP limits let it open.
 *
 * So every {@link RELAY_UNREAD_BYTES_CHECK_INTERVAL_MS} the relay looks at what waits on each outbound gossip stream,
 * and aborts the connection of a neighbour past its bound, freeing what waited. The neighbour loses nothing a member
 * cannot get back: its client reconnects and catches up from the stores, and asks for sender keys it lacks. Cutting
 * the stream alone would leave the member connected and deaf (gossipsub opens a neighbour's stream once, when it
 * connects). Gossipsub's own `maxOutboundBufferSize` does just that, so it is not used.
 */
import type { Connection, Libp2p } from '@libp2p/interface'
import { RELAY_UNREAD_BYTES_CHECK_INTERVAL_MS } from '../constants.ts'

export interface UnreadBytesInit {
  libp2p: Pick<Libp2p, 'getConnections'>
  /** The gossip protocols whose outbound streams are watched (gossipsub's `protocols`). */
  protocols: readonly string[]
  /** Bytes a neighbour's outbound gossip stream may hold unread before its connection is aborted. */
  maxBytes: number
  /** Told of each neighbour cut, before its connection is aborted. */
  onCut: (connection: Connection, queuedBytes: number) => void
  intervalMs?: number
}

export class UnreadBytes {
  readonly #init: UnreadBytesInit
  #timer: ReturnType<typeof setInterval> | undefined

  constructor(init: UnreadBytesInit) {
    if (!(init.maxBytes > 0) || !Number.isFinite(init.maxBytes)) {
      throw new RangeError(`unread bytes per peer must be a positive number, got ${init.maxBytes}`)
    }
    this.#init = init
  }

  start(): void {
    if (this.#timer !== undefined) return
    this.#timer = setInterval(() => this.check(), this.#init.intervalMs ?? RELAY_UNREAD_BYTES_CHECK_INTERVAL_MS)
    this.#timer.unref?.()
  }

  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  /** Aborts the connections whose outbound gossip stream holds more than the bound; returns how many. */
  check(): number {
    const { protocols, maxBytes, onCut } = this.#init
    let cut = 0
    for (const connection of this.#init.libp2p.getConnections()) {
      const queued = connection.streams.find(
        (stream) =>
          stream.direction === 'outbound' &&
          protocols.includes(stream.protocol ?? '') &&
          stream.writeBufferLength > maxBytes,
      )?.writeBufferLength
      if (queued === undefined) continue
      onCut(connection, queued)
      connection.abort(new Error(`the peer left ${queued} bytes of gossip unread, over the relay's ${maxBytes}`))
      cut += 1
    }
    return cut
  }
}
