/**
 * The file manifest: what a message that shares a file carries (inside the message's own encryption), and all a
 * receiver needs to fetch, decrypt and check the file. It comes from a peer, so it is parsed at the boundary —
 * shape, bounds, a CID that parses, a key of the right size — and anything else is an `InvalidFileManifestError`
 * before a block is asked for.
 */
import { CID } from 'multiformats/cid'
import { z } from 'zod'
import { FILE_KEY_BYTES } from '../crypto/constants.ts'
import { base64urlDecode, base64urlEncode, utf8 } from '../encoding.ts'
import { SHA256_HEX_PATTERN } from '../json-records.ts'
import type { FileManifest } from '../types.ts'
import { FILE_SALT_BYTES, MAX_FILE_BYTES, MAX_FILE_NAME_BYTES, MAX_FILE_TYPE_CHARS } from './constants.ts'
import { InvalidFileManifestError } from './errors.ts'
import { fileThumbnailSchema } from './thumbnail.ts'

/** The manifest's format version; a future segment size or layout gets another (and another associated data label). */
export const FILE_MANIFEST_VERSION = 1

export type { FileManifest }

/** Codecs a file's root may have: dag-pb (a UnixFS file of several blocks) or raw (a file that fits one block). */
const ROOT_CODECS = new Set([0x70, 0x55])
const SHA2_256 = 0x12
/** C0 controls, DEL and C1 controls (U+0000–U+001F, U+007F–U+009F), and the path separators of every platform. */
function hasForbiddenNameChar(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i)
    if (code <= 0x1f || (code >= 0x7f && code <= 0x9f) || code === 0x2f || code === 0x5c) return true
  }
  return false
}
/** `type/subtype` (RFC 6838 restricted names) and `; name=value` parameters of token characters or a quoted string. */
const MEDIA_TYPE =
  /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*( *; *[A-Za-z0-9!#$&^_.+-]+=([A-Za-z0-9!#$&^_.+-]+|"[ !#-[\]-~]*"))*$/

const fileNameSchema = z
  .string()
  .min(1)
  // A cheap bound before the byte count: a UTF-16 unit is at least one UTF-8 byte.
  .max(MAX_FILE_NAME_BYTES)
  .refine((name) => utf8.encode(name).length <= MAX_FILE_NAME_BYTES, `at most ${MAX_FILE_NAME_BYTES} bytes of UTF-8`)
  .refine((name) => !hasForbiddenNameChar(name), 'no control characters or path separators')
  .refine((name) => name !== '.' && name !== '..', 'not . or ..')
  .refine((name) => name.isWellFormed(), 'no lone surrogates')

/** A file's root CID as manifests and pin requests carry it: one spelling per file. */
export const fileCidSchema = z
  .string()
  .min(1)
  .max(128)
  .refine((text) => {
    const cid = parseCid(text)
    return (
      cid !== undefined &&
      cid.version === 1 &&
      ROOT_CODECS.has(cid.code) &&
      cid.multihash.code === SHA2_256 &&
      cid.multihash.digest.length === 32 &&
      // One spelling per file: the base32 Helia prints, so the same file is the same string everywhere.
      cid.toString() === text
    )
  }, 'a CIDv1 (dag-pb or raw, sha2-256) in base32')

const keySchema = z
  .string()
  .length(43)
  .refine((text) => {
    const bytes = decodeBase64url(text)
    return bytes?.length === FILE_KEY_BYTES && base64urlEncode(bytes) === text
  }, `${FILE_KEY_BYTES} bytes, unpadded base64url`)

const manifestFields = {
  v: z.literal(FILE_MANIFEST_VERSION),
  cid: fileCidSchema,
  size: z.number().int().min(0).max(MAX_FILE_BYTES),
  type: z.string().min(3).max(MAX_FILE_TYPE_CHARS).regex(MEDIA_TYPE, 'a media type: type/subtype'),
  name: fileNameSchema,
  key: keySchema,
  sha256: z.string().regex(SHA256_HEX_PATTERN, '64 lowercase hex digits'),
  /** A room message's commitment salt (`commitment.ts`): 32 bytes, lowercase hex. Absent before commitments. */
  salt: z.string().regex(SHA256_HEX_PATTERN, `${FILE_SALT_BYTES} bytes, 64 lowercase hex digits`).exactOptional(),
}

/** Every field checked, the thumbnail too: what a device sends, and what `parseFileManifest` takes. */
export const fileManifestSchema = z
  .object({ ...manifestFields, thumbnail: fileThumbnailSchema.exactOptional() })
  .strict() satisfies z.ZodType<FileManifest>

/**
 * A manifest in a message that arrived (and in the vault's copy of it): checked as {@link fileManifestSchema}, but a
 * thumbnail that fails its checks is dropped rather than the message refused. The thumbnail is a hint for display;
 * everything that opens and checks the file is in the other fields, so the file and the message's text stay, and
 * the card shows no picture until the file is fetched. A bad field elsewhere still refuses the message, as before.
 */
export const receivedFileManifestSchema = z
  .object({ ...manifestFields, thumbnail: z.unknown().exactOptional() })
  .strict()
  .transform(({ thumbnail, ...manifest }): FileManifest => {
    if (thumbnail === undefined) return manifest
    const checked = fileThumbnailSchema.safeParse(thumbnail)
    return checked.success ? { ...manifest, thumbnail: checked.data } : manifest
  })

/**
 * `value` as a {@link FileManifest}, or an `InvalidFileManifestError` that names the fields that are wrong. Never
 * throws anything else, whatever `value` is.
 */
export function parseFileManifest(value: unknown): FileManifest {
  const parsed = fileManifestSchema.safeParse(value)
  if (parsed.success) return parsed.data
  const fields = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(manifest)'}: ${issue.message}`)
  throw new InvalidFileManifestError(`not a file manifest: ${fields.slice(0, 5).join('; ')}`, {
    details: { issues: fields.slice(0, 20) },
    hint: 'The message that shared this file is malformed; ask the sender to share it again.',
  })
}

/** The manifest's file key as bytes (a fresh copy: the caller may wipe it). */
export function fileKeyOf(manifest: FileManifest): Uint8Array {
  return base64urlDecode(manifest.key)
}

/** A file's root CID from text that must be one (a pin request's, a stored pin's); `InvalidFileManifestError` if not. */
export function parseFileCid(text: string): CID {
  if (!fileCidSchema.safeParse(text).success) {
    throw new InvalidFileManifestError(`not a file's CID: ${JSON.stringify(text.slice(0, 128))}`, {
      hint: 'A file is named by a CIDv1 (dag-pb or raw, sha2-256) in base32, as its manifest carries it.',
    })
  }
  return CID.parse(text)
}

/** The manifest's CID, parsed. */
export function fileCidOf(manifest: FileManifest): CID {
  return CID.parse(manifest.cid)
}

function parseCid(text: string): CID | undefined {
  try {
    return CID.parse(text)
  } catch {
    return undefined
  }
}

function decodeBase64url(text: string): Uint8Array | undefined {
  try {
    return base64urlDecode(text)
  } catch {
    return undefined
  }
}
