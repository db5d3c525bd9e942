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
 * context (purpose and room, e.g. `sender-key-channel:<roomId>`). A different sender, recipient, key,
 * ciphertext or context gives an unrelated key, so the AEAD fails.
 *
 * Properties: confidentiality holds if either X25519 or ML-KEM-768 holds (X-Wing), and is
 * per agreement (fresh encapsulation). Sender authentication is classical (X25519), like
 * PQXDH's. As in any static-key authentication, someone holding the recipient's identity
 * secret could forge messages *to* that recipient (key-compromise impersonation), and forward
 * secrecy only reaches as far as the recipient's KEM key lifetime: a stolen X-Wing secret
 * opens past agreements addressed to it (and so every step of a channel opened by one). Prefer the Double Ratchet when a DM session
 * exists; the gossip layer also signs every message with the sender's PeerId key.
 *
 * The channel that uses it, and its entry formats: `pairwise-channel.ts`.
 */

import { SHARED_SECRET_BYTES } from './constants.ts'
import { ByteWriter, utf8Encode } from './encoding.ts'
import { encodeIdentityKey } from './key-bundle.ts'
import {
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
