import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { jpegHeader, png, webpHeader } from '../../../test/helpers/images.ts'
import { base64urlEncode } from '../encoding.ts'
import { MAX_THUMBNAIL_BYTES, MAX_THUMBNAIL_SIDE } from './constants.ts'
import { fileThumbnailSchema, imageSize, MAX_THUMBNAIL_DATA_CHARS, makeThumbnail } from './thumbnail.ts'

function thumbnail(type: string, bytes: Uint8Array, width: number, height: number) {
  return { type, data: base64urlEncode(bytes), width, height }
}

function accepted(value: unknown): boolean {
  return fileThumbnailSchema.safeParse(value).success
}

describe('file thumbnails', () => {
  it('behavior: PNG, JPEG and WebP (lossy, lossless, extended) are sized from their headers', () => {
    expect(imageSize('image/png', png(64, 48))).toEqual({ width: 64, height: 48 })
    expect(imageSize('image/jpeg', jpegHeader(320, 200))).toEqual({ width: 320, height: 200 })
    // A fill byte before a marker, and a restart marker with no length, are skipped as a decoder skips them.
    const filled = jpegHeader(10, 20)
    const withFill = Uint8Array.from([0xff, 0xd8, 0xff, 0xd0, 0xff, ...filled.subarray(2)])
    expect(imageSize('image/jpeg', withFill)).toEqual({ width: 10, height: 20 })
    expect(imageSize('image/webp', webpHeader('VP8 ', 300, 1))).toEqual({ width: 300, height: 1 })
    expect(imageSize('image/webp', webpHeader('VP8L', 1, 320))).toEqual({ width: 1, height: 320 })
    expect(imageSize('image/webp', webpHeader('VP8X', 320, 240))).toEqual({ width: 320, height: 240 })
  })

  it(`behavior: a ${MAX_THUMBNAIL_SIDE}-pixel PNG of exactly ${MAX_THUMBNAIL_BYTES} bytes is a thumbnail; one byte more is not`, () => {
    const largest = png(MAX_THUMBNAIL_SIDE, MAX_THUMBNAIL_SIDE, { padTo: MAX_THUMBNAIL_BYTES })
    expect(largest.length).toBe(MAX_THUMBNAIL_BYTES)
    const made = makeThumbnail('image/png', largest)
    expect(made).toEqual(thumbnail('image/png', largest, MAX_THUMBNAIL_SIDE, MAX_THUMBNAIL_SIDE))
    expect(made?.data.length).toBe(MAX_THUMBNAIL_DATA_CHARS)
    expect(accepted(made)).toBe(true)

    const over = png(MAX_THUMBNAIL_SIDE, MAX_THUMBNAIL_SIDE, { padTo: MAX_THUMBNAIL_BYTES + 1 })
    expect(makeThumbnail('image/png', over)).toBeUndefined()
    expect(accepted(thumbnail('image/png', over, MAX_THUMBNAIL_SIDE, MAX_THUMBNAIL_SIDE))).toBe(false)
  })

  const small = png(32, 24)
  it.each([
    ['a side over the bound, claimed', thumbnail('image/png', small, 321, 24)],
    // The bomb: a few bytes whose header asks the decoder for 65,535 × 65,535 pixels, claiming to be small.
    ['a header far larger than the claim', thumbnail('image/png', png(1, 1).fill(0xff, 16, 24), 1, 1)],
    ['a header over the bound, claimed honestly', thumbnail('image/jpeg', jpegHeader(4000, 3000), 4000, 3000)],
    ['a WebP canvas over the bound', thumbnail('image/webp', webpHeader('VP8X', 321, 10), 321, 10)],
    ['other dimensions than the header', thumbnail('image/png', small, 24, 32)],
    ['PNG bytes under another type', thumbnail('image/jpeg', small, 32, 24)],
    ['a GIF', thumbnail('image/gif', Buffer.from('GIF89a\x20\x00\x18\x00', 'latin1'), 32, 24)],
    ['SVG', thumbnail('image/svg+xml', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'), 32, 24)],
    [
      'a JPEG whose scan comes before any frame header',
      thumbnail('image/jpeg', Uint8Array.of(0xff, 0xd8, 0xff, 0xda, 0, 2), 1, 1),
    ],
    ['a truncated JPEG', thumbnail('image/jpeg', jpegHeader(10, 10).subarray(0, 24), 10, 10)],
    ['a truncated PNG', thumbnail('image/png', small.subarray(0, 20), 32, 24)],
    ['zero pixels', thumbnail('image/webp', webpHeader('VP8 ', 0, 10), 0, 10)],
    ['padded base64url', { ...thumbnail('image/png', small, 32, 24), data: `${base64urlEncode(small)}=` }],
    ['base64 (not url)', { ...thumbnail('image/png', small, 32, 24), data: `+${base64urlEncode(small).slice(1)}` }],
    ['empty data', { ...thumbnail('image/png', small, 32, 24), data: '' }],
    ['fractional dimensions', thumbnail('image/png', small, 32.5, 24)],
    ['an extra field', { ...thumbnail('image/png', small, 32, 24), url: 'https://example.com/x.png' }],
    ['no data', { type: 'image/png', width: 32, height: 24 }],
  ])('error: %s is refused', (_, value) => {
    expect(accepted(value)).toBe(false)
  })

  it('fuzz: any bytes under any claim never throw; what is accepted is sized by its header within the bounds', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('image/png', 'image/jpeg', 'image/webp', 'image/gif'),
        fc.oneof(
          fc.uint8Array({ maxLength: 64 }),
          fc.constantFrom(png(8, 8), jpegHeader(8, 8), webpHeader('VP8L', 8, 8)).chain((start) =>
            fc.uint8Array({ minLength: 0, maxLength: 8 }).map((tail) => {
              // A valid start with a few bytes changed anywhere in its header, then anything.
              const bytes = Uint8Array.from([...start, ...tail])
              tail.forEach((b, i) => {
                bytes[(b * 7 + i) % Math.min(bytes.length, 32)] = b
              })
              return bytes
            }),
          ),
        ),
        fc.integer({ min: -1, max: 400 }),
        fc.integer({ min: -1, max: 400 }),
        (type, bytes, width, height) => {
          const size = imageSize(type, bytes)
          const parsed = fileThumbnailSchema.safeParse(thumbnail(type, bytes, width, height))
          if (parsed.success) {
            expect(size).toEqual({ width, height })
            expect(Math.max(width, height)).toBeLessThanOrEqual(MAX_THUMBNAIL_SIDE)
          }
        },
      ),
      { numRuns: 2_000 },
    )
  })
})
