/**
 * SFrame's identifiers and our bounds (RFC 9605), with their units. What each cipher suite is made of lives in
 * `suites.ts`.
 */

/**
 * The cipher suites we implement, by their IANA value (RFC 9605 section 8.1). Both are AES-GCM with a 128-bit tag
 * through WebCrypto; the AES-CTR + HMAC suites with short tags (0x0001–0x0003) are not implemented.
 */
export const SFrameCipherSuite = {
  /** AES-128-GCM, HKDF-SHA-256, 16-byte tag. */
  AES_128_GCM_SHA256_128: 0x0004,
  /** AES-256-GCM, HKDF-SHA-512, 16-byte tag. */
  AES_256_GCM_SHA512_128: 0x0005,
} as const
export type SFrameCipherSuite = (typeof SFrameCipherSuite)[keyof typeof SFrameCipherSuite]

/**
 * The suite a context uses when its `Init` names none. Both ends must use the same one: a frame sealed under one
 * suite does not open under the other (the suite is in the key derivation's labels), so a call's signalling will
 * name it.
 */
export const SFRAME_DEFAULT_CIPHER_SUITE: SFrameCipherSuite = SFrameCipherSuite.AES_128_GCM_SHA256_128

/** The largest KID and CTR the header can carry: 8 bytes, 2^64 − 1. */
export const SFRAME_MAX_KID = 2n ** 64n - 1n
export const SFRAME_MAX_COUNTER = 2n ** 64n - 1n

/**
 * How far behind the highest counter seen from a KID a frame may arrive and still be accepted (once): the receiver's
 * anti-replay window, a bitmap of this many frames per KID (128 bytes), as SRTP's (RFC 3711 section 3.3.2) over
 * packets. Wide enough for a sender whose audio and video share a KID — about 80 frames a second between them — to
 * arrive seconds apart after their jitter buffers; an older frame is refused as too old.
 */
export const SFRAME_REPLAY_WINDOW_FRAMES = 1024

/**
 * The most bytes a frame may keep in the clear ahead of its SFrame ciphertext (`clearBytes`). The codecs' payload
 * headers need 1 (Opus's TOC byte), 3 (VP8 delta frame) or 10 (VP8 key frame); anything larger is a caller's bug
 * that would leave media unencrypted.
 */
export const SFRAME_MAX_CLEAR_BYTES = 16
