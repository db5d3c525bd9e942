import type { SignedMessage } from '@libp2p/gossipsub'
import type { IdentifyResult, Libp2p, PeerId } from '@libp2p/interface'
import {
  CATCH_UP_FAILOVER_WAIT_MS,
  CATCH_UP_MARGIN_MS,
  IDENTIFY_WAIT_MS,
  MAX_CATCH_UP_MESSAGES,
  MAX_CATCH_UP_STATE_RECORDS,
  MAX_MODERATION_EVENTS,
  MAX_SAVED_ROOM_MEMBERS,
} from '../constants.ts'
import { parseSenderKeyMessage } from '../crypto/sender-keys.ts'
import { base64urlDecode } from '../encoding.ts'
import { waitForEvent } from '../event-stream.ts'
import type { AcceptedRecord } from '../rooms/gatekeeper.ts'
import type { RoomHistorySink, RoomMembersSink } from '../rooms/history-sink.ts'
import type { AbortOptions, CatchUpCounts, HistoryProgress } from '../types.ts'
import { askRelays } from './ask-relays.ts'
import { type HistoryResult, queryHistory, queryHistoryPages } from './client.ts'
import { MAX_HISTORY_PAGE_RECORDS, STORE_PROTOCOL } from './constants.ts'
import type { HistoryQuery, HistoryRecord } from './wire.ts'

/** The relays to ask, and how to ask one (`queryHistory` and `queryHistoryPages` bound to a libp2p node). */
export interface HistorySource {
  /**
   * Relays connected now that speak the store protocol; connected to nothing at all, the first that comes back within
   * {@link CATCH_UP_FAILOVER_WAIT_MS}.
   */
  peers(): Promise<PeerId[]>
  /**
   * A relay that speaks the store protocol and is not in `asked`, or is in `back` (asked and failed once: its
   * connection may have died and come back): one connected now, else the first to identify within `waitMs`;
   * undefined when none does.
   */
  another(
    asked: ReadonlySet<string>,
    options: { waitMs: number; back?: ReadonlySet<string> } & AbortOptions,
  ): Promise<PeerId | undefined>
  query(peer: PeerId, query: HistoryQuery, options: AbortOptions): Promise<HistoryResult>
  /** A query's pages in order; the next is asked for while one is verified (`queryHistoryPages`). */
  pages(peer: PeerId, query: HistoryQuery, options: AbortOptions): AsyncIterable<HistoryResult>
}

type Fetched = { message: SignedMessage; record: HistoryRecord; source: PeerId }
/** How far one relay's answer to a query got: the last receive time and Lamport clock read. */
type Reach = { receivedAtMs?: number; lamport?: number }
/**
 * What is left to ask of a relay, and of the one that takes over should it fail (`askRelays`): its presence and
 * keys (being fetched, in, or lost with the relay that died fetching them), and the range of messages.
 */
type Task = { state: Promise<unknown> | 'done' | 'lost'; range: HistoryQuery['range'] }
type MessageAccepted = Extract<AcceptedRecord, { type: 'message' }>
type KeysAccepted = Extract<AcceptedRecord, { type: 'keys' }>

/** How often, in messages delivered, `history:progress` reports. */
const PROGRESS_EVERY = 100

/** The counts of a catch-up that has done nothing yet (rooms and DMs share them). */
export function catchUpStarting(): CatchUpCounts {
  return { relays: 0, fetched: 0, delivered: 0, undecryptable: 0, rejected: 0, failed: 0, done: false }
}

/**
 * Catch-up (issue 12): asks every connected relay that keeps history for the room's records
 * received since this device was last live (less {@link CATCH_UP_MARGIN_MS} for clock skew and
 * records in flight) — a relay that dies mid-answer hands what it left to another (`askRelays`) —
 * skips those it delivered last (the position's ids), deduplicates them by message id, runs each through the room's
 * own gatekeeper (the same checks as live gossip; the store client already re-verified every
 * signature and id), and delivers messages in order of (Lamport clock, id).
 *
 * Presence comes first (certificates, key bundles), then each sender key just before the
 * first message of its epoch: a device keeps only a few epochs per sender, so installing ten
 * rotations' keys up front would evict the first before their messages are read. A message
 * whose key was never sealed to this device is reported undecryptable once; the position moves
 * past it, so it is not fetched again. A record a store left out is simply absent (gap repair
 * finds it by the ids later messages name); one it altered or invented fails verification.
 */
export async function catchUp(
  sink: RoomHistorySink,
  source: HistorySource,
  options: AbortOptions = {},
): Promise<HistoryProgress> {
  const progress: HistoryProgress = { roomId: sink.roomId, ...catchUpStarting() }
  /** Relays failed mid-answer and none answered in full: what it held live and has no key for waits for the next. */
  let cutShort = false
  sink.begin()
  try {
    const peers = await source.peers()
    const position = sink.position()
    // By the relays' receive time since this device was last live: a sender whose Lamport clock
    // lags (it heard nothing for a while) is not skipped. A position without that time (never
    // caught up, or saved by version 1) asks by Lamport clock.
    const range: HistoryQuery['range'] =
      position.liveAtMs === undefined
        ? { by: 'lamport', from: position.lamport }
        : { by: 'time', fromMs: Math.max(0, position.liveAtMs - CATCH_UP_MARGIN_MS) }
    const messages = new Map<string, Fetched>()
    const state = new Map<string, Fetched>()
    /** Relays that answered in full; of those cut short, the receive time their answer reached. */
    let complete = 0
    let reachedMs: number | undefined
    const states = peers.map((peer) =>
      fetchAll(
        source,
        peer,
        sink.topic,
        { by: 'time' },
        ['presence', 'keys', 'read', 'moderation'],
        state,
        MAX_CATCH_UP_STATE_RECORDS,
        progress,
        options,
      ),
    )
    // Presence first, once every relay's is in, while messages still come: certificates into the
    // registry, bundles for the sealed keys, and the members away, whom a send waiting for them seals to.
    const learned = Promise.allSettled(states).then(() => learnPresence(sink, state.values()))
    learned.catch(() => {})
    /** Presence and keys from a relay that took over from one that died before sending all of its own. */
    const lateState = new Map<string, Fetched>()
    // A relay that dies mid-answer hands what is left to another (`askRelays`); the maps deduplicate by id.
    const ask = async (peer: PeerId, task: Task): Promise<void> => {
      if (task.state === 'lost') {
        await fetchAll(
          source,
          peer,
          sink.topic,
          { by: 'time' },
          ['presence', 'keys', 'read', 'moderation'],
          lateState,
          MAX_CATCH_UP_STATE_RECORDS,
          progress,
          options,
        )
      } else if (task.state !== 'done') {
        try {
          await task.state
        } catch (err) {
          task.state = 'lost'
          throw err
        }
      }
      task.state = 'done'
      const reach: Reach = {}
      try {
        const reached = await fetchAll(
          source,
          peer,
          sink.topic,
          task.range,
          ['message'],
          messages,
          MAX_CATCH_UP_MESSAGES,
          progress,
          options,
          reach,
        )
        if (reached === undefined) complete += 1
        else reachedMs = Math.min(reachedMs ?? reached, reached)
      } catch (err) {
        task.range = resumeAfter(task.range, reach)
        throw err
      }
    }
    await askRelays(source, peers, (_, i) => ({ state: states[i]!, range }), ask, progress, options)
    cutShort = complete === 0 && progress.failed > 0
    for (const id of position.ids) messages.delete(id)
    for (const [id, { message }] of messages) if (message.from.toString() === sink.self) messages.delete(id)
    progress.fetched = messages.size
    sink.progress({ ...progress })

    progress.rejected += await learned
    const late = [...lateState.values()].filter(({ record }) => !state.has(record.id))
    if (late.length > 0) progress.rejected += await learnPresence(sink, late)
    for (const fetched of late) state.set(fetched.record.id, fetched)
    // The moderation log before the keys and messages: a member banned meanwhile is dropped from what follows.
    for (const fetched of [...state.values()].sort(byArrival)) {
      if (fetched.record.type !== 'moderation') continue
      if ((await sink.accept(fetched.message))?.type !== 'moderation') progress.rejected += 1
    }
    const keys = new Map<string, KeysAccepted[]>()
    for (const fetched of [...state.values()].sort(byArrival)) {
      if (fetched.record.type !== 'keys') continue
      const accepted = await sink.accept(fetched.message)
      if (accepted?.type !== 'keys') {
        progress.rejected += 1
        continue
      }
      if (!accepted.record.to.some((entry) => entry.peer === sink.self)) continue
      const key = `${accepted.from}/${accepted.record.epoch}`
      keys.set(key, [...(keys.get(key) ?? []), accepted])
    }

    const accepted: MessageAccepted[] = []
    for (const { message } of messages.values()) {
      const result = await sink.accept(message)
      if (result?.type === 'message') accepted.push(result)
      else progress.rejected += 1
    }
    accepted.sort((a, b) => a.record.lamport - b.record.lamport || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    progress.fetched = accepted.length
    for (const message of accepted) {
      options.signal?.throwIfAborted()
      const key = `${message.from}/${epochOf(message.record.payload.ct)}`
      for (const record of keys.get(key) ?? []) await sink.keys(record)
      keys.delete(key)
      const outcome = await sink.deliver(message)
      if (outcome === 'delivered') progress.delivered += 1
      else if (outcome === 'undecryptable') progress.undecryptable += 1
      if ((progress.delivered + progress.undecryptable) % PROGRESS_EVERY === 0) sink.progress({ ...progress })
    }
    // Keys of epochs with no message yet: what is sent next in them is readable live.
    for (const records of keys.values()) for (const record of records) await sink.keys(record)
    // Read positions last, their keys in: read on this wallet's other devices meanwhile, or by members.
    for (const fetched of [...state.values()].sort(byArrival)) {
      if (fetched.record.type !== 'read' || fetched.message.from.toString() === sink.self) continue
      const accepted = await sink.accept(fetched.message)
      if (accepted?.type === 'read') await sink.signal(accepted)
    }
    if (complete > 0) sink.caughtUp()
    else if (reachedMs !== undefined && range.by === 'time') sink.caughtUp(reachedMs)
  } finally {
    progress.done = true
    sink.end(cutShort)
    sink.progress({ ...progress })
  }
  return progress
}

/**
 * The room's members as the relays' stores last saw them (each sender's latest presence, within
 * retention), learned like the presence catch-up reads first: so a device that joins a room
 * without catching up (a one-shot `securechat send`) seals its key to the members away too, not
 * only to those online with it. At most {@link MAX_SAVED_ROOM_MEMBERS} presence records per relay.
 * Then the room's moderation log (at most {@link MAX_MODERATION_EVENTS} events), so that a send knows of a mute or
 * ban set meanwhile. Returns how many records failed the room's checks.
 */
export async function learnRoomMembers(
  sink: RoomMembersSink,
  source: HistorySource,
  options: AbortOptions = {},
): Promise<number> {
  try {
    const state = new Map<string, Fetched>()
    const log = new Map<string, Fetched>()
    const counts = catchUpStarting()
    const peers = await source.peers()
    await Promise.all(
      peers.map(async (peer) => {
        try {
          await Promise.all([
            fetchAll(
              source,
              peer,
              sink.topic,
              { by: 'time' },
              ['presence'],
              state,
              MAX_SAVED_ROOM_MEMBERS,
              counts,
              options,
            ),
            fetchAll(
              source,
              peer,
              sink.topic,
              { by: 'time' },
              ['moderation'],
              log,
              MAX_MODERATION_EVENTS,
              counts,
              options,
            ),
          ])
        } catch {
          options.signal?.throwIfAborted()
        }
      }),
    )
    // Presence first (its certificates judge the log's events), then the moderation log, as a catch-up reads them: a
    // device that sends without catching up learns a mute, ban or lock set while it was away before it sends, and a
    // member banned meanwhile leaves the members it seals its key to.
    let rejected = counts.rejected + (await learnPresence(sink, state.values(), { learned: false }))
    for (const { message } of [...log.values()].sort(byArrival)) {
      if ((await sink.accept(message))?.type !== 'moderation') rejected += 1
    }
    return rejected
  } finally {
    sink.learned()
  }
}

/**
 * Hands each stored presence that passes the room's checks to `sink.learn`, oldest first; returns how many failed.
 * Tells the sink all are learned unless `learned: false` (more that judges the members follows).
 */
async function learnPresence(
  sink: RoomMembersSink,
  fetched: Iterable<Fetched>,
  options: { learned?: boolean } = {},
): Promise<number> {
  let rejected = 0
  for (const { message, record, source } of [...fetched].sort(byArrival)) {
    if (record.type !== 'presence') continue
    const accepted = await sink.accept(message)
    if (accepted?.type === 'presence') await sink.learn(accepted, source)
    else rejected += 1
  }
  if (options.learned !== false) sink.learned()
  return rejected
}

function byArrival(a: Fetched, b: Fetched): number {
  return (a.record.receivedAtMs ?? 0) - (b.record.receivedAtMs ?? 0)
}

async function fetchAll(
  source: HistorySource,
  peer: PeerId,
  topic: string,
  range: HistoryQuery['range'],
  types: string[],
  into: Map<string, Fetched>,
  max: number,
  progress: CatchUpCounts,
  options: AbortOptions,
  reach: Reach = {},
): Promise<number | undefined> {
  let more = false
  for await (const page of historyPages(source, peer, { topic, range, types }, max, options)) {
    progress.rejected += page.rejected.length
    for (const { message, record } of page.records) {
      if (!into.has(record.id)) into.set(record.id, { message, record, source: peer })
      reach.receivedAtMs = Math.max(reach.receivedAtMs ?? 0, record.receivedAtMs)
      if (record.lamport !== undefined) reach.lamport = Math.max(reach.lamport ?? 0, record.lamport)
    }
    more = page.cursor !== undefined
  }
  // Cut short by `max`: the receive time reached (a time query's pages come in that order).
  return more ? (reach.receivedAtMs ?? 0) : undefined
}

/**
 * What is left of `range` once a relay answered up to `reach` (its pages come in range order): by Lamport clock,
 * from the last clock read (ids deduplicate the overlap); by time, from the last receive time read less
 * {@link CATCH_UP_MARGIN_MS} — the next relay stamped its own receive times, on its own clock.
 */
function resumeAfter(range: HistoryQuery['range'], reach: Reach): HistoryQuery['range'] {
  if (range.by === 'lamport') {
    return reach.lamport === undefined ? range : { ...range, from: Math.max(range.from ?? 0, reach.lamport) }
  }
  if (reach.receivedAtMs === undefined) return range
  return { ...range, fromMs: Math.max(range.fromMs ?? 0, reach.receivedAtMs - CATCH_UP_MARGIN_MS) }
}

/** The pages of a query to one relay, following its cursor, until the end or `max` records. */
export async function* historyPages(
  source: HistorySource,
  peer: PeerId,
  query: Omit<HistoryQuery, 'cursor' | 'limit'>,
  max: number,
  options: AbortOptions,
): AsyncGenerator<HistoryResult> {
  let count = 0
  for await (const page of source.pages(peer, { ...query, limit: MAX_HISTORY_PAGE_RECORDS }, options)) {
    yield page
    count += page.records.length
    if (count >= max) return
  }
}

/** The sender-key epoch a message was sealed under, from its ciphertext's header. */
function epochOf(ct: string): number | undefined {
  try {
    return parseSenderKeyMessage(base64urlDecode(ct)).header.epoch
  } catch {
    return undefined
  }
}

/** The relays this node is connected to that speak the store protocol, asked with {@link queryHistory}. */
export function libp2pHistorySource(libp2p: Libp2p): HistorySource {
  /**
   * Each peer connected now and whether it speaks the store protocol: undefined when it has not said (identify)
   * within {@link IDENTIFY_WAIT_MS}, as a connection just opened on a loaded machine.
   */
  const connectedPeers = async (): Promise<Array<{ peer: PeerId; store: boolean | undefined }>> => {
    const peers = new Map<string, PeerId>()
    for (const connection of libp2p.getConnections()) peers.set(connection.remotePeer.toString(), connection.remotePeer)
    /**
     * What the peer store knows of a peer. A protocol is recorded there as soon as a stream of it opens, before
     * identify has said the rest (a relay just reached opens identify and departures streams at once), so only
     * identify's own metadata says the list is whole.
     */
    const known = async (peer: PeerId): Promise<{ protocols: string[]; identified: boolean }> => {
      try {
        const { protocols, metadata } = await libp2p.peerStore.get(peer)
        return { protocols, identified: metadata.has('AgentVersion') || metadata.has('ProtocolVersion') }
      } catch {
        return { protocols: [], identified: false }
      }
    }
    const speaking = await Promise.all(
      [...peers.values()].map(async (peer) => {
        // A connection just opened (a relay that came back) is known once identify ran.
        const identified = waitForEvent<CustomEvent<IdentifyResult>>(libp2p, 'peer:identify', {
          test: (event) => event.detail.peerId.equals(peer),
          timeoutMs: IDENTIFY_WAIT_MS,
        })
        const before = await known(peer)
        if (before.protocols.includes(STORE_PROTOCOL) || before.identified) {
          void identified.catch(() => {})
          return before.protocols.includes(STORE_PROTOCOL)
        }
        if (!(await identified)) return undefined
        return (await known(peer)).protocols.includes(STORE_PROTOCOL)
      }),
    )
    return [...peers.values()].map((peer, i) => ({ peer, store: speaking[i] }))
  }
  const storePeers = (connected: Array<{ peer: PeerId; store: boolean | undefined }>): PeerId[] =>
    connected.filter(({ store }) => store === true).map(({ peer }) => peer)
  const another: HistorySource['another'] = async (asked, options) => {
    const stop = new AbortController()
    const signal = options.signal === undefined ? stop.signal : AbortSignal.any([options.signal, stop.signal])
    // Listening before looking: a relay that identifies while the connected ones are checked is not missed.
    let identified: PeerId | undefined
    const waiting = waitForEvent<CustomEvent<IdentifyResult>>(libp2p, 'peer:identify', {
      test: ({ detail }) => {
        const peer = detail.peerId.toString()
        if (!detail.protocols.includes(STORE_PROTOCOL) || (asked.has(peer) && options.back?.has(peer) !== true))
          return false
        identified = detail.peerId
        return true
      },
      timeoutMs: options.waitMs,
      signal,
    }).catch(() => false)
    try {
      const connected = storePeers(await connectedPeers()).find(
        (peer) => !asked.has(peer.toString()) || options.back?.has(peer.toString()) === true,
      )
      if (connected !== undefined || options.waitMs === 0) return connected
      await waiting
      options.signal?.throwIfAborted()
      return identified
    } finally {
      stop.abort()
    }
  }
  return {
    async peers() {
      const connected = await connectedPeers()
      const store = storePeers(connected)
      if (store.length > 0) return store
      if (connected.length > 0 && connected.every((c) => c.store === false)) return []
      // Connected to nothing at all (its relays redialling after a drop, or not yet dialled back), or to nothing that
      // said yet what it speaks (a connection just opened, identify slow on a loaded machine): the first relay that
      // keeps history is waited for, as a catch-up that lost its relay does — else the caller (`securechat history`,
      // a join) is told of an empty history that the relays do keep. Connected only to peers that keep none (relays
      // with `--store none`), nothing is waited for.
      const first = await another(new Set(), { waitMs: CATCH_UP_FAILOVER_WAIT_MS })
      return first === undefined ? [] : [first]
    },
    another,
    query: (peer, query, options) => queryHistory(libp2p, peer, query, options),
    pages: (peer, query, options) => queryHistoryPages(libp2p, peer, query, options),
  }
}
