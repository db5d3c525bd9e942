import type { Libp2p } from '@libp2p/interface'
import type { AbortOptions } from '../types.ts'
import { libp2pHistorySource } from './catch-up.ts'
import { fetchHistory } from './client.ts'
import { HISTORY_REQUEST_TIMEOUT_MS, MAX_HISTORY_FETCH_IDS } from './constants.ts'

/**
 * Which of `ids` (messages of `topic`) a connected relay's store holds, asked by id like gap
 * repair asks (each record verified: a store cannot claim what it does not have); undefined when
 * no relay that keeps history is connected, or none answered. What a sender's outgoing buffer
 * asks of a message sent while nobody else was present (`rooms/outgoing-buffer.ts`).
 */
export function libp2pStoredIds(
  libp2p: Libp2p,
): (topic: string, ids: string[], options?: AbortOptions) => Promise<ReadonlySet<string> | undefined> {
  const stores = libp2pHistorySource(libp2p)
  return async (topic, ids, options = {}) => {
    const relays = await stores.peers()
    const held = new Set<string>()
    let answered = false
    for (const relay of relays) {
      const wanted = ids.filter((id) => !held.has(id))
      for (let i = 0; i < wanted.length; i += MAX_HISTORY_FETCH_IDS) {
        try {
          const result = await fetchHistory(
            libp2p,
            relay,
            { topic, ids: wanted.slice(i, i + MAX_HISTORY_FETCH_IDS) },
            { signal: options.signal ?? AbortSignal.timeout(HISTORY_REQUEST_TIMEOUT_MS) },
          )
          answered = true
          for (const { record } of result.records) held.add(record.id)
        } catch {
          // Unreachable or refusing: the next relay, or the next round, may answer.
          break
        }
      }
    }
    return answered ? held : undefined
  }
}
