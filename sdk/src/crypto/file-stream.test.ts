import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { FILE_HEADER_BYTES, FILE_SEGMENT_BYTES } from './constants.ts'
import { FileDecryptionError } from './errors.ts'
import {
  ciphertextSize,
  createFileKey,
  decryptFileStream,
  decryptFileStreamWith,
  encryptFileStream,
  encryptFileStreamWith,
  type FileStreamTestingParams,
  fileSegmentAt,
  plaintextSize,
} from './file-stream.ts'
import { bytesToHex, concatBytes, hexToBytes, sha256Hex } from './primitives.ts'
import ours from './vectors/file-stream.json' with { type: 'json' }
import tink from './vectors/tink-aes-gcm-hkdf-streaming.json' with { type: 'json' }

/** Small segments so that a property's files have many of them: 44 bytes of plaintext in the first, 84 after. */
const SMALL: FileStreamTestingParams = { ciphertextSegmentBytes: 100 }
const RUNS = 150
const utf8 = (text: string) => new TextEncoder().encode(text)
const pattern = (length: number) => Uint8Array.from({ length }, (_, i) => i % 251)

/** `bytes` cut at `cuts` (sorted, deduplicated offsets), as a stream. */
function streamOf(bytes: Uint8Array, cuts: number[] = []): ReadableStream<Uint8Array> {
  const points = [...new Set(cuts.map((c) => Math.min(c, bytes.length)))].sort((a, b) => a - b)
  const pieces: Uint8Array[] = []
  let from = 0
  for (const to of [...points, bytes.length]) {
    pieces.push(bytes.slice(from, to))
    from = to
  }
  return new ReadableStream({
    pull(controller) {
      const next = pieces.shift()
      if (next === undefined) controller.close()
      else controller.enqueue(next)
    },
  })
}

/** Everything `stream` emitted, and how it ended. */
async function run(stream: ReadableStream<Uint8Array>): Promise<{ output: Uint8Array; error?: unknown }> {
  const parts: Uint8Array[] = []
  const reader = stream.getReader()
  try {
    for (let next = await reader.read(); !next.done; next = await reader.read()) parts.push(next.value)
    return { output: concatBytes(...parts) }
  } catch (error) {
    return { output: concatBytes(...parts), error }
  }
}

async function encrypt(
  key: Uint8Array,
  plaintext: Uint8Array,
  options: { associatedData?: Uint8Array; cuts?: number[]; testing?: FileStreamTestingParams } = {},
): Promise<Uint8Array> {
  const { associatedData, cuts, testing = {} } = options
  const result = await run(
    streamOf(plaintext, cuts).pipeThrough(
      encryptFileStreamWith(key, associatedData ? { associatedData } : {}, testing),
    ),
  )
  if (result.error !== undefined) throw result.error
  return result.output
}

function decrypt(
  key: Uint8Array,
  ciphertext: Uint8Array,
  options: { associatedData?: Uint8Array; cuts?: number[]; testing?: FileStreamTestingParams } = {},
): Promise<{ output: Uint8Array; error?: unknown }> {
  const { associatedData, cuts, testing = {} } = options
  return run(
    streamOf(ciphertext, cuts).pipeThrough(
      decryptFileStreamWith(key, associatedData ? { associatedData } : {}, testing),
    ),
  )
}

/** The segments of a ciphertext: header, then the first (shorter by the header), then whole ones, then the rest. */
function segmentsOf(ciphertext: Uint8Array, segmentBytes: number): { header: Uint8Array; segments: Uint8Array[] } {
  const header = ciphertext.subarray(0, FILE_HEADER_BYTES)
  const segments: Uint8Array[] = []
  let offset = FILE_HEADER_BYTES
  let limit = segmentBytes - FILE_HEADER_BYTES
  while (offset < ciphertext.length) {
    segments.push(ciphertext.subarray(offset, offset + limit))
    offset += limit
    limit = segmentBytes
  }
  return { header, segments }
}

/**
 * What every tampering case must do: the stream errors with a `FileDecryptionError`, and what it emitted before
 * is a prefix of the original plaintext made of whole segments that verified (never the whole file, never bytes
 * that were not authentic).
 */
function expectRejected(result: { output: Uint8Array; error?: unknown }, plaintext: Uint8Array): FileDecryptionError {
  expect(result.error).toBeInstanceOf(FileDecryptionError)
  expect(result.output.length).toBeLessThan(Math.max(plaintext.length, 1))
  expect(bytesToHex(result.output)).toBe(bytesToHex(plaintext.subarray(0, result.output.length)))
  return result.error as FileDecryptionError
}

const plaintexts = fc.uint8Array({ minLength: 0, maxLength: 700 })
/** Plaintext of at least `n` segments of SMALL. */
const plaintextOfSegments = (n: number) => fc.uint8Array({ minLength: 44 + 84 * (n - 1) + 1, maxLength: 700 })
const cuts = fc.array(fc.nat({ max: 1_000 }), { maxLength: 8 })

describe('file streams: round trip', () => {
  const first = FILE_SEGMENT_BYTES - FILE_HEADER_BYTES - 16
  const inner = FILE_SEGMENT_BYTES - 16
  const sizes = [0, 1, first - 1, first, first + 1, first + inner, first + inner + 1, first + 2 * inner + 12_345]

  it.each(sizes)('%i bytes at the production segment size, in uneven chunks', async (size) => {
    const key = createFileKey()
    const plaintext = pattern(size)
    const ad = utf8('file:42')
    const cutsAt = [1, 17, 65_536, 65_537 + 3, first - 1, first + 5, size - 1]
    const ciphertext = await encrypt(key, plaintext, { associatedData: ad, cuts: cutsAt })
    expect(ciphertext.length).toBe(ciphertextSize(size))
    expect(plaintextSize(ciphertext.length)).toBe(size)
    const whole = await run(streamOf(ciphertext).pipeThrough(decryptFileStream(key, { associatedData: ad })))
    expect(whole.error).toBeUndefined()
    expect(whole.output.length).toBe(size)
    expect(sha256Hex(whole.output)).toBe(sha256Hex(plaintext))
    const chunked = await decrypt(key, ciphertext, { associatedData: ad, cuts: [3, 40, 41, 1_000_000, size] })
    expect(sha256Hex(chunked.output)).toBe(sha256Hex(plaintext))
  })

  it('one chunk of several segments is sealed and opened in place', async () => {
    const key = createFileKey()
    const plaintext = pattern(3 * FILE_SEGMENT_BYTES + 7)
    const ciphertext = (await run(streamOf(plaintext).pipeThrough(encryptFileStream(key)))).output
    const back = await run(streamOf(ciphertext).pipeThrough(decryptFileStream(key)))
    expect(sha256Hex(back.output)).toBe(sha256Hex(plaintext))
  })

  it('any plaintext in any chunking comes back, and the sizes agree (small segments)', async () => {
    await fc.assert(
      fc.asyncProperty(plaintexts, cuts, cuts, async (plaintext, encryptCuts, decryptCuts) => {
        const key = createFileKey()
        const ciphertext = await encrypt(key, plaintext, { cuts: encryptCuts, testing: SMALL })
        expect(ciphertext.length).toBe(ciphertextSize(plaintext.length, SMALL))
        expect(plaintextSize(ciphertext.length, SMALL)).toBe(plaintext.length)
        const back = await decrypt(key, ciphertext, { cuts: decryptCuts, testing: SMALL })
        expect(back.error).toBeUndefined()
        expect(bytesToHex(back.output)).toBe(bytesToHex(plaintext))
      }),
      { numRuns: RUNS },
    )
  })

  it('two encryptions of one file under one key differ (fresh salt and nonce prefix)', async () => {
    const key = createFileKey()
    const a = await encrypt(key, pattern(10))
    const b = await encrypt(key, pattern(10))
    expect(bytesToHex(a)).not.toBe(bytesToHex(b))
  })

  it('sizes no stream has are refused', () => {
    expect(() => plaintextSize(FILE_HEADER_BYTES + 15)).toThrow(RangeError)
    expect(() => plaintextSize(FILE_SEGMENT_BYTES + 10)).toThrow(RangeError)
    expect(() => ciphertextSize(-1)).toThrow(RangeError)
    expect(plaintextSize(FILE_SEGMENT_BYTES + 16)).toBe(FILE_SEGMENT_BYTES - FILE_HEADER_BYTES - 16)
  })

  it('refuses a key of the wrong size and chunks that are not bytes', async () => {
    expect(() => encryptFileStream(new Uint8Array(16))).toThrow(/32 bytes/)
    expect(() => decryptFileStream(new Uint8Array(31))).toThrow(/32 bytes/)
    const writer = encryptFileStream(createFileKey())
    const result = run(writer.readable)
    await expect(writer.writable.getWriter().write('text' as unknown as Uint8Array)).rejects.toThrow(TypeError)
    expect((await result).error).toBeInstanceOf(TypeError)
  })
})

describe('file streams: every tampering case fails with a FileDecryptionError, nothing unverified emitted', () => {
  const options = { numRuns: RUNS }

  it('a flipped bit anywhere', async () => {
    await fc.assert(
      fc.asyncProperty(plaintexts, fc.nat(), cuts, async (plaintext, where, decryptCuts) => {
        const key = createFileKey()
        const ciphertext = await encrypt(key, plaintext, { testing: SMALL })
        const bit = where % (ciphertext.length * 8)
        ciphertext[bit >> 3]! ^= 1 << (bit & 7)
        const error = expectRejected(await decrypt(key, ciphertext, { testing: SMALL, cuts: decryptCuts }), plaintext)
        expect(['header', 'segment', 'trailing-data', 'truncated']).toContain(error.reason)
        if (bit < 8) expect(error.reason).toBe('header')
      }),
      options,
    )
  })

  it('a dropped segment', async () => {
    await fc.assert(
      fc.asyncProperty(plaintextOfSegments(2), fc.nat(), async (plaintext, which) => {
        const key = createFileKey()
        const { header, segments } = segmentsOf(await encrypt(key, plaintext, { testing: SMALL }), 100)
        segments.splice(which % segments.length, 1)
        expectRejected(await decrypt(key, concatBytes(header, ...segments), { testing: SMALL }), plaintext)
      }),
      options,
    )
  })

  it('a repeated segment', async () => {
    await fc.assert(
      fc.asyncProperty(plaintexts, fc.nat(), fc.nat(), async (plaintext, which, at) => {
        const key = createFileKey()
        const { header, segments } = segmentsOf(await encrypt(key, plaintext, { testing: SMALL }), 100)
        const copy = segments[which % segments.length]!
        segments.splice(at % (segments.length + 1), 0, copy)
        expectRejected(await decrypt(key, concatBytes(header, ...segments), { testing: SMALL }), plaintext)
      }),
      options,
    )
  })

  it('reordered segments', async () => {
    await fc.assert(
      fc.asyncProperty(plaintextOfSegments(2), fc.nat(), fc.nat(), async (plaintext, a, b) => {
        const key = createFileKey()
        const { header, segments } = segmentsOf(await encrypt(key, plaintext, { testing: SMALL }), 100)
        const i = a % segments.length
        let j = b % segments.length
        if (j === i) j = (i + 1) % segments.length
        ;[segments[i], segments[j]] = [segments[j]!, segments[i]!]
        expectRejected(await decrypt(key, concatBytes(header, ...segments), { testing: SMALL }), plaintext)
      }),
      options,
    )
  })

  it('the stream cut at any byte; at a segment boundary the reason is `truncated`', async () => {
    await fc.assert(
      fc.asyncProperty(plaintexts, fc.nat(), async (plaintext, where) => {
        const key = createFileKey()
        const ciphertext = await encrypt(key, plaintext, { testing: SMALL })
        const length = where % ciphertext.length
        const error = expectRejected(await decrypt(key, ciphertext.slice(0, length), { testing: SMALL }), plaintext)
        const boundary = length === 0 || length % 100 === 0
        if (boundary) expect(error.reason).toBe('truncated')
      }),
      options,
    )
  })

  it('trailing bytes after the last segment', async () => {
    await fc.assert(
      fc.asyncProperty(plaintexts, fc.uint8Array({ minLength: 1, maxLength: 150 }), async (plaintext, extra) => {
        const key = createFileKey()
        const ciphertext = await encrypt(key, plaintext, { testing: SMALL })
        const error = expectRejected(await decrypt(key, concatBytes(ciphertext, extra), { testing: SMALL }), plaintext)
        // A full last segment followed by anything is recognised as such.
        if (ciphertext.length % 100 === 0) {
          expect(error.reason).toBe('trailing-data')
        }
      }),
      options,
    )
  })

  it('a segment of another file, under the same key or another key', async () => {
    await fc.assert(
      fc.asyncProperty(
        plaintextOfSegments(1),
        plaintextOfSegments(1),
        fc.nat(),
        fc.boolean(),
        async (plaintext, other, which, sameKey) => {
          const key = createFileKey()
          const mine = segmentsOf(await encrypt(key, plaintext, { testing: SMALL }), 100)
          const theirs = segmentsOf(await encrypt(sameKey ? key : createFileKey(), other, { testing: SMALL }), 100)
          const i = which % Math.min(mine.segments.length, theirs.segments.length)
          mine.segments[i] = theirs.segments[i]!
          expectRejected(await decrypt(key, concatBytes(mine.header, ...mine.segments), { testing: SMALL }), plaintext)
        },
      ),
      options,
    )
  })

  it('wrong associated data or wrong key fails at segment 0', async () => {
    await fc.assert(
      fc.asyncProperty(plaintexts, fc.uint8Array({ maxLength: 40 }), async (plaintext, ad) => {
        const key = createFileKey()
        const ciphertext = await encrypt(key, plaintext, { associatedData: utf8('file:1'), testing: SMALL })
        const wrongAd = expectRejected(
          await decrypt(key, ciphertext, { associatedData: ad, testing: SMALL }),
          plaintext,
        )
        expect(wrongAd.reason).toBe('segment')
        expect(wrongAd.details.segment).toBe(0)
        const wrongKey = expectRejected(
          await decrypt(createFileKey(), ciphertext, { associatedData: utf8('file:1'), testing: SMALL }),
          plaintext,
        )
        expect(wrongKey.reason).toBe('segment')
        expect(wrongKey.message).toMatch(/segment 0 did not authenticate/)
      }),
      options,
    )
  })

  it('names each failure in its message', async () => {
    const key = createFileKey()
    const plaintext = pattern(44 + 84 + 84)
    const ciphertext = await encrypt(key, plaintext, { testing: SMALL })
    const cut = await decrypt(key, ciphertext.slice(0, 40 + 60 + 100), { testing: SMALL })
    expect(expectRejected(cut, plaintext).message).toMatch(/cut short after segment 1/)
    const appended = await decrypt(key, concatBytes(ciphertext, Uint8Array.of(0)), { testing: SMALL })
    expect(expectRejected(appended, plaintext).message).toMatch(/data after its last segment \(segment 2\)/)
    const header = await decrypt(key, concatBytes(Uint8Array.of(0x29), ciphertext.subarray(1)), { testing: SMALL })
    expect(expectRejected(header, plaintext).message).toMatch(/header length byte is 41/)
    const short = await decrypt(key, ciphertext.slice(0, 20), { testing: SMALL })
    expect(expectRejected(short, plaintext).message).toMatch(/ends inside its header/)
    const empty = await decrypt(key, new Uint8Array(0), { testing: SMALL })
    expect(expectRejected(empty, plaintext).reason).toBe('truncated')
    const swapped = segmentsOf(ciphertext, 100)
    ;[swapped.segments[1], swapped.segments[2]] = [swapped.segments[2]!, swapped.segments[1]!]
    const reordered = await decrypt(key, concatBytes(swapped.header, ...swapped.segments), { testing: SMALL })
    expect(expectRejected(reordered, plaintext).message).toMatch(/segment 1 did not authenticate/)
    // The first segment verified and was emitted; the stream errored before anything else.
    expect(reordered.output.length).toBe(44)
  })
})

describe('file streams: resuming from a segment (header, then the segments from i)', () => {
  /** The ciphertext a resumed download reads: the header, then everything from segment `segment`'s start. */
  const resumed = (ciphertext: Uint8Array, ciphertextStart: number) =>
    concatBytes(
      ciphertext.subarray(0, FILE_HEADER_BYTES),
      ciphertext.subarray(Math.max(ciphertextStart, FILE_HEADER_BYTES)),
    )
  const resume = (key: Uint8Array, bytes: Uint8Array, startSegment: number, cutsAt: number[] = []) =>
    run(streamOf(bytes, cutsAt).pipeThrough(decryptFileStreamWith(key, { startSegment }, SMALL)))

  it('any offset of any file: the plaintext from its segment on, in any chunking', async () => {
    const key = createFileKey()
    await fc.assert(
      fc.asyncProperty(plaintexts, fc.nat(), cuts, async (plaintext, at, cutsAt) => {
        const offset = at % (plaintext.length + 1)
        const position = fileSegmentAt(offset, plaintext.length, SMALL)
        expect(position.plaintextStart).toBeLessThanOrEqual(offset)
        const ciphertext = await encrypt(key, plaintext, { testing: SMALL })
        // Segment i ≥ 1 starts at i × S: the header and segment 0 fill one segment's size.
        expect(position.ciphertextStart).toBe(position.segment * 100)
        const result = await resume(key, resumed(ciphertext, position.ciphertextStart), position.segment, cutsAt)
        expect(result.error).toBeUndefined()
        expect(bytesToHex(result.output)).toBe(bytesToHex(plaintext.subarray(position.plaintextStart)))
      }),
      { numRuns: RUNS },
    )
  })

  it('the end of the file names the last segment, which is still read (its flag proves the end)', () => {
    expect(fileSegmentAt(0, 0, SMALL)).toEqual({ segment: 0, plaintextStart: 0, ciphertextStart: 0 })
    expect(fileSegmentAt(44, 44, SMALL)).toEqual({ segment: 0, plaintextStart: 0, ciphertextStart: 0 })
    expect(fileSegmentAt(44, 45, SMALL)).toEqual({ segment: 1, plaintextStart: 44, ciphertextStart: 100 })
    expect(fileSegmentAt(128, 128, SMALL)).toEqual({ segment: 1, plaintextStart: 44, ciphertextStart: 100 })
    expect(fileSegmentAt(129, 300, SMALL)).toEqual({ segment: 2, plaintextStart: 128, ciphertextStart: 200 })
    expect(fileSegmentAt(FILE_SEGMENT_BYTES, 3 * FILE_SEGMENT_BYTES)).toEqual({
      segment: 1,
      plaintextStart: FILE_SEGMENT_BYTES - FILE_HEADER_BYTES - 16,
      ciphertextStart: FILE_SEGMENT_BYTES,
    })
    expect(() => fileSegmentAt(11, 10)).toThrow(RangeError)
    expect(() => fileSegmentAt(-1, 10)).toThrow(RangeError)
  })

  it('a resumed stream keeps every check: wrong start, dropped, cut or foreign segments fail', async () => {
    const key = createFileKey()
    const plaintext = pattern(600) // 7 segments of SMALL
    const ciphertext = await encrypt(key, plaintext, { testing: SMALL })
    const from3 = resumed(ciphertext, 300)
    // What the stream may emit before it fails: whole verified segments from segment 3's plaintext on.
    const tail = plaintext.subarray(44 + 2 * 84)
    // Told the wrong segment: the counter in the nonce no longer matches.
    expectRejected(await resume(key, from3, 2), tail)
    expectRejected(await resume(key, from3, 4), tail)
    // A segment dropped after the start.
    expectRejected(await resume(key, concatBytes(from3.subarray(0, 140), from3.subarray(240)), 3), tail)
    // Cut at a segment boundary: the last-segment flag.
    const cut = await resume(key, from3.subarray(0, 240), 3)
    expect((cut.error as FileDecryptionError).reason).toBe('truncated')
    // Another file's header: another salt, another key.
    const other = await encrypt(key, plaintext, { testing: SMALL })
    expectRejected(
      await resume(key, concatBytes(other.subarray(0, FILE_HEADER_BYTES), from3.subarray(FILE_HEADER_BYTES)), 3),
      tail,
    )
    // A wrong key fails at the first segment read, and says it may be the key.
    const wrong = await resume(createFileKey(), from3, 3)
    expect((wrong.error as FileDecryptionError).message).toMatch(/wrong key/)
    expect(() => decryptFileStream(key, { startSegment: -1 })).toThrow(RangeError)
  })
})

describe('file streams: known answers', () => {
  const key = hexToBytes(ours.key)
  const fixed = { salt: hexToBytes(ours.salt), noncePrefix: hexToBytes(ours.noncePrefix) }

  it.each(ours.tests)('ours: $name', async (vector) => {
    const testing = { ...fixed, ciphertextSegmentBytes: vector.ciphertextSegmentBytes }
    const associatedData = hexToBytes(vector.associatedData)
    const plaintext = pattern(vector.plaintextBytes)
    const ciphertext = await encrypt(key, plaintext, { associatedData, testing, cuts: [5, 77] })
    if ('ciphertext' in vector && vector.ciphertext !== undefined) {
      expect(bytesToHex(ciphertext)).toBe(vector.ciphertext)
    } else {
      expect(ciphertext.length).toBe(vector.ciphertextBytes)
      expect(sha256Hex(ciphertext)).toBe(vector.ciphertextSha256)
    }
    const back = await decrypt(key, ciphertext, { associatedData, testing })
    expect(back.error).toBeUndefined()
    expect(sha256Hex(back.output)).toBe(sha256Hex(plaintext))
  })

  /** HKDF with another hash than ours, from WebCrypto: only Tink's vectors need it. */
  const hkdfWith =
    (hash: string) =>
    async (ikm: Uint8Array, salt: Uint8Array, info: Uint8Array): Promise<Uint8Array> => {
      const base = await crypto.subtle.importKey('raw', ikm.slice(), 'HKDF', false, ['deriveBits'])
      const params = { name: 'HKDF', hash, salt: salt.slice(), info: info.slice() }
      return new Uint8Array(await crypto.subtle.deriveBits(params, base, 256))
    }

  it.each(tink.tests)('Tink: $name', async (vector) => {
    const testing: FileStreamTestingParams = {
      ciphertextSegmentBytes: vector.ciphertextSegmentBytes,
      deriveKey: hkdfWith(vector.hkdfHash),
    }
    const tinkKey = hexToBytes(vector.key)
    const associatedData = hexToBytes(vector.associatedData)
    const ciphertext = hexToBytes(vector.ciphertext)
    const back = await decrypt(tinkKey, ciphertext, { associatedData, testing })
    expect(back.error).toBeUndefined()
    expect(bytesToHex(back.output)).toBe(vector.plaintext)
    // And we write Tink's bytes given its salt and nonce prefix (read from its header).
    const again = await encrypt(tinkKey, hexToBytes(vector.plaintext), {
      associatedData,
      testing: { ...testing, salt: ciphertext.slice(1, 33), noncePrefix: ciphertext.slice(33, 40) },
    })
    expect(bytesToHex(again)).toBe(vector.ciphertext)
  })
})
