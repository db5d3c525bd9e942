/**
 * The one module the rest of the sdk imports for cryptographic primitives. Nothing here is
 * implemented by us: every function composes WebCrypto (`globalThis.crypto`, in browsers and
 * Node 24), Node's `node:crypto` (OpenSSL; the symmetric primitives of each message, see `symmetric.node.ts`) or
 * a pinned `@noble/*` package exactly as its specification says.
 *
 * | primitive | backend | specification |
 * | --- | --- | --- |
 * | random bytes | `crypto.getRandomValues` | W3C WebCrypto |
 * | SHA-256, HMAC-SHA-256, HKDF-SHA-256 | `node:crypto` on Node, `@noble/hashes` in browsers (`symmetric.node.ts`), synchronous | FIPS 180-4, RFC 2104, RFC 5869 |
 * | Keccak-256 (audit Merkle trees, as Solidity hashes) | `@noble/hashes` | Keccak (pre-FIPS 202 padding) |
 * | hex encoding of digests and keys | `@noble/hashes` utils | lowercase, no `0x` |
 * | AES-256-GCM (raw keys) | `node:crypto` on Node, WebCrypto in browsers (`symmetric.node.ts`) | NIST SP 800-38D |
 * | X25519 | WebCrypto, falling back to `@noble/curves` where WebCrypto lacks it | RFC 7748 |
 * | Ed25519 | `@noble/curves` | RFC 8032 |
 * | Ed25519 verification of gossip signatures | as libp2p verifies them: OpenSSL on Node, on its thread pool (`ed25519-verify.node.ts`); libp2p's key in browsers | RFC 8032 |
 * | ML-KEM-768 | `@noble/post-quantum` | FIPS 203 |
 * | X-Wing (ML-KEM-768 + X25519) | `@noble/post-quantum` `ml_kem768_x25519` | draft-connolly-cfrg-xwing-kem |
 * | Argon2id (vault passphrases) | `@noble/hashes` | RFC 9106 |
 * | vault wrapping keys (HKDF → non-extractable AES-256-GCM) | WebCrypto | RFC 5869, SP 800-38D |
 *
 * Failures surface as the named errors of `./errors.ts`, never as a bare `Error`.
 */

import { ed25519, x25519 as nobleX25519 } from '@noble/curves/ed25519.js'
import { equalBytes as nobleEqualBytes } from '@noble/curves/utils.js'
import { argon2idAsync } from '@noble/hashes/argon2.js'
import { keccak_256 } from '@noble/hashes/sha3.js'
import { bytesToHex as nobleBytesToHex, hexToBytes as nobleHexToBytes } from '@noble/hashes/utils.js'
import { ml_kem768_x25519 } from '@noble/post-quantum/hybrid.js'
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js'
import {
  AES_256_GCM_KEY_BYTES,
  AES_GCM_NONCE_BYTES,
  AES_GCM_TAG_BYTES,
  ED25519_PUBLIC_KEY_BYTES,
  ED25519_SIGNATURE_BYTES,
  ML_KEM_768_CIPHERTEXT_BYTES,
  ML_KEM_768_PUBLIC_KEY_BYTES,
  ML_KEM_768_SECRET_KEY_BYTES,
  ML_KEM_768_SEED_BYTES,
  SHARED_SECRET_BYTES,
  X25519_KEY_BYTES,
  XWING_CIPHERTEXT_BYTES,
  XWING_PUBLIC_KEY_BYTES,
  XWING_SECRET_KEY_BYTES,
} from './constants.ts'
import { verifyEd25519 } from './ed25519-verify.node.ts'
import { DecryptionFailedError, InvalidKeyError, MalformedMessageError } from './errors.ts'
import * as symmetric from './symmetric.node.ts'

/** A public/secret key pair. Secret keys never leave the device except wrapped (vault). */
export interface KeyPair {
  readonly publicKey: Uint8Array
  readonly secretKey: Uint8Array
}

// ---------------------------------------------------------------------------------------------
// Byte helpers
// ---------------------------------------------------------------------------------------------

/** Throws `InvalidKeyError` unless `value` is a Uint8Array of `length` bytes. */
export function assertKeyBytes(value: Uint8Array, length: number, field: string): void {
  if (!(value instanceof Uint8Array) || value.length !== length) {
    throw new InvalidKeyError(`${field} must be ${length} bytes`, {
      details: { field, expected: length, received: value instanceof Uint8Array ? value.length : typeof value },
    })
  }
}

/** Throws `MalformedMessageError` unless a KEM ciphertext (of `kem`) is `length` bytes. */
function assertCiphertextBytes(cipherText: Uint8Array, length: number, kem: string): void {
  if (cipherText.length !== length) {
    throw new MalformedMessageError(`${kem} ciphertext has the wrong size`, {
      details: { expected: length, received: cipherText.length },
    })
  }
}

/** Concatenation of byte strings. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let length = 0
  for (const part of parts) length += part.length
  const out = new Uint8Array(length)
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

/**
 * Equality that takes the same time for any two inputs of equal length (noble's
 * `equalBytes`), for comparing MACs, hashes and keys. Different lengths return `false` at once.
 */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return nobleEqualBytes(a, b)
}

/** Overwrites secret bytes with zeros. Best effort: JavaScript may have copied them. */
export function wipe(...arrays: Array<Uint8Array | null | undefined>): void {
  for (const array of arrays) array?.fill(0)
}

/** WebCrypto wants an ArrayBuffer-backed view; copy only when the view is backed by something else. */
function bufferSource(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : new Uint8Array(bytes)
}

function subtle(): SubtleCrypto {
  const s = globalThis.crypto?.subtle
  if (s === undefined) {
    throw new Error('WebCrypto (crypto.subtle) is not available: a secure context (HTTPS) or Node >= 20 is required')
  }
  return s
}

// ---------------------------------------------------------------------------------------------
// Randomness and hashing
// ---------------------------------------------------------------------------------------------

/** Cryptographically secure random bytes from the platform CSPRNG. */
export function randomBytes(length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 0) throw new RangeError(`randomBytes: invalid length ${length}`)
  const out = new Uint8Array(length)
  // getRandomValues fills at most 65,536 bytes per call.
  for (let offset = 0; offset < length; offset += 65_536) {
    globalThis.crypto.getRandomValues(out.subarray(offset, Math.min(length, offset + 65_536)))
  }
  return out
}

/** SHA-256 (FIPS 180-4). */
export function sha256(data: Uint8Array): Uint8Array {
  return symmetric.sha256(data)
}

/** SHA-256 as lowercase hex: record ids, room ids, cache keys. */
export function sha256Hex(data: Uint8Array): string {
  return symmetric.sha256Hex(data)
}

/** An incremental SHA-256: bytes in as they stream by, the digest once at the end. */
export interface Sha256Stream {
  update(data: Uint8Array): void
  /** The digest of everything given to `update`; the hash is spent after this. */
  digest(): Uint8Array
}

/**
 * SHA-256 (FIPS 180-4) over data that arrives in pieces, such as a file streamed through: the same digest as
 * {@link sha256} of the concatenation, with a constant state. `node:crypto` on Node, `@noble/hashes` in browsers
 * (WebCrypto has no incremental digest).
 */
export function createSha256(): Sha256Stream {
  return symmetric.createSha256()
}

/** SHA-256 as 0x-prefixed lowercase hex (a bytes32): the ciphertext hash that audit leaves and send results carry. */
export function sha256Bytes32(data: Uint8Array): `0x${string}` {
  return `0x${sha256Hex(data)}`
}

/** Keccak-256, Ethereum's hash (not FIPS 202 SHA3-256): what the AuditLog contract's Merkle proofs use. */
export function keccak256(data: Uint8Array): Uint8Array {
  return keccak_256(data)
}

/** Lowercase hex of `bytes`, without `0x`. */
export function bytesToHex(bytes: Uint8Array): string {
  return nobleBytesToHex(bytes)
}

/** The bytes of an even-length hex string without `0x`; throws on anything else. */
export function hexToBytes(hex: string): Uint8Array {
  return nobleHexToBytes(hex)
}

/** HMAC-SHA-256 (RFC 2104). */
export function hmacSha256(params: { key: Uint8Array; data: Uint8Array }): Uint8Array {
  return symmetric.hmacSha256(params.key, params.data)
}

/**
 * HKDF-SHA-256, extract then expand (RFC 5869). An empty or absent `salt` means a string of
 * 32 zero bytes, as the RFC specifies.
 */
export function hkdfSha256(params: {
  ikm: Uint8Array
  salt?: Uint8Array
  info: Uint8Array
  length: number
}): Uint8Array {
  const { ikm, salt, info, length } = params
  if (!Number.isInteger(length) || length < 1 || length > 255 * 32) {
    throw new RangeError(`hkdfSha256: length must be 1..8160, got ${length}`)
  }
  return symmetric.hkdfSha256(ikm, salt ?? new Uint8Array(0), info, length)
}

// ---------------------------------------------------------------------------------------------
// AES-256-GCM (raw keys: node:crypto on Node, WebCrypto in the browser; see symmetric.node.ts)
// ---------------------------------------------------------------------------------------------

/**
 * AES-256-GCM with an explicit nonce. Returns `ciphertext || tag` (16-byte tag). The caller
 * guarantees the (key, nonce) pair is never reused — the ratchets derive a fresh key and
 * nonce per message; everything else should use {@link aesGcmEncrypt}.
 */
export async function aesGcmSeal(params: {
  key: Uint8Array
  nonce: Uint8Array
  plaintext: Uint8Array
  associatedData?: Uint8Array
}): Promise<Uint8Array> {
  const { key, nonce, plaintext, associatedData } = params
  assertKeyBytes(key, AES_256_GCM_KEY_BYTES, 'AES-256-GCM key')
  assertKeyBytes(nonce, AES_GCM_NONCE_BYTES, 'AES-GCM nonce')
  return symmetric.sealRaw(key, nonce, plaintext, associatedData ?? new Uint8Array(0))
}

/**
 * Opens `ciphertext || tag` from {@link aesGcmSeal}. Any change to key, nonce, ciphertext,
 * tag or associated data throws `DecryptionFailedError`.
 */
export async function aesGcmOpen(params: {
  key: Uint8Array
  nonce: Uint8Array
  ciphertext: Uint8Array
  associatedData?: Uint8Array
}): Promise<Uint8Array> {
  const { key, nonce, ciphertext, associatedData } = params
  assertKeyBytes(key, AES_256_GCM_KEY_BYTES, 'AES-256-GCM key')
  assertKeyBytes(nonce, AES_GCM_NONCE_BYTES, 'AES-GCM nonce')
  if (ciphertext.length < AES_GCM_TAG_BYTES) {
    throw new DecryptionFailedError('ciphertext shorter than the authentication tag', {
      details: { length: ciphertext.length, minimum: AES_GCM_TAG_BYTES },
    })
  }
  try {
    return await symmetric.openRaw(key, nonce, ciphertext, associatedData ?? new Uint8Array(0))
  } catch (cause) {
    throw new DecryptionFailedError('AES-256-GCM authentication failed', { cause })
  }
}

/**
 * AES-256-GCM with a fresh random 12-byte nonce.
 *
 * Format: `nonce (12) || ciphertext (plaintext length) || tag (16)`.
 *
 * Random 96-bit nonces are safe for up to 2^32 messages per key (NIST SP 800-38D, 8.3).
 */
export async function aesGcmEncrypt(params: {
  key: Uint8Array
  plaintext: Uint8Array
  associatedData?: Uint8Array
}): Promise<Uint8Array> {
  const nonce = randomBytes(AES_GCM_NONCE_BYTES)
  const sealed = await aesGcmSeal({ ...params, nonce })
  return concatBytes(nonce, sealed)
}

/** Opens the output of {@link aesGcmEncrypt}; throws `DecryptionFailedError` on any change. */
export async function aesGcmDecrypt(params: {
  key: Uint8Array
  ciphertext: Uint8Array
  associatedData?: Uint8Array
}): Promise<Uint8Array> {
  const { key, ciphertext, associatedData } = params
  if (ciphertext.length < AES_GCM_NONCE_BYTES + AES_GCM_TAG_BYTES) {
    throw new DecryptionFailedError('ciphertext shorter than nonce and tag', {
      details: { length: ciphertext.length, minimum: AES_GCM_NONCE_BYTES + AES_GCM_TAG_BYTES },
    })
  }
  return aesGcmOpen({
    key,
    nonce: ciphertext.subarray(0, AES_GCM_NONCE_BYTES),
    ciphertext: ciphertext.subarray(AES_GCM_NONCE_BYTES),
    ...(associatedData === undefined ? {} : { associatedData }),
  })
}

// ---------------------------------------------------------------------------------------------
// X25519 (RFC 7748)
// ---------------------------------------------------------------------------------------------

/** PKCS#8 prefix of an X25519 private key (RFC 8410): the 32 raw bytes follow it. */
const X25519_PKCS8_PREFIX = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20,
])

let webCryptoX25519: Promise<boolean> | undefined

/** Whether this runtime's WebCrypto does X25519 (Node 20+, current browsers); checked once. */
function hasWebCryptoX25519(): Promise<boolean> {
  webCryptoX25519 ??= (async () => {
    try {
      await subtle().generateKey({ name: 'X25519' }, true, ['deriveBits'])
      return true
    } catch {
      return false
    }
  })()
  return webCryptoX25519
}

/** A fresh X25519 key pair (32-byte secret key, 32-byte public key). */
export async function x25519Keygen(): Promise<KeyPair> {
  if (await hasWebCryptoX25519()) {
    const pair = (await subtle().generateKey({ name: 'X25519' }, true, ['deriveBits'])) as CryptoKeyPair
    const pkcs8 = new Uint8Array(await subtle().exportKey('pkcs8', pair.privateKey))
    const publicKey = new Uint8Array(await subtle().exportKey('raw', pair.publicKey))
    if (
      pkcs8.length === X25519_PKCS8_PREFIX.length + X25519_KEY_BYTES &&
      equalBytes(pkcs8.subarray(0, X25519_PKCS8_PREFIX.length), X25519_PKCS8_PREFIX) &&
      publicKey.length === X25519_KEY_BYTES
    ) {
      const secretKey = pkcs8.slice(X25519_PKCS8_PREFIX.length)
      wipe(pkcs8)
      return { publicKey, secretKey }
    }
    wipe(pkcs8)
  }
  const { secretKey, publicKey } = nobleX25519.keygen()
  return { publicKey, secretKey }
}

/** The X25519 public key of a secret key. */
export function x25519PublicKey(secretKey: Uint8Array): Uint8Array {
  assertKeyBytes(secretKey, X25519_KEY_BYTES, 'X25519 secret key')
  return nobleX25519.getPublicKey(secretKey)
}

/**
 * X25519 Diffie-Hellman. Throws `InvalidKeyError` for a public key of the wrong size and for a
 * low-order point (all-zero shared secret, the check RFC 7748 section 6.1 allows), so a peer
 * cannot force a known shared secret.
 */
export async function x25519SharedSecret(params: {
  secretKey: Uint8Array
  publicKey: Uint8Array
}): Promise<Uint8Array> {
  const { secretKey, publicKey } = params
  assertKeyBytes(secretKey, X25519_KEY_BYTES, 'X25519 secret key')
  assertKeyBytes(publicKey, X25519_KEY_BYTES, 'X25519 public key')
  let shared: Uint8Array
  try {
    if (await hasWebCryptoX25519()) {
      const pkcs8 = concatBytes(X25519_PKCS8_PREFIX, secretKey)
      const privateKey = await subtle().importKey('pkcs8', bufferSource(pkcs8), { name: 'X25519' }, false, [
        'deriveBits',
      ])
      wipe(pkcs8)
      const peer = await subtle().importKey('raw', bufferSource(publicKey), { name: 'X25519' }, true, [])
      shared = new Uint8Array(await subtle().deriveBits({ name: 'X25519', public: peer }, privateKey, 256))
    } else {
      shared = nobleX25519.getSharedSecret(secretKey, publicKey)
    }
  } catch (cause) {
    throw new InvalidKeyError('X25519 agreement failed: the public key is invalid or of low order', { cause })
  }
  if (shared.every((byte) => byte === 0)) {
    throw new InvalidKeyError('X25519 agreement produced the all-zero secret (low-order public key)')
  }
  return shared
}

// ---------------------------------------------------------------------------------------------
// Ed25519 (RFC 8032)
// ---------------------------------------------------------------------------------------------

/** A fresh Ed25519 key pair (32-byte secret seed, 32-byte public key). */
export function ed25519Keygen(): KeyPair {
  const { secretKey, publicKey } = ed25519.keygen()
  return { publicKey, secretKey }
}

/** Ed25519 signature (64 bytes) of `message`. */
export function ed25519Sign(params: { message: Uint8Array; secretKey: Uint8Array }): Uint8Array {
  assertKeyBytes(params.secretKey, 32, 'Ed25519 secret key')
  return ed25519.sign(params.message, params.secretKey)
}

/** Whether `signature` is a valid Ed25519 signature of `message` by `publicKey`. Never throws on bad input. */
export function ed25519Verify(params: { signature: Uint8Array; message: Uint8Array; publicKey: Uint8Array }): boolean {
  const { signature, message, publicKey } = params
  if (signature.length !== ED25519_SIGNATURE_BYTES || publicKey.length !== ED25519_PUBLIC_KEY_BYTES) return false
  try {
    return ed25519.verify(signature, message, publicKey)
  } catch {
    return false
  }
}

/**
 * Whether `signature` is a valid Ed25519 signature of `message` by `publicKey`, checked as libp2p
 * checks a gossip message's signature on this platform (so a stored record passes exactly when
 * it would pass live), off the main thread on Node: many at once use every core. Never rejects.
 */
export async function ed25519VerifyGossip(params: {
  signature: Uint8Array
  message: Uint8Array
  publicKey: Uint8Array
}): Promise<boolean> {
  const { signature, message, publicKey } = params
  if (signature.length !== ED25519_SIGNATURE_BYTES || publicKey.length !== ED25519_PUBLIC_KEY_BYTES) return false
  return await verifyEd25519(publicKey, message, signature)
}

// ---------------------------------------------------------------------------------------------
// ML-KEM-768 (FIPS 203)
// ---------------------------------------------------------------------------------------------

/** An ML-KEM-768 key pair with the 64-byte seed it was derived from (the compact form to store). */
export interface MlKem768KeyPair extends KeyPair {
  readonly seed: Uint8Array
}

/** ML-KEM-768 key generation; deterministic when a 64-byte `seed` (d || z) is given. */
export function mlKem768Keygen(seed: Uint8Array = randomBytes(ML_KEM_768_SEED_BYTES)): MlKem768KeyPair {
  assertKeyBytes(seed, ML_KEM_768_SEED_BYTES, 'ML-KEM-768 seed')
  const { publicKey, secretKey } = ml_kem768.keygen(seed)
  return { publicKey, secretKey, seed: seed.slice() }
}

/**
 * ML-KEM-768 encapsulation to `publicKey`. Throws `InvalidKeyError` when the key fails the
 * FIPS 203 input check (wrong size or coefficients out of range).
 */
export function mlKem768Encapsulate(publicKey: Uint8Array): { cipherText: Uint8Array; sharedSecret: Uint8Array } {
  assertKeyBytes(publicKey, ML_KEM_768_PUBLIC_KEY_BYTES, 'ML-KEM-768 public key')
  try {
    return ml_kem768.encapsulate(publicKey)
  } catch (cause) {
    throw new InvalidKeyError('ML-KEM-768 public key failed the FIPS 203 check', { cause })
  }
}

/**
 * ML-KEM-768 decapsulation. A modified ciphertext does not throw (implicit rejection, FIPS 203):
 * it yields an unrelated secret, so the AEAD that follows fails.
 */
export function mlKem768Decapsulate(params: { cipherText: Uint8Array; secretKey: Uint8Array }): Uint8Array {
  const { cipherText, secretKey } = params
  assertKeyBytes(secretKey, ML_KEM_768_SECRET_KEY_BYTES, 'ML-KEM-768 secret key')
  assertCiphertextBytes(cipherText, ML_KEM_768_CIPHERTEXT_BYTES, 'ML-KEM-768')
  return ml_kem768.decapsulate(cipherText, secretKey)
}

// ---------------------------------------------------------------------------------------------
// X-Wing: ML-KEM-768 + X25519 hybrid KEM (draft-connolly-cfrg-xwing-kem), noble's ml_kem768_x25519
// ---------------------------------------------------------------------------------------------

/** X-Wing key generation; the secret key is a 32-byte seed. Deterministic when `seed` is given. */
export function xwingKeygen(seed: Uint8Array = randomBytes(XWING_SECRET_KEY_BYTES)): KeyPair {
  assertKeyBytes(seed, XWING_SECRET_KEY_BYTES, 'X-Wing seed')
  const { publicKey, secretKey } = ml_kem768_x25519.keygen(seed)
  return { publicKey, secretKey }
}

/**
 * X-Wing encapsulation. `randomness` (64 bytes) is for published test vectors only; leave it out
 * to use the CSPRNG.
 */
export function xwingEncapsulate(params: { publicKey: Uint8Array; randomness?: Uint8Array }): {
  cipherText: Uint8Array
  sharedSecret: Uint8Array
} {
  const { publicKey, randomness } = params
  assertKeyBytes(publicKey, XWING_PUBLIC_KEY_BYTES, 'X-Wing public key')
  try {
    return ml_kem768_x25519.encapsulate(publicKey, randomness)
  } catch (cause) {
    throw new InvalidKeyError('X-Wing public key is invalid', { cause })
  }
}

/** X-Wing decapsulation. Like ML-KEM, a modified ciphertext yields an unrelated secret. */
export function xwingDecapsulate(params: { cipherText: Uint8Array; secretKey: Uint8Array }): Uint8Array {
  const { cipherText, secretKey } = params
  assertKeyBytes(secretKey, XWING_SECRET_KEY_BYTES, 'X-Wing secret key')
  assertCiphertextBytes(cipherText, XWING_CIPHERTEXT_BYTES, 'X-Wing')
  try {
    return ml_kem768_x25519.decapsulate(cipherText, secretKey)
  } catch (cause) {
    throw new InvalidKeyError('X-Wing decapsulation failed (invalid X25519 component)', { cause })
  }
}

// ---------------------------------------------------------------------------------------------
// Wrapping keys of the local vault (docs/architecture.md, Local vault): non-extractable WebCrypto keys
// ---------------------------------------------------------------------------------------------

/** Argon2id cost parameters (RFC 9106): memory in KiB, passes, lanes. */
export interface Argon2idParams {
  readonly memoryKiB: number
  readonly timeCost: number
  readonly parallelism: number
}

/**
 * Argon2id (RFC 9106, version 0x13) from `@noble/hashes`, 32 bytes out. Yields to the event loop
 * while it runs. The caller wipes the output once it is imported (see {@link deriveWrappingKey}).
 */
export async function argon2id(params: {
  password: Uint8Array
  salt: Uint8Array
  cost: Argon2idParams
}): Promise<Uint8Array> {
  const { password, salt, cost } = params
  if (salt.length < 16) throw new RangeError(`argon2id: salt must be at least 16 bytes, got ${salt.length}`)
  return argon2idAsync(password, salt, {
    m: cost.memoryKiB,
    t: cost.timeCost,
    p: cost.parallelism,
    dkLen: SHARED_SECRET_BYTES,
    maxmem: cost.memoryKiB * 1024 * 2,
  })
}

/**
 * An AES-256-GCM key that never leaves WebCrypto: `ikm` is imported as HKDF-SHA-256 key material
 * (non-extractable), and HKDF(salt, info) derives a non-extractable AES-GCM key for encrypt and
 * decrypt. The caller wipes `ikm` afterwards; no raw byte of the derived key exists in JS memory.
 */
export async function deriveWrappingKey(params: {
  ikm: Uint8Array
  salt: Uint8Array
  info: Uint8Array
}): Promise<CryptoKey> {
  const base = await subtle().importKey('raw', bufferSource(params.ikm), 'HKDF', false, ['deriveKey'])
  return subtle().deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt: bufferSource(params.salt), info: bufferSource(params.info) },
    base,
    { name: 'AES-GCM', length: AES_256_GCM_KEY_BYTES * 8 },
    false,
    ['encrypt', 'decrypt'],
  )
}

/**
 * AES-256-GCM under a WebCrypto key with a fresh random nonce: `nonce (12) || ciphertext || tag (16)`,
 * as {@link aesGcmEncrypt}. Random 96-bit nonces: at most 2^32 encryptions per key.
 */
export async function aesGcmWrap(params: {
  key: CryptoKey
  plaintext: Uint8Array
  associatedData: Uint8Array
}): Promise<Uint8Array> {
  const nonce = randomBytes(AES_GCM_NONCE_BYTES)
  const sealed = await subtle().encrypt(
    {
      name: 'AES-GCM',
      iv: bufferSource(nonce),
      additionalData: bufferSource(params.associatedData),
      tagLength: AES_GCM_TAG_BYTES * 8,
    },
    params.key,
    bufferSource(params.plaintext),
  )
  return concatBytes(nonce, new Uint8Array(sealed))
}

/** Opens {@link aesGcmWrap}'s output; throws `DecryptionFailedError` on any change or a wrong key. */
export async function aesGcmUnwrap(params: {
  key: CryptoKey
  wrapped: Uint8Array
  associatedData: Uint8Array
}): Promise<Uint8Array> {
  const { key, wrapped, associatedData } = params
  if (wrapped.length < AES_GCM_NONCE_BYTES + AES_GCM_TAG_BYTES) {
    throw new DecryptionFailedError('wrapped value shorter than nonce and tag', {
      details: { length: wrapped.length, minimum: AES_GCM_NONCE_BYTES + AES_GCM_TAG_BYTES },
    })
  }
  try {
    const opened = await subtle().decrypt(
      {
        name: 'AES-GCM',
        iv: bufferSource(wrapped.subarray(0, AES_GCM_NONCE_BYTES)),
        additionalData: bufferSource(associatedData),
        tagLength: AES_GCM_TAG_BYTES * 8,
      },
      key,
      bufferSource(wrapped.subarray(AES_GCM_NONCE_BYTES)),
    )
    return new Uint8Array(opened)
  } catch (cause) {
    throw new DecryptionFailedError('AES-256-GCM authentication failed', { cause })
  }
}
