import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { Wallet } from 'ethers'
import { describe, expect, it } from 'vitest'
import { createCertificate } from './certificate.ts'
import { CertificateRegistry } from './registry.ts'
import { checkSender, policyViolation } from './sender.ts'
import { type WalletSignerInit, walletSigner } from './signer.ts'

const TERMS = { domain: 'chat.example.org', chainId: 1 }

async function newPeerId(): Promise<string> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
}

async function certify(init: WalletSignerInit, peerId: string) {
  return createCertificate({ signer: walletSigner(init), peerId, ...TERMS })
}

/** A contract wallet's signer as seen without a chain: its signature recovers to another address (its owner's). */
function contractWallet(): WalletSignerInit {
  return { type: 'contract', address: Wallet.createRandom().address, signer: Wallet.createRandom() }
}

describe('checkSender: what rooms and DMs ask first of every record', () => {
  it('behavior: a certificate for the signing PeerId is valid at once (no Promise), with its verified facts', async () => {
    const wallet = Wallet.createRandom()
    const from = await newPeerId()
    const verdict = checkSender(new CertificateRegistry(), from, await certify({ type: 'eoa', signer: wallet }, from))
    expect(verdict).not.toBeInstanceOf(Promise)
    expect(verdict).toMatchObject({ status: 'valid', certificate: { address: wallet.address, peerId: from } })
  })

  it('error: a certificate for another PeerId is invalid, and the reason names the failure', async () => {
    const certificate = await certify({ type: 'eoa', signer: Wallet.createRandom() }, await newPeerId())
    const verdict = checkSender(new CertificateRegistry(), await newPeerId(), certificate)
    expect(verdict).toMatchObject({ status: 'invalid', reason: expect.stringMatching(/^InvalidCertificateError: /) })
  })

  it('behavior: a contract wallet with no chain to ask is unverifiable (ignored, not rejected)', async () => {
    const from = await newPeerId()
    const verdict = checkSender(new CertificateRegistry(), from, await certify(contractWallet(), from))
    expect(verdict).toBeInstanceOf(Promise)
    expect(await verdict).toEqual({ status: 'unverifiable' })
  })

  it('behavior: with no chain, that verdict is kept: the same certificate again is unverifiable at once, not checked again', async () => {
    const from = await newPeerId()
    const certificate = await certify(contractWallet(), from)
    let nowMs = Date.now()
    const registry = new CertificateRegistry({ now: () => nowMs })
    expect(await checkSender(registry, from, certificate)).toEqual({ status: 'unverifiable' })
    // What a flood of records carrying it costs: a hash each, no SIWE parse or signature recovery (no Promise).
    expect(checkSender(registry, from, certificate)).toEqual({ status: 'unverifiable' })
    // Another PeerId naming it is judged on its own: the certificate names only the first.
    expect(checkSender(registry, await newPeerId(), certificate)).toMatchObject({ status: 'invalid' })
    // Once expired it is judged afresh, and is invalid like any expired certificate.
    nowMs += 366 * 24 * 3_600_000
    expect(checkSender(registry, from, certificate)).toMatchObject({
      status: 'invalid',
      reason: expect.stringMatching(/expired/),
    })
  })
})

describe('policyViolation', () => {
  it("behavior: says why a certificate is outside the receiver's domains or chains, and nothing when inside", async () => {
    const from = await newPeerId()
    const verdict = checkSender(
      new CertificateRegistry(),
      from,
      await certify({ type: 'eoa', signer: Wallet.createRandom() }, from),
    )
    if (verdict instanceof Promise || verdict.status !== 'valid') throw new Error('expected a valid certificate')
    const { certificate } = verdict
    expect(policyViolation(certificate, { domains: [TERMS.domain], chainIds: [TERMS.chainId] })).toBeUndefined()
    expect(policyViolation(certificate, { domains: ['other.example'], chainIds: [TERMS.chainId] })).toMatch(
      /another domain/,
    )
    expect(policyViolation(certificate, { domains: [TERMS.domain], chainIds: [31337] })).toMatch(/another chain/)
  })
})
