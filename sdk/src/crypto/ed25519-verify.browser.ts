/**
 * Ed25519 verification of gossip signatures in the browser: libp2p's own key (WebCrypto where
 * the browser has Ed25519, `@noble/curves` otherwise), so a stored record passes exactly when
 * the same message would pass live gossip validation in this page. The Node twin is
 * `ed25519-verify.node.ts`.
 */
import { publicKeyFromRaw } from '@libp2p/crypto/keys'

/** Lengths are checked by the caller. Resolves false for any failure, never rejects. */
export async function verifyEd25519(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  try {
    return await publicKeyFromRaw(publicKey).verify(message, signature)
  } catch {
    return false
  }
}
