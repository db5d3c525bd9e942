import type { PeerId } from '@libp2p/interface'
import { CATCH_UP_FAILOVER_WAIT_MS } from '../constants.ts'
import type { AbortOptions, CatchUpCounts } from '../types.ts'
import type { HistorySource } from './catch-up.ts'

/**
 * Asks every relay in `peers` at once, each with a task of its own (`task(peer, index)`), and fails over: when a relay dies
 * or stops answering, its task — which `ask` advanced as far as that relay answered — goes on with another relay
 * that keeps history and was not asked yet. That is one connected now; or, when no other relay has answered or
 * still answers, the first to connect and identify within {@link CATCH_UP_FAILOVER_WAIT_MS} (the relay pool is
 * dialling the others meanwhile) — which may be one that failed once and is back (its connection died under load
 * and was dialled again): else a catch-up whose every relay dropped would end with nothing, and what it held back
 * would come out of order. Each relay asked adds to `counts.relays`, each that failed to `counts.failed`.
 */
export async function askRelays<T>(
  source: HistorySource,
  peers: readonly PeerId[],
  task: (peer: PeerId, index: number) => T,
  ask: (peer: PeerId, task: T) => Promise<void>,
  counts: Pick<CatchUpCounts, 'relays' | 'failed'>,
  options: AbortOptions,
): Promise<void> {
  const asked = new Set(peers.map(String))
  /** Relays that failed once: one whose connection died and that identifies again within the wait is asked again. */
  const back = new Set<string>()
  const failures = new Map<string, number>()
  counts.relays += peers.length
  let answering = 0
  let answered = 0
  const run = async (peer: PeerId, work: T): Promise<void> => {
    answering += 1
    try {
      await ask(peer, work)
      answered += 1
      return
    } catch {
      options.signal?.throwIfAborted()
      counts.failed += 1
      // Once only: a relay that fails again is not waited for again.
      const id = peer.toString()
      const failed = (failures.get(id) ?? 0) + 1
      failures.set(id, failed)
      if (failed === 1) back.add(id)
      else back.delete(id)
    } finally {
      answering -= 1
    }
    const waitMs = answering === 0 && answered === 0 ? CATCH_UP_FAILOVER_WAIT_MS : 0
    const next = await source.another(asked, {
      waitMs,
      back,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    })
    if (next === undefined) return
    asked.add(next.toString())
    counts.relays += 1
    await run(next, work)
  }
  await Promise.all(peers.map((peer, i) => run(peer, task(peer, i))))
}
