/**
 * Symmetric-key chain steps shared by the Double Ratchet and sender keys. Internal.
 *
 * KDF_CK as the Double Ratchet specification recommends (section 5.2): HMAC-SHA-256 keyed by
 * the chain key, with the single byte 0x01 as input for the message key and 0x02 for the next
 * chain key. Signal's sender keys use the same step.
 *
 * Each message key is then expanded with HKDF-SHA-256 (zero salt, the message key as input key
 * material, a protocol-specific info string) into an AES-256-GCM key and a 12-byte nonce. The
 * specification expands into an AES-CBC key, an HMAC key and an IV; with an AEAD only a key
 * and a nonce are needed. A message key is used once, so a derived nonce is never reused.
 */

import { AES_256_GCM_KEY_BYTES, AES_GCM_NONCE_BYTES } from './constants.ts'
import { hkdfSha256, hmacSha256 } from './primitives.ts'

const MESSAGE_KEY_INPUT = Uint8Array.of(0x01)
const CHAIN_KEY_INPUT = Uint8Array.of(0x02)

/** One step of a symmetric chain: `[next chain key, message key]`. */
export function stepChain(chainKey: Uint8Array): { chainKey: Uint8Array; messageKey: Uint8Array } {
  return {
    messageKey: hmacSha256({ key: chainKey, data: MESSAGE_KEY_INPUT }),
    chainKey: hmacSha256({ key: chainKey, data: CHAIN_KEY_INPUT }),
  }
}

/** AES-256-GCM key and nonce of one message key. */
export function expandMessageKey(messageKey: Uint8Array, info: Uint8Array): { key: Uint8Array; nonce: Uint8Array } {
  const okm = hkdfSha256({ ikm: messageKey, info, length: AES_256_GCM_KEY_BYTES + AES_GCM_NONCE_BYTES })
  return { key: okm.subarray(0, AES_256_GCM_KEY_BYTES), nonce: okm.subarray(AES_256_GCM_KEY_BYTES) }
}
