/**
 * Streaming encryption of files: Tink's AES-GCM-HKDF streaming AEAD (the STREAM construction of Hoang,
 * Reyhanitabar, Rogaway and Vizár, as https://developers.google.com/tink/streaming-aead/aes_gcm_hkdf_streaming
 * specifies it), with HKDF-SHA-256, AES-256-GCM segment keys and `FILE_SEGMENT_BYTES` segments. Web Streams in,
 * Web Streams out; memory is a segment or two whatever the file's size. docs/file-encryption.md has the format
 * byte by byte and what each check catches.
 *
 * ```
 * ciphertext = header || segment_0 || … || segment_n
 * header     = 0x28 (its length, 40) || salt (32) || noncePrefix (7)
 * K          = HKDF-SHA-256(ikm = file key, salt, info = associatedData, L = 32)
 * segment_i  = AES-256-GCM(K, nonce_i, plaintext_i, AD = empty)      ciphertext || 16-byte tag
 * nonce_i    = noncePrefix || i (uint32 big-endian) || (i = n ? 0x01 : 0x00)
 * ```
 *
 * Every segment is `FILE_SEGMENT_BYTES` of ciphertext but the first, which is shorter by the header, and the
 * last, which may be shorter (an empty file is the header and one empty last segment). Given the same key and
 * `ciphertext_segment_size` = `FILE_SEGMENT_BYTES`, Tink's `AesGcmHkdfStreaming` (HKDF-SHA256, derived key 32
 * bytes) reads what this writes and the other way round; the tests check Tink's published vectors.
 *
 * The counter in the nonce catches reordered, dropped and repeated segments; the last-segment flag catches a
 * stream cut at a segment boundary and data appended after the end; the per-file salt (a fresh key per file even
 * under one file key) and nonce prefix catch a segment of another file; the associated data, bound through the
 * key, catches a file presented as another. Segments are AES-GCM from `primitives.ts` (`node:crypto` on Node,
 * WebCrypto in browsers), each opened whole before any of its plaintext is emitted.
 */
import {
  AES_GCM_NONCE_BYTES,
  AES_GCM_TAG_BYTES,
  FILE_HEADER_BYTES,
  FILE_KEY_BYTES,
  FILE_NONCE_PREFIX_BYTES,
  FILE_SALT_BYTES,
  FILE_SEGMENT_BYTES,
} from './constants.ts'
import { DecryptionFailedError, FileDecryptionError } from './errors.ts'
import { aesGcmOpen, aesGcmSeal, assertKeyBytes, concatBytes, hkdfSha256, randomBytes, wipe } from './primitives.ts'

export interface FileStreamOptions {
  /**
   * Bound to the whole file through its key derivation (Tink's associated data), e.g. the file's id and the
   * room it belongs to: decrypting with other bytes fails at the first segment. Not secret, not stored in the
   * stream: the reader must know it. Default: empty.
   */
  readonly associatedData?: Uint8Array
}

/** Options of {@link decryptFileStream}. */
export interface DecryptFileStreamOptions extends FileStreamOptions {
  /**
   * Decrypt from this segment on, to resume a download: the stream then reads the 40-byte header followed by the
   * ciphertext from segment `startSegment`'s start ({@link fileSegmentAt} gives it), not the segments before it.
   * The guarantees hold from there: segment i's nonce carries i, so a segment from elsewhere fails, and the end is
   * checked as usual. What the skipped segments held is for the caller to keep (it decrypted them earlier). Default 0.
   */
  readonly startSegment?: number
}

/** Where the segment that holds a plaintext byte lies: what a resumed download asks for (see {@link fileSegmentAt}). */
export interface FileSegmentPosition {
  /** The segment's index. */
  readonly segment: number
  /** Its first plaintext byte's offset in the file (≤ the offset asked for). */
  readonly plaintextStart: number
  /** Its first ciphertext byte's offset in the stream (the header counted): `segment × FILE_SEGMENT_BYTES` past 0. */
  readonly ciphertextStart: number
}

/**
 * Parameters and randomness that are fixed only to check known answers (ours and Tink's published vectors). Not
 * exported by `index.ts`; production code calls {@link encryptFileStream} and {@link decryptFileStream}.
 */
export interface FileStreamTestingParams {
  /** Ciphertext segment size; default `FILE_SEGMENT_BYTES`. */
  readonly ciphertextSegmentBytes?: number
  /** The header's salt (encryption only); default fresh random bytes. */
  readonly salt?: Uint8Array
  /** The header's nonce prefix (encryption only); default fresh random bytes. */
  readonly noncePrefix?: Uint8Array
  /** The segment key's derivation; default HKDF-SHA-256. Tink's vectors mostly use HKDF-SHA-1. */
  readonly deriveKey?: (key: Uint8Array, salt: Uint8Array, info: Uint8Array) => Promise<Uint8Array>
}

/** Tink refuses segment number 2^32 - 1 and beyond (`segmentNum >= MaxUint32`); so do we. */
const MAX_SEGMENTS = 2 ** 32 - 1
const EMPTY = new Uint8Array(0)
/** Below this a segment would hold less than one byte of plaintext after the header and tag (Tink's check). */
const MIN_SEGMENT_BYTES = FILE_HEADER_BYTES + AES_GCM_TAG_BYTES + 1

/** A fresh random key for one file (32 bytes). Use a key for one file; each file gets its own salt regardless. */
export function createFileKey(): Uint8Array {
  return randomBytes(FILE_KEY_BYTES)
}

/**
 * A stream that encrypts the bytes written to it into the format above. Chunks of any size; a chunk larger than
 * a segment is sealed in place, without a copy. A segment is sealed once the next byte arrives (or at close, as
 * the last), so the stream holds at most one segment of plaintext besides the chunk being written.
 */
export function encryptFileStream(
  key: Uint8Array,
  options: FileStreamOptions = {},
): TransformStream<Uint8Array, Uint8Array> {
  return encryptFileStreamWith(key, options, {})
}

/**
 * A stream that decrypts what {@link encryptFileStream} (or Tink, with the same parameters) wrote. It emits a
 * segment's plaintext only after that segment's tag verified, and errors with a `FileDecryptionError` at the
 * first check that fails: a bad segment where it is, a missing end when the input closes. Until it closes
 * without an error the output is not a whole file: write it somewhere temporary and keep it only then.
 */
export function decryptFileStream(
  key: Uint8Array,
  options: DecryptFileStreamOptions = {},
): TransformStream<Uint8Array, Uint8Array> {
  return decryptFileStreamWith(key, options, {})
}

/**
 * The segment that holds plaintext byte `plaintextOffset` of a file of `plaintextBytes`, and where it starts in
 * both. An offset at the end of the file (`plaintextOffset` = `plaintextBytes`) gives the last segment, which must
 * still be read: its flag is what proves the file ends there. Segment i ≥ 1 starts at ciphertext byte i × S, since
 * the header and segment 0 together fill one segment's size.
 */
export function fileSegmentAt(
  plaintextOffset: number,
  plaintextBytes: number,
  testing: FileStreamTestingParams = {},
): FileSegmentPosition {
  if (!Number.isSafeInteger(plaintextBytes) || plaintextBytes < 0) {
    throw new RangeError(`fileSegmentAt: invalid plaintext size ${plaintextBytes}`)
  }
  if (!Number.isSafeInteger(plaintextOffset) || plaintextOffset < 0 || plaintextOffset > plaintextBytes) {
    throw new RangeError(`fileSegmentAt: offset ${plaintextOffset} is outside a file of ${plaintextBytes} bytes`)
  }
  const layout = new Layout(testing.ciphertextSegmentBytes)
  const first = layout.plaintextLimit(0)
  const inner = layout.plaintextLimit(1)
  const segmentOf = (offset: number) => (offset < first ? 0 : 1 + Math.floor((offset - first) / inner))
  // The last segment may be full, so the offset just past the file's end would name a segment that does not exist.
  const lastSegment = plaintextBytes <= first ? 0 : segmentOf(plaintextBytes - 1)
  const segment = Math.min(segmentOf(plaintextOffset), lastSegment)
  return {
    segment,
    plaintextStart: segment === 0 ? 0 : first + (segment - 1) * inner,
    ciphertextStart: segment === 0 ? 0 : segment * layout.segmentBytes,
  }
}

/** Bytes of ciphertext that {@link encryptFileStream} writes for `plaintextBytes` of plaintext. */
export function ciphertextSize(plaintextBytes: number, testing: FileStreamTestingParams = {}): number {
  if (!Number.isSafeInteger(plaintextBytes) || plaintextBytes < 0) {
    throw new RangeError(`ciphertextSize: invalid plaintext size ${plaintextBytes}`)
  }
  const layout = new Layout(testing.ciphertextSegmentBytes)
  const first = layout.plaintextLimit(0)
  const segments = plaintextBytes <= first ? 1 : 1 + Math.ceil((plaintextBytes - first) / layout.plaintextLimit(1))
  return FILE_HEADER_BYTES + plaintextBytes + segments * AES_GCM_TAG_BYTES
}

/**
 * Bytes of plaintext in a file stream of `ciphertextBytes`. Throws `RangeError` for a size no stream has (shorter
 * than a header and a tag, or a last segment shorter than its tag).
 */
export function plaintextSize(ciphertextBytes: number, testing: FileStreamTestingParams = {}): number {
  if (!Number.isSafeInteger(ciphertextBytes) || ciphertextBytes < 0) {
    throw new RangeError(`plaintextSize: invalid ciphertext size ${ciphertextBytes}`)
  }
  const layout = new Layout(testing.ciphertextSegmentBytes)
  const body = ciphertextBytes - FILE_HEADER_BYTES
  const first = layout.ciphertextLimit(0)
  let segments = 1
  let last = body
  if (body > first) {
    const rest = body - first
    segments = 1 + Math.ceil(rest / layout.segmentBytes)
    last = rest - (segments - 2) * layout.segmentBytes
  }
  if (last < AES_GCM_TAG_BYTES) {
    throw new RangeError(`plaintextSize: no file stream is ${ciphertextBytes} bytes long`)
  }
  return body - segments * AES_GCM_TAG_BYTES
}

/** {@link encryptFileStream} with testing parameters. */
export function encryptFileStreamWith(
  key: Uint8Array,
  options: FileStreamOptions,
  testing: FileStreamTestingParams,
): TransformStream<Uint8Array, Uint8Array> {
  assertKeyBytes(key, FILE_KEY_BYTES, 'file key')
  const layout = new Layout(testing.ciphertextSegmentBytes)
  const salt = testing.salt ?? randomBytes(FILE_SALT_BYTES)
  const noncePrefix = testing.noncePrefix ?? randomBytes(FILE_NONCE_PREFIX_BYTES)
  assertKeyBytes(salt, FILE_SALT_BYTES, 'file stream salt')
  assertKeyBytes(noncePrefix, FILE_NONCE_PREFIX_BYTES, 'file stream nonce prefix')
  // Copied now: the caller may wipe its key as soon as the stream exists.
  const keyDerivation = deriveSegmentKey(key.slice(), salt, options.associatedData ?? EMPTY, testing.deriveKey)
  const pending = new Segmenter(layout.plaintextLimit(1), () => layout.plaintextLimit(index))
  let segmentKey: Uint8Array = EMPTY
  let index = 0

  const seal = async (plaintext: Uint8Array, last: boolean): Promise<Uint8Array> => {
    if (index >= MAX_SEGMENTS) throw new RangeError(`file stream: more than ${MAX_SEGMENTS} segments`)
    const sealed = await aesGcmSeal({ key: segmentKey, nonce: segmentNonce(noncePrefix, index, last), plaintext })
    index++
    return sealed
  }

  return new TransformStream<Uint8Array, Uint8Array>({
    async start(controller) {
      segmentKey = await keyDerivation
      controller.enqueue(concatBytes(Uint8Array.of(FILE_HEADER_BYTES), salt, noncePrefix))
    },
    async transform(chunk, controller) {
      assertChunk(chunk)
      await pending.push(chunk, async (segment) => controller.enqueue(await seal(segment, false)))
    },
    async flush(controller) {
      controller.enqueue(await seal(pending.rest, true))
      wipe(segmentKey)
      pending.wipe()
    },
  })
}

/** {@link decryptFileStream} with testing parameters (the segment size and key derivation; salt and prefix are read). */
export function decryptFileStreamWith(
  key: Uint8Array,
  options: DecryptFileStreamOptions,
  testing: FileStreamTestingParams,
): TransformStream<Uint8Array, Uint8Array> {
  assertKeyBytes(key, FILE_KEY_BYTES, 'file key')
  const startSegment = options.startSegment ?? 0
  if (!Number.isSafeInteger(startSegment) || startSegment < 0 || startSegment >= MAX_SEGMENTS) {
    throw new RangeError(`decryptFileStream: invalid start segment ${startSegment}`)
  }
  const layout = new Layout(testing.ciphertextSegmentBytes)
  const fileKey = key.slice()
  const associatedData = (options.associatedData ?? EMPTY).slice()
  const header = new Uint8Array(FILE_HEADER_BYTES)
  let headerLength = 0
  let noncePrefix: Uint8Array | undefined
  let segmentKey: Uint8Array = EMPTY
  const held = new Segmenter(layout.segmentBytes, () => layout.ciphertextLimit(index))
  let index = startSegment

  const open = (ciphertext: Uint8Array, last: boolean): Promise<Uint8Array> =>
    aesGcmOpen({ key: segmentKey, nonce: segmentNonce(noncePrefix!, index, last), ciphertext })

  /** Opens a segment that more bytes follow. */
  const openInner = async (ciphertext: Uint8Array): Promise<Uint8Array> => {
    if (index >= MAX_SEGMENTS - 1) {
      throw new FileDecryptionError(
        'trailing-data',
        `file stream: data after segment ${index}, the most the format has`,
        {
          details: { segment: index },
        },
      )
    }
    try {
      const plaintext = await open(ciphertext, false)
      index++
      return plaintext
    } catch (err) {
      if (!(err instanceof DecryptionFailedError)) throw err
      // Only to name the failure: a segment that opens as the last one had bytes appended after it.
      if (await opens(ciphertext, true)) {
        throw new FileDecryptionError('trailing-data', `file stream: data after its last segment (segment ${index})`, {
          details: { segment: index },
        })
      }
      throw segmentError(index, startSegment)
    }
  }

  const opens = async (ciphertext: Uint8Array, last: boolean): Promise<boolean> => {
    try {
      await open(ciphertext, last)
      return true
    } catch {
      return false
    }
  }

  return new TransformStream<Uint8Array, Uint8Array>({
    async transform(chunk, controller) {
      assertChunk(chunk)
      let offset = 0
      if (noncePrefix === undefined) {
        offset = Math.min(FILE_HEADER_BYTES - headerLength, chunk.length)
        header.set(chunk.subarray(0, offset), headerLength)
        headerLength += offset
        if (headerLength < FILE_HEADER_BYTES) return
        if (header[0] !== FILE_HEADER_BYTES) {
          throw new FileDecryptionError(
            'header',
            `file stream: header length byte is ${header[0]}, expected ${FILE_HEADER_BYTES} (not this format or these parameters)`,
            { details: { received: header[0], expected: FILE_HEADER_BYTES } },
          )
        }
        const salt = header.slice(1, 1 + FILE_SALT_BYTES)
        segmentKey = await deriveSegmentKey(fileKey, salt, associatedData, testing.deriveKey)
        wipe(fileKey)
        noncePrefix = header.slice(1 + FILE_SALT_BYTES)
      }
      await held.push(chunk.subarray(offset), async (segment) => controller.enqueue(await openInner(segment)))
    },
    async flush(controller) {
      if (noncePrefix === undefined) {
        throw new FileDecryptionError(
          headerLength === 0 ? 'truncated' : 'header',
          `file stream: ends inside its header (${headerLength} of ${FILE_HEADER_BYTES} bytes)`,
          { details: { received: headerLength, expected: FILE_HEADER_BYTES } },
        )
      }
      const last = held.rest
      if (last.length < AES_GCM_TAG_BYTES) {
        throw new FileDecryptionError(
          'truncated',
          `file stream: cut short, its last segment (segment ${index}) is ${last.length} bytes, less than a tag`,
          { details: { segment: index, received: last.length } },
        )
      }
      try {
        controller.enqueue(await open(last, true))
      } catch (err) {
        if (!(err instanceof DecryptionFailedError)) throw err
        // Only to name the failure: a full segment sealed as not the last means the segments after it are missing.
        if (last.length === layout.ciphertextLimit(index) && (await opens(last, false))) {
          throw new FileDecryptionError(
            'truncated',
            `file stream: cut short after segment ${index}, which was not sealed as the last one`,
            { details: { segment: index } },
          )
        }
        throw segmentError(index, startSegment)
      } finally {
        wipe(segmentKey)
        held.wipe()
      }
    },
  })
}

/** Segment sizes: every ciphertext segment is `segmentBytes` but the first (less the header) and the last. */
class Layout {
  readonly segmentBytes: number

  constructor(segmentBytes = FILE_SEGMENT_BYTES) {
    if (!Number.isSafeInteger(segmentBytes) || segmentBytes < MIN_SEGMENT_BYTES) {
      throw new RangeError(`file stream: segment size must be at least ${MIN_SEGMENT_BYTES} bytes, got ${segmentBytes}`)
    }
    this.segmentBytes = segmentBytes
  }

  ciphertextLimit(index: number): number {
    return index === 0 ? this.segmentBytes - FILE_HEADER_BYTES : this.segmentBytes
  }

  plaintextLimit(index: number): number {
    return this.ciphertextLimit(index) - AES_GCM_TAG_BYTES
  }
}

/** Tink's segment key: HKDF(ikm = the file key, salt from the header, info = associated data). */
async function deriveSegmentKey(
  key: Uint8Array,
  salt: Uint8Array,
  associatedData: Uint8Array,
  derive: FileStreamTestingParams['deriveKey'],
): Promise<Uint8Array> {
  if (derive !== undefined) return derive(key, salt, associatedData)
  return hkdfSha256({ ikm: key, salt, info: associatedData, length: FILE_KEY_BYTES })
}

/** `noncePrefix (7) || index (uint32 big-endian) || last (0x01 or 0x00)`, Tink's `generateSegmentNonce`. */
function segmentNonce(noncePrefix: Uint8Array, index: number, last: boolean): Uint8Array {
  const nonce = new Uint8Array(AES_GCM_NONCE_BYTES)
  nonce.set(noncePrefix)
  new DataView(nonce.buffer).setUint32(FILE_NONCE_PREFIX_BYTES, index)
  nonce[AES_GCM_NONCE_BYTES - 1] = last ? 1 : 0
  return nonce
}

/** `first`: the first segment this stream read (0, or where a resumed download started): a wrong key fails there. */
function segmentError(index: number, first: number): FileDecryptionError {
  const why =
    index === first
      ? 'wrong key or associated data, a modified header or segment, or a segment of another file'
      : 'modified, dropped, repeated, reordered, or taken from another file'
  return new FileDecryptionError('segment', `file stream: segment ${index} did not authenticate (${why})`, {
    details: { segment: index },
  })
}

function assertChunk(chunk: unknown): asserts chunk is Uint8Array {
  if (!(chunk instanceof Uint8Array)) throw new TypeError('file stream: chunks must be Uint8Array')
}

/**
 * Cuts a stream's bytes into segments of `limit()` bytes (asked again after each: the first segment is shorter) and
 * holds the last back until the stream ends, when it is {@link rest}: the last segment is sealed as the last. A
 * segment must be followed by at least one byte to be passed on as not the last; whole segments inside a chunk are
 * passed on in place, not copied.
 */
class Segmenter {
  readonly #held: Uint8Array
  readonly #limit: () => number
  #length = 0

  constructor(capacity: number, limit: () => number) {
    this.#held = new Uint8Array(capacity)
    this.#limit = limit
  }

  /** Takes `chunk`, handing each segment known not to be the last to `onSegment`, in order. */
  async push(chunk: Uint8Array, onSegment: (segment: Uint8Array) => Promise<void>): Promise<void> {
    let offset = 0
    while (offset < chunk.length) {
      const limit = this.#limit()
      if (this.#length === limit) {
        // Full, and more bytes follow: not the last segment.
        await onSegment(this.#held.subarray(0, limit))
        this.#length = 0
      } else if (this.#length === 0 && chunk.length - offset > limit) {
        // A whole segment inside the chunk with more after it.
        await onSegment(chunk.subarray(offset, offset + limit))
        offset += limit
      } else {
        const take = Math.min(limit - this.#length, chunk.length - offset)
        this.#held.set(chunk.subarray(offset, offset + take), this.#length)
        this.#length += take
        offset += take
      }
    }
  }

  /** What is held: the last segment, once the stream ended. */
  get rest(): Uint8Array {
    return this.#held.subarray(0, this.#length)
  }

  wipe(): void {
    wipe(this.#held)
  }
}
