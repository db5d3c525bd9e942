import { peerIdFromString } from '@libp2p/peer-id'
import { decodeKeyBundle, type VerifiedKeyBundle, verifyKeyBundle } from '../crypto/key-bundle.ts'
import { hexToBytes } from '../crypto/primitives.ts'
import { base64urlDecode } from '../encoding.ts'

/**
 * A member's key bundle (base64url) once its PeerId's key signed it and it hashes to
 * `bundleHash` (the commitment in the member's certificate), so no relay can swap keys; the
 * same check when a bundle is learned and when a saved one is read back. Throws when it does
 * not verify.
 */
export async function verifyMemberBundle(
  peerId: string,
  bundleText: string,
  bundleHash: string,
): Promise<VerifiedKeyBundle> {
  const publicKey = peerIdFromString(peerId).publicKey
  if (publicKey === undefined) throw new TypeError('the PeerId carries no public key')
  return verifyKeyBundle({
    bundle: decodeKeyBundle(base64urlDecode(bundleText)),
    verify: async (data, signature) => publicKey.verify(data, signature),
    expectedBundleHash: hexToBytes(bundleHash),
  })
}
