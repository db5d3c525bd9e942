import type { SignedMessage } from '@libp2p/gossipsub'
import { GAP_GRACE_MS, GAP_LOST_AFTER_MS, GAP_RETRY_MS, MAX_LOST_GAP_IDS, MAX_OPEN_GAPS } from '../constants.ts'
import type { Logger } from '../logger.ts'
import type { AbortOptions, GapReport, GapSink, GapWatcher } from '../types.ts'
import { HISTORY_REQUEST_TIMEOUT_MS, MAX_HISTORY_FETCH_IDS } from './constants.ts'
import type { HistoryRecord } from './wire.ts'

/** Where missing records are asked for: relays' stores, then the topic's peers. */
export interface GapSource {
  /**
   * Records of `topic` with these ids, each verified like a stored one (id and signature); what
   * nobody holds is simply absent. Never throws for an unreachable relay or peer.
   */
  fetch(
    topic: string,
    ids: string[],
    options: AbortOptions,
  ): Promise<Array<{ message: SignedMessage; record: HistoryRecord }>>
}

export interface GapRepairInit {
  sink: GapSink
  source: GapSource
  log: Logger
  /** Defaults {@link GAP_GRACE_MS}, {@link GAP_RETRY_MS}, {@link GAP_LOST_AFTER_MS}. */
  graceMs?: number
  retryMs?: number
  lostAfterMs?: number
}

interface OpenGap {
  /** The record that named it first: the missing one was sent before it. */
  before: string
  firstMs: number
  nextAskMs: number
  /** `missing` was reported: its end (`filled`, `lost`) is reported too. */
  shown: boolean
}

/**
 * Gap repair (issue 12): every room message names the last ones its sender had seen (`deps`), and
 * every DM the last records its sender sent that device. One this device lacks is a gap: after a
 * short grace (gossip may still bring it by another path) it is reported `missing` and asked for,
 * by id, from the relays' stores and the topic's peers; what comes back goes through the room's or
 * DMs' own gatekeeper and is delivered like a live record (duplicates dropped by id). Still absent
 * after the bound, it is reported `lost`. A filled message's own `deps` are followed in turn, so a
 * run of lost records is walked back.
 *
 * Bounded: at most {@link MAX_OPEN_GAPS} at once (names past it are not followed), one round of
 * asks at a time, and lost ids are remembered ({@link MAX_LOST_GAP_IDS}) so they are not reopened.
 */
export class GapRepair implements GapWatcher {
  readonly #sink: GapSink
  readonly #source: GapSource
  readonly #log: Logger
  readonly #graceMs: number
  readonly #retryMs: number
  readonly #lostAfterMs: number
  readonly #open = new Map<string, OpenGap>()
  /** Ids reported lost, with the record that named each (a late arrival is reported where it was). */
  readonly #lost = new Map<string, string>()
  /** {@link settled} calls waiting for no gap to be open. */
  readonly #settling = new Set<() => void>()
  #timer: ReturnType<typeof setTimeout> | undefined
  #asking = false
  #stopped = false

  constructor(init: GapRepairInit) {
    this.#sink = init.sink
    this.#source = init.source
    this.#log = init.log
    this.#graceMs = init.graceMs ?? GAP_GRACE_MS
    this.#retryMs = init.retryMs ?? GAP_RETRY_MS
    this.#lostAfterMs = init.lostAfterMs ?? GAP_LOST_AFTER_MS
  }

  /** Gaps open now (missing or within their grace). */
  get open(): number {
    return this.#open.size
  }

  saw(id: string, deps: readonly string[]): void {
    if (this.#stopped) return
    const open = this.#open.get(id)
    const lostBefore = this.#lost.get(id)
    if (open !== undefined) {
      this.#open.delete(id)
      if (open.shown) this.#report(id, 'filled', open.before)
    } else if (lostBefore !== undefined) {
      this.#lost.delete(id)
      this.#report(id, 'filled', lostBefore)
    }
    const now = Date.now()
    for (const dep of deps) {
      if (dep === id || this.#open.has(dep) || this.#lost.has(dep) || this.#sink.known(dep)) continue
      if (this.#open.size >= MAX_OPEN_GAPS) break
      this.#open.set(dep, { before: id, firstMs: now, nextAskMs: now + this.#graceMs, shown: false })
    }
    this.#schedule()
    this.#wakeIfSettled()
  }

  /**
   * Resolves once no gap is open (each filled or reported lost: within {@link GAP_LOST_AFTER_MS}
   * of the last one named), at once when none is; rejects when `options.signal` aborts first.
   */
  settled(options: AbortOptions = {}): Promise<void> {
    if (this.#open.size === 0) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const signal = options.signal
      const done = (): void => {
        this.#settling.delete(done)
        signal?.removeEventListener('abort', aborted)
        resolve()
      }
      const aborted = (): void => {
        this.#settling.delete(done)
        reject(signal?.reason)
      }
      if (signal?.aborted === true) return aborted()
      signal?.addEventListener('abort', aborted, { once: true })
      this.#settling.add(done)
    })
  }

  stop(): void {
    this.#stopped = true
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#open.clear()
    this.#wakeIfSettled()
  }

  #wakeIfSettled(): void {
    if (this.#open.size > 0) return
    for (const wake of [...this.#settling]) wake()
  }

  #schedule(): void {
    if (this.#stopped || this.#asking || this.#open.size === 0) return
    let next = Number.POSITIVE_INFINITY
    for (const gap of this.#open.values()) next = Math.min(next, gap.nextAskMs)
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => void this.#ask(), Math.max(0, next - Date.now()))
  }

  async #ask(): Promise<void> {
    this.#timer = undefined
    this.#asking = true
    try {
      const now = Date.now()
      const due: string[] = []
      for (const [id, gap] of this.#open) {
        if (gap.nextAskMs > now) continue
        if (this.#sink.known(id)) {
          this.#open.delete(id)
          if (gap.shown) this.#report(id, 'filled', gap.before)
        } else if (now - gap.firstMs >= this.#lostAfterMs) {
          this.#open.delete(id)
          this.#lost.set(id, gap.before)
          if (this.#lost.size > MAX_LOST_GAP_IDS) this.#lost.delete(this.#lost.keys().next().value!)
          this.#report(id, 'lost', gap.before)
        } else {
          if (!gap.shown) {
            gap.shown = true
            this.#report(id, 'missing', gap.before)
          }
          gap.nextAskMs = now + this.#retryMs
          due.push(id)
        }
      }
      for (let i = 0; i < due.length && !this.#stopped; i += MAX_HISTORY_FETCH_IDS) {
        await this.#fill(due.slice(i, i + MAX_HISTORY_FETCH_IDS))
      }
    } catch (err) {
      this.#log.debug('gap repair round failed', { topic: this.#sink.topics[0], error: String(err) })
    } finally {
      this.#asking = false
      this.#schedule()
      this.#wakeIfSettled()
    }
  }

  async #fill(ids: string[]): Promise<void> {
    const found: Awaited<ReturnType<GapSource['fetch']>> = []
    let wanted = ids
    for (const topic of this.#sink.topics) {
      if (wanted.length === 0 || this.#stopped) break
      found.push(
        ...(await this.#source.fetch(topic, wanted, { signal: AbortSignal.timeout(HISTORY_REQUEST_TIMEOUT_MS) })),
      )
      const have = new Set(found.map(({ record }) => record.id))
      wanted = wanted.filter((id) => !have.has(id))
    }
    // One copy per id: the latest receive time, so a holder claiming an older one cannot make it
    // look like history this device already had.
    found.sort((a, b) => b.record.receivedAtMs - a.record.receivedAtMs)
    const tried = new Set<string>()
    for (const { message, record } of found) {
      if (tried.has(record.id) || !this.#open.has(record.id)) continue
      tried.add(record.id)
      const outcome = await this.#sink.fill(message, record.receivedAtMs)
      // `delivered` is reported as the room takes it (`saw`); `rejected` stays open: another holder may have it.
      const gap = this.#open.get(record.id)
      if (outcome === 'had' && gap !== undefined) {
        this.#open.delete(record.id)
        this.#report(record.id, 'filled', gap.before)
      }
    }
  }

  #report(id: string, state: GapReport['state'], before: string): void {
    this.#sink.report({ id, state, before })
  }
}
