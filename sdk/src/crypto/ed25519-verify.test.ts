import { generateKeyPair } from '@libp2p/crypto/keys'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import * as browser from './ed25519-verify.browser.ts'
import * as node from './ed25519-verify.node.ts'
import { ed25519VerifyGossip } from './primitives.ts'

describe('Ed25519 gossip verification twins', () => {
  it('behavior: the Node and browser twins agree with libp2p on signatures as made and with any byte changed', async () => {
    const keys = await Promise.all([generateKeyPair('Ed25519'), generateKeyPair('Ed25519')])
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 512 }),
        fc.constantFrom('none', 'message', 'signature', 'key'),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        async (message, change, at, xor) => {
          const [signer, other] = keys as [(typeof keys)[0], (typeof keys)[0]]
          const signature = await signer.sign(message)
          const flip = (bytes: Uint8Array): Uint8Array => {
            const copy = bytes.slice()
            if (copy.length > 0) copy[at % copy.length] = (copy[at % copy.length] as number) ^ xor
            return copy
          }
          const m = change === 'message' ? flip(message) : message
          const s = change === 'signature' ? flip(signature) : signature
          const key = change === 'key' ? other.publicKey : signer.publicKey
          const expected = await key.verify(m, s)
          expect(expected).toBe(change === 'none' || (change === 'message' && message.length === 0))
          expect(await node.verifyEd25519(key.raw, m, s)).toBe(expected)
          expect(await browser.verifyEd25519(key.raw, m, s)).toBe(expected)
          expect(await ed25519VerifyGossip({ publicKey: key.raw, message: m, signature: s })).toBe(expected)
        },
      ),
      { numRuns: 200 },
    )
  })

  it('error: wrong lengths and a key that is not a point are refused, never thrown', async () => {
    const signer = await generateKeyPair('Ed25519')
    const message = new Uint8Array([1, 2, 3])
    const signature = await signer.sign(message)
    const raw = signer.publicKey.raw
    expect(await ed25519VerifyGossip({ publicKey: raw, message, signature: signature.subarray(0, 63) })).toBe(false)
    expect(await ed25519VerifyGossip({ publicKey: raw.subarray(0, 31), message, signature })).toBe(false)
    expect(await node.verifyEd25519(new Uint8Array(32).fill(0xff), message, signature)).toBe(false)
    expect(await browser.verifyEd25519(new Uint8Array(32).fill(0xff), message, signature)).toBe(false)
  })
})
