import type { Message } from '@libp2p/gossipsub'
import type { Libp2p } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { MAX_RECENT_BYTES, MAX_RECENT_RECORDS, ROOM_TOPIC_PREFIX } from '../constants.ts'
import { utf8 } from '../encoding.ts'
import type { Logger } from '../logger.ts'
import { messageIdOf } from '../rooms/wire.ts'
import {
  HISTORY_REQUEST_TIMEOUT_MS,
  MAX_HISTORY_REQUEST_BYTES,
  MAX_RECENT_STREAMS,
  RECENT_PROTOCOL,
} from './constants.ts'
import {
  decodeHistoryRequest,
  encodeHistoryError,
  encodeRecordsResponse,
  HistoryErrorCode,
  type HistoryRecord,
} from './wire.ts'

/**
 * The last {@link MAX_RECENT_RECORDS} message records of each room this device received (at most
 * {@link MAX_RECENT_BYTES} of data), kept
 * exactly as they travelled (signed), in memory, so a peer of the room that missed one can fetch
 * it by id (`RECENT_PROTOCOL`). The asker verifies them as it verifies a store's: a peer can
 * withhold a record, never alter or invent one.
 */
export class RecentRecords {
  readonly #byTopic = new Map<string, { records: Map<string, HistoryRecord>; bytes: number }>()

  /** Keeps a room message gossip delivered (it passed the room's validation). */
  add(message: Message): void {
    if (message.type !== 'signed' || !message.topic.startsWith(ROOM_TOPIC_PREFIX)) return
    let lamport: unknown
    try {
      const record = JSON.parse(utf8.decode(message.data)) as { type?: unknown; lamport?: unknown }
      if (record.type !== 'message') return
      lamport = record.lamport
    } catch {
      return
    }
    const seqno = new Uint8Array(8)
    new DataView(seqno.buffer).setBigUint64(0, message.sequenceNumber, false)
    const room = this.#byTopic.get(message.topic) ?? { records: new Map<string, HistoryRecord>(), bytes: 0 }
    this.#byTopic.set(message.topic, room)
    const { records } = room
    const id = messageIdOf(message.data)
    // Published again (the sender's re-publish): keep the first copy.
    if (records.has(id)) return
    room.bytes += message.data.byteLength
    records.set(id, {
      id,
      topic: message.topic,
      from: message.from.toString(),
      seqno,
      signature: message.signature,
      data: message.data,
      type: 'message',
      ...(Number.isSafeInteger(lamport) ? { lamport: lamport as number } : {}),
      receivedAtMs: Date.now(),
    })
    while (records.size > MAX_RECENT_RECORDS || room.bytes > MAX_RECENT_BYTES) {
      const [oldest, record] = records.entries().next().value!
      records.delete(oldest)
      room.bytes -= record.data.byteLength
    }
  }

  get(topic: string, ids: readonly string[]): HistoryRecord[] {
    const records = this.#byTopic.get(topic)?.records
    if (records === undefined) return []
    return ids.flatMap((id) => records.get(id) ?? [])
  }

  /** Messages past their disappearing timer: a peer asking for them gets nothing from this device. */
  drop(topic: string, ids: readonly string[]): void {
    const room = this.#byTopic.get(topic)
    if (room === undefined) return
    for (const id of ids) {
      const record = room.records.get(id)
      if (record === undefined) continue
      room.records.delete(id)
      room.bytes -= record.data.byteLength
    }
  }

  /** The room was left: its records go. */
  forget(topic: string): void {
    this.#byTopic.delete(topic)
  }
}

/** Answers `fetch` requests of {@link RECENT_PROTOCOL} from `recent`; a `query` is refused. */
export async function serveRecentRecords(libp2p: Libp2p, recent: RecentRecords, log: Logger): Promise<void> {
  await libp2p.handle(
    RECENT_PROTOCOL,
    async (stream) => {
      const signal = AbortSignal.timeout(HISTORY_REQUEST_TIMEOUT_MS)
      try {
        const lp = lpStream(stream, { maxDataLength: MAX_HISTORY_REQUEST_BYTES })
        const decoded = decodeHistoryRequest((await lp.read({ signal })).subarray())
        const answer = !decoded.ok
          ? encodeHistoryError(HistoryErrorCode.badRequest, decoded.reason)
          : decoded.request.type !== 'fetch'
            ? encodeHistoryError(HistoryErrorCode.badRequest, 'a peer answers fetch by id only; query a relay')
            : encodeRecordsResponse({
                records: recent.get(decoded.request.topic, decoded.request.ids),
                more: false,
              }).bytes
        await lp.write(answer, { signal })
        await stream.close({ signal })
      } catch (err) {
        log.debug('recent records request failed', { error: String(err) })
        stream.abort(err instanceof Error ? err : new Error(String(err)))
      }
    },
    { runOnLimitedConnection: true, maxInboundStreams: MAX_RECENT_STREAMS },
  )
}
