/**
 * SFrame (RFC 9605) contexts for call media: a sender that seals each frame under its own key and a counter that
 * never repeats, and a receiver that holds the other participants' keys by KID. Meant for a WebRTC encoded
 * transform (one frame in, one out) and for Node; WebCrypto only (`suites.ts`).
 *
 * ```
 * SFrame ciphertext = header (KID, CTR; header.ts) || AES-GCM(sframe_key, nonce, aad = header || metadata, plaintext)
 * nonce             = sframe_salt XOR CTR
 * ```
 *
 * | RFC 9605 | here |
 * | --- | --- |
 * | 4.3 header | `encodeSFrameHeader`, `decodeSFrameHeader` (`header.ts`) |
 * | 4.4.2 `derive_key_salt` | `deriveSFrameKeySalt` (`suites.ts`), once per KID when a key is added |
 * | 4.4.3 `encrypt(CTR, KID, metadata, plaintext)` | {@link SFrameSender.encrypt} (CTR is the sender's counter) |
 * | 4.4.4 `decrypt(metadata, sframe_ciphertext)` | {@link SFrameReceiver.decrypt} |
 * | 4.4.1 a key for encryption or decryption, never both | sender keys import for `encrypt`, receiver keys for `decrypt` |
 * | 9.1 each (base_key, KID, CTR) used once | the sender's counter only goes up and refuses to pass 2^64 − 1 |
 * | 9.3 anti-replay (optional) | the receiver's window per KID (`replay-window.ts`) |
 *
 * **Frames with clear bytes** ({@link SFrameSender.encryptFrame}, {@link SFrameReceiver.decryptFrame}). WebRTC's
 * packetizer reads the first bytes of an encoded frame — VP8's payload header (10 bytes on a key frame, 3 on a
 * delta frame), Opus's TOC byte — to split it into RTP packets and to mark key frames for the receiver and any
 * forwarding unit. Those bytes must stay in the clear, so an encrypted frame is
 *
 * ```
 * frame' = clear (clearBytes) || SFrame ciphertext of the rest, with metadata = clear
 * ```
 *
 * The clear bytes are the RFC's `metadata`: not encrypted, but authenticated — changing one fails the frame. The
 * caller names how many (`clearBytes`, at most `SFRAME_MAX_CLEAR_BYTES`) rather than passing metadata of its own,
 * because both ends must agree on the split: the receiver derives the same number from what it sees (the codec and
 * the frame's type), and a wrong split fails authentication instead of releasing anything. The RFC-level
 * {@link SFrameSender.encrypt} / {@link SFrameReceiver.decrypt} take arbitrary metadata, which is not sent.
 *
 * **Failures.** Everything a receiver refuses is `SFrameDecryptionError` with a `reason`, and leaves the receiver as
 * it was: the replay window moves only for frames that authenticated. Failures are not constant-time between
 * reasons (the RFC's SHOULD, section 4.4.4): a replay or an unknown KID is refused before the AEAD runs, but both are
 * facts of the cleartext header, which an observer already sees.
 */
import { InvalidInputError } from '../errors.ts'
import {
  SFRAME_DEFAULT_CIPHER_SUITE,
  SFRAME_MAX_CLEAR_BYTES,
  SFRAME_MAX_COUNTER,
  SFRAME_MAX_KID,
  SFRAME_REPLAY_WINDOW_FRAMES,
  type SFrameCipherSuite,
} from './constants.ts'
import { SFrameCounterExhaustedError, SFrameDecryptionError } from './errors.ts'
import { assertUint64, decodeSFrameHeader, encodeSFrameHeader } from './header.ts'
import { ReplayWindow } from './replay-window.ts'
import { aeadOpen, aeadSeal, importSFrameKeys, SFRAME_TAG_BYTES, type SFrameKeys, sframeNonce } from './suites.ts'

/** Options of the frame methods: how many leading bytes stay in the clear (authenticated). Default 0. */
export interface SFrameFrameOptions {
  readonly clearBytes?: number
}

export interface SFrameSenderInit {
  /** This sender's KID: no other sender may use it with the same base key (RFC 9605 section 4.4.1). */
  readonly kid: bigint
  /** The base key, at least 16 bytes, random. Not kept: only the derived key (non-extractable) and salt are. */
  readonly baseKey: Uint8Array
  /** Default `SFRAME_DEFAULT_CIPHER_SUITE`. */
  readonly suite?: SFrameCipherSuite
  /**
   * The first counter to use, to resume a context whose `nextCounter` was saved before it was used (RFC 9605
   * section 9.1). Default 0. Never give a counter already used under this key and KID: AES-GCM would reuse a nonce.
   */
  readonly nextCounter?: bigint
}

/** A sender's SFrame context: its KID's key and a counter that never repeats. */
export class SFrameSender {
  readonly kid: bigint
  readonly suite: SFrameCipherSuite
  readonly #keys: SFrameKeys
  #next: bigint

  /** Use {@link createSFrameSender}, which derives and imports the key. */
  private constructor(keys: SFrameKeys, suite: SFrameCipherSuite, next: bigint) {
    this.kid = keys.kid
    this.suite = suite
    this.#keys = keys
    this.#next = next
  }

  /** What {@link createSFrameSender} calls (the package exports the factory, not the class). */
  static async create(init: SFrameSenderInit): Promise<SFrameSender> {
    const suite = init.suite ?? SFRAME_DEFAULT_CIPHER_SUITE
    const next = init.nextCounter ?? 0n
    assertUint64(init.kid, SFRAME_MAX_KID, 'kid')
    assertUint64(next, SFRAME_MAX_COUNTER, 'nextCounter')
    const keys = await importSFrameKeys({ suite, kid: init.kid, baseKey: init.baseKey, use: 'encrypt' })
    return new SFrameSender(keys, suite, next)
  }

  /** The counter the next frame will use: what to save, before using it, to resume later. */
  get nextCounter(): bigint {
    return this.#next
  }

  /**
   * RFC 9605's `encrypt(CTR, KID, metadata, plaintext)` with the next counter: `header || ciphertext`. `metadata`
   * is authenticated, not sent; the receiver must pass the same bytes. Throws `SFrameCounterExhaustedError` once
   * the counter passed 2^64 − 1.
   */
  async encrypt(params: { plaintext: Uint8Array; metadata?: Uint8Array }): Promise<Uint8Array> {
    return this.#seal(params.plaintext, params.metadata ?? new Uint8Array(0), new Uint8Array(0))
  }

  /**
   * Encrypts an encoded media frame for the wire: its first `clearBytes` stay in front, in the clear and
   * authenticated, the rest becomes the SFrame ciphertext (see the module comment). The result's `buffer` is exactly
   * the new frame, what an encoded transform assigns to `frame.data`.
   */
  async encryptFrame(frame: Uint8Array, options: SFrameFrameOptions = {}): Promise<Uint8Array> {
    const clearBytes = checkClearBytes(options.clearBytes)
    if (clearBytes > frame.length) {
      throw new InvalidInputError('a frame shorter than its clear bytes cannot be encrypted', {
        details: { field: 'clearBytes', clearBytes, frameBytes: frame.length },
        hint: 'Pass clearBytes: 0 for frames shorter than the codec header, on both ends.',
      })
    }
    const clear = frame.subarray(0, clearBytes)
    return this.#seal(frame.subarray(clearBytes), clear, clear)
  }

  /** `prefix || header || AEAD(plaintext, aad = header || metadata)` in one buffer of that size. */
  async #seal(plaintext: Uint8Array, metadata: Uint8Array, prefix: Uint8Array): Promise<Uint8Array> {
    // Take the counter before any await: concurrent calls must never share one.
    const counter = this.#next
    if (counter > SFRAME_MAX_COUNTER) {
      throw new SFrameCounterExhaustedError('the SFrame sender used every counter of its KID', {
        details: { kid: this.kid.toString() },
      })
    }
    this.#next = counter + 1n
    const header = encodeSFrameHeader({ kid: this.kid, counter })
    const sealed = await aeadSeal({
      key: this.#keys.key,
      nonce: sframeNonce(this.#keys.salt, counter),
      aad: joined(header, metadata),
      plaintext,
    })
    const out = new Uint8Array(prefix.length + header.length + sealed.length)
    out.set(prefix)
    out.set(header, prefix.length)
    out.set(sealed, prefix.length + header.length)
    return out
  }
}

/** A sender context for `init.kid` (the key derived and imported once). */
export function createSFrameSender(init: SFrameSenderInit): Promise<SFrameSender> {
  return SFrameSender.create(init)
}

export interface SFrameReceiverInit {
  /** The session's suite: every key of this receiver uses it. Default `SFRAME_DEFAULT_CIPHER_SUITE`. */
  readonly suite?: SFrameCipherSuite
  /** Anti-replay window per KID, in frames. Default `SFRAME_REPLAY_WINDOW_FRAMES`. */
  readonly replayWindowFrames?: number
}

/** What a received frame decrypted to, and under which KID and counter (public header values). */
export interface SFrameDecrypted {
  /** The plaintext; from `decryptFrame`, the whole frame again (clear bytes first). */
  readonly plaintext: Uint8Array
  readonly kid: bigint
  readonly counter: bigint
}

interface ReceiverKey {
  readonly keys: SFrameKeys
  readonly window: ReplayWindow
}

/**
 * A receiver's SFrame context: the keys of the other participants by KID, each with its replay window. Memory is one
 * key, one salt and `replayWindowFrames` bits per KID; the caller adds and removes KIDs.
 */
export class SFrameReceiver {
  readonly suite: SFrameCipherSuite
  readonly #windowFrames: number
  readonly #keys = new Map<bigint, ReceiverKey>()
  /** KIDs whose key is being derived: removing one meanwhile cancels its install. */
  readonly #pending = new Map<bigint, symbol>()

  constructor(init: SFrameReceiverInit = {}) {
    this.suite = init.suite ?? SFRAME_DEFAULT_CIPHER_SUITE
    this.#windowFrames = init.replayWindowFrames ?? SFRAME_REPLAY_WINDOW_FRAMES
    if (!Number.isInteger(this.#windowFrames) || this.#windowFrames < 1) {
      throw new InvalidInputError('replayWindowFrames must be a positive integer', {
        details: { field: 'replayWindowFrames', received: this.#windowFrames },
      })
    }
  }

  /**
   * Installs the key that `kid`'s frames are sealed under. A KID names one base key: adding a KID that is present is
   * `InvalidInputError` (remove it first — and a rotation should bring a new KID, since a KID added again starts
   * with a fresh replay window).
   */
  async addKey(params: { kid: bigint; baseKey: Uint8Array }): Promise<void> {
    const { kid, baseKey } = params
    assertUint64(kid, SFRAME_MAX_KID, 'kid')
    if (this.#keys.has(kid) || this.#pending.has(kid)) {
      throw new InvalidInputError('this SFrame receiver already has a key for the KID', {
        details: { field: 'kid', kid: kid.toString() },
        hint: 'Remove the KID first, or give the new key a new KID.',
      })
    }
    const token = Symbol(kid.toString())
    this.#pending.set(kid, token)
    try {
      const keys = await importSFrameKeys({ suite: this.suite, kid, baseKey, use: 'decrypt' })
      if (this.#pending.get(kid) !== token) return
      this.#keys.set(kid, { keys, window: new ReplayWindow(this.#windowFrames) })
    } finally {
      if (this.#pending.get(kid) === token) this.#pending.delete(kid)
    }
  }

  /**
   * Forgets `kid`'s key (its participant left): its frames, those being decrypted included, fail with `unknown-key`
   * from now on. Whether it had one.
   */
  removeKey(kid: bigint): boolean {
    const pending = this.#pending.delete(kid)
    return this.#keys.delete(kid) || pending
  }

  hasKey(kid: bigint): boolean {
    return this.#keys.has(kid)
  }

  /** RFC 9605's `decrypt(metadata, sframe_ciphertext)`. Throws `SFrameDecryptionError` for anything it refuses. */
  async decrypt(params: { ciphertext: Uint8Array; metadata?: Uint8Array }): Promise<SFrameDecrypted> {
    return this.#open(params.ciphertext, params.metadata ?? new Uint8Array(0), new Uint8Array(0))
  }

  /**
   * Decrypts a frame from {@link SFrameSender.encryptFrame} sent with the same `clearBytes`: the plaintext is the
   * original frame, clear bytes first, in a buffer of its own (for `frame.data`).
   */
  async decryptFrame(data: Uint8Array, options: SFrameFrameOptions = {}): Promise<SFrameDecrypted> {
    const clearBytes = checkClearBytes(options.clearBytes)
    if (clearBytes >= data.length) {
      throw new SFrameDecryptionError('malformed', 'frame ends within its clear bytes', {
        details: { clearBytes, length: data.length },
      })
    }
    const clear = data.subarray(0, clearBytes)
    return this.#open(data.subarray(clearBytes), clear, clear)
  }

  async #open(ciphertext: Uint8Array, metadata: Uint8Array, prefix: Uint8Array): Promise<SFrameDecrypted> {
    const header = decodeSFrameHeader(ciphertext)
    const { kid, counter } = header
    const details = { kid: kid.toString(), counter: counter.toString() }
    if (ciphertext.length - header.length < SFRAME_TAG_BYTES) {
      throw new SFrameDecryptionError('malformed', 'SFrame ciphertext shorter than its tag', {
        details: { ...details, length: ciphertext.length, headerBytes: header.length },
      })
    }
    const entry = this.#keys.get(kid)
    if (entry === undefined) throw new SFrameDecryptionError('unknown-key', 'no key for this KID', { details })
    if (entry.window.check(counter) !== 'new') throw replayed(entry.window, counter, details)

    let plaintext: Uint8Array
    try {
      plaintext = await aeadOpen({
        key: entry.keys.key,
        nonce: sframeNonce(entry.keys.salt, counter),
        aad: joined(ciphertext.subarray(0, header.length), metadata),
        ciphertext: ciphertext.subarray(header.length),
      })
    } catch (cause) {
      throw new SFrameDecryptionError('authentication', 'SFrame frame did not authenticate', { details, cause })
    }
    // While the AEAD ran, the KID may have been removed, or the same counter delivered by a concurrent call.
    if (this.#keys.get(kid) !== entry) {
      throw new SFrameDecryptionError('unknown-key', 'the KID was removed while its frame was decrypted', { details })
    }
    if (entry.window.check(counter) !== 'new') throw replayed(entry.window, counter, details)
    entry.window.accept(counter)

    if (prefix.length === 0) return { plaintext, kid, counter }
    const frame = new Uint8Array(prefix.length + plaintext.length)
    frame.set(prefix)
    frame.set(plaintext, prefix.length)
    return { plaintext: frame, kid, counter }
  }
}

/** A receiver context for one call's suite; add each sender's key with `addKey`. */
export function createSFrameReceiver(init: SFrameReceiverInit = {}): SFrameReceiver {
  return new SFrameReceiver(init)
}

function replayed(window: ReplayWindow, counter: bigint, details: Record<string, string>): SFrameDecryptionError {
  const verdict = window.check(counter)
  return new SFrameDecryptionError(
    'replayed',
    verdict === 'too-old' ? 'SFrame counter is older than the replay window' : 'SFrame counter already delivered',
    { details: { ...details, verdict } },
  )
}

/** `clearBytes` as given, or 0; `InvalidInputError` outside 0 .. `SFRAME_MAX_CLEAR_BYTES`. */
function checkClearBytes(clearBytes: number | undefined): number {
  const value = clearBytes ?? 0
  if (!Number.isInteger(value) || value < 0 || value > SFRAME_MAX_CLEAR_BYTES) {
    throw new InvalidInputError(`clearBytes must be an integer from 0 to ${SFRAME_MAX_CLEAR_BYTES}`, {
      details: { field: 'clearBytes', received: value },
    })
  }
  return value
}

/** `a || b` in a fresh ArrayBuffer (what WebCrypto takes as associated data). */
function joined(a: Uint8Array, b: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(a.length + b.length)
  out.set(a)
  out.set(b, a.length)
  return out
}
