import { Wallet } from 'ethers'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { bytesToHex, concatBytes, hexToBytes, sha256, sha256Hex } from '../crypto/primitives.ts'
import { utf8 } from '../encoding.ts'
import { InvalidInputError } from '../errors.ts'
import {
  commitToFile,
  createFileSalt,
  fileCommitment,
  fileCommitmentProblem,
  sha256OfStream,
} from '../files/commitment.ts'
import { decodeRecord, encodeRecord } from '../rooms/wire.ts'
import type { Address, FileManifest } from '../types.ts'
import { buildBatchSync, proveInclusion } from './batch.ts'
import { checkFileCommitment, checkSharedFile, fileCommitmentOf } from './file-commitment.ts'
import { leafOfRecord, leafToValue } from './leaf.ts'
import { fakeReader, ROOM, record } from './testing.ts'
import { parseTranscript, verifyTranscript } from './transcript.ts'
import { VerifyFailure, verifyInclusion } from './verify.ts'

const sender = new Wallet(`0x${'11'.repeat(32)}`).address as Address
const FILE = utf8.encode('the minutes of the meeting, as shared\n'.repeat(1000))
const FILE_SHA256 = sha256Hex(FILE)
const SALT = 'c3'.repeat(32)

function changedByte(bytes: Uint8Array, at: number): Uint8Array {
  const copy = bytes.slice()
  copy[at] = copy[at]! ^ 0x01
  return copy
}

/** The file in pieces of `size` bytes, as a disk or a browser streams it. */
function streamOf(bytes: Uint8Array, size = 4096): ReadableStream<Uint8Array> {
  let at = 0
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close()
      controller.enqueue(bytes.slice(at, at + size))
      at += size
    },
  })
}

const manifest: FileManifest = {
  v: 1,
  cid: 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy',
  size: FILE.length,
  type: 'text/plain',
  name: 'minutes.txt',
  key: 'A'.repeat(43),
  sha256: FILE_SHA256,
}

describe('file commitments', () => {
  it('vector: the commitment is sha256(salt ‖ sha256(file)) over the raw 32-byte values', () => {
    const expected = bytesToHex(sha256(concatBytes(hexToBytes(SALT), sha256(FILE))))
    expect(fileCommitment({ salt: SALT, sha256: FILE_SHA256 })).toBe(expected)
    // A published vector: sha256("abc") (FIPS 180-2) under a zero salt, computed independently of this module.
    const abc = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
    expect(fileCommitment({ salt: '00'.repeat(32), sha256: abc })).toBe(
      sha256Hex(concatBytes(new Uint8Array(32), hexToBytes(abc))),
    )
  })

  it('error: a salt or hash that is not 64 lowercase hex digits names the field', () => {
    expect(() => fileCommitment({ salt: 'C3'.repeat(32), sha256: FILE_SHA256 })).toThrow(InvalidInputError)
    expect(() => fileCommitment({ salt: SALT, sha256: FILE_SHA256.slice(2) })).toThrow(/sha256/)
  })

  it('behavior: a sender draws a fresh salt per share, keeps one it is given, and commits to nothing without a file', () => {
    const a = commitToFile(manifest)
    const b = commitToFile(manifest)
    expect(a.file?.salt).toMatch(/^[0-9a-f]{64}$/)
    expect(a.file?.salt).not.toBe(b.file?.salt)
    expect(a.commitment).not.toBe(b.commitment)
    expect(a.commitment).toBe(fileCommitment({ salt: a.file!.salt!, sha256: FILE_SHA256 }))
    expect(commitToFile({ ...manifest, salt: SALT }).file?.salt).toBe(SALT)
    expect(commitToFile(undefined)).toEqual({})
    expect(createFileSalt()).toMatch(/^[0-9a-f]{64}$/)
  })

  it('behavior: a receiver finds record and manifest agreeing, or says how they disagree', () => {
    const { file, commitment } = commitToFile(manifest)
    expect(fileCommitmentProblem({ commitment, file })).toBeUndefined()
    // Neither: a message without a file, or a file shared before commitments.
    expect(fileCommitmentProblem({ commitment: undefined, file: undefined })).toBeUndefined()
    expect(fileCommitmentProblem({ commitment: undefined, file: manifest })).toBeUndefined()
    expect(fileCommitmentProblem({ commitment: undefined, file })).toMatch(/commits to no file/)
    expect(fileCommitmentProblem({ commitment, file: undefined })).toMatch(/shares none/)
    expect(fileCommitmentProblem({ commitment, file: manifest })).toMatch(/no commitment salt/)
    expect(fileCommitmentProblem({ commitment, file: { ...file!, salt: SALT } })).toMatch(/not the shared file's/)
    expect(fileCommitmentProblem({ commitment, file: { ...file!, sha256: 'ab'.repeat(32) } })).toMatch(/not the/)
  })

  it('property: only the committed (salt, sha256) pair opens a commitment', () => {
    const hex32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map(bytesToHex)
    fc.assert(
      fc.property(hex32, hex32, hex32, hex32, (salt, hash, otherSalt, otherHash) => {
        const commitment = fileCommitment({ salt, sha256: hash })
        expect(commitment).toMatch(/^[0-9a-f]{64}$/)
        const opens = (s: string, h: string): boolean => fileCommitment({ salt: s, sha256: h }) === commitment
        expect(opens(salt, hash)).toBe(true)
        if (otherSalt !== salt) expect(opens(otherSalt, hash)).toBe(false)
        if (otherHash !== hash) expect(opens(salt, otherHash)).toBe(false)
      }),
    )
  })

  it('behavior: the record schema takes a commitment of 64 lowercase hex digits and nothing else', () => {
    const commitment = fileCommitment({ salt: SALT, sha256: FILE_SHA256 })
    const ok = record({ lamport: 1, fileCommitment: commitment })
    const decoded = decodeRecord(utf8.encode(ok.text))
    expect(decoded.status === 'ok' && decoded.record.type === 'message' && decoded.record.fileCommitment).toBe(
      commitment,
    )
    expect(new TextDecoder().decode(encodeRecord(JSON.parse(ok.text)))).toBe(ok.text)
    for (const bad of [commitment.toUpperCase(), commitment.slice(1), `${commitment}0`, `0x${commitment}`, 7]) {
      const text = ok.text.replace(JSON.stringify(commitment), JSON.stringify(bad))
      expect(decodeRecord(utf8.encode(text)).status, String(bad)).toBe('malformed')
    }
  })
})

describe('checkFileCommitment', () => {
  const commitment = fileCommitment({ salt: SALT, sha256: FILE_SHA256 })
  const committed = record({ lamport: 1, fileCommitment: commitment })

  it('behavior: the file shared verifies against its record, its bytes or its text or the commitment alone', async () => {
    expect(checkFileCommitment({ record: committed.text, salt: SALT, sha256: FILE_SHA256 }).status).toBe('match')
    expect(checkFileCommitment({ record: utf8.encode(committed.text), salt: SALT, sha256: FILE_SHA256 }).status).toBe(
      'match',
    )
    expect(checkFileCommitment({ record: { commitment }, salt: SALT, sha256: FILE_SHA256 }).status).toBe('match')
    expect(fileCommitmentOf(committed.text)).toEqual({ status: 'committed', commitment })
    // Streamed in pieces: the same hash as the whole.
    expect(await sha256OfStream(streamOf(FILE, 1000))).toBe(FILE_SHA256)
    const streamed = await checkSharedFile({ record: committed.text, salt: SALT, file: streamOf(FILE) })
    expect(streamed).toEqual({ status: 'match', commitment, sha256: FILE_SHA256 })
  })

  it('error: a changed byte, another salt or another record fails', async () => {
    for (const at of [0, FILE.length >> 1, FILE.length - 1]) {
      const changed = await checkSharedFile({
        record: committed.text,
        salt: SALT,
        file: streamOf(changedByte(FILE, at)),
      })
      expect(changed.status, `byte ${at}`).toBe('mismatch')
    }
    expect(checkFileCommitment({ record: committed.text, salt: 'c4'.repeat(32), sha256: FILE_SHA256 })).toMatchObject({
      status: 'mismatch',
      commitment,
    })
    const another = record({ lamport: 2, fileCommitment: fileCommitment({ salt: SALT, sha256: 'ab'.repeat(32) }) })
    expect(checkFileCommitment({ record: another.text, salt: SALT, sha256: FILE_SHA256 }).status).toBe('mismatch')
  })

  it('error: a record without a commitment says so, and bytes that are no record too', () => {
    const plain = record({ lamport: 3 })
    expect(checkFileCommitment({ record: plain.text, salt: SALT, sha256: FILE_SHA256 })).toEqual({
      status: 'no-commitment',
    })
    expect(checkFileCommitment({ record: '{"v":1}', salt: SALT, sha256: FILE_SHA256 })).toEqual({
      status: 'not-a-record',
    })
  })

  it('behavior: sha256OfStream stops on abort', async () => {
    const controller = new AbortController()
    controller.abort(new Error('stop'))
    await expect(sha256OfStream(streamOf(FILE), { signal: controller.signal })).rejects.toThrow('stop')
  })
})

describe('verifying a file against an anchored message', () => {
  const commitment = fileCommitment({ salt: SALT, sha256: FILE_SHA256 })
  const shared = record({ lamport: 1, fileCommitment: commitment })
  const plain = record({ lamport: 2 })
  const batch = buildBatchSync([shared, plain].map((m) => leafOfRecord({ record: m.text, sender })))
  const reader = fakeReader()
  reader.anchor(batch.root, 42)
  const evidence = (id: string) => proveInclusion(batch, { messageId: id })!

  it('behavior: the anchored record commits to the file: VERIFIED with the file', async () => {
    const verdict = await verifyInclusion({
      claim: { roomId: ROOM, messageId: shared.id, record: shared.text, file: { sha256: FILE_SHA256, salt: SALT } },
      evidence: evidence(shared.id),
      reader,
    })
    expect(verdict.failures).toEqual([])
    expect(verdict.file).toEqual({ sha256: FILE_SHA256 })
  })

  it('error: file-mismatch for another file, another salt, a record with no commitment, or no record', async () => {
    const cases: Array<[string, { id: string; text?: string }, { sha256: string; salt: string }, RegExp]> = [
      ['another file', shared, { sha256: sha256Hex(changedByte(FILE, 9)), salt: SALT }, /another file/],
      ['another salt', shared, { sha256: FILE_SHA256, salt: 'c4'.repeat(32) }, /another file/],
      ['no commitment', plain, { sha256: FILE_SHA256, salt: SALT }, /commits to no file/],
      ['no record', { id: shared.id }, { sha256: FILE_SHA256, salt: SALT }, /none was given/],
      ['a salt of no hex', shared, { sha256: FILE_SHA256, salt: 'salt' }, /salt/],
    ]
    for (const [what, message, file, text] of cases) {
      const verdict = await verifyInclusion({
        claim: {
          roomId: ROOM,
          messageId: message.id,
          ...(message.text === undefined ? {} : { record: message.text }),
          file,
        },
        evidence: evidence(message.id),
        reader,
      })
      expect(verdict.ok, what).toBe(false)
      expect(
        verdict.failures.map((f) => f.reason),
        what,
      ).toEqual([VerifyFailure.fileMismatch])
      expect(verdict.failures[0]?.message, what).toMatch(text)
    }
  })

  it('behavior: a transcript checks the files it names, anchored or not yet', async () => {
    const unanchored = record({ lamport: 3, fileCommitment: commitment })
    const transcript = (file: { sha256: string; salt: string }) =>
      parseTranscript({
        format: 'securechat-transcript-v1',
        room: { id: ROOM },
        exportedAtMs: 1_700_000_001_000,
        messages: [shared, plain, unanchored].map((m, i) => ({
          id: m.id,
          sender,
          record: m.text,
          ...(i === 1 ? {} : { file }),
        })),
        batches: [
          {
            root: batch.root,
            cid: 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy',
            count: batch.count,
            blockNumber: 42,
            anchorer: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
            leaves: batch.leaves.map(leafToValue),
          },
        ],
      })
    const good = await verifyTranscript(transcript({ sha256: FILE_SHA256, salt: SALT }), reader)
    expect(good.ok).toBe(true)
    expect(good.messages.map((m) => m.status)).toEqual(['anchored', 'anchored', 'unanchored'])
    expect(good.messages[0]?.verdict.file).toEqual({ sha256: FILE_SHA256 })
    const bad = await verifyTranscript(transcript({ sha256: FILE_SHA256, salt: 'c4'.repeat(32) }), reader)
    expect(bad.ok).toBe(false)
    expect(bad.messages.map((m) => m.status)).toEqual(['failed', 'anchored', 'failed'])
    expect(bad.messages[0]?.verdict.failures.map((f) => f.reason)).toEqual([VerifyFailure.fileMismatch])
    // Not anchored yet, as before, and its record does not commit to the file named.
    expect(bad.messages[2]?.verdict.failures.map((f) => f.reason)).toEqual([
      VerifyFailure.unanchored,
      VerifyFailure.fileMismatch,
    ])
  })
})
