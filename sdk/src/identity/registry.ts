import type { Provider } from 'ethers'
import { evictOldest, setNewest } from '../bounded-map.ts'
import { MAX_CACHED_CERTIFICATES } from '../constants.ts'
import { CertificateFailure, InvalidCertificateError } from '../errors.ts'
import type { SessionCertificate, VerifiedCertificate } from '../types.ts'
import { certificateHash, verifyCertificateOffline, verifyContractSignature } from './certificate.ts'

export interface CertificateRegistryInit {
  /** For contract wallets (ERC-1271); without it they are `unverifiable`, never accepted. */
  provider?: Provider
  maxEntries?: number
  now?: () => number
}

export type AddResult =
  | { status: 'valid'; certificate: VerifiedCertificate }
  | { status: 'invalid'; error: InvalidCertificateError }
  /** Not provably bad, not provably good: a contract wallet with no chain to ask. */
  | { status: 'unverifiable'; error: InvalidCertificateError }

type SyncAddResult = AddResult | { status: 'needs-chain'; certificate: VerifiedCertificate }

const TIME_DEPENDENT_FAILURES: ReadonlySet<string> = new Set([
  CertificateFailure.expired,
  CertificateFailure.notYetValid,
  CertificateFailure.issuedInFuture,
])

interface Entry {
  raw: SessionCertificate
  certificate: VerifiedCertificate
}

/**
 * Verified session certificates by PeerId. Verification results are cached by certificate
 * hash, so the certificate repeated in every presence heartbeat costs one hash, not a
 * signature recovery. Bounded: the oldest entries are evicted first.
 */
export class CertificateRegistry {
  readonly #byPeer = new Map<string, Entry>()
  readonly #rejected = new Map<string, InvalidCertificateError>()
  /**
   * Contract-wallet certificates judged without a chain, by `peerId/hash`: with no provider the verdict cannot change
   * until the certificate expires, so a certificate repeated in every record (a presence flood signed by another
   * wallet, which looks like a contract wallet) costs one hash, not a SIWE parse and a signature recovery each time.
   */
  readonly #unverifiable = new Map<string, { error: InvalidCertificateError; expiresAtMs: number }>()
  readonly #inflight = new Map<string, Promise<AddResult>>()
  readonly #provider: Provider | undefined
  readonly #max: number
  readonly #now: () => number

  constructor(init: CertificateRegistryInit = {}) {
    this.#provider = init.provider
    this.#max = init.maxEntries ?? MAX_CACHED_CERTIFICATES
    this.#now = init.now ?? Date.now
  }

  /** The valid, unexpired certificate of `peerId`, if one is known. */
  get(peerId: string): VerifiedCertificate | undefined {
    const entry = this.#byPeer.get(peerId)
    if (entry === undefined) return undefined
    if (entry.certificate.expiresAtMs <= this.#now()) {
      this.#byPeer.delete(peerId)
      return undefined
    }
    return entry.certificate
  }

  /** The certificate as signed, to hand to peers that ask for it. */
  getRaw(peerId: string): SessionCertificate | undefined {
    return this.get(peerId) === undefined ? undefined : this.#byPeer.get(peerId)?.raw
  }

  /** Synchronous verification (no chain). `needs-chain` means call {@link add}. */
  addOffline(peerId: string, raw: SessionCertificate): SyncAddResult {
    const hash = certificateHash(raw)
    const known = this.#byPeer.get(peerId)
    if (known !== undefined && known.certificate.hash === hash && known.certificate.expiresAtMs > this.#now()) {
      return { status: 'valid', certificate: known.certificate }
    }
    const rejected = this.#rejected.get(`${peerId}/${hash}`)
    // Time-dependent failures (expired, not yet valid, clocks apart) are judged afresh each time.
    if (rejected !== undefined && !TIME_DEPENDENT_FAILURES.has(rejected.reason)) {
      return { status: 'invalid', error: rejected }
    }
    const unverifiable = this.#unverifiable.get(`${peerId}/${hash}`)
    if (unverifiable !== undefined && unverifiable.expiresAtMs > this.#now()) {
      return { status: 'unverifiable', error: unverifiable.error }
    }
    try {
      const result = verifyCertificateOffline({ certificate: raw, peerId, now: this.#now() })
      if (result.status === 'needs-chain') return result
      this.#store(peerId, raw, result.certificate)
      return { status: 'valid', certificate: result.certificate }
    } catch (err) {
      if (!(err instanceof InvalidCertificateError)) throw err
      this.#remember(`${peerId}/${hash}`, err)
      return { status: 'invalid', error: err }
    }
  }

  /** A chain check of `peerId`'s certificate still under way, if any. */
  pending(peerId: string): Promise<AddResult> | undefined {
    return this.#inflight.get(peerId)
  }

  /** Full verification, asking the chain for contract wallets. */
  async add(peerId: string, raw: SessionCertificate): Promise<AddResult> {
    const offline = this.addOffline(peerId, raw)
    if (offline.status !== 'needs-chain') return offline
    const check = this.#addChecked(peerId, raw, offline.certificate)
    this.#inflight.set(peerId, check)
    try {
      return await check
    } finally {
      if (this.#inflight.get(peerId) === check) this.#inflight.delete(peerId)
    }
  }

  async #addChecked(peerId: string, raw: SessionCertificate, certificate: VerifiedCertificate): Promise<AddResult> {
    const offline = { certificate }
    const key = `${peerId}/${offline.certificate.hash}`
    if (this.#provider === undefined) {
      const error = new InvalidCertificateError(
        CertificateFailure.contractWalletUnverifiable,
        'signature does not recover to the address and no chain is configured to check a contract wallet',
        { hint: 'configure --rpc to accept contract wallets (ERC-1271)' },
      )
      this.#unverifiable.set(key, { error, expiresAtMs: certificate.expiresAtMs })
      evictOldest(this.#unverifiable, this.#max)
      return { status: 'unverifiable', error }
    }
    const ok = await verifyContractSignature({
      provider: this.#provider,
      address: offline.certificate.address,
      message: raw.message,
      signature: raw.signature,
    }).catch(() => undefined)
    if (ok === undefined) {
      return {
        status: 'unverifiable',
        error: new InvalidCertificateError(
          CertificateFailure.contractWalletUnverifiable,
          'the chain could not be asked',
          {
            hint: 'check the RPC endpoint',
          },
        ),
      }
    }
    if (!ok) {
      const error = new InvalidCertificateError(
        CertificateFailure.badSignature,
        'certificate signature does not match its address',
        {
          details: { address: offline.certificate.address },
        },
      )
      this.#remember(key, error)
      return { status: 'invalid', error }
    }
    this.#store(peerId, raw, offline.certificate)
    return { status: 'valid', certificate: offline.certificate }
  }

  #store(peerId: string, raw: SessionCertificate, certificate: VerifiedCertificate): void {
    const current = this.#byPeer.get(peerId)
    // A peer may renew its certificate; never replace a later expiry with an earlier one.
    if (current !== undefined && current.certificate.expiresAtMs > certificate.expiresAtMs) return
    setNewest(this.#byPeer, peerId, { raw, certificate }, this.#max)
  }

  #remember(key: string, error: InvalidCertificateError): void {
    this.#rejected.set(key, error)
    evictOldest(this.#rejected, this.#max)
  }
}
