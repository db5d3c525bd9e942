import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { base64urlDecode, base64urlEncode } from './encoding.ts'

describe('base64url', () => {
  it('behavior: encodes as Node does (unpadded base64url) and decodes back', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const text = base64urlEncode(bytes)
        expect(text).toBe(Buffer.from(bytes).toString('base64url'))
        expect(base64urlDecode(text)).toEqual(bytes)
      }),
      { numRuns: 2_000 },
    )
  })

  it('error: decodes what atob decodes, and refuses what it refuses (any character outside the alphabet, padding, a lone last character)', () => {
    const viaAtob = (text: string): Uint8Array | 'refused' => {
      if (!/^[A-Za-z0-9_-]*$/.test(text)) return 'refused'
      try {
        return Uint8Array.from(atob(text.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0))
      } catch {
        return 'refused'
      }
    }
    const ours = (text: string): Uint8Array | 'refused' => {
      try {
        return base64urlDecode(text)
      } catch (err) {
        expect(err).toBeInstanceOf(TypeError)
        return 'refused'
      }
    }
    fc.assert(
      fc.property(
        fc.oneof(
          fc.stringMatching(/^[A-Za-z0-9_-]{0,40}$/),
          fc.string({ maxLength: 12 }),
          fc.stringMatching(/^[A-Za-z0-9_=+/ -]{0,12}$/),
        ),
        (text) => {
          expect(ours(text)).toEqual(viaAtob(text))
        },
      ),
      { numRuns: 5_000 },
    )
  })
})
