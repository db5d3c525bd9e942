import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { CryptoError, DecryptionFailedError, MalformedMessageError } from './errors.ts'
import { hybridDecapsulate, hybridEncapsulate, hybridOpen, hybridSeal } from './hybrid-kem.ts'
import { generateDeviceKeys } from './key-bundle.ts'

const text = (s: string) => new TextEncoder().encode(s)
const binding = { senderId: '12D3KooWAlice', recipientId: '12D3KooWBob', context: 'sender-key:room-1' }

async function parties() {
  const [alice, bob, mallory] = await Promise.all([
    generateDeviceKeys({ oneTimePrekeyCount: 0 }),
    generateDeviceKeys({ oneTimePrekeyCount: 0 }),
    generateDeviceKeys({ oneTimePrekeyCount: 0 }),
  ])
  return { alice, bob, mallory }
}

describe('hybrid X25519 + ML-KEM-768 (X-Wing) channel', () => {
  it('behavior: both sides derive the same key and transcript hash; each encapsulation is fresh', async () => {
    const { alice, bob } = await parties()
    const sent = await hybridEncapsulate({
      ...binding,
      senderIdentityKey: alice.identityKey,
      recipientIdentityKey: bob.identityKey.publicKey,
      recipientKemKey: bob.kemKey.publicKey,
    })
    const received = await hybridDecapsulate({
      ...binding,
      recipientIdentityKey: bob.identityKey,
      recipientKemKey: bob.kemKey,
      senderIdentityKey: alice.identityKey.publicKey,
      cipherText: sent.cipherText,
    })
    expect(received.sharedKey).toEqual(sent.sharedKey)
    expect(received.transcriptHash).toEqual(sent.transcriptHash)
    const again = await hybridEncapsulate({
      ...binding,
      senderIdentityKey: alice.identityKey,
      recipientIdentityKey: bob.identityKey.publicKey,
      recipientKemKey: bob.kemKey.publicKey,
    })
    expect(again.sharedKey).not.toEqual(sent.sharedKey)
  })

  it('behavior: seal and open a sender key distribution', async () => {
    const { alice, bob } = await parties()
    const sealed = await hybridSeal({
      ...binding,
      senderIdentityKey: alice.identityKey,
      recipientIdentityKey: bob.identityKey.publicKey,
      recipientKemKey: bob.kemKey.publicKey,
      plaintext: text('chain key'),
    })
    expect(sealed.length).toBe(1 + 1120 + 9 + 16)
    const opened = await hybridOpen({
      ...binding,
      recipientIdentityKey: bob.identityKey,
      recipientKemKey: bob.kemKey,
      senderIdentityKey: alice.identityKey.publicKey,
      sealed,
    })
    expect(opened).toEqual(text('chain key'))
  })

  it('error: another sender, a claimed identity without its secret, another recipient or another binding cannot open', async () => {
    const { alice, bob, mallory } = await parties()
    const sealFrom = (senderIdentityKey: typeof alice.identityKey) =>
      hybridSeal({
        ...binding,
        senderIdentityKey,
        recipientIdentityKey: bob.identityKey.publicKey,
        recipientKemKey: bob.kemKey.publicKey,
        plaintext: text('x'),
      })
    const open = (sealed: Uint8Array, overrides: Partial<Parameters<typeof hybridOpen>[0]> = {}) =>
      hybridOpen({
        ...binding,
        recipientIdentityKey: bob.identityKey,
        recipientKemKey: bob.kemKey,
        senderIdentityKey: alice.identityKey.publicKey,
        sealed,
        ...overrides,
      })
    // Mallory encapsulates to Bob (anyone can) but is not Alice.
    await expect(open(await sealFrom(mallory.identityKey))).rejects.toBeInstanceOf(DecryptionFailedError)
    await expect(
      open(await sealFrom({ publicKey: alice.identityKey.publicKey, secretKey: mallory.identityKey.secretKey })),
    ).rejects.toBeInstanceOf(DecryptionFailedError)
    const genuine = await sealFrom(alice.identityKey)
    await expect(
      open(genuine, { recipientIdentityKey: mallory.identityKey, recipientKemKey: mallory.kemKey }),
    ).rejects.toBeInstanceOf(DecryptionFailedError)
    await expect(open(genuine, { senderId: '12D3KooWMallory' })).rejects.toBeInstanceOf(DecryptionFailedError)
    await expect(open(genuine, { recipientId: '12D3KooWCarol' })).rejects.toBeInstanceOf(DecryptionFailedError)
    await expect(open(genuine, { context: 'sender-key:room-2' })).rejects.toBeInstanceOf(DecryptionFailedError)
    await expect(open(genuine.subarray(0, 500))).rejects.toBeInstanceOf(MalformedMessageError)
    expect(await open(genuine)).toEqual(text('x'))
  })

  it('error: tampering — any flipped bit of a sealed message is a named error, never a crash', async () => {
    const { alice, bob } = await parties()
    const sealed = await hybridSeal({
      ...binding,
      senderIdentityKey: alice.identityKey,
      recipientIdentityKey: bob.identityKey.publicKey,
      recipientKemKey: bob.kemKey.publicKey,
      plaintext: text('chain key'),
    })
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: sealed.length * 8 - 1 }), async (bit) => {
        const copy = sealed.slice()
        copy[bit >> 3]! ^= 1 << (bit & 7)
        await expect(
          hybridOpen({
            ...binding,
            recipientIdentityKey: bob.identityKey,
            recipientKemKey: bob.kemKey,
            senderIdentityKey: alice.identityKey.publicKey,
            sealed: copy,
          }),
        ).rejects.toBeInstanceOf(CryptoError)
      }),
      { numRuns: 60 },
    )
  })
})
