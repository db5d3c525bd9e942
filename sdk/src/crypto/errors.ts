/**
 * Errors of the crypto core, on the sdk's `SecureChatError` (name, short message, `details`,
 * `hint`, `cause`); callers branch on `err.name` or `instanceof`, never on message text.
 *
 * `details` never holds key material or plaintext: only field names, lengths, ids and counters.
 */
import { SecureChatError, type SecureChatErrorOptions } from '../errors.ts'

export type CryptoErrorOptions = SecureChatErrorOptions

/** Base class of every error thrown by `sdk/src/crypto`. */
export class CryptoError extends SecureChatError {
  override name = 'CryptoError'
}

function withHint(options: CryptoErrorOptions, hint: string): CryptoErrorOptions {
  return options.hint === undefined ? { ...options, hint } : options
}

/**
 * An AEAD open failed: wrong key, wrong associated data (room, sender, message id, session),
 * or a modified nonce, ciphertext or tag. Nothing of the plaintext is released.
 */
export class DecryptionFailedError extends CryptoError {
  override name = 'DecryptionFailedError'
  constructor(message = 'decryption failed', options: CryptoErrorOptions = {}) {
    super(
      message,
      withHint(options, 'Treat the message as forged or corrupted: drop it and keep the session state as it was.'),
    )
  }
}

/** Which check of a file's decryption failed (`file-stream.ts`; docs/file-encryption.md says what each catches). */
export type FileDecryptionFailure =
  /** The header's length byte is not this format's, or the stream ends inside the header. */
  | 'header'
  /** A segment's tag did not verify: modified, dropped, repeated, reordered, from another file, wrong key or associated data. */
  | 'segment'
  /** The stream ended before its last segment: cut at a segment boundary or inside the last segment. */
  | 'truncated'
  /** Bytes follow the segment that was sealed as the last one. */
  | 'trailing-data'

/**
 * A file stream did not decrypt (`file-stream.ts`). `reason` says which check failed, `details.segment` at which
 * segment (0-based). The decrypting stream errors at that point: what it emitted before came from segments that
 * verified, but the file as a whole is not authentic, so a consumer must discard everything it wrote.
 */
export class FileDecryptionError extends DecryptionFailedError {
  override name = 'FileDecryptionError'
  readonly reason: FileDecryptionFailure

  constructor(reason: FileDecryptionFailure, message: string, options: CryptoErrorOptions = {}) {
    super(
      message,
      withHint(
        options,
        'Delete whatever was written from this stream: the file is incomplete, corrupted or forged. Fetch it again.',
      ),
    )
    this.reason = reason
  }
}

/** A key of the wrong size, a point that is not a valid public key, or a low-order point. */
export class InvalidKeyError extends CryptoError {
  override name = 'InvalidKeyError'
  constructor(message = 'invalid key', options: CryptoErrorOptions = {}) {
    super(message, withHint(options, "Fetch the peer's key bundle again and verify it before use."))
  }
}

/** A signature (key bundle, prekey) that does not verify for the expected signer. */
export class InvalidSignatureError extends CryptoError {
  override name = 'InvalidSignatureError'
  constructor(message = 'invalid signature', options: CryptoErrorOptions = {}) {
    super(message, withHint(options, 'Do not use the signed data; fetch it again from another peer or relay.'))
  }
}

/**
 * A message would need more skipped message keys than allowed: its counter jumps further ahead
 * of the receiving chain than `MAX_FORWARD_JUMP` / `SENDER_KEY_MAX_FORWARD_JUMP`.
 */
export class SkippedKeyLimitError extends CryptoError {
  override name = 'SkippedKeyLimitError'
  constructor(message = 'message is too far ahead of the receiving chain', options: CryptoErrorOptions = {}) {
    super(
      message,
      withHint(options, 'Drop the message. If the peer is honest, the session must be restarted (new handshake).'),
    )
  }
}

/**
 * A message whose key is no longer available: it was already decrypted, or it is older than
 * the stored skipped keys (evicted after `MAX_SKIPPED_MESSAGE_KEYS`). Either way it is not
 * accepted a second time.
 */
export class DuplicateMessageError extends CryptoError {
  override name = 'DuplicateMessageError'
  constructor(message = 'message already received or expired', options: CryptoErrorOptions = {}) {
    super(message, withHint(options, 'Ignore it: the message was delivered before, or its key was evicted.'))
  }
}

/** Bytes that do not parse: wrong version, truncated, trailing data, out-of-range field. */
export class MalformedMessageError extends CryptoError {
  override name = 'MalformedMessageError'
  constructor(message = 'malformed encoding', options: CryptoErrorOptions = {}) {
    super(message, withHint(options, 'Drop the input; it was not produced by a compatible SecureChat peer.'))
  }
}

/** An initial PQXDH message names a prekey we do not have (already used, rotated away, unknown). */
export class PrekeyNotFoundError extends CryptoError {
  override name = 'PrekeyNotFoundError'
  constructor(message = 'prekey not found', options: CryptoErrorOptions = {}) {
    super(
      message,
      withHint(options, 'The initiator must fetch a fresh key bundle and start again; one-time prekeys work once.'),
    )
  }
}

/** A room message from a (sender, epoch) whose sender key we have not received (or evicted). */
export class SenderKeyNotFoundError extends CryptoError {
  override name = 'SenderKeyNotFoundError'
  constructor(message = 'no sender key for this sender and epoch', options: CryptoErrorOptions = {}) {
    super(
      message,
      withHint(options, "Keep the message and retry after the sender's key distribution arrives, or ask for it."),
    )
  }
}

/**
 * A pairwise channel entry (`pairwise-channel.ts`) wrapped on a channel this device does not hold:
 * it lost the channel state (restart without it, another device) or missed the sealed entry that
 * opened it. Nothing can open it here; the sender must seal afresh.
 */
export class ChannelNotFoundError extends CryptoError {
  override name = 'ChannelNotFoundError'
  constructor(message = 'no pairwise channel for this entry', options: CryptoErrorOptions = {}) {
    super(message, withHint(options, 'Ask the sender to seal its key again (a room presence `want`).'))
  }
}

/** An operation the current state cannot do (e.g. send before the first message arrived). */
export class InvalidStateError extends CryptoError {
  override name = 'InvalidStateError'
}
