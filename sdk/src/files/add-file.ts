/**
 * Sharing a file: plaintext in, a manifest out. The plaintext streams once through a SHA-256 and the file stream's
 * encryption into UnixFS blocks in the local blockstore, which are pinned; peers then fetch them over bitswap.
 * Nothing holds the file: memory is a few segments whatever its size.
 */
import { unixfs } from '@helia/unixfs'
import type { Helia } from 'helia'
import { createFileKey, encryptFileStream } from '../crypto/file-stream.ts'
import { bytesToHex, createSha256, wipe } from '../crypto/primitives.ts'
import { base64urlEncode } from '../encoding.ts'
import { InvalidInputError } from '../errors.ts'
import { fileAssociatedData } from './associated-data.ts'
import { MAX_FILE_BYTES } from './constants.ts'
import { FILE_MANIFEST_VERSION, type FileManifest, fileManifestSchema, parseFileManifest } from './manifest.ts'
import { pinLocalDag } from './pin-file.ts'
import { type FileProgressListener, ProgressMeter } from './progress.ts'
import { chunksOf, toStream } from './streams.ts'

/** What {@link addFile} needs of a Helia node: its blockstore and pins. */
export type FilesHelia = Pick<Helia, 'blockstore' | 'pins'>

export interface AddFileOptions {
  signal?: AbortSignal
  /** The file's size when the caller knows it (a file on disk, a browser `File`): progress then says time left. */
  size?: number
  /** Plaintext bytes taken in so far, of `size` when given. */
  onProgress?: FileProgressListener
}

/**
 * Encrypts `source` under a fresh file key into blocks in `helia`'s blockstore, pins them, and returns the manifest
 * to share. `meta` is checked first (an `InvalidInputError` before any byte is read). A file over
 * `MAX_FILE_BYTES` fails with `InvalidInputError`. On an error or an abort the blocks written so far stay unpinned,
 * for the blockstore's garbage collection.
 *
 * The leaves are raw blocks of `FILE_SEGMENT_BYTES` (UnixFS's fixed-size chunker at its 1 MiB default), so block i
 * is exactly segment i (block 0 with the header): a download resumes at a block, and a block is a quarter of
 * bitswap's 4 MiB message limit.
 */
export async function addFile(
  helia: FilesHelia,
  source: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
  meta: { name: string; type: string },
  options: AddFileOptions = {},
): Promise<FileManifest> {
  checkMeta(meta)
  const signal = options.signal
  signal?.throwIfAborted()
  const key = createFileKey()
  const hash = createSha256()
  const meter = new ProgressMeter({
    ...(options.onProgress === undefined ? {} : { listener: options.onProgress }),
    ...(options.size === undefined ? {} : { totalBytes: options.size }),
  })
  try {
    const measured = toStream(source).pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          if (!(chunk instanceof Uint8Array)) throw new TypeError('addFile: chunks must be Uint8Array')
          if (meter.bytes + chunk.length > MAX_FILE_BYTES) {
            throw new InvalidInputError(`file is larger than ${MAX_FILE_BYTES} bytes, the most a share may be`, {
              details: { maxBytes: MAX_FILE_BYTES },
              hint: 'Split the file, or share a link to it instead.',
            })
          }
          hash.update(chunk)
          meter.add(chunk.length)
          controller.enqueue(chunk)
        },
      }),
      signal === undefined ? {} : { signal },
    )
    const ciphertext = measured.pipeThrough(encryptFileStream(key, { associatedData: fileAssociatedData() }))
    const cid = await unixfs(helia).addByteStream(chunksOf(ciphertext), {
      cidVersion: 1,
      rawLeaves: true,
      ...(signal === undefined ? {} : { signal }),
    })
    await pinLocalDag(helia, cid, signal === undefined ? {} : { signal })
    return parseFileManifest({
      v: FILE_MANIFEST_VERSION,
      cid: cid.toString(),
      size: meter.bytes,
      type: meta.type,
      name: meta.name,
      key: base64urlEncode(key),
      sha256: bytesToHex(hash.digest()),
    })
  } finally {
    wipe(key)
  }
}

/** The name and type as the manifest will check them, before the file is read. */
function checkMeta(meta: { name: string; type: string }): void {
  const checked = fileManifestSchema.pick({ name: true, type: true }).safeParse({ name: meta?.name, type: meta?.type })
  if (checked.success) return
  const fields = checked.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`)
  throw new InvalidInputError(`cannot share this file: ${fields.join('; ')}`, {
    details: { issues: fields },
    hint: 'Rename the file (no slashes or control characters, at most 255 bytes of UTF-8) or give a media type such as application/octet-stream.',
  })
}
