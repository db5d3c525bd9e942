/**
 * A remote device's key bundle as the DM layer accepts it: signed by the device's PeerId key and committed to
 * by its certificate (`bundleHash`). Bundles arrive in announcements, in initial messages and from the vault.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { decodeKeyBundle, type VerifiedKeyBundle, verifyKeyBundle } from '../crypto/key-bundle.ts'
import { hexToBytes } from '../crypto/primitives.ts'
import { base64urlDecode } from '../encoding.ts'
import type { Logger } from '../logger.ts'
import type { VerifiedCertificate } from '../types.ts'

/** The verified bundle, or undefined (logged) when the signature, the commitment or the encoding is wrong. */
export async function verifyDeviceBundle(params: {
  peerId: string
  /** The bundle as it travels (base64url). */
  text: string
  certificate: Pick<VerifiedCertificate, 'bundleHash'>
  log: Logger
}): Promise<VerifiedKeyBundle | undefined> {
  const { peerId, certificate } = params
  if (certificate.bundleHash === undefined) return undefined
  try {
    const publicKey = peerIdFromString(peerId).publicKey
    if (publicKey === undefined) return undefined
    return await verifyKeyBundle({
      bundle: decodeKeyBundle(base64urlDecode(params.text)),
      verify: async (data, signature) => publicKey.verify(data, signature),
      expectedBundleHash: hexToBytes(certificate.bundleHash),
    })
  } catch (err) {
    params.log.info('key bundle refused', { peer: peerId, error: String(err) })
    return undefined
  }
}
