/**
 * A picked, dropped or pasted file's name and type as a manifest may carry them (`@securechat/sdk/files`,
 * manifest.ts): a browser hands names with control characters, over 255 bytes, or no type at all, and the sdk refuses
 * such a manifest only after encrypting the whole file. Mended here first, so what a person picked is what is sent.
 */
import { MAX_FILE_NAME_BYTES } from '@securechat/sdk/files'

const utf8 = new TextEncoder()

/** The manifest's media type rule (`type/subtype` and parameters), less the parameters a browser never gives. */
const SIMPLE_MEDIA_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*$/
const MAX_TYPE_CHARS = 127
/** C0, DEL, C1 and path separators: what a manifest's name may not hold. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: those are what it removes
const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f/\\]/g

export function fileMeta(file: { name: string; type: string }): { name: string; type: string } {
  return { name: fileName(file.name), type: fileType(file.type) }
}

/** `application/octet-stream` when the browser knows no type, or gives one a manifest cannot carry. */
export function fileType(type: string): string {
  return type.length <= MAX_TYPE_CHARS && SIMPLE_MEDIA_TYPE.test(type) ? type.toLowerCase() : 'application/octet-stream'
}

/**
 * The name without forbidden characters or lone surrogates, cut to 255 bytes of UTF-8 keeping its extension (a
 * `.pdf` must stay one); "file" when nothing is left (a pasted image with no name).
 */
export function fileName(name: string): string {
  let clean = name.toWellFormed().replace(FORBIDDEN, '_').trim()
  if (clean === '' || clean === '.' || clean === '..') clean = 'file'
  if (utf8.encode(clean).length <= MAX_FILE_NAME_BYTES) return clean
  const dot = clean.lastIndexOf('.')
  const extension = dot > 0 && clean.length - dot <= 16 ? clean.slice(dot) : ''
  let stem = [...clean.slice(0, clean.length - extension.length)]
  while (stem.length > 0 && utf8.encode(stem.join('') + extension).length > MAX_FILE_NAME_BYTES)
    stem = stem.slice(0, -1)
  return stem.join('') + extension
}
