import { Contract, getAddress, hashMessage, type Provider, verifyMessage } from 'ethers'
import { SiweMessage } from 'siwe'
import { z } from 'zod'
import {
  BUNDLE_RESOURCE_PREFIX,
  CERTIFICATE_LIFETIME_MS,
  CLOCK_SKEW_MS,
  MAX_CERTIFICATE_BYTES,
  MAX_CERTIFICATE_LIFETIME_MS,
  PEER_RESOURCE_PREFIX,
} from '../constants.ts'
import { bytesToHex, randomBytes, sha256Hex } from '../crypto/primitives.ts'
import { utf8 } from '../encoding.ts'
import { CertificateFailure, InvalidCertificateError, InvalidInputError } from '../errors.ts'
import type { AbortOptions, Address, SessionCertificate, VerifiedCertificate } from '../types.ts'
import type { WalletSigner } from './signer.ts'

/** A {@link SessionCertificate} as records and stores carry it: shape and size only, checked before any signature. */
export const certificateSchema = z
  .object({
    message: z.string().min(1).max(MAX_CERTIFICATE_BYTES),
    signature: z.string().min(4).max(MAX_CERTIFICATE_BYTES),
  })
  .strict() satisfies z.ZodType<SessionCertificate>

export interface CreateCertificateParams {
  signer: WalletSigner
  /** The device's libp2p PeerId, as a string. */
  peerId: string
  /** RFC 3986 authority of the app asking for the signature (web: `location.host`). */
  domain: string
  /** Defaults to `http(s)://<domain>`. */
  uri?: string
  chainId: number
  /** Hash of the device's encryption key bundle, hex (docs/architecture.md, Encryption). */
  bundleHash?: string
  lifetimeMs?: number
  now?: number
}

const DAY_MS = 24 * 60 * 60 * 1000
const MAX_CERTIFICATE_LIFETIME_DAYS = MAX_CERTIFICATE_LIFETIME_MS / DAY_MS

const STATEMENT = 'Authorise this device to chat on SecureChat as this wallet until the expiration time.'

/** Asks the wallet to sign the session certificate that binds `peerId` to it. */
export async function createCertificate(
  params: CreateCertificateParams,
  options: AbortOptions = {},
): Promise<SessionCertificate> {
  const now = params.now ?? Date.now()
  const lifetimeMs = params.lifetimeMs ?? CERTIFICATE_LIFETIME_MS
  if (!(lifetimeMs > 0 && lifetimeMs <= MAX_CERTIFICATE_LIFETIME_MS)) {
    throw new InvalidInputError(
      `a session certificate must live for a positive time of at most ${MAX_CERTIFICATE_LIFETIME_DAYS} days`,
      {
        details: { lifetimeMs, days: lifetimeMs / DAY_MS },
        hint: `receivers refuse a longer one: ask for ${MAX_CERTIFICATE_LIFETIME_DAYS} days or less, and sign in again when it ends`,
      },
    )
  }
  const address = await params.signer.getAddress(options)
  const resources = [`${PEER_RESOURCE_PREFIX}${params.peerId}`]
  if (params.bundleHash !== undefined) resources.push(`${BUNDLE_RESOURCE_PREFIX}${params.bundleHash}`)
  const isLocal = /^(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/.test(params.domain)
  const siwe = new SiweMessage({
    domain: params.domain,
    address,
    statement: STATEMENT,
    uri: params.uri ?? `${isLocal ? 'http' : 'https'}://${params.domain}`,
    version: '1',
    chainId: params.chainId,
    nonce: randomNonce(),
    issuedAt: new Date(now).toISOString(),
    expirationTime: new Date(now + lifetimeMs).toISOString(),
    resources,
  })
  const message = siwe.prepareMessage()
  const signature = await params.signer.signMessage(message, options)
  return { message, signature }
}

function randomNonce(): string {
  return bytesToHex(randomBytes(12))
}

/** The fields of a certificate, parsed but not yet trusted. */
export interface ParsedCertificate {
  siwe: SiweMessage
  address: Address
  peerIds: string[]
  bundleHashes: string[]
  issuedAtMs: number
  notBeforeMs: number | undefined
  expiresAtMs: number | undefined
}

export function parseCertificate(certificate: SessionCertificate): ParsedCertificate {
  let siwe: SiweMessage
  try {
    siwe = new SiweMessage(certificate.message)
  } catch (err) {
    throw new InvalidCertificateError(CertificateFailure.malformed, 'certificate is not an EIP-4361 message', {
      cause: err,
    })
  }
  if (!/^0x(?:[0-9a-fA-F]{2})+$/.test(certificate.signature)) {
    throw new InvalidCertificateError(CertificateFailure.malformed, 'certificate signature is not hex', {
      details: { signature: certificate.signature.slice(0, 16) },
    })
  }
  const resources = siwe.resources ?? []
  const time = (field: string, value: string | undefined): number | undefined => {
    if (value === undefined) return undefined
    const ms = Date.parse(value)
    if (Number.isNaN(ms)) {
      throw new InvalidCertificateError(CertificateFailure.malformed, `certificate ${field} is not a date`, {
        details: { [field]: value },
      })
    }
    return ms
  }
  return {
    siwe,
    address: getAddress(siwe.address) as Address,
    peerIds: resources
      .filter((r) => r.startsWith(PEER_RESOURCE_PREFIX))
      .map((r) => r.slice(PEER_RESOURCE_PREFIX.length)),
    bundleHashes: resources
      .filter((r) => r.startsWith(BUNDLE_RESOURCE_PREFIX))
      .map((r) => r.slice(BUNDLE_RESOURCE_PREFIX.length)),
    issuedAtMs: time('issuedAt', siwe.issuedAt) ?? Number.NaN,
    notBeforeMs: time('notBefore', siwe.notBefore),
    expiresAtMs: time('expirationTime', siwe.expirationTime),
  }
}

export function certificateHash(certificate: SessionCertificate): string {
  return sha256Hex(utf8.encode(`${certificate.message}\n${certificate.signature}`))
}

export interface VerifyCertificateParams {
  certificate: SessionCertificate
  /** The PeerId that presented the certificate (gossip `from`, or the remote peer of a stream). */
  peerId: string
  now?: number
  /** Clock skew tolerated for `issuedAt`/`notBefore`. */
  clockSkewMs?: number
}

/**
 * The checks that need no chain: structure, PeerId binding, validity window, and an EOA
 * signature. Returns the verified certificate, or `needs-chain` when the signature does not
 * recover to the address (it may be a contract wallet: see {@link verifyContractSignature}).
 * Throws {@link InvalidCertificateError} for anything provably bad.
 */
export function verifyCertificateOffline(
  params: VerifyCertificateParams,
): { status: 'valid'; certificate: VerifiedCertificate } | { status: 'needs-chain'; certificate: VerifiedCertificate } {
  const parsed = parseCertificate(params.certificate)
  const now = params.now ?? Date.now()
  const skew = params.clockSkewMs ?? CLOCK_SKEW_MS
  if (parsed.peerIds.length !== 1 || parsed.peerIds[0] !== params.peerId) {
    throw new InvalidCertificateError(CertificateFailure.peerMismatch, 'certificate does not name this peer', {
      details: { expected: params.peerId, named: parsed.peerIds },
    })
  }
  if (parsed.bundleHashes.length > 1) {
    throw new InvalidCertificateError(CertificateFailure.malformed, 'certificate names more than one key bundle')
  }
  if (parsed.expiresAtMs === undefined) {
    throw new InvalidCertificateError(CertificateFailure.malformed, 'certificate has no expirationTime', {
      hint: 'sign in again: session certificates must expire',
    })
  }
  if (parsed.expiresAtMs - parsed.issuedAtMs > MAX_CERTIFICATE_LIFETIME_MS) {
    throw new InvalidCertificateError(CertificateFailure.lifetimeTooLong, 'certificate is valid for too long', {
      details: { issuedAt: parsed.siwe.issuedAt, expirationTime: parsed.siwe.expirationTime },
      hint: `sign in again with a session of at most ${MAX_CERTIFICATE_LIFETIME_DAYS} days`,
    })
  }
  if (parsed.expiresAtMs <= now) {
    throw new InvalidCertificateError(CertificateFailure.expired, 'certificate has expired', {
      details: { expirationTime: parsed.siwe.expirationTime },
      hint: 'sign in again to renew the session',
    })
  }
  if (parsed.notBeforeMs !== undefined && parsed.notBeforeMs > now + skew) {
    throw new InvalidCertificateError(CertificateFailure.notYetValid, 'certificate is not valid yet', {
      details: { notBefore: parsed.siwe.notBefore },
    })
  }
  if (!(parsed.issuedAtMs <= now + skew)) {
    throw new InvalidCertificateError(CertificateFailure.issuedInFuture, 'certificate is issued in the future', {
      details: { issuedAt: parsed.siwe.issuedAt },
    })
  }
  const certificate: VerifiedCertificate = {
    address: parsed.address,
    peerId: params.peerId,
    domain: parsed.siwe.domain,
    chainId: parsed.siwe.chainId,
    issuedAtMs: parsed.issuedAtMs,
    notBeforeMs: parsed.notBeforeMs,
    expiresAtMs: parsed.expiresAtMs,
    bundleHash: parsed.bundleHashes[0],
    hash: certificateHash(params.certificate),
    signatureType: 'eoa',
  }
  if (isEoaSignature(params.certificate.message, params.certificate.signature, parsed.address)) {
    return { status: 'valid', certificate }
  }
  // Not the address's ECDSA signature (or not a recoverable one): only a contract wallet could accept it.
  return { status: 'needs-chain', certificate: { ...certificate, signatureType: 'erc1271' } }
}

/**
 * Whether `signature` is an externally owned account's (EIP-191) over `message` by `address`, offline: what gossip
 * validation can check (room manifests, moderation events); a contract wallet's needs {@link verifyContractSignature}.
 */
export function isEoaSignature(message: string, signature: string, address: string): boolean {
  try {
    return verifyMessage(message, signature) === getAddress(address)
  } catch {
    // Not a recoverable 65-byte ECDSA signature (or not an address).
    return false
  }
}

const ERC1271_MAGIC_VALUE = '0x1626ba7e'
const ERC1271_ABI = ['function isValidSignature(bytes32 hash, bytes signature) view returns (bytes4)']

/** ERC-1271: asks the contract at `address` whether it accepts `signature` over the EIP-191 hash. */
export async function verifyContractSignature(params: {
  provider: Provider
  address: Address
  message: string
  signature: string
}): Promise<boolean> {
  const code = await params.provider.getCode(params.address)
  if (code === '0x') return false
  const wallet = new Contract(params.address, ERC1271_ABI, params.provider)
  try {
    const result: string = await wallet
      .getFunction('isValidSignature')
      .staticCall(hashMessage(params.message), params.signature)
    return result.toLowerCase() === ERC1271_MAGIC_VALUE
  } catch {
    return false
  }
}

export interface VerifyCertificateAsyncParams extends VerifyCertificateParams {
  /** Needed to verify contract wallets (ERC-1271); EOAs verify without it. */
  provider?: Provider
}

/** Every check of docs/architecture.md's Identity section, including ERC-1271 when a provider is given. */
export async function verifyCertificate(params: VerifyCertificateAsyncParams): Promise<VerifiedCertificate> {
  const result = verifyCertificateOffline(params)
  if (result.status === 'valid') return result.certificate
  if (params.provider === undefined) {
    throw new InvalidCertificateError(
      CertificateFailure.contractWalletUnverifiable,
      'certificate signature does not match its address and no chain is configured to check a contract wallet',
      { hint: 'configure an RPC provider to accept contract wallets (ERC-1271)' },
    )
  }
  const ok = await verifyContractSignature({
    provider: params.provider,
    address: result.certificate.address,
    message: params.certificate.message,
    signature: params.certificate.signature,
  })
  if (!ok) {
    throw new InvalidCertificateError(
      CertificateFailure.badSignature,
      'certificate signature does not match its address',
      {
        details: { address: result.certificate.address },
      },
    )
  }
  return result.certificate
}

/** Policy checks a room or app applies on top of a verified certificate. */
export function checkCertificatePolicy(
  certificate: VerifiedCertificate,
  policy: { domains: readonly string[]; chainIds: readonly number[] },
): void {
  if (!domainAccepted(certificate.domain, policy.domains)) {
    throw new InvalidCertificateError(CertificateFailure.wrongDomain, 'certificate was signed for another domain', {
      details: { domain: certificate.domain, accepted: policy.domains },
    })
  }
  if (!policy.chainIds.includes(certificate.chainId)) {
    throw new InvalidCertificateError(CertificateFailure.wrongChain, 'certificate was signed for another chain', {
      details: { chainId: certificate.chainId, accepted: policy.chainIds },
    })
  }
}

/** `host` accepts `host` on any port; `host:port` accepts exactly that authority. Host names have no case. */
function domainAccepted(domain: string, accepted: readonly string[]): boolean {
  const authority = domain.toLowerCase()
  const host = authority.replace(/:\d+$/, '')
  return accepted.some((entry) => entry.toLowerCase() === authority || entry.toLowerCase() === host)
}
