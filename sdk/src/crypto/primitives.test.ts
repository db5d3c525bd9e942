import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'
import { describe, expect, it } from 'vitest'
import { DecryptionFailedError, InvalidKeyError, MalformedMessageError } from './errors.ts'
import {
  aesGcmDecrypt,
  aesGcmEncrypt,
  aesGcmOpen,
  aesGcmSeal,
  ed25519Keygen,
  ed25519Sign,
  ed25519Verify,
  equalBytes,
  hkdfSha256,
  hmacSha256,
  mlKem768Decapsulate,
  mlKem768Encapsulate,
  mlKem768Keygen,
  randomBytes,
  sha256,
  x25519Keygen,
  x25519PublicKey,
  x25519SharedSecret,
  xwingDecapsulate,
  xwingEncapsulate,
  xwingKeygen,
} from './primitives.ts'
import wycheproof from './vectors/wycheproof-aes-gcm-256.json' with { type: 'json' }
import xwingVectors from './vectors/xwing.json' with { type: 'json' }

const hex = hexToBytes
const range = (from: number, to: number) => Uint8Array.from({ length: to - from + 1 }, (_, i) => from + i)

describe('HKDF-SHA-256: RFC 5869 appendix A', () => {
  // Test cases 1-3 of RFC 5869, appendix A (SHA-256).
  const cases = [
    {
      name: 'A.1 basic test case',
      ikm: new Uint8Array(22).fill(0x0b),
      salt: range(0x00, 0x0c),
      info: range(0xf0, 0xf9),
      length: 42,
      prk: '077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5',
      okm: '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865',
    },
    {
      name: 'A.2 longer inputs and outputs',
      ikm: range(0x00, 0x4f),
      salt: range(0x60, 0xaf),
      info: range(0xb0, 0xff),
      length: 82,
      prk: '06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244',
      okm:
        'b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09' +
        'da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87',
    },
    {
      name: 'A.3 zero-length salt and info',
      ikm: new Uint8Array(22).fill(0x0b),
      salt: new Uint8Array(0),
      info: new Uint8Array(0),
      length: 42,
      prk: '19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04',
      okm: '8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8',
    },
  ]
  for (const c of cases) {
    it(`behavior: ${c.name}`, () => {
      // HKDF-Extract is HMAC(salt, IKM); an empty salt is HashLen zero bytes.
      const salt = c.salt.length === 0 ? new Uint8Array(32) : c.salt
      expect(bytesToHex(hmacSha256({ key: salt, data: c.ikm }))).toBe(c.prk)
      expect(bytesToHex(hkdfSha256({ ikm: c.ikm, salt: c.salt, info: c.info, length: c.length }))).toBe(c.okm)
    })
  }
  it('error: an output length beyond 255 blocks is refused', () => {
    expect(() => hkdfSha256({ ikm: new Uint8Array(1), info: new Uint8Array(0), length: 255 * 32 + 1 })).toThrow(
      RangeError,
    )
  })
})

describe('SHA-256', () => {
  it('behavior: FIPS 180-4 "abc"', () => {
    expect(bytesToHex(sha256(new TextEncoder().encode('abc')))).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    )
  })
})

describe('AES-256-GCM: Wycheproof aes_gcm_test (96-bit IV, 256-bit key)', () => {
  for (const t of wycheproof.tests) {
    it(`${t.result === 'valid' ? 'behavior' : 'error'}: tcId ${t.tcId} ${t.comment || t.flags.join(',')}`, async () => {
      const key = hex(t.key)
      const nonce = hex(t.iv)
      const associatedData = hex(t.aad)
      const sealed = new Uint8Array([...hex(t.ct), ...hex(t.tag)])
      if (t.result === 'valid') {
        const out = await aesGcmSeal({ key, nonce, plaintext: hex(t.msg), associatedData })
        expect(bytesToHex(out)).toBe(t.ct + t.tag)
        expect(bytesToHex(await aesGcmOpen({ key, nonce, ciphertext: sealed, associatedData }))).toBe(t.msg)
      } else {
        await expect(aesGcmOpen({ key, nonce, ciphertext: sealed, associatedData })).rejects.toThrow(
          DecryptionFailedError,
        )
      }
    })
  }
})

describe('AES-256-GCM with random nonces', () => {
  it('behavior: round trip, nonce || ciphertext || tag layout, fresh nonce per call', async () => {
    const key = randomBytes(32)
    const plaintext = new TextEncoder().encode('hello room')
    const associatedData = new TextEncoder().encode('room-1')
    const a = await aesGcmEncrypt({ key, plaintext, associatedData })
    const b = await aesGcmEncrypt({ key, plaintext, associatedData })
    expect(a.length).toBe(12 + plaintext.length + 16)
    expect(equalBytes(a.subarray(0, 12), b.subarray(0, 12))).toBe(false)
    expect(await aesGcmDecrypt({ key, ciphertext: a, associatedData })).toEqual(plaintext)
  })

  it('error: every flipped bit and a changed associated data are rejected with DecryptionFailedError', async () => {
    const key = randomBytes(32)
    const plaintext = randomBytes(5)
    const associatedData = new Uint8Array([1, 2, 3])
    const sealed = await aesGcmEncrypt({ key, plaintext, associatedData })
    for (let bit = 0; bit < sealed.length * 8; bit++) {
      const copy = sealed.slice()
      copy[bit >> 3]! ^= 1 << (bit & 7)
      await expect(aesGcmDecrypt({ key, ciphertext: copy, associatedData })).rejects.toThrow(DecryptionFailedError)
    }
    await expect(aesGcmDecrypt({ key, ciphertext: sealed, associatedData: new Uint8Array([1, 2, 4]) })).rejects.toThrow(
      DecryptionFailedError,
    )
    await expect(aesGcmDecrypt({ key, ciphertext: sealed.subarray(0, 27) })).rejects.toThrow(DecryptionFailedError)
  })

  it('error: a key of the wrong size is an InvalidKeyError', async () => {
    await expect(aesGcmEncrypt({ key: new Uint8Array(16), plaintext: new Uint8Array(1) })).rejects.toThrow(
      InvalidKeyError,
    )
  })
})

describe('X25519', () => {
  it('behavior: RFC 7748 section 6.1 Diffie-Hellman vector', async () => {
    const alice = hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a')
    const bob = hex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb')
    expect(bytesToHex(x25519PublicKey(alice))).toBe('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a')
    expect(bytesToHex(x25519PublicKey(bob))).toBe('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f')
    const shared = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742'
    expect(bytesToHex(await x25519SharedSecret({ secretKey: alice, publicKey: x25519PublicKey(bob) }))).toBe(shared)
    expect(bytesToHex(await x25519SharedSecret({ secretKey: bob, publicKey: x25519PublicKey(alice) }))).toBe(shared)
  })

  it('behavior: generated key pairs agree and their public key matches the secret key', async () => {
    const a = await x25519Keygen()
    const b = await x25519Keygen()
    expect(a.publicKey).toEqual(x25519PublicKey(a.secretKey))
    expect(await x25519SharedSecret({ secretKey: a.secretKey, publicKey: b.publicKey })).toEqual(
      await x25519SharedSecret({ secretKey: b.secretKey, publicKey: a.publicKey }),
    )
  })

  it('error: low-order public keys (u = 0, u = 1) and wrong sizes are InvalidKeyError', async () => {
    const { secretKey } = await x25519Keygen()
    const one = new Uint8Array(32)
    one[0] = 1
    for (const publicKey of [new Uint8Array(32), one]) {
      await expect(x25519SharedSecret({ secretKey, publicKey })).rejects.toThrow(InvalidKeyError)
    }
    await expect(x25519SharedSecret({ secretKey, publicKey: new Uint8Array(31) })).rejects.toThrow(InvalidKeyError)
  })
})

describe('Ed25519', () => {
  it('behavior: RFC 8032 section 7.1 TEST 1', () => {
    const secretKey = hex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60')
    const publicKey = hex('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a')
    const signature = ed25519Sign({ message: new Uint8Array(0), secretKey })
    expect(bytesToHex(signature)).toBe(
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
    )
    expect(ed25519Verify({ signature, message: new Uint8Array(0), publicKey })).toBe(true)
  })

  it('error: a flipped bit or a wrong size verifies false without throwing', () => {
    const { publicKey, secretKey } = ed25519Keygen()
    const message = new Uint8Array([1, 2, 3])
    const signature = ed25519Sign({ message, secretKey })
    const bad = signature.slice()
    bad[10]! ^= 0x40
    expect(ed25519Verify({ signature: bad, message, publicKey })).toBe(false)
    expect(ed25519Verify({ signature: signature.subarray(1), message, publicKey })).toBe(false)
    expect(ed25519Verify({ signature, message: new Uint8Array([1, 2, 4]), publicKey })).toBe(false)
  })
})

describe('ML-KEM-768', () => {
  it('behavior: encapsulation and decapsulation agree; a seed reproduces the key pair', () => {
    const pair = mlKem768Keygen()
    expect(pair.publicKey.length).toBe(1184)
    expect(mlKem768Keygen(pair.seed).publicKey).toEqual(pair.publicKey)
    const { cipherText, sharedSecret } = mlKem768Encapsulate(pair.publicKey)
    expect(cipherText.length).toBe(1088)
    expect(mlKem768Decapsulate({ cipherText, secretKey: pair.secretKey })).toEqual(sharedSecret)
  })

  it('behavior: a modified ciphertext yields an unrelated secret (implicit rejection)', () => {
    const pair = mlKem768Keygen()
    const { cipherText, sharedSecret } = mlKem768Encapsulate(pair.publicKey)
    cipherText[0]! ^= 1
    expect(mlKem768Decapsulate({ cipherText, secretKey: pair.secretKey })).not.toEqual(sharedSecret)
  })

  it('error: a public key failing the FIPS 203 modulus check is InvalidKeyError; a short ciphertext is malformed', () => {
    expect(() => mlKem768Encapsulate(new Uint8Array(1184).fill(0xff))).toThrow(InvalidKeyError)
    expect(() => mlKem768Encapsulate(new Uint8Array(1000))).toThrow(InvalidKeyError)
    const pair = mlKem768Keygen()
    expect(() => mlKem768Decapsulate({ cipherText: new Uint8Array(10), secretKey: pair.secretKey })).toThrow(
      MalformedMessageError,
    )
  })
})

describe('X-Wing (ML-KEM-768 + X25519): published vectors', () => {
  for (const t of xwingVectors.tests) {
    it(`behavior: ${t.name}`, () => {
      const pair = xwingKeygen(hex(t.seed))
      expect(bytesToHex(pair.secretKey)).toBe(t.sk)
      expect(bytesToHex(pair.publicKey)).toBe(t.pk)
      const { cipherText, sharedSecret } = xwingEncapsulate({ publicKey: hex(t.pk), randomness: hex(t.randomness) })
      expect(bytesToHex(cipherText)).toBe(t.ct)
      expect(bytesToHex(sharedSecret)).toBe(t.ss)
      expect(bytesToHex(xwingDecapsulate({ cipherText: hex(t.ct), secretKey: hex(t.sk) }))).toBe(t.ss)
    })
  }
})

describe('equalBytes', () => {
  it('behavior: compares content and length', () => {
    expect(equalBytes(new Uint8Array([1, 2]), new Uint8Array([1, 2]))).toBe(true)
    expect(equalBytes(new Uint8Array([1, 2]), new Uint8Array([1, 3]))).toBe(false)
    expect(equalBytes(new Uint8Array([1, 2]), new Uint8Array([1, 2, 3]))).toBe(false)
  })
})
