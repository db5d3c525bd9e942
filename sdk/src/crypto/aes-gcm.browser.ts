/**
 * AES-256-GCM with raw key bytes in the browser: WebCrypto, importing the key for this one use
 * (the ratchets use each message key once). The Node twin is `aes-gcm.node.ts`.
 */

/** `ciphertext || tag` (16-byte tag). */
export async function sealRaw(
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  associatedData: Uint8Array,
): Promise<Uint8Array> {
  const subtle = globalThis.crypto.subtle
  const cryptoKey = await subtle.importKey('raw', copy(key), { name: 'AES-GCM' }, false, ['encrypt'])
  const sealed = await subtle.encrypt(
    { name: 'AES-GCM', iv: copy(nonce), additionalData: copy(associatedData), tagLength: 128 },
    cryptoKey,
    copy(plaintext),
  )
  return new Uint8Array(sealed)
}

/** Opens `ciphertext || tag`; throws when it does not authenticate. */
export async function openRaw(
  key: Uint8Array,
  nonce: Uint8Array,
  sealed: Uint8Array,
  associatedData: Uint8Array,
): Promise<Uint8Array> {
  const subtle = globalThis.crypto.subtle
  const cryptoKey = await subtle.importKey('raw', copy(key), { name: 'AES-GCM' }, false, ['decrypt'])
  const opened = await subtle.decrypt(
    { name: 'AES-GCM', iv: copy(nonce), additionalData: copy(associatedData), tagLength: 128 },
    cryptoKey,
    copy(sealed),
  )
  return new Uint8Array(opened)
}

/** WebCrypto takes an ArrayBuffer-backed view; a subarray of a SharedArrayBuffer is copied. */
function copy(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : new Uint8Array(bytes)
}
