import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { bytesToHex, hexToBytes } from '../crypto/primitives.ts'
import { InvalidInputError } from '../errors.ts'
import { SFRAME_MAX_COUNTER } from './constants.ts'
import { SFrameDecryptionError } from './errors.ts'
import { decodeSFrameHeader, encodeSFrameHeader, SFRAME_MAX_HEADER_BYTES } from './header.ts'
import vectors from './vectors/rfc9605.json' with { type: 'json' }

const uint64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })

function expectMalformed(bytes: Uint8Array): void {
  let caught: unknown
  try {
    decodeSFrameHeader(bytes)
  } catch (err) {
    caught = err
  }
  expect(caught).toBeInstanceOf(SFrameDecryptionError)
  expect((caught as SFrameDecryptionError).reason).toBe('malformed')
}

describe('SFrame header (RFC 9605 section 4.3)', () => {
  it(`vectors: the RFC's ${vectors.header.length} header cases encode to their bytes`, () => {
    for (const { kid, ctr, encoded } of vectors.header) {
      expect(bytesToHex(encodeSFrameHeader({ kid: BigInt(kid), counter: BigInt(ctr) }))).toBe(encoded)
    }
  })

  it("vectors: the RFC's header cases decode to their KID and CTR, taking every byte", () => {
    for (const { kid, ctr, encoded } of vectors.header) {
      const header = decodeSFrameHeader(hexToBytes(encoded))
      expect(header).toEqual({ kid: BigInt(kid), counter: BigInt(ctr), length: encoded.length / 2 })
    }
  })

  it('behavior: a header is read from the front of a ciphertext, the rest left alone', () => {
    const header = encodeSFrameHeader({ kid: 291n, counter: 17767n })
    const frame = new Uint8Array([...header, 0xaa, 0xbb])
    expect(decodeSFrameHeader(frame)).toEqual({ kid: 291n, counter: 17767n, length: header.length })
  })

  it('error: an empty input has no header', () => {
    expectMalformed(new Uint8Array(0))
  })

  it('error: every header cut short is malformed', () => {
    for (const { encoded } of vectors.header) {
      const bytes = hexToBytes(encoded)
      for (let length = 1; length < bytes.length; length++) expectMalformed(bytes.subarray(0, length))
    }
  })

  it('error: a value below 8 in extended form is malformed (one encoding per value)', () => {
    expectMalformed(new Uint8Array([0x08, 0x07])) // CTR 7 in one extended byte
    expectMalformed(new Uint8Array([0x80, 0x00])) // KID 0 in one extended byte
  })

  it('error: an extended value with a leading zero byte is malformed', () => {
    expectMalformed(new Uint8Array([0x09, 0x00, 0xff])) // CTR 255 in two bytes
    expectMalformed(new Uint8Array([0xf0, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00])) // KID 2^48 in eight bytes
  })

  it('error: encoding a KID or counter outside 0 .. 2^64 − 1 is refused', () => {
    expect(() => encodeSFrameHeader({ kid: -1n, counter: 0n })).toThrow(InvalidInputError)
    expect(() => encodeSFrameHeader({ kid: 0n, counter: SFRAME_MAX_COUNTER + 1n })).toThrow(InvalidInputError)
  })

  it('property: any KID and CTR round-trip, in at most 17 bytes', () => {
    fc.assert(
      fc.property(uint64, uint64, (kid, counter) => {
        const encoded = encodeSFrameHeader({ kid, counter })
        expect(encoded.length).toBeLessThanOrEqual(SFRAME_MAX_HEADER_BYTES)
        expect(decodeSFrameHeader(encoded)).toEqual({ kid, counter, length: encoded.length })
      }),
    )
  })

  it('property: random bytes decode to a header that re-encodes to the same bytes, or throw only SFrameDecryptionError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 24 }), (bytes) => {
        let header: ReturnType<typeof decodeSFrameHeader>
        try {
          header = decodeSFrameHeader(bytes)
        } catch (err) {
          expect(err).toBeInstanceOf(SFrameDecryptionError)
          expect((err as SFrameDecryptionError).reason).toBe('malformed')
          return
        }
        const again = encodeSFrameHeader({ kid: header.kid, counter: header.counter })
        expect(bytesToHex(again)).toBe(bytesToHex(bytes.subarray(0, header.length)))
      }),
      { numRuns: 2000 },
    )
  })
})
