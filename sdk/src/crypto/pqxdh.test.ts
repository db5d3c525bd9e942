import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { PREVIOUS_SIGNED_PREKEYS_KEPT, SIGNED_PREKEY_MAX_AGE_MS } from './constants.ts'
import {
  CryptoError,
  DecryptionFailedError,
  InvalidKeyError,
  InvalidSignatureError,
  MalformedMessageError,
  PrekeyNotFoundError,
} from './errors.ts'
import {
  addOneTimePrekeys,
  type BundleVerifier,
  bundleHash,
  createKeyBundle,
  type DeviceKeys,
  decodeDeviceKeys,
  decodeKeyBundle,
  encodeDeviceKeys,
  encodeIdentityKey,
  encodeKeyBundle,
  generateDeviceKeys,
  type KeyBundle,
  rotateSignedPrekeys,
  verifyKeyBundle,
} from './key-bundle.ts'
import {
  acceptSession,
  decodeInitialMessage,
  initiateSession,
  PQXDH_INFO,
  pqxdhAssociatedData,
  pqxdhInitiate,
  pqxdhRespond,
} from './pqxdh.ts'
import {
  concatBytes,
  ed25519Keygen,
  ed25519Sign,
  ed25519Verify,
  hkdfSha256,
  type KeyPair,
  mlKem768Decapsulate,
  x25519SharedSecret,
} from './primitives.ts'

const text = (s: string) => new TextEncoder().encode(s)
const ALICE = '12D3KooWAlice'
const BOB = '12D3KooWBob'

/** A device as the networking layer will have it: encryption keys plus its PeerId signing key. */
async function device(oneTimePrekeyCount = 3) {
  const peerKey = ed25519Keygen()
  const deviceKeys = await generateDeviceKeys({ oneTimePrekeyCount })
  const sign = async (message: Uint8Array) => ed25519Sign({ message, secretKey: peerKey.secretKey })
  const verify: BundleVerifier = async (message, signature) =>
    ed25519Verify({ signature, message, publicKey: peerKey.publicKey })
  return { peerKey, deviceKeys, sign, verify }
}

async function publish(d: { deviceKeys: DeviceKeys; sign: (m: Uint8Array) => Promise<Uint8Array> }) {
  return createKeyBundle({ deviceKeys: d.deviceKeys, sign: d.sign })
}

describe('key bundle', () => {
  it('behavior: encode/decode round trip; the signature verifies; the hash commits to identity and KEM keys only', async () => {
    const bob = await device()
    const bundle = await publish(bob)
    const decoded = decodeKeyBundle(encodeKeyBundle(bundle))
    expect(decoded).toEqual(bundle)
    await expect(
      verifyKeyBundle({ bundle: decoded, verify: bob.verify, expectedBundleHash: bundleHash(bundle) }),
    ).resolves.toBe(decoded)
    // Rotating prekeys keeps the hash; a new identity changes it.
    const rotated = await publish({ ...bob, deviceKeys: await rotateSignedPrekeys({ deviceKeys: bob.deviceKeys }) })
    expect(bundleHash(rotated)).toEqual(bundleHash(bundle))
    expect(rotated.signedPrekey.id).not.toBe(bundle.signedPrekey.id)
    expect(bundleHash(await publish(await device()))).not.toEqual(bundleHash(bundle))
  })

  it('error: a wrong prekey signature is an InvalidSignatureError (swapped prekey, other signer, flipped bit)', async () => {
    const bob = await device()
    const mallory = await device()
    const bundle = await publish(bob)
    const swapped: KeyBundle = {
      ...bundle,
      signedPrekey: { ...bundle.signedPrekey, publicKey: mallory.deviceKeys.signedPrekeys[0]!.keyPair.publicKey },
    }
    await expect(verifyKeyBundle({ bundle: swapped, verify: bob.verify })).rejects.toBeInstanceOf(InvalidSignatureError)
    const swappedPq: KeyBundle = {
      ...bundle,
      pqPrekey: { ...bundle.pqPrekey, publicKey: mallory.deviceKeys.pqPrekeys[0]!.keyPair.publicKey },
    }
    await expect(verifyKeyBundle({ bundle: swappedPq, verify: bob.verify })).rejects.toBeInstanceOf(
      InvalidSignatureError,
    )
    await expect(
      verifyKeyBundle({ bundle: await publish({ ...bob, sign: mallory.sign }), verify: bob.verify }),
    ).rejects.toBeInstanceOf(InvalidSignatureError)
    const encoded = encodeKeyBundle(bundle)
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: encoded.length * 8 - 1 }), async (bit) => {
        const copy = encoded.slice()
        copy[bit >> 3]! ^= 1 << (bit & 7)
        let error: unknown
        try {
          await verifyKeyBundle({ bundle: decodeKeyBundle(copy), verify: bob.verify })
        } catch (err) {
          error = err
        }
        expect(error).toSatisfy((e) => e instanceof InvalidSignatureError || e instanceof MalformedMessageError)
      }),
      { numRuns: 100 },
    )
  })

  it('error: a bundle that does not match the certificate hash, or with stale prekeys, is an InvalidKeyError', async () => {
    const bob = await device()
    const other = await device()
    const bundle = await publish(bob)
    await expect(
      verifyKeyBundle({ bundle, verify: bob.verify, expectedBundleHash: bundleHash(await publish(other)) }),
    ).rejects.toBeInstanceOf(InvalidKeyError)
    const now = bundle.signedPrekey.createdAtMs
    await expect(
      verifyKeyBundle({ bundle, verify: bob.verify, nowMs: now + SIGNED_PREKEY_MAX_AGE_MS + 1 }),
    ).rejects.toBeInstanceOf(InvalidKeyError)
    await expect(verifyKeyBundle({ bundle, verify: bob.verify, nowMs: now - 60 * 60 * 1000 })).rejects.toBeInstanceOf(
      InvalidKeyError,
    )
  })

  it('behavior: device keys survive encode/decode (for the vault) and still accept sessions', async () => {
    const bob = await device()
    const restored = decodeDeviceKeys(encodeDeviceKeys(bob.deviceKeys))
    expect(restored).toEqual(bob.deviceKeys)
    expect(() => decodeDeviceKeys(encodeDeviceKeys(bob.deviceKeys).subarray(1))).toThrow(MalformedMessageError)
  })
})

describe('PQXDH', () => {
  it('behavior: both sides derive the same SK and AD, with and without a one-time prekey, as the spec computes them', async () => {
    for (const oneTimePrekeyCount of [2, 0]) {
      const alice = await device()
      const bob = await device(oneTimePrekeyCount)
      const bundle = await verifyKeyBundle({ bundle: await publish(bob), verify: bob.verify })
      const a = await pqxdhInitiate({
        identityKey: alice.deviceKeys.identityKey,
        bundle,
        initiatorId: ALICE,
        responderId: BOB,
      })
      const b = await pqxdhRespond({
        deviceKeys: bob.deviceKeys,
        header: a.header,
        initiatorId: ALICE,
        responderId: BOB,
      })
      expect(b.sharedSecret).toEqual(a.sharedSecret)
      expect(b.associatedData).toEqual(a.associatedData)
      expect(a.header.oneTimePrekeyId === null).toBe(oneTimePrekeyCount === 0)

      // Independent recomputation from the specification's formulas.
      const spk = bob.deviceKeys.signedPrekeys[0]!.keyPair
      const dh1 = await x25519SharedSecret({
        secretKey: alice.deviceKeys.identityKey.secretKey,
        publicKey: spk.publicKey,
      })
      const dh2 = await x25519SharedSecret({
        secretKey: bob.deviceKeys.identityKey.secretKey,
        publicKey: a.header.ephemeralKey,
      })
      const dh3 = await x25519SharedSecret({ secretKey: spk.secretKey, publicKey: a.header.ephemeralKey })
      const opk = bob.deviceKeys.oneTimePrekeys.find((k) => k.id === a.header.oneTimePrekeyId)
      const dh4 = opk
        ? [await x25519SharedSecret({ secretKey: opk.keyPair.secretKey, publicKey: a.header.ephemeralKey })]
        : []
      const ss = mlKem768Decapsulate({
        cipherText: a.header.kemCiphertext,
        secretKey: bob.deviceKeys.pqPrekeys[0]!.keyPair.secretKey,
      })
      const f = new Uint8Array(32).fill(0xff)
      const sk = hkdfSha256({
        ikm: concatBytes(f, dh1, dh2, dh3, ...dh4, ss),
        salt: new Uint8Array(32),
        info: PQXDH_INFO,
        length: 32,
      })
      expect(a.sharedSecret).toEqual(sk)
      const enc = (k: KeyPair) => encodeIdentityKey(k.publicKey)
      expect(a.associatedData.subarray(0, 66)).toEqual(
        concatBytes(enc(alice.deviceKeys.identityKey), enc(bob.deviceKeys.identityKey)),
      )
      expect(new TextDecoder().decode(a.associatedData)).toContain(ALICE)
    }
  })

  it('behavior: a session starts from the initial message and continues in both directions', async () => {
    const alice = await device()
    const bob = await device()
    const bundle = await verifyKeyBundle({ bundle: await publish(bob), verify: bob.verify })
    const started = await initiateSession({
      identityKey: alice.deviceKeys.identityKey,
      bundle,
      initiatorId: ALICE,
      responderId: BOB,
      plaintext: text('hi Bob'),
    })
    const accepted = await acceptSession({
      deviceKeys: bob.deviceKeys,
      initialMessage: started.initialMessage,
      initiatorId: ALICE,
      responderId: BOB,
      expectedInitiatorIdentityKey: alice.deviceKeys.identityKey.publicKey,
    })
    expect(accepted.plaintext).toEqual(text('hi Bob'))
    expect(accepted.initiatorIdentityKey).toEqual(alice.deviceKeys.identityKey.publicKey)
    expect(await started.session.decrypt(await accepted.session.encrypt(text('hi Alice')))).toEqual(text('hi Alice'))
    expect(await accepted.session.decrypt(await started.session.encrypt(text('how are you')))).toEqual(
      text('how are you'),
    )
  })

  it('behavior: a one-time prekey is used once — the returned device keys lack it and a replay is a PrekeyNotFoundError', async () => {
    const alice = await device()
    const bob = await device(1)
    const bundle = await verifyKeyBundle({ bundle: await publish(bob), verify: bob.verify })
    const started = await initiateSession({
      identityKey: alice.deviceKeys.identityKey,
      bundle,
      initiatorId: ALICE,
      responderId: BOB,
      plaintext: text('x'),
    })
    const usedId = decodeInitialMessage(started.initialMessage).header.oneTimePrekeyId
    expect(usedId).toBe(bob.deviceKeys.oneTimePrekeys[0]!.id)
    const accepted = await acceptSession({
      deviceKeys: bob.deviceKeys,
      initialMessage: started.initialMessage,
      initiatorId: ALICE,
      responderId: BOB,
    })
    expect(accepted.deviceKeys.oneTimePrekeys).toHaveLength(0)
    await expect(
      acceptSession({
        deviceKeys: accepted.deviceKeys,
        initialMessage: started.initialMessage,
        initiatorId: ALICE,
        responderId: BOB,
      }),
    ).rejects.toBeInstanceOf(PrekeyNotFoundError)
    // A second initiator with the now-empty bundle runs without DH4.
    const next = await verifyKeyBundle({
      bundle: await publish({ ...bob, deviceKeys: accepted.deviceKeys }),
      verify: bob.verify,
    })
    const again = await initiateSession({
      identityKey: alice.deviceKeys.identityKey,
      bundle: next,
      initiatorId: ALICE,
      responderId: BOB,
      plaintext: text('y'),
    })
    expect(decodeInitialMessage(again.initialMessage).header.oneTimePrekeyId).toBeNull()
    const refilled = await addOneTimePrekeys({ deviceKeys: accepted.deviceKeys, count: 2 })
    expect(
      (
        await acceptSession({
          deviceKeys: refilled,
          initialMessage: again.initialMessage,
          initiatorId: ALICE,
          responderId: BOB,
        })
      ).plaintext,
    ).toEqual(text('y'))
  })

  it(`behavior: initial messages built on a bundle up to ${PREVIOUS_SIGNED_PREKEYS_KEPT} rotations old are accepted; older ones are PrekeyNotFoundError`, async () => {
    const alice = await device()
    const bob = await device()
    const bundle = await verifyKeyBundle({ bundle: await publish(bob), verify: bob.verify })
    const started = await initiateSession({
      identityKey: alice.deviceKeys.identityKey,
      bundle,
      initiatorId: ALICE,
      responderId: BOB,
      plaintext: text('late'),
    })
    let keys = bob.deviceKeys
    for (let i = 0; i < PREVIOUS_SIGNED_PREKEYS_KEPT; i++) keys = await rotateSignedPrekeys({ deviceKeys: keys })
    expect(
      (
        await acceptSession({
          deviceKeys: keys,
          initialMessage: started.initialMessage,
          initiatorId: ALICE,
          responderId: BOB,
        })
      ).plaintext,
    ).toEqual(text('late'))
    keys = await rotateSignedPrekeys({ deviceKeys: keys })
    await expect(
      acceptSession({ deviceKeys: keys, initialMessage: started.initialMessage, initiatorId: ALICE, responderId: BOB }),
    ).rejects.toBeInstanceOf(PrekeyNotFoundError)
  })

  it('error: other peer ids or another initiator identity are rejected', async () => {
    const alice = await device()
    const bob = await device()
    const mallory = await device()
    const bundle = await verifyKeyBundle({ bundle: await publish(bob), verify: bob.verify })
    const started = await initiateSession({
      identityKey: alice.deviceKeys.identityKey,
      bundle,
      initiatorId: ALICE,
      responderId: BOB,
      plaintext: text('x'),
    })
    const accept = (overrides: Partial<Parameters<typeof acceptSession>[0]>) =>
      acceptSession({
        deviceKeys: bob.deviceKeys,
        initialMessage: started.initialMessage,
        initiatorId: ALICE,
        responderId: BOB,
        ...overrides,
      })
    await expect(accept({ initiatorId: '12D3KooWMallory' })).rejects.toBeInstanceOf(DecryptionFailedError)
    await expect(accept({ responderId: '12D3KooWCarol' })).rejects.toBeInstanceOf(DecryptionFailedError)
    await expect(
      accept({ expectedInitiatorIdentityKey: mallory.deviceKeys.identityKey.publicKey }),
    ).rejects.toBeInstanceOf(InvalidKeyError)
    // Mallory cannot claim Alice's identity key without its secret.
    const forged = await initiateSession({
      identityKey: {
        publicKey: alice.deviceKeys.identityKey.publicKey,
        secretKey: mallory.deviceKeys.identityKey.secretKey,
      },
      bundle,
      initiatorId: ALICE,
      responderId: BOB,
      plaintext: text('I am Alice'),
    })
    await expect(accept({ initialMessage: forged.initialMessage })).rejects.toBeInstanceOf(DecryptionFailedError)
  })

  it('error: tampering — any flipped bit of an initial message is a named error and no prekey is consumed', async () => {
    const alice = await device()
    const bob = await device()
    const bundle = await verifyKeyBundle({ bundle: await publish(bob), verify: bob.verify })
    const { initialMessage } = await initiateSession({
      identityKey: alice.deviceKeys.identityKey,
      bundle,
      initiatorId: ALICE,
      responderId: BOB,
      plaintext: text('x'),
    })
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: initialMessage.length * 8 - 1 }), async (bit) => {
        const copy = initialMessage.slice()
        copy[bit >> 3]! ^= 1 << (bit & 7)
        await expect(
          acceptSession({ deviceKeys: bob.deviceKeys, initialMessage: copy, initiatorId: ALICE, responderId: BOB }),
        ).rejects.toBeInstanceOf(CryptoError)
      }),
      { numRuns: 60 },
    )
    expect(bob.deviceKeys.oneTimePrekeys).toHaveLength(3)
    const ok = await acceptSession({ deviceKeys: bob.deviceKeys, initialMessage, initiatorId: ALICE, responderId: BOB })
    expect(ok.plaintext).toEqual(text('x'))
  })

  it('behavior: AD is Encode(IK_A) || Encode(IK_B) || both ids, length-prefixed', () => {
    const ad = pqxdhAssociatedData({
      initiatorIdentityKey: new Uint8Array(32).fill(1),
      responderIdentityKey: new Uint8Array(32).fill(2),
      initiatorId: 'a',
      responderId: 'bc',
    })
    expect(Array.from(ad)).toEqual([
      5,
      ...new Uint8Array(32).fill(1),
      5,
      ...new Uint8Array(32).fill(2),
      0,
      1,
      97,
      0,
      2,
      98,
      99,
    ])
  })
})
