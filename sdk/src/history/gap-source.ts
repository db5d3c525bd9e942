import type { GossipSub } from '@libp2p/gossipsub'
import type { Libp2p, PeerId } from '@libp2p/interface'
import { libp2pHistorySource } from './catch-up.ts'
import { fetchHistory, type HistoryResult } from './client.ts'
import { RECENT_PROTOCOL } from './constants.ts'
import type { GapSource } from './gap-repair.ts'

/**
 * Where gap repair asks: every connected relay that keeps history (`fetch` by id), then, for
 * what none of them holds, the room's neighbours that answer {@link RECENT_PROTOCOL} from what
 * they received. Every record is verified by {@link fetchHistory}; one that fails is dropped.
 */
export function libp2pGapSource(libp2p: Libp2p, pubsub: GossipSub): GapSource {
  const stores = libp2pHistorySource(libp2p)
  return {
    async fetch(topic, ids, options) {
      const found: HistoryResult['records'] = []
      const ask = async (peer: PeerId, wanted: string[], protocol?: string): Promise<void> => {
        try {
          const result = await fetchHistory(
            libp2p,
            peer,
            { topic, ids: wanted },
            { ...options, ...(protocol === undefined ? {} : { protocol }) },
          )
          found.push(...result.records)
        } catch {
          // Unreachable or refusing: the others may hold it; the next round asks again.
        }
      }
      const relays = await stores.peers()
      await Promise.all(relays.map((peer) => ask(peer, ids)))
      const have = new Set(found.map(({ record }) => record.id))
      const still = ids.filter((id) => !have.has(id))
      if (still.length === 0) return found
      const asked = new Set(relays.map((peer) => peer.toString()))
      const peers: PeerId[] = []
      for (const peer of pubsub.getSubscribers(topic)) {
        if (asked.has(peer.toString())) continue
        const protocols = await libp2p.peerStore.get(peer).then(
          (known) => known.protocols,
          (): string[] => [],
        )
        if (protocols.includes(RECENT_PROTOCOL)) peers.push(peer)
      }
      await Promise.all(peers.map((peer) => ask(peer, still, RECENT_PROTOCOL)))
      return found
    },
  }
}
