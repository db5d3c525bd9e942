/**
 * Constants of the crypto core. Units are in the names; docs elsewhere point here instead of
 * repeating the values.
 */

// ---------------------------------------------------------------------------------------------
// Double Ratchet bounds (libsignal's values, as docs/architecture.md's Encryption section requires)
// ---------------------------------------------------------------------------------------------

/**
 * Most skipped message keys a Double Ratchet session stores (all receiving chains together);
 * the oldest is evicted first. libsignal's `MAX_MESSAGE_KEYS` is 2,000: enough for a burst of
 * reordering on a gossip mesh, small enough that a peer cannot make us hoard keys, and every
 * stored key is a key that would decrypt a message if the state leaked (forward secrecy).
 */
export const MAX_SKIPPED_MESSAGE_KEYS = 2_000

/**
 * Largest single forward jump of a receiving chain (message number minus the next expected
 * one). libsignal's `MAX_FORWARD_JUMPS` is 25,000: a peer that was offline for a long time
 * still catches up, while a forged header cannot make us compute millions of HMACs.
 */
export const MAX_FORWARD_JUMP = 25_000

/**
 * Previous receiving chains a Double Ratchet session remembers, so that a late message of an
 * old chain is recognised as a duplicate/expired message instead of being mistaken for a new
 * ratchet step. libsignal keeps 5 receiver chains.
 */
export const MAX_PREVIOUS_RECEIVING_CHAINS = 5

// ---------------------------------------------------------------------------------------------
// Sender keys (rooms)
// ---------------------------------------------------------------------------------------------

/**
 * A sender rotates its room sender key after this many messages. Megolm's default
 * (`rotation_period_msgs` = 100) is the bar docs/architecture.md sets; fewer messages per key means a
 * captured chain key reads less.
 */
export const SENDER_KEY_ROTATION_MESSAGES = 100

/** A sender rotates its room sender key after this age: Megolm's one week. */
export const SENDER_KEY_ROTATION_MS = 7 * 24 * 60 * 60 * 1000

/**
 * Most skipped message keys stored per (sender, epoch) receiving state; oldest evicted first.
 * Same reasoning and value as {@link MAX_SKIPPED_MESSAGE_KEYS} (libsignal uses 2,000 for
 * sender keys too). With rotation every {@link SENDER_KEY_ROTATION_MESSAGES} messages an honest
 * sender never comes near it.
 */
export const SENDER_KEY_MAX_SKIPPED_MESSAGE_KEYS = 2_000

/** Largest forward jump within one sender key chain; libsignal's value, as for the ratchet. */
export const SENDER_KEY_MAX_FORWARD_JUMP = 25_000

/**
 * Receiving states (epochs) kept per sender. After a rotation, messages of the previous epoch
 * may still be in flight or stored at relays; libsignal keeps 5 sender key states.
 */
export const SENDER_KEY_MAX_EPOCHS_PER_SENDER = 5

/**
 * Most steps a receiver's pairwise channel (`pairwise-channel.ts`) moves forward for one entry:
 * entries it never saw (lost records) are stepped over, each one HKDF. One step per rotation of
 * the sender, so a thousand is years of rotations; an entry further ahead is refused and the
 * sender seals afresh.
 */
export const CHANNEL_MAX_SKIPPED_STEPS = 1_000

/** Bytes of a pairwise channel's id (the head of its opening transcript hash). */
export const CHANNEL_ID_BYTES = 16

// ---------------------------------------------------------------------------------------------
// Prekeys (PQXDH)
// ---------------------------------------------------------------------------------------------

/** One-time X25519 prekeys generated per batch. Each costs 36 bytes of bundle. */
export const ONE_TIME_PREKEY_BATCH_SIZE = 20

/**
 * Signed prekeys (curve and PQ last-resort) are replaced after this age. Signal clients rotate
 * their signed prekey every few days; a week bounds how long a stolen signed prekey helps.
 */
export const SIGNED_PREKEY_ROTATION_MS = 7 * 24 * 60 * 60 * 1000

/**
 * Signed prekeys kept after rotation so that initial messages built on an older bundle still
 * decrypt. Two previous generations cover a rotation period of propagation delay.
 */
export const PREVIOUS_SIGNED_PREKEYS_KEPT = 2

/**
 * An initiator refuses a bundle whose prekeys are older than this (the responder has likely
 * rotated and deleted them, or the bundle is a replay).
 */
export const SIGNED_PREKEY_MAX_AGE_MS = 30 * 24 * 60 * 60 * 1000

// ---------------------------------------------------------------------------------------------
// Files (file-stream.ts: Tink's AES-GCM-HKDF streaming AEAD; docs/file-encryption.md)
// ---------------------------------------------------------------------------------------------

/**
 * A file's key: 32 random bytes, Tink's key size for AES-256 segment keys (its main key must be at least
 * as long as the derived key).
 */
export const FILE_KEY_BYTES = 32

/**
 * Ciphertext segment size of a file stream (Tink's `ciphertext_segment_size`; each segment holds this minus the
 * 16-byte tag of plaintext, the first one also minus the 40-byte header). 1 MiB makes our parameters exactly
 * Tink's `AES256_GCM_HKDF_1MB` template (32-byte key, HKDF-SHA256, 32-byte derived key, 1 MiB segments), so a
 * stock Tink key of that template reads our files. The benchmark agreed (docs/file-encryption.md): 64 KiB
 * segments run at half the speed of 256 KiB and 1 MiB, which are within noise of each other; a stream holds about
 * two segments, so 1 MiB costs ~2 MiB of memory per file being encrypted or decrypted. It is not written in the
 * header (as in Tink): changing it makes earlier files unreadable unless their size is kept with them.
 */
export const FILE_SEGMENT_BYTES = 1024 * 1024

/** HKDF salt in a file stream's header: as long as the derived key, as Tink requires. */
export const FILE_SALT_BYTES = 32
/** Random prefix of every segment nonce of a file (Tink: 7 bytes; then 4 counter bytes and the last-segment flag). */
export const FILE_NONCE_PREFIX_BYTES = 7
/** A file stream's header: its own length (1 byte), the salt, the nonce prefix. */
export const FILE_HEADER_BYTES = 1 + FILE_SALT_BYTES + FILE_NONCE_PREFIX_BYTES

// ---------------------------------------------------------------------------------------------
// Sizes fixed by the algorithms (bytes)
// ---------------------------------------------------------------------------------------------

/** AES-256-GCM key. */
export const AES_256_GCM_KEY_BYTES = 32
/** AES-GCM nonce (IV): 96 bits, the size NIST SP 800-38D recommends. */
export const AES_GCM_NONCE_BYTES = 12
/** AES-GCM authentication tag: the full 128 bits. */
export const AES_GCM_TAG_BYTES = 16
/** X25519 public key, secret key and shared secret (RFC 7748). */
export const X25519_KEY_BYTES = 32
/** Ed25519 public key (RFC 8032). */
export const ED25519_PUBLIC_KEY_BYTES = 32
/** Ed25519 signature (RFC 8032). */
export const ED25519_SIGNATURE_BYTES = 64
/**
 * Senders' Ed25519 keys kept imported for verifying gossip signatures (`ed25519-verify.node.ts`):
 * a catch-up meets a room's few senders thousands of times each.
 */
export const ED25519_VERIFY_KEY_CACHE_ENTRIES = 1_024
/** ML-KEM-768 encapsulation (public) key (FIPS 203). */
export const ML_KEM_768_PUBLIC_KEY_BYTES = 1184
/** ML-KEM-768 decapsulation (secret) key, expanded form (FIPS 203). */
export const ML_KEM_768_SECRET_KEY_BYTES = 2400
/** ML-KEM-768 key generation seed d || z (FIPS 203). */
export const ML_KEM_768_SEED_BYTES = 64
/** ML-KEM-768 ciphertext (FIPS 203). */
export const ML_KEM_768_CIPHERTEXT_BYTES = 1088
/** X-Wing (ML-KEM-768 + X25519) public key: ML-KEM-768 key || X25519 key. */
export const XWING_PUBLIC_KEY_BYTES = 1216
/** X-Wing secret key: a 32-byte seed. */
export const XWING_SECRET_KEY_BYTES = 32
/** X-Wing ciphertext: ML-KEM-768 ciphertext || X25519 ephemeral key. */
export const XWING_CIPHERTEXT_BYTES = 1120
/** Every shared secret and chain/root key in this module. */
export const SHARED_SECRET_BYTES = 32

/**
 * Tolerated clock difference when checking a bundle's prekey timestamps: a prekey created up to
 * this far in the future is accepted (peers' clocks differ), anything later is refused.
 */
export const BUNDLE_CLOCK_SKEW_MS = 5 * 60 * 1000

/** Most one-time prekeys a bundle may carry: bounds the size of a bundle we accept from the network. */
export const MAX_ONE_TIME_PREKEYS_PER_BUNDLE = 1000
