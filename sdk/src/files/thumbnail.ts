/**
 * A file's thumbnail: a small picture the sender makes and sends inside the message (so inside its encryption),
 * shown before — or instead of — fetching the file. It comes from a peer, so it is checked like the rest of the
 * manifest: a bounded size, one of three image types, and dimensions read from the image's own header (PNG's IHDR,
 * JPEG's SOF, WebP's VP8/VP8L/VP8X) that must be the ones it claims and at most {@link MAX_THUMBNAIL_SIDE}. The
 * header is what a decoder allocates for, so a small file that unpacks to a huge picture is refused before any
 * decoder sees it.
 */
import { z } from 'zod'
import { base64urlDecode, base64urlEncode } from '../encoding.ts'
import type { FileThumbnail } from '../types.ts'
import { MAX_THUMBNAIL_BYTES, MAX_THUMBNAIL_SIDE, THUMBNAIL_TYPES } from './constants.ts'

export type { FileThumbnail }

/** The longest `data` a thumbnail may have: {@link MAX_THUMBNAIL_BYTES} in unpadded base64url. */
export const MAX_THUMBNAIL_DATA_CHARS = Math.ceil((MAX_THUMBNAIL_BYTES * 4) / 3)

export const fileThumbnailSchema = z
  .object({
    type: z.enum(THUMBNAIL_TYPES),
    data: z.string().min(1).max(MAX_THUMBNAIL_DATA_CHARS),
    width: z.number().int().min(1).max(MAX_THUMBNAIL_SIDE),
    height: z.number().int().min(1).max(MAX_THUMBNAIL_SIDE),
  })
  .strict()
  .superRefine((thumbnail, context) => {
    const bytes = decodeData(thumbnail.data)
    if (bytes === undefined || bytes.length > MAX_THUMBNAIL_BYTES || base64urlEncode(bytes) !== thumbnail.data) {
      context.addIssue({
        code: 'custom',
        path: ['data'],
        message: `1 … ${MAX_THUMBNAIL_BYTES} bytes, unpadded base64url`,
      })
      return
    }
    const size = imageSize(thumbnail.type, bytes)
    if (size === undefined) {
      context.addIssue({ code: 'custom', path: ['data'], message: `not a ${thumbnail.type} image` })
    } else if (size.width !== thumbnail.width || size.height !== thumbnail.height) {
      context.addIssue({
        code: 'custom',
        path: ['data'],
        message: `the image is ${size.width}×${size.height}, not the ${thumbnail.width}×${thumbnail.height} claimed`,
      })
    }
  }) satisfies z.ZodType<FileThumbnail>

/** The thumbnail's image bytes (a fresh copy). Only for a thumbnail that passed {@link fileThumbnailSchema}. */
export function thumbnailBytes(thumbnail: FileThumbnail): Uint8Array<ArrayBuffer> {
  return base64urlDecode(thumbnail.data) as Uint8Array<ArrayBuffer>
}

/**
 * A thumbnail made of `bytes` (a PNG, JPEG or WebP image of type `type`), checked: undefined when it is not one a
 * receiver would take (too large, another type, a header that does not parse, a side over the bound).
 */
export function makeThumbnail(type: string, bytes: Uint8Array): FileThumbnail | undefined {
  if (bytes.length > MAX_THUMBNAIL_BYTES) return undefined
  const size = imageSize(type, bytes)
  if (size === undefined) return undefined
  const parsed = fileThumbnailSchema.safeParse({ type, data: base64urlEncode(bytes), ...size })
  return parsed.success ? parsed.data : undefined
}

/**
 * Width and height from an image's header, or undefined when `bytes` do not start as an image of `type`. Only the
 * header is read: whether the rest decodes is the decoder's business, and it allocates by the header.
 */
export function imageSize(type: string, bytes: Uint8Array): { width: number; height: number } | undefined {
  const size =
    type === 'image/png'
      ? pngSize(bytes)
      : type === 'image/jpeg'
        ? jpegSize(bytes)
        : type === 'image/webp'
          ? webpSize(bytes)
          : undefined
  return size === undefined || size.width === 0 || size.height === 0 ? undefined : size
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]

/** The signature, then the first chunk, which must be IHDR (13 bytes): width and height, big-endian. */
function pngSize(bytes: Uint8Array) {
  if (bytes.length < 24 || !PNG_SIGNATURE.every((b, i) => bytes[i] === b)) return undefined
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (view.getUint32(8) !== 13 || ascii(bytes, 12, 4) !== 'IHDR') return undefined
  return { width: view.getUint32(16), height: view.getUint32(20) }
}

/**
 * SOI, then marker segments until the first SOF (any of SOF0–SOF15 but DHT, JPG and DAC), whose frame header holds
 * height and width. A scan (SOS) or the end before it: not a picture we can size. libjpeg refuses a second SOF.
 */
function jpegSize(bytes: Uint8Array) {
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8) return undefined
  let at = 2
  while (at + 1 < bytes.length) {
    if (bytes[at] !== 0xff) return undefined
    const marker = bytes[at + 1] as number
    // A fill byte: markers may be preceded by any number of 0xFF.
    if (marker === 0xff) {
      at += 1
      continue
    }
    // Markers without a length (TEM, RST0–7); SOI again, EOI or SOS before a frame header: no size.
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      at += 2
      continue
    }
    if (marker === 0xd8 || marker === 0xd9 || marker === 0xda || at + 3 >= bytes.length) return undefined
    const length = ((bytes[at + 2] as number) << 8) | (bytes[at + 3] as number)
    if (length < 2) return undefined
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (length < 7 || at + 8 >= bytes.length) return undefined
      const height = ((bytes[at + 5] as number) << 8) | (bytes[at + 6] as number)
      const width = ((bytes[at + 7] as number) << 8) | (bytes[at + 8] as number)
      return { width, height }
    }
    at += 2 + length
  }
  return undefined
}

/**
 * RIFF/WEBP, then its first chunk: VP8 (lossy: 14-bit sizes after the key frame's start code), VP8L (lossless:
 * 14-bit sizes minus one after its signature byte) or VP8X (extended: the canvas, 24-bit sizes minus one; libwebp
 * refuses a still image whose frame is not the canvas, and an animation's frames must fit in it).
 */
function webpSize(bytes: Uint8Array) {
  if (bytes.length < 30 || ascii(bytes, 0, 4) !== 'RIFF' || ascii(bytes, 8, 4) !== 'WEBP') return undefined
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  switch (ascii(bytes, 12, 4)) {
    case 'VP8 ':
      if (bytes[23] !== 0x9d || bytes[24] !== 0x01 || bytes[25] !== 0x2a) return undefined
      return { width: view.getUint16(26, true) & 0x3fff, height: view.getUint16(28, true) & 0x3fff }
    case 'VP8L': {
      if (bytes[20] !== 0x2f) return undefined
      const bits = view.getUint32(21, true)
      return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 }
    }
    case 'VP8X':
      return { width: uint24le(bytes, 24) + 1, height: uint24le(bytes, 27) + 1 }
    default:
      return undefined
  }
}

function uint24le(bytes: Uint8Array, at: number): number {
  return (bytes[at] as number) | ((bytes[at + 1] as number) << 8) | ((bytes[at + 2] as number) << 16)
}

function ascii(bytes: Uint8Array, at: number, length: number): string {
  return String.fromCharCode(...bytes.subarray(at, at + length))
}

function decodeData(text: string): Uint8Array | undefined {
  try {
    return base64urlDecode(text)
  } catch {
    return undefined
  }
}
