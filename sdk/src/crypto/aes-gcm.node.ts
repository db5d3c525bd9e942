/**
 * AES-256-GCM with raw key bytes on Node: `node:crypto` (OpenSSL), synchronous. The ratchets use
 * each message key once, so WebCrypto would import a new CryptoKey per message and hop to its
 * thread pool, several times the cost of the cipher itself on a 1 KiB message.
 *
 * The browser twin is `aes-gcm.browser.ts` (WebCrypto); the package's `browser` field maps it.
 * `primitives.ts` checks lengths and turns failures into its named errors.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto'

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
  // A plain Uint8Array of its own (not a view into Node's shared Buffer pool).
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
