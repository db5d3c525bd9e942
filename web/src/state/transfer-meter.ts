/**
 * Speed and time left of a transfer, as a person reads them: taken over the last few seconds (a transfer that slows
 * down or picks up shows it, rather than its average since the start). The sdk reports speed for encryption and
 * downloads but only bytes while relays fetch a share: one meter here words every stage alike.
 */

/** How far back the speed looks. */
const SPEED_WINDOW_MS = 5_000

export interface TransferNumbers {
  bytes: number
  totalBytes: number
  /** 0 until two samples span some time. */
  bytesPerSecond: number
  /** At that speed; undefined without one. */
  secondsLeft: number | undefined
}

export class TransferMeter {
  readonly #now: () => number
  #samples: Array<{ at: number; bytes: number }> = []

  constructor(now: () => number = () => performance.now()) {
    this.#now = now
  }

  /** Another count (bytes done of `totalBytes`); a count below the last starts a new stage. */
  sample(bytes: number, totalBytes: number): TransferNumbers {
    const at = this.#now()
    const last = this.#samples.at(-1)
    if (last !== undefined && bytes < last.bytes) this.#samples = []
    this.#samples.push({ at, bytes })
    // One sample at or before the window's start stays, so the window is always spanned.
    while (this.#samples.length > 2 && this.#samples[1]!.at <= at - SPEED_WINDOW_MS) this.#samples.shift()
    const oldest = this.#samples[0]!
    const elapsed = (at - oldest.at) / 1000
    const bytesPerSecond = elapsed > 0 ? (bytes - oldest.bytes) / elapsed : 0
    return {
      bytes,
      totalBytes,
      bytesPerSecond,
      secondsLeft: bytesPerSecond > 0 ? Math.max(0, totalBytes - bytes) / bytesPerSecond : undefined,
    }
  }
}
