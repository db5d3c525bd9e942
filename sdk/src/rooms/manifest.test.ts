import { type Provider, Wallet } from 'ethers'
import fc from 'fast-check'
import { beforeAll, describe, expect, it, vi } from 'vitest'
import { base64urlEncode, utf8 } from '../encoding.ts'
import { InvalidInputError, InvalidManifestError } from '../errors.ts'
import { walletSigner } from '../identity/signer.ts'
import { decodeInvite, encodeInvite, INVITE_PREFIX } from './invite.ts'
import {
  createManifest,
  manifestSigningText,
  type RoomManifest,
  roomIdOf,
  type SignedManifest,
  verifyManifest,
  verifyManifestOffline,
} from './manifest.ts'

const owner = Wallet.createRandom()
let signed: SignedManifest

beforeAll(async () => {
  signed = await createManifest({
    signer: walletSigner({ type: 'eoa', signer: owner }),
    name: 'lobby',
    domains: ['localhost', 'chat.example.org'],
    chainIds: [31337, 1],
    now: 1_700_000_000_000,
  })
})

/** A changed copy of the manifest for each of its fields. */
function fieldChanges(manifest: RoomManifest): Record<string, RoomManifest> {
  return {
    name: { ...manifest, name: `${manifest.name}!` },
    owner: { ...manifest, owner: Wallet.createRandom().address },
    access: { ...manifest, access: { type: manifest.access.type === 'public' ? 'invite-only' : 'public' } },
    domains: { ...manifest, domains: [...manifest.domains, 'other.example'] },
    domainOrder: { ...manifest, domains: [...manifest.domains].reverse() },
    chainIds: { ...manifest, chainIds: [...manifest.chainIds, 10] },
    salt: { ...manifest, salt: manifest.salt.replace(/^./, (c) => (c === '0' ? '1' : '0')) },
    createdAtMs: { ...manifest, createdAtMs: manifest.createdAtMs + 1 },
  }
}

async function invalidInput(fn: () => unknown): Promise<InvalidInputError> {
  try {
    await fn()
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidInputError)
    return err as InvalidInputError
  }
  throw new Error('expected an InvalidInputError, nothing was thrown')
}

describe('room manifest', () => {
  it('behavior: a created manifest verifies and names its owner', async () => {
    const { roomId, signed: verified } = await verifyManifest(signed)
    expect(roomId).toBe(roomIdOf(signed.manifest))
    expect(roomId).toMatch(/^[0-9a-f]{64}$/)
    expect(verified.manifest.owner).toBe(owner.address)
    expect(verifyManifestOffline(signed, roomId)).toEqual(signed)
    await expect(verifyManifest(signed, { roomId })).resolves.toMatchObject({ roomId })
  })

  it('error: a manifest without domains or chain ids is refused before the wallet is asked (no devnet default)', async () => {
    const signer = walletSigner({ type: 'eoa', signer: owner })
    const asked = vi.spyOn(signer, 'signMessage')
    const missing = [{ domains: [], chainIds: [1] }, { domains: ['chat.example.org'] }] as unknown as Array<{
      domains: string[]
      chainIds: number[]
    }>
    for (const terms of missing) {
      const err = await createManifest({ signer, name: 'lobby', ...terms }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(InvalidInputError)
      expect((err as InvalidInputError).hint).toMatch(/^pass (domains|chainIds)/)
    }
    expect(asked).not.toHaveBeenCalled()
  })

  it('behavior: the signing text shows the room name and owner and binds the room id', () => {
    const text = manifestSigningText(signed.manifest)
    expect(text).toContain('name: lobby')
    expect(text).toContain(`owner: ${owner.address}`)
    expect(text).toContain(`room: ${roomIdOf(signed.manifest)}`)
  })

  it('behavior: the room id is stable: the same manifest, in any key order, gives the same id', () => {
    const manifest = signed.manifest
    const reordered = Object.fromEntries(Object.entries(manifest).reverse()) as RoomManifest
    expect(roomIdOf(manifest)).toBe(roomIdOf(structuredClone(manifest)))
    expect(roomIdOf(reordered)).toBe(roomIdOf(manifest))
    expect(JSON.stringify(reordered)).not.toBe(JSON.stringify(manifest))
  })

  it('behavior: the room id changes with any field of the manifest', () => {
    const base = roomIdOf(signed.manifest)
    const ids = new Set([base])
    for (const [field, changed] of Object.entries(fieldChanges(signed.manifest))) {
      const id = roomIdOf(changed)
      expect(id, field).not.toBe(base)
      ids.add(id)
    }
    expect(ids.size).toBe(Object.keys(fieldChanges(signed.manifest)).length + 1)
  })

  it('behavior: different names give different room ids (property)', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 100 }), fc.string({ minLength: 1, maxLength: 100 }), (a, b) => {
        fc.pre(a !== b)
        expect(roomIdOf({ ...signed.manifest, name: a })).not.toBe(roomIdOf({ ...signed.manifest, name: b }))
      }),
    )
  })

  it('error: a manifest signed by someone other than its owner is refused', async () => {
    const impostor = Wallet.createRandom()
    const forged: SignedManifest = {
      manifest: signed.manifest,
      signature: await impostor.signMessage(manifestSigningText(signed.manifest)),
    }
    await expect(verifyManifest(forged)).rejects.toThrow(InvalidManifestError)
    expect(() => verifyManifestOffline(forged, roomIdOf(signed.manifest))).toThrow(InvalidManifestError)
    // A chain that finds no contract at the owner's address does not help either.
    const noCode = { getCode: async () => '0x' } as unknown as Provider
    await expect(verifyManifest(forged, { provider: noCode })).rejects.toThrow(InvalidManifestError)
  })

  it('error: a manifest created by one wallet and claimed by another is refused', async () => {
    const impostor = Wallet.createRandom()
    const claimed = { ...signed.manifest, owner: impostor.address }
    const forged = { manifest: claimed, signature: signed.signature }
    await expect(verifyManifest(forged)).rejects.toThrow(InvalidManifestError)
  })

  it('error: a manifest changed after signing is refused, and does not hash to the room id', async () => {
    const roomId = roomIdOf(signed.manifest)
    for (const [field, changed] of Object.entries(fieldChanges(signed.manifest))) {
      const tampered = { manifest: changed, signature: signed.signature }
      await expect(verifyManifest(tampered), field).rejects.toThrow(InvalidManifestError)
      await expect(verifyManifest(tampered, { roomId }), field).rejects.toThrow(InvalidManifestError)
      expect(() => verifyManifestOffline(tampered, roomId), field).toThrow(InvalidManifestError)
    }
  })

  it('error: a valid manifest presented for another room id is refused', async () => {
    const other = 'f'.repeat(64)
    await expect(verifyManifest(signed, { roomId: other })).rejects.toThrow(InvalidManifestError)
    expect(() => verifyManifestOffline(signed, other)).toThrow(InvalidManifestError)
  })

  it('error: malformed manifests are refused with InvalidManifestError', async () => {
    const malformed: unknown[] = [
      null,
      'manifest',
      {},
      { manifest: signed.manifest },
      { ...signed, extra: 1 },
      { ...signed, signature: 'not hex' },
      { ...signed, manifest: { ...signed.manifest, v: 2 } },
      { ...signed, manifest: { ...signed.manifest, name: '' } },
      { ...signed, manifest: { ...signed.manifest, owner: '0x1234' } },
      { ...signed, manifest: { ...signed.manifest, domains: [] } },
      { ...signed, manifest: { ...signed.manifest, chainIds: [0] } },
      { ...signed, manifest: { ...signed.manifest, salt: 'AB'.repeat(16) } },
      { ...signed, manifest: { ...signed.manifest, access: { type: 'gated' } } },
      { ...signed, manifest: { ...signed.manifest, encryption: 'none' } },
    ]
    for (const input of malformed) {
      await expect(verifyManifest(input), JSON.stringify(input)?.slice(0, 60)).rejects.toThrow(InvalidManifestError)
    }
  })
})

describe('room invite', () => {
  it('behavior: an invite round-trips the signed manifest and relay hints', () => {
    const relays = ['/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWDey1j88DmvWfoq7L1cQ6wLPYPe8sEb5EmqSLJtvNGHXf']
    const invite = encodeInvite({ manifest: signed, relays })
    expect(invite.startsWith(INVITE_PREFIX)).toBe(true)
    expect(invite).toMatch(/^securechat:[A-Za-z0-9_-]+$/)
    expect(decodeInvite(invite)).toEqual({ manifest: signed, relays })
    expect(decodeInvite(`  ${invite}\n`)).toEqual({ manifest: signed, relays })
    expect(decodeInvite(encodeInvite({ manifest: signed }))).toEqual({ manifest: signed })
    expect(decodeInvite(encodeInvite({ manifest: signed, relays: [] }))).toEqual({ manifest: signed })
  })

  it('error: an invite without the prefix says what an invite looks like', async () => {
    const invite = encodeInvite({ manifest: signed })
    const error = await invalidInput(() => decodeInvite(invite.slice(INVITE_PREFIX.length)))
    expect(error.hint).toBeDefined()
    expect(error.details).toHaveProperty('received')
  })

  it('error: damaged invites give InvalidInputError with a hint', async () => {
    const invite = encodeInvite({ manifest: signed, relays: ['/ip4/127.0.0.1/tcp/1'] })
    const body = invite.slice(INVITE_PREFIX.length)
    const damaged = [
      `${INVITE_PREFIX}`,
      `${INVITE_PREFIX}!!!`,
      `${INVITE_PREFIX}${body.slice(0, body.length - 7)}`,
      `${INVITE_PREFIX}${body.slice(0, 1)}`,
      `${INVITE_PREFIX}${body.replace(/.$/, '*')}`,
      `${INVITE_PREFIX}${base64urlEncode(utf8.encode('null'))}`,
      `${INVITE_PREFIX}${base64urlEncode(utf8.encode('{"manifest":{}}'))}`,
      `${INVITE_PREFIX}${base64urlEncode(utf8.encode(JSON.stringify({ manifest: signed, extra: 1 })))}`,
      `${INVITE_PREFIX}${base64urlEncode(utf8.encode(JSON.stringify({ manifest: signed, relays: 'x' })))}`,
      // A relay hint that is no address (the CLI put one in before it checked its flags): refused here, not at a dial.
      `${INVITE_PREFIX}${base64urlEncode(utf8.encode(JSON.stringify({ manifest: signed, relays: ['notamultiaddr'] })))}`,
      `${INVITE_PREFIX}${base64urlEncode(new Uint8Array([0xff, 0xfe, 0x7b]))}`,
    ]
    for (const text of damaged) {
      const error = await invalidInput(() => decodeInvite(text))
      expect(error.name).toBe('InvalidInputError')
      expect(error.hint, text.slice(0, 40)).toBeDefined()
    }
  })

  it('error: every truncation of an invite throws InvalidInputError, nothing else (property)', () => {
    const invite = encodeInvite({ manifest: signed, relays: ['/ip4/127.0.0.1/tcp/1'] })
    fc.assert(
      fc.property(fc.nat({ max: invite.length - 1 }), (length) => {
        expect(() => decodeInvite(invite.slice(0, length))).toThrow(InvalidInputError)
      }),
    )
  })

  it('behavior: an invite carries the manifest as signed: tampering is caught when joining', async () => {
    const invite = decodeInvite(encodeInvite({ manifest: signed }))
    const tampered = { ...invite.manifest, manifest: { ...invite.manifest.manifest, name: 'not the lobby' } }
    await expect(verifyManifest(tampered)).rejects.toThrow(InvalidManifestError)
  })
})
