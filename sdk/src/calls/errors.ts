/**
 * Errors of call media encryption (SFrame), on the sdk's `SecureChatError` (name, message, `details`, `hint`).
 * `details` holds only public facts — the KID and CTR of a header are sent in the clear — never keys or media.
 * A caller's mistake (a base key of the wrong size, a KID out of range) is the sdk's `InvalidInputError`.
 */

import { DecryptionFailedError } from '../crypto/errors.ts'
import { SecureChatError, type SecureChatErrorOptions } from '../errors.ts'
import type { SfuRefusalReason } from './sfu-wire.ts'

/** Why a received SFrame ciphertext was refused (`SFrameDecryptionError.reason`). */
export type SFrameDecryptionFailure =
  /** The header does not parse: truncated, not minimally encoded, or no room left for the tag. */
  | 'malformed'
  /** No key for the header's KID: not received yet, or removed (the participant left). */
  | 'unknown-key'
  /** The AEAD did not verify: modified header, clear bytes, metadata, ciphertext or tag, or another key. */
  | 'authentication'
  /** A counter this KID already delivered, or one older than the replay window. */
  | 'replayed'

const HINTS: Record<SFrameDecryptionFailure, string> = {
  malformed: 'Drop the frame: it was not produced by an SFrame sender.',
  'unknown-key':
    "Drop the frame, or hold it briefly and retry once the sender's key arrives (RFC 9605 allows buffering).",
  authentication: 'Drop the frame as forged or corrupted; the receiver state is unchanged.',
  replayed: 'Drop the frame: it was delivered before (or is too late to tell).',
}

/**
 * A received frame did not decrypt; nothing of it is released and the receiver is as it was. `reason` says which
 * check failed; `details` has the KID and counter when the header parsed. Only `unknown-key` may succeed later.
 */
export class SFrameDecryptionError extends DecryptionFailedError {
  override name = 'SFrameDecryptionError'
  readonly reason: SFrameDecryptionFailure

  constructor(reason: SFrameDecryptionFailure, message: string, options: SecureChatErrorOptions = {}) {
    super(message, { ...options, hint: options.hint ?? HINTS[reason] })
    this.reason = reason
  }
}

/**
 * A sender used its last counter (2^64 − 1) under its KID: one more frame would reuse a nonce, so it refuses. Not
 * reachable at media rates (half a million years at a million frames a second) unless a context was resumed near
 * its end.
 */
export class SFrameCounterExhaustedError extends SecureChatError {
  override name = 'SFrameCounterExhaustedError'

  constructor(message: string, options: SecureChatErrorOptions = {}) {
    super(message, { ...options, hint: options.hint ?? 'Send under a new key with a new KID.' })
  }
}

/** A call's stream to its forwarding unit's relay could not be opened, broke, or carried frames out of protocol. */
export class SfuSessionError extends SecureChatError {
  override name = 'SfuSessionError'
}

/** The relay refused this device a place in the call's forwarding unit (`reason`: `SFU_REFUSAL_REASONS`). */
export class SfuRefusedError extends SecureChatError {
  override name = 'SfuRefusedError'
  readonly reason: SfuRefusalReason

  constructor(reason: SfuRefusalReason, message: string, options: SecureChatErrorOptions = {}) {
    super(`the relay refused the call's forwarding: ${message}`, {
      ...options,
      details: { ...options.details, reason },
    })
    this.reason = reason
  }
}
