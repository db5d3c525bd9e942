/**
 * Pairwise hybrid X25519 + ML-KEM-768 agreement, bound to both identities and the transcript:
 * the channel that carries a member's sender key to each eligible member (docs/architecture.md, Encryption).
 *
 * A KEM alone authenticates nothing (anyone can encapsulate to a public key), so the
 * published X-Wing KEM (draft-connolly-cfrg-xwing-kem; noble's `ml_kem768_x25519`, checked
 * against the draft's vectors) is combined with a static-static X25519 DH of both parties'
 * identity keys, in the spirit of HPKE's AuthEncap / Noise's `K` pattern:
 *
 * ```
 * (ct, ss_kem) = X-Wing.Encaps(kemKey_R)                      -- PQ/T hybrid, ephemeral
 * ss_auth      = X25519(IK_S, IK_R)                           -- only S or R can compute it
 * TH  = SHA-256( u16 len || "SecureChat/hybrid-kem/v1"
 *              || Encode(IK_S) || Encode(IK_R) || kemKey_R (1216) || ct (1120)
 *              || u16 len || senderId || u16 len || recipientId || u16 len || context )
 * key = HKDF-SHA-256(salt = TH, IKM = ss_kem || ss_auth, info = HYBRID_KEM_INFO, L = 32)
 * ```
 *
 * What is bound: both identity keys (and through the DH, possession of the sender's identity
 * secret), the recipient's KEM key, the KEM ciphertext, both peer ids and a caller-chosen
 * context (purpose and room, e.g. `sender-key:<roomId>`). A different sender, recipient, key,
 * ciphertext or context gives an unrelated key, so the AEAD fails.
 *
 * Properties: confidentiality holds if either X25519 or ML-KEM-768 holds (X-Wing), and is
 * per message (fresh encapsulation). Sender authentication is classical (X25519), like
 * PQXDH's. As in any static-key authentication, someone holding the recipient's identity
 * secret could forge messages *to* that recipient (key-compromise impersonation), and forward
 * secrecy only reaches as far as the recipient's KEM key lifetime: a stolen X-Wing secret
 * opens past sealed messages addressed to it. Prefer the Double Ratchet when a DM session
 * exists; the gossip layer also signs every message with the sender's PeerId key.
 *
 * Sealed message (the one-shot form used for sender-key distribution):
 *
 * ```
 * version u8 (1) || ct (1120) || AES-256-GCM(key', nonce', plaintext, AD = version || TH) || tag (16)
 * key' || nonce' = HKDF-SHA-256(IKM = key, info = HYBRID_SEAL_INFO, L = 44)
 * ```
 */

import { AES_256_GCM_KEY_BYTES, AES_GCM_NONCE_BYTES, SHARED_SECRET_BYTES, XWING_CIPHERTEXT_BYTES } from './constants.ts'
import { ByteReader, ByteWriter, utf8Encode } from './encoding.ts'
import { encodeIdentityKey } from './key-bundle.ts'
import {
  aesGcmOpen,
  aesGcmSeal,
  hkdfSha256,
  type KeyPair,
  sha256,
  wipe,
  x25519SharedSecret,
  xwingDecapsulate,
  xwingEncapsulate,
} from './primitives.ts'

export const HYBRID_KEM_LABEL = utf8Encode('SecureChat/hybrid-kem/v1')
export const HYBRID_KEM_INFO = utf8Encode('SecureChat_HybridKEM_X-Wing_X25519-auth_SHA-256_v1')
export const HYBRID_SEAL_INFO = utf8Encode('SecureChat_HybridKEM_Seal_AES-256-GCM_v1')
const SEAL_VERSION = 1

/** Who talks to whom, about what: every field is bound into the transcript hash. */
export interface HybridBinding {
  /** The sender's peer id (PeerId string). */
  readonly senderId: string
  /** The recipient's peer id. */
  readonly recipientId: string
  /** Purpose and scope, e.g. `sender-key:<roomId>`. */
  readonly context: string
}

function transcriptHash(params: {
  senderIdentityKey: Uint8Array
  recipientIdentityKey: Uint8Array
  recipientKemKey: Uint8Array
  cipherText: Uint8Array
  binding: HybridBinding
}): Uint8Array {
  const { binding } = params
  return sha256(
    new ByteWriter(2600)
      .bytes16(HYBRID_KEM_LABEL)
      .raw(encodeIdentityKey(params.senderIdentityKey))
      .raw(encodeIdentityKey(params.recipientIdentityKey))
      .raw(params.recipientKemKey)
      .raw(params.cipherText)
      .string16(binding.senderId)
      .string16(binding.recipientId)
      .string16(binding.context)
      .finish(),
  )
}

function combine(kemSecret: Uint8Array, authSecret: Uint8Array, th: Uint8Array): Uint8Array {
  const ikm = new Uint8Array(kemSecret.length + authSecret.length)
  ikm.set(kemSecret)
  ikm.set(authSecret, kemSecret.length)
  const key = hkdfSha256({ ikm, salt: th, info: HYBRID_KEM_INFO, length: SHARED_SECRET_BYTES })
  wipe(ikm, kemSecret, authSecret)
  return key
}

/**
 * Sender side: a fresh X-Wing encapsulation to the recipient, authenticated by both identity
 * keys. Returns the 32-byte shared key, the ciphertext to send and the transcript hash.
 */
export async function hybridEncapsulate(
  params: HybridBinding & {
    senderIdentityKey: KeyPair
    recipientIdentityKey: Uint8Array
    recipientKemKey: Uint8Array
  },
): Promise<{ sharedKey: Uint8Array; cipherText: Uint8Array; transcriptHash: Uint8Array }> {
  const { senderIdentityKey, recipientIdentityKey, recipientKemKey } = params
  const { cipherText, sharedSecret } = xwingEncapsulate({ publicKey: recipientKemKey })
  const auth = await x25519SharedSecret({ secretKey: senderIdentityKey.secretKey, publicKey: recipientIdentityKey })
  const th = transcriptHash({
    senderIdentityKey: senderIdentityKey.publicKey,
    recipientIdentityKey,
    recipientKemKey,
    cipherText,
    binding: params,
  })
  return { sharedKey: combine(sharedSecret, auth, th), cipherText, transcriptHash: th }
}

/** Recipient side of {@link hybridEncapsulate}. A wrong party or binding yields an unrelated key. */
export async function hybridDecapsulate(
  params: HybridBinding & {
    recipientIdentityKey: KeyPair
    recipientKemKey: KeyPair
    senderIdentityKey: Uint8Array
    cipherText: Uint8Array
  },
): Promise<{ sharedKey: Uint8Array; transcriptHash: Uint8Array }> {
  const { recipientIdentityKey, recipientKemKey, senderIdentityKey, cipherText } = params
  const kemSecret = xwingDecapsulate({ cipherText, secretKey: recipientKemKey.secretKey })
  const auth = await x25519SharedSecret({ secretKey: recipientIdentityKey.secretKey, publicKey: senderIdentityKey })
  const th = transcriptHash({
    senderIdentityKey,
    recipientIdentityKey: recipientIdentityKey.publicKey,
    recipientKemKey: recipientKemKey.publicKey,
    cipherText,
    binding: params,
  })
  return { sharedKey: combine(kemSecret, auth, th), transcriptHash: th }
}

function sealKeys(sharedKey: Uint8Array): { key: Uint8Array; nonce: Uint8Array } {
  const okm = hkdfSha256({
    ikm: sharedKey,
    info: HYBRID_SEAL_INFO,
    length: AES_256_GCM_KEY_BYTES + AES_GCM_NONCE_BYTES,
  })
  return { key: okm.subarray(0, AES_256_GCM_KEY_BYTES), nonce: okm.subarray(AES_256_GCM_KEY_BYTES) }
}

function sealAssociatedData(th: Uint8Array): Uint8Array {
  return new ByteWriter(33).u8(SEAL_VERSION).raw(th).finish()
}

/** Encrypts `plaintext` to the recipient, authenticated as the sender (see the module doc for the format). */
export async function hybridSeal(
  params: HybridBinding & {
    senderIdentityKey: KeyPair
    recipientIdentityKey: Uint8Array
    recipientKemKey: Uint8Array
    plaintext: Uint8Array
  },
): Promise<Uint8Array> {
  const { sharedKey, cipherText, transcriptHash: th } = await hybridEncapsulate(params)
  const { key, nonce } = sealKeys(sharedKey)
  const sealed = await aesGcmSeal({ key, nonce, plaintext: params.plaintext, associatedData: sealAssociatedData(th) })
  wipe(sharedKey, key, nonce)
  return new ByteWriter(1 + cipherText.length + sealed.length).u8(SEAL_VERSION).raw(cipherText).raw(sealed).finish()
}

/**
 * Opens a {@link hybridSeal} message from the expected sender. Throws `MalformedMessageError`
 * for bad framing and `DecryptionFailedError` when sender, recipient, binding or bytes differ.
 */
export async function hybridOpen(
  params: HybridBinding & {
    recipientIdentityKey: KeyPair
    recipientKemKey: KeyPair
    senderIdentityKey: Uint8Array
    sealed: Uint8Array
  },
): Promise<Uint8Array> {
  const r = new ByteReader(params.sealed, 'hybrid sealed message')
  const version = r.u8('version')
  if (version !== SEAL_VERSION) r.fail('version', 'unsupported', { received: version })
  const cipherText = r.raw(XWING_CIPHERTEXT_BYTES, 'kemCiphertext')
  const ciphertext = r.rest()
  const { sharedKey, transcriptHash: th } = await hybridDecapsulate({ ...params, cipherText })
  const { key, nonce } = sealKeys(sharedKey)
  try {
    return await aesGcmOpen({ key, nonce, ciphertext, associatedData: sealAssociatedData(th) })
  } finally {
    wipe(sharedKey, key, nonce)
  }
}
