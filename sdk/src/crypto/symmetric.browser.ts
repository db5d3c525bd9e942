/**
 * The symmetric primitives of every message in the browser: SHA-256, HMAC-SHA-256 and
 * HKDF-SHA-256 from `@noble/hashes` (synchronous), AES-256-GCM with raw keys from WebCrypto,
 * importing the key for its one use. The Node twin is `symmetric.node.ts`.
 */
import { hkdf } from '@noble/hashes/hkdf.js'
import { hmac } from '@noble/hashes/hmac.js'
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js'
import { bytesToHex } from '@noble/hashes/utils.js'

export function sha256(data: Uint8Array): Uint8Array {
  return nobleSha256(data)
}

export function sha256Hex(data: Uint8Array): string {
  return bytesToHex(nobleSha256(data))
}

/** An incremental SHA-256 (a file's content hash as it streams by). */
export function createSha256(): { update(data: Uint8Array): void; digest(): Uint8Array } {
  const hash = nobleSha256.create()
  return {
    update(data) {
      hash.update(data)
    },
    digest: () => hash.digest(),
  }
}

export function hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
  return hmac(nobleSha256, key, data)
}

/** RFC 5869; an empty salt is the RFC's string of zero bytes. */
export function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  return hkdf(nobleSha256, ikm, salt.length === 0 ? undefined : salt, info, length)
}

/** `ciphertext || tag` (16-byte tag). */
export function sealRaw(
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  associatedData: Uint8Array,
): Promise<Uint8Array> {
  return aesGcm('encrypt', key, nonce, plaintext, associatedData)
}

/** Opens `ciphertext || tag`; throws when it does not authenticate. */
export function openRaw(
  key: Uint8Array,
  nonce: Uint8Array,
  sealed: Uint8Array,
  associatedData: Uint8Array,
): Promise<Uint8Array> {
  return aesGcm('decrypt', key, nonce, sealed, associatedData)
}

/** One AES-256-GCM operation, the raw key imported for it alone. */
async function aesGcm(
  use: 'encrypt' | 'decrypt',
  key: Uint8Array,
  nonce: Uint8Array,
  input: Uint8Array,
  associatedData: Uint8Array,
): Promise<Uint8Array> {
  const subtle = globalThis.crypto.subtle
  const cryptoKey = await subtle.importKey('raw', copy(key), { name: 'AES-GCM' }, false, [use])
  const params = { name: 'AES-GCM', iv: copy(nonce), additionalData: copy(associatedData), tagLength: 128 }
  const output =
    use === 'encrypt'
      ? await subtle.encrypt(params, cryptoKey, copy(input))
      : await subtle.decrypt(params, cryptoKey, copy(input))
  return new Uint8Array(output)
}

/** WebCrypto takes an ArrayBuffer-backed view; a subarray of a SharedArrayBuffer is copied. */
function copy(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : new Uint8Array(bytes)
}
