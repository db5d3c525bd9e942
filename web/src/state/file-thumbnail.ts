/**
 * The thumbnail a shared picture or video carries in its message (docs/files.md, Thumbnails): drawn in the page from
 * the picked file — a picture whole, a video by one of its frames — at most `MAX_THUMBNAIL_SIDE` pixels a side,
 * encoded WebP (JPEG where a browser's canvas cannot) at a quality lowered until it fits `MAX_THUMBNAIL_BYTES`, then
 * checked by the sdk exactly as a receiver checks it. Best effort: any failure — a picture or video the browser
 * cannot decode, no OffscreenCanvas, an encoder that never gets small enough — gives no thumbnail, and the file is
 * shared without one.
 */
import { type FileThumbnail, MAX_THUMBNAIL_BYTES, MAX_THUMBNAIL_SIDE, makeThumbnail } from '@securechat/sdk/files'
import { previewType, VIDEO_TYPES } from './file-kinds.ts'

/** Pictures a thumbnail is made of: what every browser decodes (never SVG, a document). */
const SOURCE_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/avif', 'image/bmp'])

/**
 * The largest picture decoded for a thumbnail: the whole picture is decoded in this tab's memory first, so a huge
 * one (a scan, a panorama) is shared without a thumbnail rather than stall the page.
 */
export const THUMBNAIL_SOURCE_LIMIT_BYTES = 64 * 1024 * 1024

/**
 * A video's frame is taken a quarter into it — past a title's fade from black, which a first frame often is — and
 * at most this many seconds in, so that a long film's seek stays short.
 */
const VIDEO_FRAME_MAX_SECONDS = 10
/** How long a video gets to show that frame; a file the browser cannot play is shared without a thumbnail then. */
const VIDEO_FRAME_TIMEOUT_MS = 10_000

/** WebP keeps a picture's transparency; JPEG is what every canvas encodes. */
const ENCODINGS = ['image/webp', 'image/jpeg'] as const
const QUALITIES = [0.8, 0.65, 0.5, 0.35, 0.2]
/** If the lowest quality is still too large (a noisy picture), smaller sides are tried. */
const SIDES = [MAX_THUMBNAIL_SIDE, 240, 160]

/** A thumbnail of `file` if it is a picture or video this browser decodes; undefined otherwise, never an error. */
export async function makeFileThumbnail(file: Blob): Promise<FileThumbnail | undefined> {
  const type = previewType(file)
  const picture = SOURCE_TYPES.has(type) && file.size <= THUMBNAIL_SOURCE_LIMIT_BYTES
  // A video of any size: the browser reads only what it needs of the file to show one frame.
  const video = VIDEO_TYPES.has(type) && typeof document !== 'undefined'
  if (!(picture || video) || file.size === 0) return undefined
  if (typeof OffscreenCanvas === 'undefined' || typeof createImageBitmap === 'undefined') return undefined
  let bitmap: ImageBitmap | undefined
  try {
    bitmap = picture ? await createImageBitmap(file, { imageOrientation: 'from-image' }) : await videoFrame(file)
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

/**
 * The frame a quarter into the video `file` (at most {@link VIDEO_FRAME_MAX_SECONDS} in), decoded by a muted,
 * detached video element from a `blob:` URL of the file (the CSP allows `blob:` media). Throws if the browser cannot
 * play it or takes longer than {@link VIDEO_FRAME_TIMEOUT_MS}; the element and its URL are let go either way.
 */
async function videoFrame(file: Blob): Promise<ImageBitmap> {
  const video = document.createElement('video')
  video.muted = true
  video.preload = 'auto'
  const url = URL.createObjectURL(file)
  const signal = AbortSignal.timeout(VIDEO_FRAME_TIMEOUT_MS)
  try {
    video.src = url
    await mediaEvent(video, 'loadeddata', signal)
    if (!Number.isFinite(video.duration)) {
      // A browser's own recording (MediaRecorder's WebM) names no duration: a seek past its end makes the browser
      // find it.
      video.currentTime = Number.MAX_SAFE_INTEGER
      await mediaEvent(video, 'seeked', signal)
    }
    const duration = Number.isFinite(video.duration) ? video.duration : 0
    video.currentTime = Math.min(duration / 4, VIDEO_FRAME_MAX_SECONDS)
    await mediaEvent(video, 'seeked', signal)
    return await createImageBitmap(video)
  } finally {
    // Detached and emptied, so the decoder and the file's URL are released now, not when collected.
    video.removeAttribute('src')
    video.load()
    URL.revokeObjectURL(url)
  }
}

/** Resolves on `video`'s next `type` event; rejects on its `error` event or when `signal` aborts. */
function mediaEvent(video: HTMLVideoElement, type: 'loadeddata' | 'seeked', signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const settle = (outcome: () => void): void => {
      video.removeEventListener(type, onEvent)
      video.removeEventListener('error', onError)
      signal.removeEventListener('abort', onAbort)
      outcome()
    }
    const onEvent = (): void => settle(resolve)
    const onError = (): void => settle(() => reject(new Error(`the video cannot be played: ${video.error?.message}`)))
    const onAbort = (): void => settle(() => reject(signal.reason))
    if (signal.aborted) return reject(signal.reason)
    video.addEventListener(type, onEvent)
    video.addEventListener('error', onError)
    signal.addEventListener('abort', onAbort)
  })
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
