/**
 * A block asked of one holder at a time, not of every connected peer. @helia/bitswap 4 sends each want to every
 * bitswap peer, and every peer that holds the block sends it: a page connected to the relay and to two pages holding
 * a file received it three times, and the relay sent its copy to every downloader who also had the sender connected.
 * As Kubo's sessions do, a block is asked of one peer (`WANT_BLOCK`, asking for `DONT_HAVE`); the next is asked when
 * that one says it has none or has sent us nothing for `FILE_HOLDER_ANSWER_TIMEOUT_MS`; the peer that sent the last
 * block is asked first (a download's blocks come from one holder while it serves them). When no peer asked has the
 * block, bitswap's own want goes out to everyone and waits, as before: for a holder still receiving the file, or one
 * that connects later. Every peer asked that did not send the block is told we no longer want it.
 */
import type { PeerId } from '@libp2p/interface'
import { peerIdFromCID } from '@libp2p/peer-id'
import type { Helia } from 'helia'
import { CID } from 'multiformats/cid'
import { type BitswapInternals, bitswapInternalsOf, type RetrieveOptions, sendCancel } from './bitswap-internals.ts'
import { FILE_HOLDER_ANSWER_TIMEOUT_MS, FILE_HOLDERS_ASKED_IN_TURN } from './constants.ts'

/** What one holder answered: the block, nothing (`DONT_HAVE`), or no answer before the wait ended. */
type Outcome = { peer: PeerId; block: Uint8Array } | { peer: PeerId; block?: undefined } | 'waited'
/** A block, and the peer asked alone that sent it (none when it came of the want sent to every peer). */
type Got = { block: Uint8Array; peer?: PeerId }

/**
 * Makes `helia`'s bitswap ask one holder at a time (see above). Does nothing if bitswap's internals are not what
 * `bitswap-internals.ts` expects: every want then goes to every peer, as bitswap does.
 */
export function askOneHolderAtATime(helia: Helia, options: { answerTimeoutMs?: number } = {}): void {
  const bitswap = bitswapInternalsOf(helia)
  if (bitswap === undefined) return
  const holders = new HolderRanking(bitswap)
  const broadcast = bitswap.broker.retrieve.bind(bitswap.broker)
  const answerTimeoutMs = options.answerTimeoutMs ?? FILE_HOLDER_ANSWER_TIMEOUT_MS
  bitswap.broker.retrieve = (cid, retrieveOptions) =>
    retrieveInTurn(bitswap, holders, cid, retrieveOptions, { broadcast, answerTimeoutMs })
}

async function retrieveInTurn(
  bitswap: BitswapInternals,
  holders: HolderRanking,
  cid: CID,
  options: RetrieveOptions,
  params: { broadcast: BitswapInternals['broker']['retrieve']; answerTimeoutMs: number },
): Promise<Uint8Array> {
  const stop = new AbortController()
  const signal = options.signal === undefined ? stop.signal : AbortSignal.any([options.signal, stop.signal])
  const asked: PeerId[] = []
  const waiting = new Set<Promise<Outcome>>()
  let from: PeerId | undefined
  try {
    for (const holder of holders.inTurn(preferred(options)).slice(0, FILE_HOLDERS_ASKED_IN_TURN)) {
      asked.push(holder)
      const ask: Promise<Outcome> = bitswap.wantList
        .wantSessionBlock(cid, holder, { signal })
        .then((answer) =>
          answer.has && answer.block !== undefined ? { peer: holder, block: answer.block } : { peer: holder },
        )
      waiting.add(ask)
      // Until this holder answers, or a block comes from any asked, or this holder has sent us nothing (this block or
      // another it is busy with) for the answer timeout since we asked.
      const askedAtMs = Date.now()
      for (;;) {
        const deadlineMs = Math.max(askedAtMs, holders.lastBlockMs(holder)) + params.answerTimeoutMs
        if (Date.now() >= deadlineMs) {
          holders.demote(holder)
          break
        }
        const outcome = await firstOf(waiting, deadlineMs - Date.now(), signal)
        if (outcome === 'waited') continue
        if (outcome.block !== undefined) {
          from = outcome.peer
          holders.promote(outcome.peer)
          return outcome.block
        }
        holders.demote(outcome.peer)
        if (outcome.peer.equals(holder)) break
      }
    }
    // Nobody asked had it (yet): everyone is asked, and whoever gets it sends it. Holders still silent may answer too.
    const stillAsked = [...waiting].map((ask) =>
      ask.then((outcome) =>
        outcome !== 'waited' && outcome.block !== undefined
          ? { block: outcome.block, peer: outcome.peer }
          : never<Got>(),
      ),
    )
    const outcome: Got = await Promise.race([
      params.broadcast(cid, { ...options, signal }).then((block) => ({ block })),
      ...stillAsked,
    ])
    if (outcome.peer !== undefined) {
      from = outcome.peer
      holders.promote(outcome.peer)
    }
    return outcome.block
  } finally {
    stop.abort()
    // Those asked that did not send it keep the want otherwise, and would send the block once they get it.
    for (const peer of asked) if (from === undefined || !peer.equals(from)) sendCancel(bitswap.network, peer, cid)
    for (const ask of waiting) ask.catch(() => {})
  }
}

/** The first of `waiting` to settle, or `'waited'` after `waitMs`; rejects when `signal` aborts. */
async function firstOf(waiting: Set<Promise<Outcome>>, waitMs: number, signal: AbortSignal): Promise<Outcome> {
  signal.throwIfAborted()
  let timer: ReturnType<typeof setTimeout> | undefined
  let onAbort: (() => void) | undefined
  try {
    const settled = await Promise.race([
      ...[...waiting].map((ask) => ask.then((outcome) => ({ ask, outcome }))),
      new Promise<{ ask: undefined; outcome: 'waited' }>((resolve) => {
        timer = setTimeout(() => resolve({ ask: undefined, outcome: 'waited' }), waitMs)
      }),
      new Promise<never>((_, reject) => {
        onAbort = () => reject(signal.reason)
        signal.addEventListener('abort', onAbort, { once: true })
      }),
    ])
    if (settled.ask !== undefined) waiting.delete(settled.ask)
    return settled.outcome
  } finally {
    clearTimeout(timer)
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort)
  }
}

/**
 * The peers Helia was told to ask first (`providers`: PeerIds as CIDs), as PeerId strings: turned once per block, not
 * once per connected peer (a relay has a thousand). Multiaddrs, which name no peer here, are left out.
 */
function preferred(options: RetrieveOptions): string[] {
  return (options.providers ?? []).flatMap((provider) => {
    try {
      return [peerIdFromCID(CID.asCID(provider) ?? CID.parse(String(provider))).toString()]
    } catch {
      return []
    }
  })
}

function never<T>(): Promise<T> {
  return new Promise<T>(() => {})
}

/**
 * The connected bitswap peers in the order to ask them: those named first, then the one that last sent a block,
 * then the rest; one that said it had none or kept silent goes last. Also when each last sent us a block.
 */
class HolderRanking {
  readonly #bitswap: BitswapInternals
  /** PeerIds as strings, best first; peers not in it rank after it. */
  #order: string[] = []
  readonly #lastBlockMs = new Map<string, number>()

  constructor(bitswap: BitswapInternals) {
    this.#bitswap = bitswap
    bitswap.wantList.addEventListener('block', (event) => {
      this.#lastBlockMs.set(event.detail.sender.toString(), Date.now())
    })
  }

  inTurn(first: string[]): PeerId[] {
    const connected = [...this.#bitswap.wantList.peers].map(([peer]) => peer)
    // Forgets peers gone, so the order stays as long as the connections.
    const ids = new Set(connected.map(String))
    this.#order = this.#order.filter((id) => ids.has(id))
    for (const id of this.#lastBlockMs.keys()) if (!ids.has(id)) this.#lastBlockMs.delete(id)
    const ranks = new Map(this.#order.map((id, at) => [id, at]))
    const named = new Map(first.map((text, at) => [text, at - first.length]))
    const unranked = this.#order.length / 2
    const rank = (peer: PeerId): number => named.get(peer.toString()) ?? ranks.get(peer.toString()) ?? unranked
    return connected
      .map((peer) => ({ peer, rank: rank(peer) }))
      .sort((a, b) => a.rank - b.rank)
      .map(({ peer }) => peer)
  }

  promote(peer: PeerId): void {
    const id = peer.toString()
    this.#order = [id, ...this.#order.filter((other) => other !== id)]
  }

  demote(peer: PeerId): void {
    const id = peer.toString()
    this.#order = [...this.#order.filter((other) => other !== id), id]
  }

  /** When `peer` last sent us any block (0 if never). */
  lastBlockMs(peer: PeerId): number {
    return this.#lastBlockMs.get(peer.toString()) ?? 0
  }
}
