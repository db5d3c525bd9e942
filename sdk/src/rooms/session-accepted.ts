import { CertificateFailure, InvalidCertificateError } from '../errors.ts'
import { checkCertificatePolicy } from '../identity/certificate.ts'
import type { RoomManifest, VerifiedCertificate } from '../types.ts'

/**
 * Refuses to join a room that does not accept this device's own session: members and relays ignore every record
 * signed in for a domain or chain the manifest does not name, so such a device would send to nobody and be sealed no
 * sender key while it seemed to chat — a terminal signed in as `localhost` in a room made in a browser, or the other
 * way round. The error names what the room accepts and how to sign in for it.
 */
export function checkSessionAccepted(manifest: RoomManifest, session: VerifiedCertificate): void {
  try {
    checkCertificatePolicy(session, manifest)
  } catch (err) {
    if (!(err instanceof InvalidCertificateError)) throw err
    if (err.reason === CertificateFailure.wrongDomain) {
      throw new InvalidCertificateError(
        err.reason,
        `room ${manifest.name} accepts sign-ins for ${manifest.domains.join(', ')}; this device signed in for ${session.domain}`,
        {
          details: { domain: session.domain, accepted: manifest.domains },
          hint: `sign in for one of them: --domain ${manifest.domains[0]} in a terminal; in a browser, open the app at that address`,
        },
      )
    }
    throw new InvalidCertificateError(
      err.reason,
      `room ${manifest.name} accepts sign-ins on chain ${manifest.chainIds.join(', ')}; this device signed in on chain ${session.chainId}`,
      {
        details: { chainId: session.chainId, accepted: manifest.chainIds },
        hint: `sign in on one of them: --chain-id ${manifest.chainIds[0]} in a terminal; in a browser, switch the wallet's network`,
      },
    )
  }
}
