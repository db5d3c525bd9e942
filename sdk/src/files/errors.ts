/**
 * Errors of file transfers, on the sdk's `SecureChatError` (name, message, `details`, `hint`). A file that fails
 * its decryption throws the crypto layer's `FileDecryptionError` (which check failed, at which segment).
 */
import { SecureChatError, type SecureChatErrorOptions } from '../errors.ts'

/** A file manifest that is not one: from a peer, malformed or out of bounds. Nothing was fetched. */
export class InvalidFileManifestError extends SecureChatError {
  override name = 'InvalidFileManifestError'
}

/**
 * The file decrypted but is not the one the manifest names: another size or another SHA-256. The download errors
 * at its end instead of closing, so whatever was written from it must be discarded.
 */
export class FileIntegrityError extends SecureChatError {
  override name = 'FileIntegrityError'
}

/**
 * No connected peer gave the file's next block in time: the sender and the relays that kept it are offline, or it
 * expired from their retention. What was written so far is a verified prefix that a later attempt can resume from.
 */
export class FileUnavailableError extends SecureChatError {
  override name = 'FileUnavailableError'
}

/** Why a relay refused to keep a file (`requestPin`); the `reason` of its answer. */
export const FILE_PIN_REFUSAL_REASONS = [
  'not-a-member',
  'too-large',
  'room-quota',
  'relay-full',
  'unavailable',
  'malformed',
  'busy',
] as const
export type FilePinRefusalReason = (typeof FILE_PIN_REFUSAL_REASONS)[number]

/**
 * A relay answered a pin request with a refusal: `reason` says which (the file stays where it was; only this relay
 * does not keep it), `hint` what to do (the relay's own, when it sent one).
 */
export class FilePinRefusedError extends SecureChatError {
  override name = 'FilePinRefusedError'
  readonly reason: FilePinRefusalReason

  constructor(reason: FilePinRefusalReason, message: string, options: SecureChatErrorOptions = {}) {
    super(message, options)
    this.reason = reason
  }
}

/** No answer, or not one: the relay is unreachable, went silent, or sent something malformed. */
export class FilePinRequestError extends SecureChatError {
  override name = 'FilePinRequestError'
}

/**
 * A share that asked for a relay to keep its file (`shareFile` with `requireKept`) found none that would: nothing
 * was sent. `details.refusedBy` lists the relays asked and why each said no.
 */
export class FileNotKeptError extends SecureChatError {
  override name = 'FileNotKeptError'
}
