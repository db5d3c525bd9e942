/**
 * Fetching a shared file: a manifest in, its plaintext out as a stream. Blocks come from the local blockstore or,
 * over bitswap, from whichever connected peer has them (the sender, a relay that pinned the file); each is checked
 * against its CID on arrival, each segment against its tag, and the whole against the manifest's size and SHA-256
 * at the end. The stream errors instead of closing when any check fails, so only a stream that closed normally
 * delivered the file.
 */
import { unixfs } from '@helia/unixfs'
import type { Helia } from 'helia'
import { FILE_HEADER_BYTES, FILE_SEGMENT_BYTES } from '../crypto/constants.ts'
import { ciphertextSize, decryptFileStream, fileSegmentAt } from '../crypto/file-stream.ts'
import { bytesToHex, createSha256, type Sha256Stream, wipe } from '../crypto/primitives.ts'
import { InvalidInputError } from '../errors.ts'
import { fileAssociatedData } from './associated-data.ts'
import { FILE_FETCH_STALL_TIMEOUT_MS, FILE_FETCH_WINDOW_SEGMENTS } from './constants.ts'
import { FileIntegrityError } from './errors.ts'
import { fetchCiphertext } from './fetch-ciphertext.ts'
import { type FileManifest, fileCidOf, fileKeyOf, parseFileManifest } from './manifest.ts'
import { type FileProgressListener, ProgressMeter } from './progress.ts'
import { StallTimer } from './stall-timer.ts'
import { chunksOf, streamOf, toStream } from './streams.ts'

export interface CatFileOptions {
  /** Cancels the download: the stream errors with the signal's reason. Cancelling the stream does the same. */
  signal?: AbortSignal
  /** Plaintext bytes delivered so far (from `offset`), of the file's size, with speed and time left. */
  onProgress?: FileProgressListener
  /**
   * How long to wait without a byte arriving before the stream errors with `FileUnavailableError`; default
   * `FILE_FETCH_STALL_TIMEOUT_MS`. Per stall, not per file: a large file that keeps arriving is never cut off.
   */
  timeoutMs?: number
  /**
   * Resume: deliver the plaintext from this byte on (what an earlier, interrupted download already wrote). The
   * download starts at the segment that holds it (decryption needs whole segments) and skips to it.
   */
  offset?: number
  /**
   * The `offset` bytes already written, to check the whole file's SHA-256 at the end of a resumed download. Without
   * it a resumed download checks the size and every segment's tag under the manifest's key (which already
   * authenticate the bytes it delivers and the file's end), but not the SHA-256 of the whole.
   */
  prefix?: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>
}

/** What {@link catFile} needs of a Helia node: its blockstore. */
export type FilesReader = Pick<Helia, 'blockstore'>

/**
 * The plaintext of the file `manifest` names. The stream errors with
 * - `FileUnavailableError` when no connected peer gives a block for `timeoutMs`;
 * - `FileDecryptionError` (from the crypto layer) when a segment does not authenticate: a wrong key, a tampered or
 *   foreign block, a file cut short or extended;
 * - `FileIntegrityError` when the file decrypts but its size or SHA-256 is not the manifest's, or its blocks are not
 *   a UnixFS file of the right size;
 * - the signal's reason when aborted.
 * Write what it delivers somewhere temporary and keep it only once the stream closed. Throws `InvalidFileManifestError`
 * or `InvalidInputError` at once for a malformed manifest or offset.
 */
export function catFile(
  helia: FilesReader,
  manifest: FileManifest,
  options: CatFileOptions = {},
): ReadableStream<Uint8Array> {
  const file = parseFileManifest(manifest)
  const offset = options.offset ?? 0
  if (!Number.isSafeInteger(offset) || offset < 0 || offset > file.size) {
    throw new InvalidInputError(`offset ${offset} is outside the file (${file.size} bytes)`, {
      details: { offset, size: file.size },
      hint: 'Resume from the number of bytes already written, or from 0.',
    })
  }
  const cid = fileCidOf(file)
  const start = fileSegmentAt(offset, file.size)
  const totalCiphertext = ciphertextSize(file.size)
  // A second controller so that cancelling the stream aborts the block requests as the caller's signal does.
  const cancelled = new AbortController()
  const signal = options.signal === undefined ? cancelled.signal : AbortSignal.any([options.signal, cancelled.signal])
  const timer = new StallTimer({
    signal,
    timeoutMs: options.timeoutMs ?? FILE_FETCH_STALL_TIMEOUT_MS,
    cid: file.cid,
  })
  const fs = unixfs(helia)
  const hash = offset === 0 || options.prefix !== undefined ? createSha256() : undefined

  async function* ciphertext(): AsyncGenerator<Uint8Array> {
    try {
      if (options.prefix !== undefined) await hashPrefix(toStream(options.prefix), offset, hash!, signal)
      const stat = await timer.retrying((signal) => fs.stat(cid, { signal }))
      timer.progress()
      if ((stat.type !== 'file' && stat.type !== 'raw') || stat.size !== BigInt(totalCiphertext)) {
        throw new FileIntegrityError(
          `the blocks under ${file.cid} are not this file: a ${stat.type} of ${stat.size} bytes, where the manifest's size needs a file of ${totalCiphertext}`,
          {
            details: { cid: file.cid, type: stat.type, bytes: String(stat.size), expected: totalCiphertext },
            hint: 'The message that shared the file is wrong or forged; ask the sender to share it again.',
          },
        )
      }
      const windowBytes = FILE_FETCH_WINDOW_SEGMENTS * FILE_SEGMENT_BYTES
      if (start.segment > 0) {
        // Resuming: decryption needs the header (salt and nonce prefix), then the segments from the one we start at.
        yield* fetchCiphertext(fs, cid, { start: 0, end: FILE_HEADER_BYTES, windowBytes }, timer)
      }
      yield* fetchCiphertext(fs, cid, { start: start.ciphertextStart, end: totalCiphertext, windowBytes }, timer)
    } catch (err) {
      throw timer.explain(err)
    } finally {
      timer.stop()
    }
  }

  const key = fileKeyOf(file)
  const decrypt = decryptFileStream(key, { associatedData: fileAssociatedData(), startSegment: start.segment })
  wipe(key)
  const meter = new ProgressMeter({
    ...(options.onProgress === undefined ? {} : { listener: options.onProgress }),
    totalBytes: file.size,
    startBytes: offset,
  })
  let skip = offset - start.plaintextStart
  const checked = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      if (skip > 0) {
        const skipped = Math.min(skip, chunk.length)
        skip -= skipped
        chunk = chunk.subarray(skipped)
        if (chunk.length === 0) return
      }
      if (meter.bytes + chunk.length > file.size) throw sizeError(file, meter.bytes + chunk.length)
      hash?.update(chunk)
      meter.add(chunk.length)
      controller.enqueue(chunk)
    },
    flush() {
      if (meter.bytes !== file.size) throw sizeError(file, meter.bytes)
      if (hash !== undefined) {
        const digest = bytesToHex(hash.digest())
        if (digest !== file.sha256) {
          throw new FileIntegrityError(`${file.name} decrypted, but its SHA-256 is not the one its manifest names`, {
            details: { cid: file.cid, sha256: digest, expected: file.sha256 },
            hint: 'Discard what was written: the sender shared a manifest that does not match the file. Ask them to share it again.',
          })
        }
      }
    },
  })
  // A cancel from the reader travels up the pipe to here: abort the block requests before ending the generator.
  const source = streamOf(ciphertext(), () => cancelled.abort(new DOMException('download cancelled', 'AbortError')))
  return source.pipeThrough(decrypt).pipeThrough(checked)
}

/** The bytes a resumed download was given as already written: hashed, and exactly `offset` of them. */
async function hashPrefix(
  prefix: ReadableStream<Uint8Array>,
  offset: number,
  hash: Sha256Stream,
  signal: AbortSignal,
): Promise<void> {
  let bytes = 0
  for await (const chunk of chunksOf(prefix)) {
    signal.throwIfAborted()
    bytes += chunk.length
    if (bytes > offset) break
    hash.update(chunk)
  }
  if (bytes !== offset) {
    throw new InvalidInputError(
      `the prefix given to resume from ${offset} bytes has ${bytes > offset ? 'more' : bytes}`,
      {
        details: { offset, bytes },
        hint: 'Pass exactly the bytes already written, or resume without a prefix.',
      },
    )
  }
}

function sizeError(file: FileManifest, bytes: number): FileIntegrityError {
  return new FileIntegrityError(`${file.name} decrypted to ${bytes} bytes, not the ${file.size} its manifest names`, {
    details: { cid: file.cid, bytes, expected: file.size },
    hint: 'Discard what was written: the sender shared a manifest that does not match the file. Ask them to share it again.',
  })
}
