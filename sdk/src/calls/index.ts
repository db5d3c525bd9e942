/**
 * `@securechat/sdk/calls`: end-to-end encryption of call media (issue 17), starting with SFrame (RFC 9605): a
 * sender context per participant and KID, a receiver holding the others' keys, frames that keep their codec header
 * in the clear for the packetizer. Signalling, media and key distribution are not built yet (docs/architecture.md,
 * Calls).
 */
export {
  SFRAME_DEFAULT_CIPHER_SUITE,
  SFRAME_MAX_CLEAR_BYTES,
  SFRAME_MAX_COUNTER,
  SFRAME_MAX_KID,
  SFRAME_REPLAY_WINDOW_FRAMES,
  SFrameCipherSuite,
} from './constants.ts'
export { SFrameCounterExhaustedError, SFrameDecryptionError, type SFrameDecryptionFailure } from './errors.ts'
export { decodeSFrameHeader, encodeSFrameHeader, SFRAME_MAX_HEADER_BYTES, type SFrameHeader } from './header.ts'
export {
  createSFrameReceiver,
  createSFrameSender,
  type SFrameDecrypted,
  type SFrameFrameOptions,
  type SFrameReceiver,
  type SFrameReceiverInit,
  type SFrameSender,
  type SFrameSenderInit,
} from './sframe.ts'
export { deriveSFrameKeySalt, SFRAME_MIN_BASE_KEY_BYTES, SFRAME_TAG_BYTES } from './suites.ts'
