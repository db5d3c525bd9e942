/**
 * How many leading bytes of an encoded frame stay in the clear under SFrame (docs/architecture.md, Calls: media):
 * what WebRTC's packetizer and depacketizer read. Calls negotiate Opus and VP8 only (`mesh.ts` sets the codec
 * preferences), so the split is Opus's TOC byte, or VP8's payload header — 10 bytes on a key frame (frame tag, start
 * code, dimensions), 3 on a delta frame. Both ends derive it from what they see: the kind of track and the frame's
 * type, which the receiver's depacketizer reads from the (clear) VP8 frame tag.
 */
export const OPUS_CLEAR_BYTES = 1
export const VP8_KEY_FRAME_CLEAR_BYTES = 10
export const VP8_DELTA_FRAME_CLEAR_BYTES = 3

export type MediaKind = 'audio' | 'video'

/** The clear bytes of a frame of `kind` (`frameType`: an encoded video frame's `type`, `key` or `delta`). */
export function clearBytesOf(kind: MediaKind, frameType: string | undefined): number {
  if (kind === 'audio') return OPUS_CLEAR_BYTES
  return frameType === 'key' ? VP8_KEY_FRAME_CLEAR_BYTES : VP8_DELTA_FRAME_CLEAR_BYTES
}
