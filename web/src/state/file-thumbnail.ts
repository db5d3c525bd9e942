/**
 * The thumbnail a shared picture carries in its message (docs/files.md, Thumbnails): drawn in the page from the
 * picked file, at most `MAX_THUMBNAIL_SIDE` pixels a side, encoded WebP (JPEG where a browser's canvas cannot) at a
 * quality lowered until it fits `MAX_THUMBNAIL_BYTES`, then checked by the sdk exactly as a receiver checks it.
 * Best effort: any failure — a picture the browser cannot decode, no OffscreenCanvas, an encoder that never gets
 * small enough — gives no thumbnail, and the file is shared without one.
 */
import { type FileThumbnail, MAX_THUMBNAIL_BYTES, MAX_THUMBNAIL_SIDE, makeThumbnail } from '@securechat/sdk/files'
import { previewType } from './file-kinds.ts'

/** Pictures a thumbnail is made of: what every browser decodes (never SVG, a document). */
const SOURCE_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/avif', 'image/bmp'])

/**
 * The largest picture decoded for a thumbnail: the whole picture is decoded in this tab's memory first, so a huge
 * one (a scan, a panorama) is shared without a thumbnail rather than stall the page.
 */
export const THUMBNAIL_SOURCE_LIMIT_BYTES = 64 * 1024 * 1024

/** WebP keeps a picture's transparency; JPEG is what every canvas encodes. */
const ENCODINGS = ['image/webp', 'image/jpeg'] as const
const QUALITIES = [0.8, 0.65, 0.5, 0.35, 0.2]
/** If the lowest quality is still too large (a noisy picture), smaller sides are tried. */
const SIDES = [MAX_THUMBNAIL_SIDE, 240, 160]

/** A thumbnail of `file` if it is a picture this browser decodes; undefined otherwise, never an error. */
export async function makeFileThumbnail(file: Blob): Promise<FileThumbnail | undefined> {
  if (!SOURCE_TYPES.has(previewType(file)) || file.size === 0 || file.size > THUMBNAIL_SOURCE_LIMIT_BYTES) {
    return undefined
  }
  if (typeof OffscreenCanvas === 'undefined' || typeof createImageBitmap === 'undefined') return undefined
  let bitmap: ImageBitmap | undefined
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' })
    for (const side of SIDES) {
      const scale = Math.min(1, side / Math.max(bitmap.width, bitmap.height))
      const width = Math.max(1, Math.round(bitmap.width * scale))
      const height = Math.max(1, Math.round(bitmap.height * scale))
      for (const type of ENCODINGS) {
        const canvas = draw(bitmap, width, height, type)
        if (canvas === undefined) return undefined
        for (const quality of QUALITIES) {
          const blob = await canvas.convertToBlob({ type, quality })
          // A browser that cannot encode this type hands back a PNG: try the next type.
          if (blob.type !== type) break
          if (blob.size > MAX_THUMBNAIL_BYTES) continue
          // Checked as a receiver will: a thumbnail it would drop is not worth sending.
          const thumbnail = makeThumbnail(type, new Uint8Array(await blob.arrayBuffer()))
          if (thumbnail !== undefined) return thumbnail
        }
      }
    }
    return undefined
  } catch {
    return undefined
  } finally {
    bitmap?.close()
  }
}

/** The picture at `width` × `height`; on white for JPEG, which has no transparency (it would turn black). */
function draw(bitmap: ImageBitmap, width: number, height: number, type: string): OffscreenCanvas | undefined {
  const canvas = new OffscreenCanvas(width, height)
  const context = canvas.getContext('2d')
  if (context === null) return undefined
  if (type === 'image/jpeg') {
    context.fillStyle = '#fff'
    context.fillRect(0, 0, width, height)
  }
  context.imageSmoothingQuality = 'high'
  context.drawImage(bitmap, 0, 0, width, height)
  return canvas
}
