import type { SignedMessage } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import { DM_MAX_CATCH_UP_RECORDS } from '../dm/constants.ts'
import { type DmHistorySink, type HandledDmRecord, ratchetPosition } from '../dm/history-sink.ts'
import type { TopicPosition } from '../dm/history-state.ts'
import type { AbortOptions, DmHistoryProgress } from '../types.ts'
import { askRelays } from './ask-relays.ts'
import { catchUpStarting, type HistorySource, historyPages } from './catch-up.ts'
import { MAX_HISTORY_PAGE_RECORDS } from './constants.ts'
import type { HistoryRecord } from './wire.ts'

/** How often, in records handled, `history:progress` reports. */
const PROGRESS_EVERY = 100

type Fetched = { message: SignedMessage; record: HistoryRecord }

/**
 * DM catch-up (issue 12): a device that was offline asks every connected relay that keeps history for the
 * records of its inbox and of its sessions' pair topics since its position with that relay (the relay's
 * receive time, per topic), drops what it already handled (by id, across relays too), runs each record
 * through the DM gatekeeper and the ratchet exactly like live gossip, in the order each sender sent them
 * (`ratchetPosition`), then records the new positions. An initial message fetched this way starts its
 * session, whose pair topic is asked in the next round. A record a store altered or invented fails
 * verification (the store client's, then the gatekeeper's) and is counted as rejected; one it left out is
 * simply absent (the sender's device shows it as `sent`, not `delivered`).
 */
export async function catchUpDms(
  sink: DmHistorySink,
  source: HistorySource,
  options: AbortOptions = {},
): Promise<DmHistoryProgress> {
  const progress: DmHistoryProgress = { ...catchUpStarting(), topics: 0 }
  try {
    const peers = await source.peers()
    progress.relays = peers.length
    const asked = new Set<string>()
    // New sessions (from initial messages fetched) bring new pair topics: ask for those too.
    for (let round = 0; round < 3; round += 1) {
      const topics = sink.topics().filter((topic) => !asked.has(topic))
      if (topics.length === 0) break
      for (const topic of topics) asked.add(topic)
      progress.topics = asked.size
      await catchUpTopics(sink, source, peers, topics, progress, options)
    }
  } finally {
    progress.done = true
    await sink.end()
    sink.progress({ ...progress })
  }
  return progress
}

async function catchUpTopics(
  sink: DmHistorySink,
  source: HistorySource,
  peers: PeerId[],
  topics: string[],
  progress: DmHistoryProgress,
  options: AbortOptions,
): Promise<void> {
  const fetched = new Map<string, Fetched>()
  const reached: Array<{ relay: string; topic: string; position: TopicPosition }> = []
  // A relay that dies mid-answer: another is asked, from its own positions (receive times are each relay's own).
  const counts = { relays: 0, failed: 0 }
  await askRelays(
    source,
    peers,
    () => undefined,
    async (peer) => {
      const relay = peer.toString()
      for (const topic of topics) {
        const position = await fetchTopic(sink, source, peer, topic, fetched, progress, options)
        if (position !== undefined) reached.push({ relay, topic, position })
      }
    },
    counts,
    options,
  )
  progress.relays = Math.max(progress.relays, counts.relays)
  progress.failed += counts.failed

  const records: Array<{ accepted: HandledDmRecord; receivedAtMs: number }> = []
  for (const { message, record } of fetched.values()) {
    const accepted = await sink.accept(message)
    if (accepted === undefined) {
      progress.rejected += 1
      continue
    }
    // A pair topic carries both sides: this device's own records are not for it to read.
    if (accepted.from === sink.self) continue
    if (accepted.type === 'msg' || (accepted.type === 'init' && accepted.record.to === sink.self)) {
      records.push({ accepted, receivedAtMs: record.receivedAtMs })
    }
  }
  progress.fetched += records.length
  sink.progress({ ...progress })

  for (const { accepted } of inSendingOrder(records)) {
    options.signal?.throwIfAborted()
    if (sink.handled(accepted.recordId)) continue
    const outcome = await sink.handle(accepted)
    if (outcome === 'delivered') progress.delivered += 1
    else if (outcome === 'undecryptable') progress.undecryptable += 1
    if ((progress.delivered + progress.undecryptable) % PROGRESS_EVERY === 0) sink.progress({ ...progress })
  }
  for (const { relay, topic, position } of reached) sink.advance(relay, topic, position)
}

/** Pages through one topic from the position; returns where it ended (undefined: nothing new). */
async function fetchTopic(
  sink: DmHistorySink,
  source: HistorySource,
  peer: PeerId,
  topic: string,
  into: Map<string, Fetched>,
  progress: DmHistoryProgress,
  options: AbortOptions,
): Promise<TopicPosition | undefined> {
  const start = sink.position(peer.toString(), topic)
  const skip = new Set(start?.ids)
  let end: TopicPosition | undefined
  const query = {
    topic,
    range: { by: 'time' as const, ...(start === undefined ? {} : { fromMs: start.ms }) },
    types: sink.types(topic),
  }
  for await (const page of historyPages(source, peer, query, DM_MAX_CATCH_UP_RECORDS, options)) {
    progress.rejected += page.rejected.length
    for (const fetched of page.records) {
      const { record } = fetched
      // A store answers in ascending receive time; the end is the last record's.
      if (end === undefined || record.receivedAtMs !== end.ms) end = { ms: record.receivedAtMs, ids: [] }
      end.ids.push(record.id)
      if (skip.has(record.id) || sink.handled(record.id)) continue
      if (!into.has(record.id)) into.set(record.id, fetched)
    }
  }
  return end
}

/**
 * Each sender's chains in the order the stores first received them, each chain in message-number order: the
 * order the sender sent in, whatever order the stores (or several of them) answered in.
 */
function inSendingOrder<T extends { accepted: HandledDmRecord; receivedAtMs: number }>(records: T[]): T[] {
  const keyed = records.map((item) => ({ item, at: ratchetPosition(item.accepted) }))
  const chainStart = new Map<string, number>()
  for (const { item, at } of keyed) {
    const chain = at?.chain ?? item.accepted.recordId
    chainStart.set(chain, Math.min(chainStart.get(chain) ?? Number.POSITIVE_INFINITY, item.receivedAtMs))
  }
  const chainOf = (entry: (typeof keyed)[number]): string => entry.at?.chain ?? entry.item.accepted.recordId
  return keyed
    .sort((a, b) => {
      const ca = chainOf(a)
      const cb = chainOf(b)
      return (
        chainStart.get(ca)! - chainStart.get(cb)! ||
        (ca < cb ? -1 : ca > cb ? 1 : 0) ||
        (a.at?.n ?? 0) - (b.at?.n ?? 0) ||
        a.item.receivedAtMs - b.item.receivedAtMs
      )
    })
    .map(({ item }) => item)
}

/**
 * The first page of a topic's kept records of `types` from every relay `source` reaches, verified and
 * deduplicated by id: for state records (a DM inbox's device announcements, each device's latest kept) that
 * page is all of them. A relay that does not answer is left out.
 */
export async function storedRecords(
  source: HistorySource,
  topic: string,
  types: string[],
  options: AbortOptions = {},
): Promise<SignedMessage[]> {
  const found = new Map<string, SignedMessage>()
  const peers = await source.peers()
  await Promise.all(
    peers.map(async (peer) => {
      try {
        const page = await source.query(
          peer,
          { topic, range: { by: 'time' }, types, limit: MAX_HISTORY_PAGE_RECORDS },
          options,
        )
        for (const { message, record } of page.records) found.set(record.id, message)
      } catch {
        options.signal?.throwIfAborted()
      }
    }),
  )
  return [...found.values()]
}
