/**
 * Which files a conversation shows inline, and up to what size: an image, or a player for audio and video, fetched
 * whole into a Blob and shown from a `blob:` URL (the page's CSP allows `blob:` for images and media, nothing
 * remote). Bounded, since a preview is fetched without a click and held in memory while the conversation is open.
 * Only types every browser decodes, and never SVG (a document, not a picture).
 */
import type { FileManifest } from '@securechat/sdk/types'

const MiB = 1024 * 1024
/** The largest file previewed inline; anything larger is a card with its Download button only. */
export const PREVIEW_LIMIT_BYTES = 20 * MiB

const IMAGE_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp'])
const AUDIO_TYPES = new Set(['audio/mpeg', 'audio/ogg', 'audio/wav', 'audio/webm', 'audio/mp4', 'audio/aac'])
/** Videos every browser plays; a shared one also gets a thumbnail of one of its frames (`file-thumbnail.ts`). */
export const VIDEO_TYPES: ReadonlySet<string> = new Set(['video/mp4', 'video/webm', 'video/ogg'])

export type PreviewKind = 'image' | 'audio' | 'video'

/** How `file` is shown inline, or undefined for a card only (another type, or over {@link PREVIEW_LIMIT_BYTES}). */
export function previewKind(file: Pick<FileManifest, 'type' | 'size'>): PreviewKind | undefined {
  if (file.size === 0 || file.size > PREVIEW_LIMIT_BYTES) return undefined
  const type = file.type.split(';')[0]!.trim().toLowerCase()
  if (IMAGE_TYPES.has(type)) return 'image'
  if (AUDIO_TYPES.has(type)) return 'audio'
  if (VIDEO_TYPES.has(type)) return 'video'
  return undefined
}

/** The type a preview's Blob is given: the allowed one, without parameters (the browser decodes by it). */
export function previewType(file: Pick<FileManifest, 'type'>): string {
  return file.type.split(';')[0]!.trim().toLowerCase()
}
