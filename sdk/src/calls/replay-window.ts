/**
 * A receiver's anti-replay window for one KID, as SRTP's (RFC 3711 section 3.3.2) with SFrame's CTR as the counter:
 * the highest counter delivered and a bitmap of which of the `size` counters below it were. RFC 9605 leaves replay
 * to the application (section 9.3); a forwarding unit could otherwise send a frame twice, or an old one again.
 *
 * Memory is `size` bits per KID whatever the sender does. A counter ahead of the highest is new; one inside the
 * window is new unless its bit is set; one `size` or more behind is refused, since nothing can tell it apart from a
 * replay. `check` comes before decryption and `accept` only after the frame authenticated, so a forged frame with a
 * huge counter cannot move the window and lock out the real sender's frames.
 */
export type ReplayVerdict = 'new' | 'duplicate' | 'too-old'

export class ReplayWindow {
  readonly #size: bigint
  readonly #full: bigint
  /** The highest counter accepted, or -1 before the first. */
  #highest = -1n
  /** Bit i set: counter `#highest - i` was accepted. */
  #seen = 0n

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`ReplayWindow: size must be a positive integer`)
    this.#size = BigInt(size)
    this.#full = (1n << this.#size) - 1n
  }

  /** Whether `counter` may be delivered now. Changes nothing. */
  check(counter: bigint): ReplayVerdict {
    if (counter > this.#highest) return 'new'
    const behind = this.#highest - counter
    if (behind >= this.#size) return 'too-old'
    return (this.#seen >> behind) & 1n ? 'duplicate' : 'new'
  }

  /** Records `counter` as delivered; the caller checked it first and it authenticated. */
  accept(counter: bigint): void {
    if (counter > this.#highest) {
      const ahead = counter - this.#highest
      this.#seen = ahead >= this.#size ? 1n : ((this.#seen << ahead) | 1n) & this.#full
      this.#highest = counter
    } else {
      this.#seen |= 1n << (this.#highest - counter)
    }
  }
}
