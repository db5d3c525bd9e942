/**
 * Ed25519 verification of gossip signatures on Node, as libp2p checks live gossip here (OpenSSL
 * through `node:crypto`), but off the main thread: with a callback, `crypto.verify` runs on
 * libuv's thread pool, so a page of stored records is verified on every core while the main
 * thread decodes the next one. libp2p also imports the sender's key from JWK for every message;
 * here each sender's key is imported once (a bounded cache: a catch-up meets few senders).
 *
 * The browser twin is `ed25519-verify.browser.ts`; the package's `browser` field maps it. Only
 * `primitives.ts` imports either.
 */
import { createPublicKey, type KeyObject, verify } from 'node:crypto'
import { ED25519_VERIFY_KEY_CACHE_ENTRIES } from './constants.ts'

/** DER SubjectPublicKeyInfo of an Ed25519 key (RFC 8410) up to the 32 key bytes. */
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')

const keys = new Map<string, KeyObject>()

function keyObject(publicKey: Uint8Array): KeyObject {
  const id = Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.byteLength).toString('base64')
  let key = keys.get(id)
  if (key === undefined) {
    key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' })
    if (keys.size >= ED25519_VERIFY_KEY_CACHE_ENTRIES) keys.delete(keys.keys().next().value!)
    keys.set(id, key)
  }
  return key
}

/** Lengths are checked by the caller. Resolves false for any failure, never rejects. */
export function verifyEd25519(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
  return new Promise((resolve) => {
    try {
      verify(null, message, keyObject(publicKey), signature, (err, valid) => resolve(err === null && valid))
    } catch {
      resolve(false)
    }
  })
}
