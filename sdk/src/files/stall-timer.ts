/**
 * A bound on waiting for blocks. Bitswap keeps a wanted block on its want list until some connected peer sends
 * it, so a file nobody online has would wait forever; this aborts the wait when no progress was made for
 * `timeoutMs`, and tells that apart from the caller's own abort.
 *
 * Before that, every `FILE_FETCH_RETRY_MS` without progress it asks its users to ask again: a bitswap peer does
 * not send a block again within 5 s of sending it (`doNotResendBlockWindow`), so a want repeated soon after an
 * aborted one (a download resumed at once, a block lost on a dropped connection) is ignored by the peer and
 * waits for ever unless it is sent anew.
 */
import { FILE_FETCH_RETRY_MS } from './constants.ts'
import { FileUnavailableError } from './errors.ts'

export class StallTimer {
  /** Aborted when progress stalls or the caller's signal aborts: what the block requests carry. */
  readonly signal: AbortSignal
  readonly #controller = new AbortController()
  readonly #outer: AbortSignal | undefined
  readonly #timeoutMs: number
  readonly #cid: string
  readonly #onOuterAbort = () => this.#controller.abort(this.#outer?.reason)
  readonly #retryMs: number
  readonly #retries = new Set<() => void>()
  #timer: ReturnType<typeof setTimeout> | undefined
  #retryTimer: ReturnType<typeof setInterval> | undefined
  #stalled = false

  constructor(params: { signal?: AbortSignal; timeoutMs: number; cid: string }) {
    if (!Number.isFinite(params.timeoutMs) || params.timeoutMs <= 0) {
      throw new RangeError(`timeoutMs must be a positive number, got ${params.timeoutMs}`)
    }
    this.#outer = params.signal
    this.#timeoutMs = params.timeoutMs
    this.#cid = params.cid
    this.#retryMs = Math.min(FILE_FETCH_RETRY_MS, params.timeoutMs / 2)
    this.signal = this.#controller.signal
    if (this.#outer?.aborted === true) this.#onOuterAbort()
    else this.#outer?.addEventListener('abort', this.#onOuterAbort, { once: true })
    this.progress()
  }

  /** Something arrived: the wait starts over. */
  progress(): void {
    clearTimeout(this.#timer)
    clearInterval(this.#retryTimer)
    if (this.signal.aborted) return
    this.#timer = setTimeout(() => {
      this.#stalled = true
      this.#controller.abort(this.unavailable())
    }, this.#timeoutMs)
    this.#retryTimer = setInterval(() => {
      for (const retry of this.#retries) retry()
    }, this.#retryMs)
  }

  /**
   * A signal for one attempt at a request: aborted with the timer's, or when the wait calls for asking again.
   * `retried()` says whether it was the latter (then the caller asks again from where it got to). Call `done()`
   * when the attempt ends.
   */
  attempt(): { signal: AbortSignal; retried: () => boolean; done: () => void } {
    const controller = new AbortController()
    const retry = () => controller.abort(new DOMException('asking again', 'AbortError'))
    this.#retries.add(retry)
    return {
      signal: AbortSignal.any([this.signal, controller.signal]),
      retried: () => controller.signal.aborted && !this.signal.aborted,
      done: () => this.#retries.delete(retry),
    }
  }

  /** `request` under {@link attempt}s until one ends without being asked again. */
  async retrying<T>(request: (signal: AbortSignal) => Promise<T>): Promise<T> {
    for (;;) {
      const attempt = this.attempt()
      try {
        return await request(attempt.signal)
      } catch (err) {
        if (!attempt.retried() && !(await this.askAgainAfter(err))) throw err
      } finally {
        attempt.done()
      }
    }
  }

  /**
   * Whether a request that failed with `err` is asked again — then this resolves at the next retry, or when the wait
   * runs out (the next request then fails at once, and {@link explain} says the file is unavailable). Helia gives up
   * on a block by itself (`LoadBlockFailedError`) when no connected peer can send it: a relay that served the file
   * died, say. Another may connect, or the same come back, before the wait runs out — as when a block never comes.
   */
  async askAgainAfter(err: unknown): Promise<boolean> {
    if (this.signal.aborted || !(err instanceof Error) || err.name !== 'LoadBlockFailedError') return false
    await new Promise<void>((resolve) => {
      const next = (): void => {
        this.#retries.delete(next)
        this.signal.removeEventListener('abort', next)
        resolve()
      }
      this.#retries.add(next)
      this.signal.addEventListener('abort', next, { once: true })
    })
    return true
  }

  /** No more waiting to bound (done or failed); idempotent. */
  stop(): void {
    clearTimeout(this.#timer)
    clearInterval(this.#retryTimer)
    this.#retries.clear()
    this.#outer?.removeEventListener('abort', this.#onOuterAbort)
  }

  /**
   * What to throw for `err`, raised while this timer ran: a `FileUnavailableError` when it fired (whatever the
   * aborted request threw), the caller's reason when the caller aborted, `err` otherwise.
   */
  explain(err: unknown): unknown {
    if (this.#stalled) return this.unavailable(err)
    if (this.#outer?.aborted === true) return this.#outer.reason
    return err
  }

  unavailable(cause?: unknown): FileUnavailableError {
    return new FileUnavailableError(
      `no peer has the file's blocks: nothing arrived for ${this.#timeoutMs / 1000} s (the sender and the relays that kept it are offline, or it expired)`,
      {
        details: { cid: this.#cid, timeoutMs: this.#timeoutMs },
        hint: 'Try again when the sender or a relay that keeps the file is online (a download resumes where it stopped), or ask the sender to share it again.',
        ...(cause === undefined ? {} : { cause }),
      },
    )
  }
}
