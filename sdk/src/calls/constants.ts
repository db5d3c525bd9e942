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

// --- Signalling (`signals.ts`, docs/architecture.md, Calls: signalling) ---

/**
 * A device in a call sends a `here` signal this often (and at once when its media state or key changes): it is the
 * call's membership, its ring and its key distribution, so a device that missed one hears the next soon.
 */
export const CALL_HERE_INTERVAL_MS = 10_000

/**
 * A device not heard (no `here`) for this long has left the call: two intervals and a half, so one lost `here` never
 * drops anyone, and a device that vanished without a `leave` is gone within half a minute.
 */
export const CALL_HERE_TIMEOUT_MS = 25_000

/**
 * The most UTF-8 bytes an `offer` or `answer`'s SDP may have. Non-trickle ICE puts every candidate inside it: an
 * audio, video and screen offer with a dozen candidates is 6–10 KiB; this leaves room and still fits a record
 * (`MAX_MESSAGE_BYTES`, 64 KiB) once encrypted and base64url-encoded.
 */
export const CALL_MAX_SDP_BYTES = 32 * 1024

/**
 * Call signals one sender may have this device open per second in one conversation, on average, and at once. A
 * budget of its own (not typing's): a device joining a six-person mesh sends its `here` and five offers at once, and
 * every member opens all six (an offer's `to` is inside the ciphertext), so the burst holds two such joins. An honest
 * device in a call sends one `here` every {@link CALL_HERE_INTERVAL_MS}; a flood past the rate is dropped unread.
 */
export const CALL_SIGNALS_RECEIVED_PER_SECOND = 2
export const CALL_SIGNAL_RECEIVE_BURST = 12

/** The largest KID a `here` signal may name: 2^48, so that it is an exact JSON number everywhere. */
export const CALL_MAX_KID = 2 ** 48

/** A call's SFrame base key, in bytes (AES_128_GCM_SHA256_128's key size). */
export const CALL_KEY_BYTES = 16
