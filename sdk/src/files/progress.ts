/**
 * Progress of a transfer as a person reads it: bytes so far, of how many, how fast, how long left. The speed is
 * taken over the last few seconds, so it follows a transfer that slows down or picks up instead of averaging its
 * whole history.
 */

export interface FileTransferProgress {
  /** Plaintext bytes done, a resumed download's offset included. */
  readonly bytes: number
  /** The file's size, when known (always for downloads; uploads know it only at the end). */
  readonly totalBytes?: number
  /** Bytes a second over the last {@link SPEED_WINDOW_MS}; 0 until two samples span some time. */
  readonly bytesPerSecond: number
  /** Seconds left at that speed, when the size and a speed are known. */
  readonly secondsLeft?: number
}

export type FileProgressListener = (progress: FileTransferProgress) => void

/** How far back the speed looks. */
const SPEED_WINDOW_MS = 5_000

/** Turns byte counts into {@link FileTransferProgress} reports for `listener`. */
export class ProgressMeter {
  readonly #listener: FileProgressListener | undefined
  readonly #totalBytes: number | undefined
  readonly #now: () => number
  /** (time, bytes) samples of the last window, oldest first. */
  readonly #samples: Array<{ at: number; bytes: number }> = []
  #bytes: number

  constructor(params: {
    listener?: FileProgressListener
    totalBytes?: number
    startBytes?: number
    now?: () => number
  }) {
    this.#listener = params.listener
    this.#totalBytes = params.totalBytes
    this.#bytes = params.startBytes ?? 0
    this.#now = params.now ?? (() => performance.now())
    this.#samples.push({ at: this.#now(), bytes: this.#bytes })
  }

  get bytes(): number {
    return this.#bytes
  }

  /** `n` more bytes are done; tells the listener. */
  add(n: number): void {
    this.#bytes += n
    if (this.#listener === undefined) return
    const at = this.#now()
    this.#samples.push({ at, bytes: this.#bytes })
    // Keep one sample at or before the window's start, so the window is always spanned.
    while (this.#samples.length > 2 && this.#samples[1]!.at <= at - SPEED_WINDOW_MS) this.#samples.shift()
    const oldest = this.#samples[0]!
    const elapsed = (at - oldest.at) / 1000
    const bytesPerSecond = elapsed > 0 ? (this.#bytes - oldest.bytes) / elapsed : 0
    const total = this.#totalBytes
    this.#listener({
      bytes: this.#bytes,
      ...(total === undefined ? {} : { totalBytes: total }),
      bytesPerSecond,
      ...(total === undefined || bytesPerSecond <= 0
        ? {}
        : { secondsLeft: Math.max(0, total - this.#bytes) / bytesPerSecond }),
    })
  }
}
