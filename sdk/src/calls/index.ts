/**
 * `@securechat/sdk/calls`: end-to-end encryption of call media (issue 17), starting with SFrame (RFC 9605): a
 * sender context per participant and KID, a receiver holding the others' keys, frames that keep their codec header
 * in the clear for the packetizer; call signalling (`signals.ts`): the `here`, `leave`, `offer` and `answer` signals
 * rooms and DMs carry (`Room.sendCallSignal`, `Conversation.sendCallSignal`, the `call:signal` events); and the SFU
 * protocol a relay's forwarding unit speaks (`sfu-wire.ts`). Media is the app's (docs/architecture.md, Calls).
 */
export {
  CALL_HERE_INTERVAL_MS,
  CALL_HERE_TIMEOUT_MS,
  CALL_KEY_BYTES,
  CALL_MAX_KID,
  CALL_MAX_SDP_BYTES,
  CALL_SIGNAL_RECEIVE_BURST,
  CALL_SIGNALS_RECEIVED_PER_SECOND,
  SFRAME_DEFAULT_CIPHER_SUITE,
  SFRAME_MAX_CLEAR_BYTES,
  SFRAME_MAX_COUNTER,
  SFRAME_MAX_KID,
  SFRAME_REPLAY_WINDOW_FRAMES,
  SFrameCipherSuite,
} from './constants.ts'
export {
  SFrameCounterExhaustedError,
  SFrameDecryptionError,
  type SFrameDecryptionFailure,
  SfuRefusedError,
  SfuSessionError,
} from './errors.ts'
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
export {
  findSfuRelay,
  openSfuSession,
  SFU_WRITE_TIMEOUT_MS,
  type SfuSession,
  type SfuSessionEvents,
} from './sfu-session.ts'
export {
  decodeSfuEvent,
  decodeSfuRequest,
  encodeSfuEvent,
  encodeSfuRequest,
  MAX_SFU_FEED,
  MAX_SFU_FEEDS,
  MAX_SFU_FRAME_BYTES,
  MAX_SFU_MESSAGE_CHARS,
  MAX_SFU_SDP_BYTES,
  SFU_PROTOCOL,
  SFU_REFUSAL_REASONS,
  type SfuDecoded,
  type SfuEvent,
  type SfuFeed,
  type SfuRefusalReason,
  type SfuRequest,
} from './sfu-wire.ts'
export {
  type CallSignal,
  type CallSignalEvent,
  type CallSignalInput,
  callIdSchema,
  callSignalOf,
  callSignalSchema,
  createCallSignalGuard,
  decodeCallKey,
  encodeCallKey,
  isCallSignalFor,
  newCallId,
  parseCallSignal,
} from './signals.ts'
export { deriveSFrameKeySalt, SFRAME_MIN_BASE_KEY_BYTES, SFRAME_TAG_BYTES } from './suites.ts'
