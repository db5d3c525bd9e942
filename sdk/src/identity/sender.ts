/**
 * The sender checks that every gossip validator runs first — rooms and DMs, on peers and relays alike
 * (docs/architecture.md, Identity): does the session certificate a record carries (or names) authorise the PeerId that signed
 * the record, and is it one the receiver accepts. In identity, so that rooms and DMs judge senders the same way
 * without DMs importing room code; what to do with the verdict (`Reject`, `Ignore`) stays with each validator.
 */
import { describeError, InvalidCertificateError } from '../errors.ts'
import type { SessionCertificate, VerifiedCertificate } from '../types.ts'
import { checkCertificatePolicy } from './certificate.ts'
import type { AddResult, CertificateRegistry } from './registry.ts'

export type SenderVerdict =
  | { status: 'valid'; certificate: VerifiedCertificate }
  /** Provably bad (a forged, expired or foreign certificate): reject the record, for `reason`. */
  | { status: 'invalid'; reason: string }
  /** Neither provably good nor bad (a contract wallet with no chain to ask now): ignore the record. */
  | { status: 'unverifiable' }

/**
 * Checks `certificate` for the PeerId `from` through the registry (cached by hash): synchronous for ordinary
 * wallets, a Promise only when a contract wallet's signature must be asked of the chain.
 */
export function checkSender(
  registry: CertificateRegistry,
  from: string,
  certificate: SessionCertificate,
): SenderVerdict | Promise<SenderVerdict> {
  const added = registry.addOffline(from, certificate)
  if (added.status !== 'needs-chain') return verdictOf(added)
  return registry.add(from, certificate).then(verdictOf)
}

/** Why `certificate` is outside the domains and chains the receiver accepts, or undefined when it is inside. */
export function policyViolation(
  certificate: VerifiedCertificate,
  policy: { domains: readonly string[]; chainIds: readonly number[] },
): string | undefined {
  try {
    checkCertificatePolicy(certificate, policy)
    return undefined
  } catch (err) {
    if (!(err instanceof InvalidCertificateError)) throw err
    return describeError(err)
  }
}

function verdictOf(added: AddResult): SenderVerdict {
  if (added.status === 'valid') return added
  if (added.status === 'invalid') return { status: 'invalid', reason: describeError(added.error) }
  return { status: 'unverifiable' }
}
