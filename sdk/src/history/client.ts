import type { SignedMessage } from '@libp2p/gossipsub'
import type { Libp2p, PeerId } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import type { Multiaddr } from '@multiformats/multiaddr'
import { sleep } from '../async.ts'
import { HistoryRequestError } from '../errors.ts'
import type { AbortOptions } from '../types.ts'
import {
  HISTORY_LIMITED_RETRIES,
  HISTORY_REQUEST_TIMEOUT_MS,
  HISTORY_REQUESTS_AT_ONCE_PER_PEER,
  MAX_HISTORY_RESPONSE_BYTES,
  MAX_HISTORY_RETRY_AFTER_MS,
  STORE_PROTOCOL,
} from './constants.ts'
import { requestSlot } from './request-slots.ts'
import { type HistoryRejection, verifyHistoryRecord } from './verify.ts'
import {
  decodeHistoryResponse,
  encodeHistoryRequest,
  HistoryErrorCode,
  type HistoryFetch,
  type HistoryQuery,
  type HistoryRecord,
  type HistoryRequest,
  type HistoryResponse,
} from './wire.ts'

export interface HistoryResult {
  /** Records whose id and signature check out, in the order the store sent them. */
  records: Array<{ message: SignedMessage; record: HistoryRecord }>
  /** Records dropped: malformed, or failing verification (a faulty or lying store). */
  rejected: Array<{ reason: HistoryRejection | 'malformed'; id?: string }>
  /** Present when the store holds more: pass it back in the next query. */
  cursor?: string
}

/**
 * Asks a relay's store for one page of a topic's records, by time or Lamport range. Every record
 * returned is verified (`verifyHistoryRecord`); the caller still runs it through the room or DM
 * checks, as for live gossip.
 */
export async function queryHistory(
  libp2p: Libp2p,
  peer: PeerId | Multiaddr,
  query: HistoryQuery,
  options: AbortOptions = {},
): Promise<HistoryResult> {
  return await request(libp2p, peer, { type: 'query', ...query }, options)
}

/**
 * Asks a relay's store for records by message id; ids it does not hold are simply absent. With
 * `protocol: RECENT_PROTOCOL`, asks a room's peer instead (the records it received lately).
 */
export async function fetchHistory(
  libp2p: Libp2p,
  peer: PeerId | Multiaddr,
  fetch: HistoryFetch,
  options: { protocol?: string } & AbortOptions = {},
): Promise<HistoryResult> {
  const result = await request(libp2p, peer, { type: 'fetch', ...fetch }, options)
  // A store may only answer with what was asked for.
  const wanted = new Set(fetch.ids)
  const records = result.records.filter(({ record }) => wanted.has(record.id))
  return { ...result, records }
}

/**
 * Every page of a query, one after another: each page's records are verified while the next
 * page is already being asked for (a round trip, and the relay's reading, overlap the checks).
 * Stop iterating to stop asking; a failing page throws as {@link queryHistory} does.
 */
export async function* queryHistoryPages(
  libp2p: Libp2p,
  peer: PeerId | Multiaddr,
  query: HistoryQuery,
  options: AbortOptions = {},
): AsyncGenerator<HistoryResult> {
  const ask = (cursor: string | undefined): Promise<Answer> => {
    const answer = exchange(
      libp2p,
      peer,
      { type: 'query', ...query, ...(cursor === undefined ? {} : { cursor }) },
      options,
    )
    // Asked ahead, while the caller reads the page before: a failure meanwhile, or after the caller stopped early,
    // is not an unhandled rejection (it crashed the process); the `await` below still throws it.
    answer.catch(() => undefined)
    return answer
  }
  let next: Promise<Answer> | undefined = ask(query.cursor)
  while (next !== undefined) {
    const answer: Answer = await next
    next = answer.cursor === undefined ? undefined : ask(answer.cursor)
    yield await verified(answer, query.topic)
  }
}

async function request(
  libp2p: Libp2p,
  peer: PeerId | Multiaddr,
  body: HistoryRequest,
  options: { protocol?: string } & AbortOptions,
): Promise<HistoryResult> {
  return await verified(await exchange(libp2p, peer, body, options), body.topic)
}

/** A `records` answer, well-formed but not yet verified. */
interface Answer {
  records: HistoryRecord[]
  malformed: number
  cursor?: string
}

/**
 * One request and its answer over a new stream; throws on no answer, a malformed one or an error. A device has at most
 * {@link HISTORY_REQUESTS_AT_ONCE_PER_PEER} under way to one peer (`requestSlot`). A `limited` answer (this device is
 * over the relay's store-query limits) is asked again after the wait it names, up to {@link HISTORY_LIMITED_RETRIES}
 * times; then it throws like any refusal, and the caller asks another relay (a refusal is never "no history").
 */
async function exchange(
  libp2p: Libp2p,
  peer: PeerId | Multiaddr,
  body: HistoryRequest,
  options: { protocol?: string } & AbortOptions,
): Promise<Answer> {
  const frame = encodeHistoryRequest(body)
  const release = await requestSlot(libp2p, peer.toString(), options.signal)
  try {
    for (let retries = 0; ; retries++) {
      const response = await once(libp2p, peer, body.topic, frame, options)
      if (response.type === 'records') return response
      const { code, retryAfterMs } = response
      if (
        code === HistoryErrorCode.limited &&
        retries < HISTORY_LIMITED_RETRIES &&
        retryAfterMs !== undefined &&
        retryAfterMs <= MAX_HISTORY_RETRY_AFTER_MS
      ) {
        await sleep(retryAfterMs, options.signal)
        continue
      }
      throw new HistoryRequestError(`the relay refused the history request: ${response.message}`, {
        details: { peer: peer.toString(), code, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) },
        hint:
          code === HistoryErrorCode.badRequest
            ? 'check the query bounds'
            : code === HistoryErrorCode.limited
              ? 'this device asked the relay too much too fast: ask another relay, or wait and retry'
              : 'ask another relay, or retry later',
      })
    }
  } finally {
    release()
  }
}

/** One request frame sent and its answer read; a `records` answer, or the relay's error. */
async function once(
  libp2p: Libp2p,
  peer: PeerId | Multiaddr,
  topic: string,
  frame: Uint8Array,
  options: { protocol?: string } & AbortOptions,
): Promise<({ type: 'records' } & Answer) | Extract<HistoryResponse, { type: 'error' }>> {
  const signal = options.signal ?? AbortSignal.timeout(HISTORY_REQUEST_TIMEOUT_MS)
  let answer: Uint8Array
  try {
    const stream = await libp2p.dialProtocol(peer, options.protocol ?? STORE_PROTOCOL, {
      signal,
      runOnLimitedConnection: true,
    })
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_HISTORY_RESPONSE_BYTES })
      await lp.write(frame, { signal })
      answer = (await lp.read({ signal })).subarray()
      await stream.close({ signal })
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)))
      throw err
    }
  } catch (err) {
    throw new HistoryRequestError('the relay did not answer the history request', {
      details: { peer: peer.toString(), topic },
      hint: 'ask another relay that holds the room, or retry once this one is reachable',
      cause: err,
    })
  }
  const decoded = decodeHistoryResponse(answer)
  if (!decoded.ok) {
    throw new HistoryRequestError('the relay sent a malformed history response', {
      details: { peer: peer.toString(), reason: decoded.reason },
      hint: 'ask another relay that holds the room',
    })
  }
  const response = decoded.response
  if (response.type === 'error') return response
  return {
    type: 'records',
    records: response.records,
    malformed: decoded.malformed,
    ...(response.cursor === undefined ? {} : { cursor: response.cursor }),
  }
}

async function verified(answer: Answer, topic: string): Promise<HistoryResult> {
  const result: HistoryResult = {
    records: [],
    rejected: Array.from({ length: answer.malformed }, () => ({ reason: 'malformed' as const })),
  }
  // All at once: on Node the signatures are checked on libuv's thread pool, every core at work.
  const outcomes = await Promise.all(answer.records.map((record) => verifyHistoryRecord(record, { topic })))
  for (const outcome of outcomes) {
    if (outcome.ok) result.records.push({ message: outcome.message, record: outcome.record })
    else result.rejected.push({ reason: outcome.reason, id: outcome.record.id })
  }
  if (answer.cursor !== undefined) result.cursor = answer.cursor
  return result
}
