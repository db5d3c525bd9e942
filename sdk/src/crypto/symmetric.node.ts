/**
 * The symmetric primitives of every message on Node: SHA-256, HMAC-SHA-256, HKDF-SHA-256 and
 * AES-256-GCM with raw keys, from `node:crypto` (OpenSSL), synchronous. A room message steps a
 * chain (two HMACs), expands its key (HKDF), opens once and is hashed for its id: in pure
 * JavaScript the hashes cost several times OpenSSL's, and WebCrypto would import a new
 * CryptoKey per message key (each is used once) and hop to its thread pool.
 *
 * The browser twin is `symmetric.browser.ts` (`@noble/hashes` and WebCrypto); the package's
 * `browser` field maps it. Only `primitives.ts` imports either: it checks lengths and turns
 * failures into its named errors.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, hash, hkdfSync } from 'node:crypto'

// One-shot `hash` rather than `createHash`: no Hash object per call, several times faster on the
// small inputs of records (every message id is one, twice during a catch-up).
export function sha256(data: Uint8Array): Uint8Array {
  return own(hash('sha256', data, 'buffer'))
}

/** SHA-256 as lowercase hex, encoded by OpenSSL's side of Node (no digest bytes to copy). */
export function sha256Hex(data: Uint8Array): string {
  return hash('sha256', data, 'hex')
}

/** An incremental SHA-256 (a file's content hash as it streams by): OpenSSL's, several times noble's on large inputs. */
export function createSha256(): { update(data: Uint8Array): void; digest(): Uint8Array } {
  const hash = createHash('sha256')
  return {
    update(data) {
      hash.update(data)
    },
    digest: () => own(hash.digest()),
  }
}

export function hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
  return own(createHmac('sha256', key).update(data).digest())
}

/** RFC 5869; an empty salt is the RFC's string of zero bytes (HMAC pads the key with zeros). */
export function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', ikm, salt, info, length))
}

/** A plain Uint8Array of its own, not a view into Node's shared Buffer pool. */
function own(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer)
}

/** `ciphertext || tag` (16-byte tag). */
export async function sealRaw(
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  associatedData: Uint8Array,
): Promise<Uint8Array> {
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: 16 })
  cipher.setAAD(associatedData)
  const body = cipher.update(plaintext)
  const last = cipher.final()
  const tag = cipher.getAuthTag()
  const out = new Uint8Array(body.length + last.length + tag.length)
  out.set(body)
  out.set(last, body.length)
  out.set(tag, body.length + last.length)
  return out
}

/** Opens `ciphertext || tag`; throws when it does not authenticate. */
export async function openRaw(
  key: Uint8Array,
  nonce: Uint8Array,
  sealed: Uint8Array,
  associatedData: Uint8Array,
): Promise<Uint8Array> {
  const split = sealed.length - 16
  const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: 16 })
  decipher.setAAD(associatedData)
  decipher.setAuthTag(sealed.subarray(split))
  const body = decipher.update(sealed.subarray(0, split))
  const last = decipher.final()
  const out = new Uint8Array(body.length + last.length)
  out.set(body)
  out.set(last, body.length)
  body.fill(0)
  return out
}
