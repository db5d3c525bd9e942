/**
 * Small real images for tests of previews and thumbnails: PNGs a browser decodes, and the headers of JPEG and WebP
 * images (enough for the sdk's header checks, which read nothing past them).
 */
import { crc32, deflateSync } from 'node:zlib'

/**
 * A `width` × `height` PNG of one colour, 8-bit RGB: a real picture a browser decodes. `padTo`: a `tEXt` chunk
 * after the image brings the file to exactly that many bytes (a thumbnail at the bound).
 */
export function png(width: number, height: number, options: { padTo?: number; rgb?: number[] } = {}): Uint8Array {
  const row = Buffer.concat([Buffer.from([0]), Buffer.alloc(width * 3, Buffer.from(options.rgb ?? [29, 78, 216]))])
  const raw = Buffer.concat(Array.from({ length: height }, () => row))
  const header = Buffer.alloc(13)
  header.writeUInt32BE(width, 0)
  header.writeUInt32BE(height, 4)
  header.set([8, 2, 0, 0, 0], 8)
  const head = Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', header),
    pngChunk('IDAT', deflateSync(raw)),
  ])
  const end = pngChunk('IEND', Buffer.alloc(0))
  if (options.padTo === undefined) return Buffer.concat([head, end])
  // A chunk is 12 bytes around its data: a keyword, its NUL, then filler.
  const filler = options.padTo - head.length - end.length - 12 - 'Comment'.length - 1
  if (filler < 0) throw new Error(`a ${width}×${height} PNG is larger than ${options.padTo} bytes`)
  const text = pngChunk('tEXt', Buffer.concat([Buffer.from('Comment\0', 'latin1'), Buffer.alloc(filler, 0x61)]))
  return Buffer.concat([head, text, end])
}

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4)
  length.writeUInt32BE(data.length)
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data])
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32(body))
  return Buffer.concat([length, body, crc])
}

/** The start of a baseline JPEG: SOI, a JFIF APP0 segment, then SOF0 with `width` × `height`. */
export function jpegHeader(width: number, height: number): Uint8Array {
  const app0 = [0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0, 0]
  const sof0 = [0xff, 0xc0, 0x00, 0x11, 0x08, height >> 8, height & 0xff, width >> 8, width & 0xff, 0x03]
  const components = [0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01]
  return Uint8Array.from([0xff, 0xd8, ...app0, ...sof0, ...components])
}

/** The start of a WebP of `width` × `height`: lossy (VP8), lossless (VP8L) or extended (VP8X). */
export function webpHeader(kind: 'VP8 ' | 'VP8L' | 'VP8X', width: number, height: number): Uint8Array {
  const bytes = new Uint8Array(40)
  const view = new DataView(bytes.buffer)
  bytes.set(Buffer.from('RIFF'), 0)
  view.setUint32(4, bytes.length - 8, true)
  bytes.set(Buffer.from('WEBP'), 8)
  bytes.set(Buffer.from(kind), 12)
  view.setUint32(16, bytes.length - 20, true)
  if (kind === 'VP8 ') {
    bytes.set([0x9d, 0x01, 0x2a], 23)
    view.setUint16(26, width, true)
    view.setUint16(28, height, true)
  } else if (kind === 'VP8L') {
    bytes[20] = 0x2f
    view.setUint32(21, (width - 1) | ((height - 1) << 14), true)
  } else {
    for (const [at, value] of [
      [24, width - 1],
      [27, height - 1],
    ] as const) {
      bytes.set([value & 0xff, (value >> 8) & 0xff, (value >> 16) & 0xff], at)
    }
  }
  return bytes
}
