import { MemoryBlockstore } from 'blockstore-core'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { png } from '../../../test/helpers/images.ts'
import { createFileKey } from '../crypto/file-stream.ts'
import { bytesToHex, createSha256, randomBytes, sha256 } from '../crypto/primitives.ts'
import { dmTextSchema } from '../dm/wire.ts'
import { base64urlEncode } from '../encoding.ts'
import { envelopeSchema } from '../rooms/wire.ts'
import { catFile } from './cat-file.ts'
import { MAX_FILE_BYTES } from './constants.ts'
import { InvalidFileManifestError } from './errors.ts'
import { type FileManifest, fileKeyOf, parseFileManifest, receivedFileManifestSchema } from './manifest.ts'
import { makeThumbnail } from './thumbnail.ts'

const valid: FileManifest = {
  v: 1,
  cid: 'bafybeiahgldbbdqxrwvt35lfayetdmy4bekqrcuadi53gnts5ffbyrwrj4',
  size: 67_108_864,
  type: 'video/mp4',
  name: 'holiday video.mp4',
  key: base64urlEncode(createFileKey()),
  sha256: bytesToHex(sha256(new Uint8Array([1]))),
}

const thumbnail = makeThumbnail('image/png', png(48, 32))!
/** A thumbnail that claims a size its image does not have: what a hostile or broken sender might put in. */
const lyingThumbnail = { ...thumbnail, width: 320 }

/** Parses, and says which of the two outcomes it was: never anything thrown but InvalidFileManifestError. */
function outcome(value: unknown): 'ok' | 'refused' {
  try {
    parseFileManifest(value)
    return 'ok'
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidFileManifestError)
    return 'refused'
  }
}

describe('file manifests', () => {
  it('behavior: a valid manifest parses to itself, and its key decodes to 32 bytes', () => {
    expect(parseFileManifest(valid)).toEqual(valid)
    expect(fileKeyOf(valid).length).toBe(32)
    expect(outcome({ ...valid, cid: 'bafkreigcdnyl2rcmmtuuk6hhf7bzas4lf47qfchs4chvde6ciegt62sbfm' })).toBe('ok') // raw
    expect(outcome({ ...valid, type: 'text/plain; charset=utf-8' })).toBe('ok')
    expect(outcome({ ...valid, name: 'résumé 📄.pdf' })).toBe('ok')
    expect(outcome({ ...valid, size: 0 })).toBe('ok')
    expect(outcome({ ...valid, size: MAX_FILE_BYTES })).toBe('ok')
    // A room message's commitment salt (`commitment.ts`) is optional: manifests without one stay valid.
    expect(parseFileManifest({ ...valid, salt: 'c3'.repeat(32) })).toEqual({ ...valid, salt: 'c3'.repeat(32) })
    expect(receivedFileManifestSchema.parse({ ...valid, salt: 'c3'.repeat(32) }).salt).toBe('c3'.repeat(32))
  })

  it.each([
    ['an extra field', { ...valid, path: '/etc' }],
    ['another version', { ...valid, v: 2 }],
    ['a path in the name', { ...valid, name: '../../.ssh/authorized_keys' }],
    ['a Windows path in the name', { ...valid, name: 'C:\\x.exe' }],
    ['a control character in the name', { ...valid, name: 'a\u0000b' }],
    ['a bidi override (C1) in the name', { ...valid, name: 'a\u0085b' }],
    ['an empty name', { ...valid, name: '' }],
    ['..', { ...valid, name: '..' }],
    ['a name over 255 bytes', { ...valid, name: 'é'.repeat(128) }],
    ['a lone surrogate', { ...valid, name: 'a\ud800' }],
    ['a type that is not one', { ...valid, type: 'not a type' }],
    ['a type with a newline', { ...valid, type: 'text/plain;\ncharset=x' }],
    ['a type too long', { ...valid, type: `a/${'b'.repeat(126)}` }],
    ['a size over the maximum', { ...valid, size: MAX_FILE_BYTES + 1 }],
    ['a negative size', { ...valid, size: -1 }],
    ['a fractional size', { ...valid, size: 1.5 }],
    ['a size as a string', { ...valid, size: '12' }],
    ['a CIDv0', { ...valid, cid: 'QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG' }],
    ['a CID in base58', { ...valid, cid: 'zdj7WWeQ43G6JJvLWQWZpyHuAMq6uYWRjkBXFad11vE2LHhQ7' }],
    ['an identity-hash CID', { ...valid, cid: 'bafkqaaa' }],
    ['not a CID', { ...valid, cid: 'bafy-not-a-cid' }],
    ['a short key', { ...valid, key: base64urlEncode(randomBytes(16)) }],
    ['a padded key', { ...valid, key: `${valid.key}=` }],
    ['a key in base64 (not url)', { ...valid, key: `+${valid.key.slice(1)}` }],
    ['an upper-case hash', { ...valid, sha256: valid.sha256.toUpperCase() }],
    ['a short hash', { ...valid, sha256: valid.sha256.slice(2) }],
    ['an upper-case salt', { ...valid, salt: 'C3'.repeat(32) }],
    ['a short salt', { ...valid, salt: 'c3'.repeat(31) }],
    ['a salt in base64url', { ...valid, salt: valid.key }],
    ['an undefined salt', { ...valid, salt: undefined }],
    ['null', null],
    ['an array', [valid]],
  ])('error: %s is an InvalidFileManifestError', (_, value) => {
    expect(outcome(value)).toBe('refused')
  })

  it('fuzz: anything at all, and valid manifests with one field replaced by anything, never crash', () => {
    fc.assert(
      fc.property(fc.anything({ withBigInt: true, withTypedArray: true, withMap: true }), (value) => {
        outcome(value)
      }),
      { numRuns: 500 },
    )
    fc.assert(
      fc.property(
        fc.constantFrom(...(Object.keys(valid) as Array<keyof FileManifest>)),
        fc.oneof(fc.anything(), fc.string(), fc.string({ unit: 'binary', maxLength: 300 }), fc.double()),
        (field, replacement) => {
          outcome({ ...valid, [field]: replacement })
        },
      ),
      { numRuns: 1_000 },
    )
  })

  it('behavior: a manifest with a thumbnail parses to itself, on send and on arrival alike', () => {
    const withThumbnail = { ...valid, type: 'image/png', thumbnail }
    expect(parseFileManifest(withThumbnail)).toEqual(withThumbnail)
    expect(receivedFileManifestSchema.parse(withThumbnail)).toEqual(withThumbnail)
    expect(receivedFileManifestSchema.parse(valid)).toEqual(valid)
    expect('thumbnail' in receivedFileManifestSchema.parse(valid)).toBe(false)
  })

  it('error: a bad thumbnail is refused on send (parseFileManifest), with the field named', () => {
    for (const bad of [lyingThumbnail, { ...thumbnail, type: 'image/svg+xml' }, 'a thumbnail', null]) {
      expect(() => parseFileManifest({ ...valid, thumbnail: bad })).toThrow(/thumbnail/)
      expect(outcome({ ...valid, thumbnail: bad })).toBe('refused')
    }
  })

  it('behavior: on arrival a bad thumbnail is dropped and the file kept; a bad field elsewhere still refuses it', () => {
    // The thumbnail is only a picture to show: the file is opened and checked by the other fields, which are intact.
    for (const bad of [lyingThumbnail, { ...thumbnail, data: 'x'.repeat(30_000) }, 'a thumbnail', null, 7]) {
      const received = receivedFileManifestSchema.parse({ ...valid, thumbnail: bad })
      expect(received).toEqual(valid)
      expect('thumbnail' in received).toBe(false)
    }
    expect(receivedFileManifestSchema.safeParse({ ...valid, thumbnail, name: 'a/b' }).success).toBe(false)
    expect(receivedFileManifestSchema.safeParse({ ...valid, thumbnail, extra: 1 }).success).toBe(false)
  })

  it('behavior: a room message and a DM whose file has a bad thumbnail arrive with their text and file, without it', () => {
    const file = { ...valid, thumbnail: lyingThumbnail }
    const room = envelopeSchema.parse({ v: 1, kind: 'text', body: 'the holiday', file })
    expect(room).toEqual({ v: 1, kind: 'text', body: 'the holiday', file: valid })
    const dm = { v: 1, id: 'ab'.repeat(16), sentAtMs: 1_700_000_000_000, kind: 'text', body: 'the holiday', file }
    expect(dmTextSchema.parse(dm)).toEqual({ ...dm, file: valid })
    // A good one arrives as sent.
    expect(envelopeSchema.parse({ v: 1, kind: 'text', body: '', file: { ...valid, thumbnail } })).toMatchObject({
      file: { thumbnail },
    })
  })

  it('error: catFile refuses a malformed manifest at once, before any block is asked for', () => {
    const helia = { blockstore: new MemoryBlockstore() } as never
    expect(() => catFile(helia, { ...valid, name: 'a/b' })).toThrow(InvalidFileManifestError)
    expect(() => catFile(helia, valid, { offset: valid.size + 1 })).toThrow(/outside the file/)
  })

  it('behavior: createSha256 over pieces equals sha256 of the whole', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 10 }), (pieces) => {
        const hash = createSha256()
        for (const piece of pieces) hash.update(piece)
        expect(bytesToHex(hash.digest())).toBe(bytesToHex(sha256(Buffer.concat(pieces))))
      }),
    )
  })
})
