import type { Connection, Libp2p, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { InvalidInputError } from '@securechat/sdk/errors'
import {
  decodeHistoryRequest,
  encodeHistoryError,
  encodeRecordsResponse,
  HISTORY_REQUEST_TIMEOUT_MS,
  HistoryErrorCode,
  type HistoryRequest,
  MAX_HISTORY_REQUEST_BYTES,
  STORE_PROTOCOL,
} from '@securechat/sdk/history'
import { type Logger, silentLoggerFactory } from '@securechat/sdk/logger'
import { STORE_MAX_CONCURRENT_REQUESTS } from './constants.ts'
import type { MessageStore } from './types.ts'

/**
 * Whether a request over `connection` is answered: the relay's per-peer and per-IP store-query limits
 * (`node/src/relay/store-query-limits.ts`). An admitted request calls `release` once answered.
 */
export type HistoryAdmission =
  | { admitted: true; release(): void }
  | { admitted: false; message: string; retryAfterMs: number }

export interface HistoryServerInit {
  libp2p: Libp2p
  store: MessageStore
  log?: Logger
  /** Default `STORE_MAX_CONCURRENT_REQUESTS`. */
  maxConcurrent?: number
  /** Asked for each request the relay-wide bound lets through; refused ones get a `limited` error. Default: all. */
  admit?: (connection: Connection) => HistoryAdmission
  /** Told of each request refused by the relay-wide bound (`busy`), to count it with the other refusals. */
  onBusy?: (connection: Connection) => void
}

const ADMITTED: HistoryAdmission = { admitted: true, release: () => undefined }

export interface HistoryServerStats {
  /** Requests answered with records. */
  answered: number
  /** Requests answered with an error, by code. */
  errors: Record<HistoryErrorCode, number>
  /** Streams that broke before an answer could be written (asker gone, timeout). */
  broken: number
}

/**
 * The relay's side of `/securechat/store/1.0.0`: one length-prefixed request in, one
 * length-prefixed response out. Whatever arrives — oversized, not JSON, out of bounds, a
 * forged cursor — gets an error response and never reaches the store unparsed; a failing
 * store answers `unavailable`. Records go out exactly as stored: the asker verifies them.
 */
export class HistoryServer {
  readonly #init: HistoryServerInit
  readonly #log: Logger
  readonly #maxConcurrent: number
  #active = 0
  #started = false
  readonly #stats: HistoryServerStats = {
    answered: 0,
    errors: { 'bad-request': 0, unavailable: 0, busy: 0, limited: 0 },
    broken: 0,
  }

  constructor(init: HistoryServerInit) {
    this.#init = init
    this.#log = init.log ?? silentLoggerFactory('securechat:node:store')
    this.#maxConcurrent = init.maxConcurrent ?? STORE_MAX_CONCURRENT_REQUESTS
  }

  async start(): Promise<void> {
    if (this.#started) return
    this.#started = true
    // Browsers behind the relay ask over limited (relayed) connections too.
    await this.#init.libp2p.handle(STORE_PROTOCOL, (stream, connection) => this.#serve(stream, connection), {
      runOnLimitedConnection: true,
    })
  }

  /** Stops answering. Idempotent; requests under way finish. */
  async stop(): Promise<void> {
    if (!this.#started) return
    this.#started = false
    await this.#init.libp2p.unhandle(STORE_PROTOCOL)
  }

  stats(): HistoryServerStats {
    return { ...this.#stats, errors: { ...this.#stats.errors } }
  }

  async #serve(stream: Stream, connection: Connection): Promise<void> {
    const signal = AbortSignal.timeout(HISTORY_REQUEST_TIMEOUT_MS)
    const lp = lpStream(stream, { maxDataLength: MAX_HISTORY_REQUEST_BYTES })
    this.#active += 1
    // Decided when the stream opens: a request being read holds its place as one being answered does.
    const busy = this.#active > this.#maxConcurrent
    if (busy) this.#init.onBusy?.(connection)
    const admission = busy ? ADMITTED : (this.#init.admit?.(connection) ?? ADMITTED)
    try {
      let frame: Uint8Array | undefined
      try {
        frame = (await lp.read({ signal })).subarray()
      } catch (err) {
        // An oversized or broken length prefix: say so if the asker still listens.
        this.#log.debug('unreadable history request', { error: String(err) })
      }
      // The request is read before a refusal goes out: the asker writes it before it reads an answer.
      const answer =
        frame === undefined
          ? this.#error(
              HistoryErrorCode.badRequest,
              `request frame unreadable or over ${MAX_HISTORY_REQUEST_BYTES} bytes`,
            )
          : busy
            ? this.#error(HistoryErrorCode.busy, 'too many history requests at once; retry later or ask another relay')
            : !admission.admitted
              ? this.#error(HistoryErrorCode.limited, admission.message, admission.retryAfterMs)
              : await this.#answer(frame)
      await lp.write(answer, { signal })
      await stream.close({ signal })
    } catch (err) {
      this.#stats.broken += 1
      this.#log.debug('history stream broke', { error: String(err) })
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    } finally {
      this.#active -= 1
      if (admission.admitted) admission.release()
    }
  }

  async #answer(frame: Uint8Array): Promise<Uint8Array> {
    const decoded = decodeHistoryRequest(frame)
    if (!decoded.ok) return this.#error(HistoryErrorCode.badRequest, decoded.reason)
    try {
      const bytes = await this.#records(decoded.request)
      this.#stats.answered += 1
      return bytes
    } catch (err) {
      if (err instanceof InvalidInputError) return this.#error(HistoryErrorCode.badRequest, err.message)
      this.#log.warn('the store failed a history request', {
        error: String(err),
        hint: 'check the store (database reachable, disk not full)',
      })
      return this.#error(HistoryErrorCode.unavailable, 'the store failed; ask another relay')
    }
  }

  async #records(request: HistoryRequest): Promise<Uint8Array> {
    const { store } = this.#init
    if (request.type === 'fetch') {
      const records = await store.get(request.topic, request.ids)
      // No cursor for a fetch: ids that did not fit are simply asked for again.
      return encodeRecordsResponse({ records, more: false }).bytes
    }
    const { type: _type, ...query } = request
    const page = await store.query(query)
    return encodeRecordsResponse({
      records: page.records,
      more: page.more,
      cursorAfter: (record) => store.cursorAfter(query, record),
    }).bytes
  }

  #error(code: HistoryErrorCode, message: string, retryAfterMs?: number): Uint8Array {
    this.#stats.errors[code] += 1
    return encodeHistoryError(code, message, retryAfterMs)
  }
}
