import type { Libp2p } from '@libp2p/interface'
import { raceSignal } from '../async.ts'
import { HISTORY_REQUESTS_AT_ONCE_PER_PEER } from './constants.ts'

/**
 * What a device has under way to each peer over the history protocols, at most
 * {@link HISTORY_REQUESTS_AT_ONCE_PER_PEER} at once per peer; the rest wait their turn, in order. A relay answers
 * one peer only so many requests at once (its store-query limits); a device catching up many rooms together keeps
 * under that instead of being refused. Per libp2p node: two clients in one process are two askers to the relay.
 */
const queues = new WeakMap<Libp2p, Map<string, Queue>>()

interface Queue {
  active: number
  waiting: Array<() => void>
}

/** Waits for a slot to `peer`; call the function it resolves to once the request is done (exactly once). */
export async function requestSlot(libp2p: Libp2p, peer: string, signal?: AbortSignal): Promise<() => void> {
  let byPeer = queues.get(libp2p)
  if (byPeer === undefined) {
    byPeer = new Map()
    queues.set(libp2p, byPeer)
  }
  let queue = byPeer.get(peer)
  if (queue === undefined) {
    queue = { active: 0, waiting: [] }
    byPeer.set(peer, queue)
  }
  const release = (): void => {
    const next = queue.waiting.shift()
    if (next !== undefined) next()
    else if (--queue.active === 0) byPeer.delete(peer)
  }
  if (queue.active < HISTORY_REQUESTS_AT_ONCE_PER_PEER) {
    queue.active += 1
    return release
  }
  let granted = false
  let grant = (): void => {}
  const turn = new Promise<void>((resolve) => {
    grant = () => {
      granted = true
      resolve()
    }
  })
  queue.waiting.push(grant)
  try {
    await raceSignal(turn, signal)
  } catch (err) {
    // Aborted while waiting: hand the slot on if it came meanwhile, else leave the line.
    if (granted) release()
    else queue.waiting.splice(queue.waiting.indexOf(grant), 1)
    throw err
  }
  return release
}
