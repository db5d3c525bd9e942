import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { type BaseWallet, type Provider, verifyMessage, Wallet } from 'ethers'
import { SiweMessage } from 'siwe'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { CERTIFICATE_LIFETIME_MS, CLOCK_SKEW_MS, MAX_CERTIFICATE_LIFETIME_MS } from '../constants.ts'
import { CertificateFailure, InvalidCertificateError, InvalidInputError } from '../errors.ts'
import type { SessionCertificate } from '../types.ts'
import {
  certificateHash,
  checkCertificatePolicy,
  createCertificate,
  verifyCertificate,
  verifyCertificateOffline,
} from './certificate.ts'
import { CertificateRegistry } from './registry.ts'
import { walletSigner } from './signer.ts'

// Count signature verifications to show that the registry caches them (the spy calls through).
vi.mock('./certificate.ts', async (importOriginal) => {
  const original = await importOriginal<typeof import('./certificate.ts')>()
  return { ...original, verifyCertificateOffline: vi.fn(original.verifyCertificateOffline) }
})

/** The SIWE terms these certificates are signed for (the sdk has no default: an app states its own). */
const DOMAIN = 'localhost'
const CHAIN_ID = 31337
const MINUTE_MS = 60_000
const HOUR_MS = 60 * MINUTE_MS

async function newPeerId(): Promise<string> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
}

async function certify(
  wallet: BaseWallet,
  peerId: string,
  overrides: { domain?: string; chainId?: number; now?: number; lifetimeMs?: number; bundleHash?: string } = {},
): Promise<SessionCertificate> {
  return createCertificate({
    signer: walletSigner({ type: 'eoa', signer: wallet }),
    peerId,
    domain: overrides.domain ?? DOMAIN,
    chainId: overrides.chainId ?? CHAIN_ID,
    ...(overrides.now === undefined ? {} : { now: overrides.now }),
    ...(overrides.lifetimeMs === undefined ? {} : { lifetimeMs: overrides.lifetimeMs }),
    ...(overrides.bundleHash === undefined ? {} : { bundleHash: overrides.bundleHash }),
  })
}

/** A SIWE message built with the `siwe` package itself, as another client would, signed by `wallet`. */
async function signSiwe(
  wallet: BaseWallet,
  peerId: string,
  fields: { issuedAtMs: number; expiresAtMs: number; notBeforeMs?: number },
): Promise<SessionCertificate> {
  const message = new SiweMessage({
    domain: DOMAIN,
    address: wallet.address,
    statement: 'Sign in to SecureChat.',
    uri: `http://${DOMAIN}`,
    version: '1',
    chainId: CHAIN_ID,
    nonce: 'abcdef0123456789',
    issuedAt: new Date(fields.issuedAtMs).toISOString(),
    expirationTime: new Date(fields.expiresAtMs).toISOString(),
    ...(fields.notBeforeMs === undefined ? {} : { notBefore: new Date(fields.notBeforeMs).toISOString() }),
    resources: [`urn:securechat:peer:${peerId}`],
  }).prepareMessage()
  return { message, signature: await wallet.signMessage(message) }
}

/** Runs `fn` and returns the InvalidCertificateError it throws (fails the test otherwise). */
async function certificateError(fn: () => unknown): Promise<InvalidCertificateError> {
  try {
    await fn()
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidCertificateError)
    return err as InvalidCertificateError
  }
  throw new Error('expected an InvalidCertificateError, nothing was thrown')
}

/** Changes one hex digit of `hex` at `index` (0x prefix excluded), keeping it hex. */
function flipHexDigit(hex: string, index: number): string {
  const at = 2 + index
  const digit = hex[at]!
  const replacement = digit === '0' ? '1' : '0'
  return `${hex.slice(0, at)}${replacement}${hex.slice(at + 1)}`
}

const RFC3339 = '\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(?:\\.\\d+)?(?:Z|[+-]\\d{2}:\\d{2})'

/**
 * EIP-4361's message format (the ABNF of the EIP), line by line: header, address, blank line,
 * optional statement, blank line, then the tagged fields in their fixed order, resources last.
 */
const EIP4361_PATTERN = new RegExp(
  [
    '^(?:[a-z][a-z0-9+.-]*://)?[^\\s/]+ wants you to sign in with your Ethereum account:\\n',
    '0x[0-9a-fA-F]{40}\\n',
    '\\n',
    '(?:[^\\n]+\\n)?',
    '\\n',
    'URI: [a-z][a-z0-9+.-]*:\\S+\\n',
    'Version: 1\\n',
    'Chain ID: [0-9]+\\n',
    'Nonce: [a-zA-Z0-9]{8,}\\n',
    `Issued At: ${RFC3339}`,
    `(?:\\nExpiration Time: ${RFC3339})?`,
    `(?:\\nNot Before: ${RFC3339})?`,
    '(?:\\nRequest ID: [^\\n]*)?',
    '(?:\\nResources:(?:\\n- \\S+)+)?$',
  ].join(''),
)

describe('session certificate', () => {
  it('behavior: a created certificate verifies for its wallet and PeerId', async () => {
    const wallet = Wallet.createRandom()
    const peerId = await newPeerId()
    const bundleHash = 'ab'.repeat(32)
    const certificate = await certify(wallet, peerId, { bundleHash })

    const result = verifyCertificateOffline({ certificate, peerId })
    expect(result.status).toBe('valid')
    expect(result.certificate).toMatchObject({
      address: wallet.address,
      peerId,
      domain: DOMAIN,
      chainId: CHAIN_ID,
      bundleHash,
      signatureType: 'eoa',
      hash: certificateHash(certificate),
    })
    expect(result.certificate.expiresAtMs - result.certificate.issuedAtMs).toBe(CERTIFICATE_LIFETIME_MS)
    await expect(verifyCertificate({ certificate, peerId })).resolves.toMatchObject({ address: wallet.address })
    expect(() => checkCertificatePolicy(result.certificate, { domains: [DOMAIN], chainIds: [CHAIN_ID] })).not.toThrow()
  })

  it('behavior: a certificate is a standard EIP-4361 message whose EIP-191 signature recovers the wallet', async () => {
    const wallet = Wallet.createRandom()
    const peerId = await newPeerId()
    const certificate = await certify(wallet, peerId, { domain: 'chat.example.org', chainId: 1 })

    // viem is not installed in this repository, so the line structure is checked against the EIP's format.
    expect(certificate.message).toMatch(EIP4361_PATTERN)
    const siwe = new SiweMessage(certificate.message)
    expect(siwe).toMatchObject({
      domain: 'chat.example.org',
      address: wallet.address,
      uri: 'https://chat.example.org',
      version: '1',
      chainId: 1,
      resources: [`urn:securechat:peer:${peerId}`],
    })
    expect(siwe.nonce).toMatch(/^[a-zA-Z0-9]{8,}$/)
    expect(siwe.expirationTime).toBeDefined()
    // Re-serialising the parsed message gives the signed text back: nothing non-standard in it.
    expect(siwe.prepareMessage()).toBe(certificate.message)
    expect(verifyMessage(certificate.message, certificate.signature)).toBe(wallet.address)
    // The reference implementation accepts it as a relying party would.
    await expect(siwe.verify({ signature: certificate.signature, domain: 'chat.example.org' })).resolves.toMatchObject({
      success: true,
    })
  })

  it('behavior: a reference-style SIWE message written by hand and signed by a wallet is accepted', async () => {
    const wallet = Wallet.createRandom()
    const peerId = await newPeerId()
    // The example of EIP-4361 (https://eips.ethereum.org/EIPS/eip-4361#example-message), with our resources.
    const message = [
      'example.com wants you to sign in with your Ethereum account:',
      wallet.address,
      '',
      'I accept the ExampleOrg Terms of Service: https://example.com/tos',
      '',
      'URI: https://example.com/login',
      'Version: 1',
      'Chain ID: 1',
      'Nonce: 32891756',
      'Issued At: 2021-09-30T16:25:24Z',
      'Expiration Time: 2021-10-07T16:25:24Z',
      'Resources:',
      `- urn:securechat:peer:${peerId}`,
      '- ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/',
      '- https://example.com/my-web2-claim.json',
    ].join('\n')
    const certificate = { message, signature: await wallet.signMessage(message) }
    const now = Date.parse('2021-09-30T16:30:00Z')

    const result = verifyCertificateOffline({ certificate, peerId, now })
    expect(result.status).toBe('valid')
    expect(result.certificate).toMatchObject({ address: wallet.address, domain: 'example.com', chainId: 1 })
    expect(result.certificate.bundleHash).toBeUndefined()
    expect(() => checkCertificatePolicy(result.certificate, { domains: ['example.com'], chainIds: [1] })).not.toThrow()
  })

  it('behavior: a domain entry without a port accepts that host on any port, one with a port only that port', async () => {
    const peerId = await newPeerId()
    const certificate = await certify(Wallet.createRandom(), peerId, { domain: 'localhost:5173' })
    const { certificate: verified } = verifyCertificateOffline({ certificate, peerId })
    const chainIds = [CHAIN_ID]
    expect(() => checkCertificatePolicy(verified, { domains: ['localhost'], chainIds })).not.toThrow()
    expect(() => checkCertificatePolicy(verified, { domains: ['localhost:5173'], chainIds })).not.toThrow()
    const error = await certificateError(() =>
      checkCertificatePolicy(verified, { domains: ['localhost:3000'], chainIds }),
    )
    expect(error.reason).toBe(CertificateFailure.wrongDomain)
  })

  it('behavior: issuedAt and notBefore within the tolerated clock skew are accepted', async () => {
    const wallet = Wallet.createRandom()
    const peerId = await newPeerId()
    const now = Date.now()
    const ahead = now + CLOCK_SKEW_MS - MINUTE_MS
    const certificate = await signSiwe(wallet, peerId, {
      issuedAtMs: ahead,
      notBeforeMs: ahead,
      expiresAtMs: now + HOUR_MS,
    })
    expect(verifyCertificateOffline({ certificate, peerId, now }).status).toBe('valid')
  })

  it('error: a certificate presented by another PeerId (peer-mismatch)', async () => {
    const peerId = await newPeerId()
    const certificate = await certify(Wallet.createRandom(), peerId)
    const thief = await newPeerId()
    const error = await certificateError(() => verifyCertificateOffline({ certificate, peerId: thief }))
    expect(error.reason).toBe(CertificateFailure.peerMismatch)
    expect(error.details).toMatchObject({ expected: thief, named: [peerId] })
    expect((await certificateError(() => verifyCertificate({ certificate, peerId: thief }))).reason).toBe(
      CertificateFailure.peerMismatch,
    )
  })

  it('error: a certificate naming two PeerIds (peer-mismatch)', async () => {
    const wallet = Wallet.createRandom()
    const [peerId, other] = [await newPeerId(), await newPeerId()]
    const message = new SiweMessage({
      domain: DOMAIN,
      address: wallet.address,
      uri: `http://${DOMAIN}`,
      version: '1',
      chainId: CHAIN_ID,
      nonce: 'abcdef0123456789',
      issuedAt: new Date().toISOString(),
      expirationTime: new Date(Date.now() + HOUR_MS).toISOString(),
      resources: [`urn:securechat:peer:${peerId}`, `urn:securechat:peer:${other}`],
    }).prepareMessage()
    const certificate = { message, signature: await wallet.signMessage(message) }
    expect((await certificateError(() => verifyCertificateOffline({ certificate, peerId }))).reason).toBe(
      CertificateFailure.peerMismatch,
    )
  })

  it('error: an expired certificate (expired)', async () => {
    const peerId = await newPeerId()
    const certificate = await certify(Wallet.createRandom(), peerId, {
      now: Date.now() - 2 * HOUR_MS,
      lifetimeMs: HOUR_MS,
    })
    const error = await certificateError(() => verifyCertificateOffline({ certificate, peerId }))
    expect(error.reason).toBe(CertificateFailure.expired)
    expect(error.hint).toBeDefined()
  })

  it('error: a certificate whose notBefore is in the future (not-yet-valid)', async () => {
    const now = Date.now()
    const wallet = Wallet.createRandom()
    const peerId = await newPeerId()
    const certificate = await signSiwe(wallet, peerId, {
      issuedAtMs: now,
      notBeforeMs: now + HOUR_MS,
      expiresAtMs: now + 2 * HOUR_MS,
    })
    const error = await certificateError(() => verifyCertificateOffline({ certificate, peerId, now }))
    expect(error.reason).toBe(CertificateFailure.notYetValid)
    // The same certificate is fine once its time has come.
    expect(verifyCertificateOffline({ certificate, peerId, now: now + HOUR_MS + MINUTE_MS }).status).toBe('valid')
  })

  it('error: a certificate issued in the future (issued-in-future)', async () => {
    const peerId = await newPeerId()
    const now = Date.now()
    const certificate = await certify(Wallet.createRandom(), peerId, { now: now + HOUR_MS })
    const error = await certificateError(() => verifyCertificateOffline({ certificate, peerId, now }))
    expect(error.reason).toBe(CertificateFailure.issuedInFuture)
  })

  it('error: a certificate without an expiration time (malformed)', async () => {
    const wallet = Wallet.createRandom()
    const peerId = await newPeerId()
    const message = new SiweMessage({
      domain: DOMAIN,
      address: wallet.address,
      uri: `http://${DOMAIN}`,
      version: '1',
      chainId: CHAIN_ID,
      nonce: 'abcdef0123456789',
      issuedAt: new Date().toISOString(),
      resources: [`urn:securechat:peer:${peerId}`],
    }).prepareMessage()
    const certificate = { message, signature: await wallet.signMessage(message) }
    expect((await certificateError(() => verifyCertificateOffline({ certificate, peerId }))).reason).toBe(
      CertificateFailure.malformed,
    )
  })

  it('error: a certificate valid for longer than MAX_CERTIFICATE_LIFETIME_MS, from another client (lifetime-too-long)', async () => {
    const wallet = Wallet.createRandom()
    const peerId = await newPeerId()
    const now = Date.now()
    const century = await signSiwe(wallet, peerId, { issuedAtMs: now, expiresAtMs: now + 100 * 365 * 24 * HOUR_MS })
    const error = await certificateError(() => verifyCertificateOffline({ certificate: century, peerId, now }))
    expect(error.reason).toBe(CertificateFailure.lifetimeTooLong)
    expect(error.hint).toMatch(/90 days/)
    // The longest allowed still verifies.
    const longest = await signSiwe(wallet, peerId, { issuedAtMs: now, expiresAtMs: now + MAX_CERTIFICATE_LIFETIME_MS })
    expect(verifyCertificateOffline({ certificate: longest, peerId, now }).status).toBe('valid')
  })

  it('error: createCertificate signs nothing a receiver would refuse as too long, and says so before asking the wallet', async () => {
    const wallet = Wallet.createRandom()
    const signMessage = vi.spyOn(wallet, 'signMessage')
    const refusal = certify(wallet, await newPeerId(), { lifetimeMs: MAX_CERTIFICATE_LIFETIME_MS + 1 })
    await expect(refusal).rejects.toBeInstanceOf(InvalidInputError)
    await expect(refusal).rejects.toThrow('at most 90 days')
    expect(signMessage).not.toHaveBeenCalled()
  })

  it('behavior: a domain differing only in case is the same domain (host names have no case)', async () => {
    const peerId = await newPeerId()
    const certificate = await certify(Wallet.createRandom(), peerId, { domain: 'Chat.Example.ORG:8443' })
    const { certificate: verified } = verifyCertificateOffline({ certificate, peerId })
    expect(() =>
      checkCertificatePolicy(verified, { domains: ['chat.example.org'], chainIds: [CHAIN_ID] }),
    ).not.toThrow()
    expect(() =>
      checkCertificatePolicy(verified, { domains: ['CHAT.example.org:8443'], chainIds: [CHAIN_ID] }),
    ).not.toThrow()
  })

  it('error: a certificate signed for another domain (wrong-domain)', async () => {
    const peerId = await newPeerId()
    const certificate = await certify(Wallet.createRandom(), peerId, { domain: 'evil.example' })
    const { certificate: verified } = verifyCertificateOffline({ certificate, peerId })
    const error = await certificateError(() =>
      checkCertificatePolicy(verified, { domains: [DOMAIN, 'chat.example'], chainIds: [CHAIN_ID] }),
    )
    expect(error.reason).toBe(CertificateFailure.wrongDomain)
    expect(error.details).toMatchObject({ domain: 'evil.example' })
  })

  it('error: a certificate signed for another chain (wrong-chain)', async () => {
    const peerId = await newPeerId()
    const certificate = await certify(Wallet.createRandom(), peerId, { chainId: 1 })
    const { certificate: verified } = verifyCertificateOffline({ certificate, peerId })
    const error = await certificateError(() =>
      checkCertificatePolicy(verified, { domains: [DOMAIN], chainIds: [CHAIN_ID] }),
    )
    expect(error.reason).toBe(CertificateFailure.wrongChain)
    expect(error.details).toMatchObject({ chainId: 1, accepted: [CHAIN_ID] })
  })

  it('error: a certificate signed by another wallet (needs-chain offline, never accepted)', async () => {
    const claimed = Wallet.createRandom()
    const forger = Wallet.createRandom()
    const peerId = await newPeerId()
    const honest = await certify(claimed, peerId)
    const certificate = { message: honest.message, signature: await forger.signMessage(honest.message) }

    // Offline it might still be a contract wallet's signature: only the chain can tell.
    const offline = verifyCertificateOffline({ certificate, peerId })
    expect(offline.status).toBe('needs-chain')
    expect(offline.certificate.signatureType).toBe('erc1271')
    // Without a chain it is never accepted.
    const unverifiable = await certificateError(() => verifyCertificate({ certificate, peerId }))
    expect(unverifiable.reason).toBe(CertificateFailure.contractWalletUnverifiable)
    // With a chain that has no contract at the address, it is a bad signature.
    const noCode = { getCode: async () => '0x' } as unknown as Provider
    const bad = await certificateError(() => verifyCertificate({ certificate, peerId, provider: noCode }))
    expect(bad.reason).toBe(CertificateFailure.badSignature)
  })

  it('error: a certificate whose signature has one hex digit changed', async () => {
    const peerId = await newPeerId()
    const certificate = await certify(Wallet.createRandom(), peerId)
    // A digit of r, of s, and of v: each either recovers another address or nothing.
    for (const index of [10, 64 + 10, 129]) {
      const tampered = { ...certificate, signature: flipHexDigit(certificate.signature, index) }
      expect(tampered.signature).not.toBe(certificate.signature)
      expect(verifyCertificateOffline({ certificate: tampered, peerId }).status).toBe('needs-chain')
      expect((await certificateError(() => verifyCertificate({ certificate: tampered, peerId }))).reason).toBe(
        CertificateFailure.contractWalletUnverifiable,
      )
    }
  })

  it('error: a certificate whose text was changed after signing', async () => {
    const peerId = await newPeerId()
    const certificate = await certify(Wallet.createRandom(), peerId, { chainId: 1 })
    const tampered = { ...certificate, message: certificate.message.replace('Chain ID: 1\n', 'Chain ID: 10\n') }
    expect(tampered.message).not.toBe(certificate.message)
    expect(verifyCertificateOffline({ certificate: tampered, peerId }).status).toBe('needs-chain')
    expect((await certificateError(() => verifyCertificate({ certificate: tampered, peerId }))).reason).toBe(
      CertificateFailure.contractWalletUnverifiable,
    )
  })

  it('error: malformed certificates (malformed)', async () => {
    const peerId = await newPeerId()
    const good = await certify(Wallet.createRandom(), peerId)
    const malformed: SessionCertificate[] = [
      { message: 'hello', signature: good.signature },
      { message: '', signature: good.signature },
      {
        message: good.message.replace(' wants you to sign in', ' would like you to sign in'),
        signature: good.signature,
      },
      { message: good.message.replace(/Issued At: .*/, 'Issued At: yesterday'), signature: good.signature },
      { message: good.message.slice(0, good.message.indexOf('Nonce:')), signature: good.signature },
      { message: good.message, signature: 'not hex' },
      { message: good.message, signature: `${good.signature}0` },
      { message: good.message, signature: '0x' },
    ]
    for (const certificate of malformed) {
      const error = await certificateError(() => verifyCertificateOffline({ certificate, peerId }))
      expect(error.reason, certificate.message.slice(0, 40)).toBe(CertificateFailure.malformed)
    }
  })
})

describe('CertificateRegistry', () => {
  const verifications = vi.mocked(verifyCertificateOffline)

  beforeEach(() => {
    verifications.mockClear()
  })

  it('behavior: a certificate repeated in every heartbeat is verified once (cached by hash)', async () => {
    const registry = new CertificateRegistry()
    const peerId = await newPeerId()
    const certificate = await certify(Wallet.createRandom(), peerId)

    const first = registry.addOffline(peerId, certificate)
    expect(first.status).toBe('valid')
    for (let i = 0; i < 5; i++) {
      const again = registry.addOffline(peerId, { ...certificate })
      expect(again.status).toBe('valid')
    }
    expect(verifications).toHaveBeenCalledTimes(1)
    expect(registry.get(peerId)?.hash).toBe(certificateHash(certificate))
    expect(registry.getRaw(peerId)).toEqual(certificate)
  })

  it('behavior: a rejected certificate is remembered by hash and not verified again', async () => {
    const registry = new CertificateRegistry()
    const peerId = await newPeerId()
    const certificate = await certify(Wallet.createRandom(), await newPeerId())
    for (let i = 0; i < 3; i++) {
      const result = registry.addOffline(peerId, certificate)
      expect(result.status).toBe('invalid')
      if (result.status === 'invalid') expect(result.error.reason).toBe(CertificateFailure.peerMismatch)
    }
    expect(verifications).toHaveBeenCalledTimes(1)
    expect(registry.get(peerId)).toBeUndefined()
  })

  it('behavior: the oldest certificates are evicted beyond maxEntries', async () => {
    const registry = new CertificateRegistry({ maxEntries: 2 })
    const wallet = Wallet.createRandom()
    const peers = [await newPeerId(), await newPeerId(), await newPeerId()]
    for (const peerId of peers) expect(registry.addOffline(peerId, await certify(wallet, peerId)).status).toBe('valid')
    expect(registry.get(peers[0]!)).toBeUndefined()
    expect(registry.get(peers[1]!)?.peerId).toBe(peers[1])
    expect(registry.get(peers[2]!)?.peerId).toBe(peers[2])
  })

  it('behavior: an expired certificate disappears from the registry', async () => {
    let now = Date.now()
    const registry = new CertificateRegistry({ now: () => now })
    const peerId = await newPeerId()
    const certificate = await certify(Wallet.createRandom(), peerId, { now, lifetimeMs: HOUR_MS })
    expect(registry.addOffline(peerId, certificate).status).toBe('valid')
    now += HOUR_MS - 1
    expect(registry.get(peerId)).toBeDefined()
    now += 1
    expect(registry.get(peerId)).toBeUndefined()
    expect(registry.getRaw(peerId)).toBeUndefined()
    const again = registry.addOffline(peerId, certificate)
    expect(again.status === 'invalid' && again.error.reason).toBe(CertificateFailure.expired)
  })

  it('behavior: a renewed certificate replaces the old one, never the other way round', async () => {
    const now = Date.now()
    const registry = new CertificateRegistry({ now: () => now })
    const wallet = Wallet.createRandom()
    const peerId = await newPeerId()
    const older = await certify(wallet, peerId, { now: now - MINUTE_MS, lifetimeMs: HOUR_MS })
    const renewed = await certify(wallet, peerId, { now, lifetimeMs: 2 * HOUR_MS })
    expect(registry.addOffline(peerId, older).status).toBe('valid')
    expect(registry.addOffline(peerId, renewed).status).toBe('valid')
    expect(registry.get(peerId)?.hash).toBe(certificateHash(renewed))
    registry.addOffline(peerId, older)
    expect(registry.get(peerId)?.hash).toBe(certificateHash(renewed))
  })

  it('behavior: a certificate signed by another wallet is unverifiable without a chain, invalid with one', async () => {
    const peerId = await newPeerId()
    const honest = await certify(Wallet.createRandom(), peerId)
    const certificate = { ...honest, signature: await Wallet.createRandom().signMessage(honest.message) }
    const offline = await new CertificateRegistry().add(peerId, certificate)
    expect(offline.status).toBe('unverifiable')
    const noCode = { getCode: async () => '0x' } as unknown as Provider
    const withChain = await new CertificateRegistry({ provider: noCode }).add(peerId, certificate)
    expect(withChain.status === 'invalid' && withChain.error.reason).toBe(CertificateFailure.badSignature)
  })

  // A rejection that depends on the clock must not be cached: a certificate refused as not yet
  // valid (or issued in the future, e.g. a signer whose clock runs a few minutes fast) would
  // otherwise stay refused after its time has come, until evicted.
  it('behavior: a certificate rejected as not yet valid is accepted once its notBefore has passed', async () => {
    let now = Date.now()
    const registry = new CertificateRegistry({ now: () => now })
    const wallet = Wallet.createRandom()
    const peerId = await newPeerId()
    const certificate = await signSiwe(wallet, peerId, {
      issuedAtMs: now,
      notBeforeMs: now + HOUR_MS,
      expiresAtMs: now + 2 * HOUR_MS,
    })
    const early = registry.addOffline(peerId, certificate)
    expect(early.status === 'invalid' && early.error.reason).toBe(CertificateFailure.notYetValid)
    now += HOUR_MS + MINUTE_MS
    expect(registry.addOffline(peerId, certificate).status).toBe('valid')
  })

  it('behavior: a certificate rejected as issued in the future is accepted once the clocks agree', async () => {
    let now = Date.now()
    const registry = new CertificateRegistry({ now: () => now })
    const peerId = await newPeerId()
    // The signer's clock runs ten minutes fast: beyond the tolerated skew.
    const certificate = await certify(Wallet.createRandom(), peerId, { now: now + CLOCK_SKEW_MS + 5 * MINUTE_MS })
    const early = registry.addOffline(peerId, certificate)
    expect(early.status === 'invalid' && early.error.reason).toBe(CertificateFailure.issuedInFuture)
    now += 10 * MINUTE_MS
    expect(registry.addOffline(peerId, certificate).status).toBe('valid')
  })
})
