/**
 * File commitments (docs/audit.md, Files): a room message that shares a file carries, in its public record,
 * `fileCommitment = sha256(salt ‖ sha256(file))` — 32 bytes of salt and the file's 32-byte SHA-256, both raw,
 * written as 64 lowercase hex digits. The record's bytes are the message id, which the audit leaf anchors, so an
 * anchored message commits to its file; the salt rides in the encrypted manifest, so until a member discloses it
 * nobody can test a guess of the file (a leaked document) against the public record.
 *
 * The sender draws a fresh salt per share (`commitToFile`); a receiver refuses a message whose record and manifest
 * disagree (`fileCommitmentProblem`); a verifier checks a file against a record (`audit/file-commitment.ts`).
 */
import { bytesToHex, concatBytes, createSha256, hexToBytes, randomBytes, sha256Hex } from '../crypto/primitives.ts'
import { InvalidInputError } from '../errors.ts'
import { SHA256_HEX_PATTERN } from '../json-records.ts'
import type { AbortOptions, FileManifest } from '../types.ts'
import { FILE_SALT_BYTES } from './constants.ts'
import { chunksOf } from './streams.ts'

/** A fresh salt: {@link FILE_SALT_BYTES} random bytes, lowercase hex. */
export function createFileSalt(): string {
  return bytesToHex(randomBytes(FILE_SALT_BYTES))
}

/**
 * `sha256(salt ‖ sha256)` in lowercase hex, both inputs 64 lowercase hex digits (decoded to their 32 bytes).
 * Throws {@link InvalidInputError} naming the field that is not.
 */
export function fileCommitment(params: { salt: string; sha256: string }): string {
  for (const field of ['salt', 'sha256'] as const) {
    const value = params[field]
    if (typeof value !== 'string' || !SHA256_HEX_PATTERN.test(value)) {
      throw new InvalidInputError(`${field}: expected 64 lowercase hex digits, got ${JSON.stringify(value)}`)
    }
  }
  return sha256Hex(concatBytes(hexToBytes(params.salt), hexToBytes(params.sha256)))
}

/**
 * What a sender puts in a message: the manifest with its salt (a fresh one when it has none) and the record's
 * commitment to it; neither without a file. A salt the caller gives is kept (a forwarded manifest's would make two
 * records carry the same commitment, which relays see: drop it to forward).
 */
export function commitToFile(file: FileManifest | undefined): { file?: FileManifest; commitment?: string } {
  if (file === undefined) return {}
  const salted = file.salt === undefined ? { ...file, salt: createFileSalt() } : file
  return { file: salted, commitment: fileCommitment({ salt: salted.salt!, sha256: salted.sha256 }) }
}

/**
 * Why a received message's record and manifest disagree, or undefined when they agree: both absent (a message
 * without a file, or one sent before commitments), or the record's commitment is the manifest's. Only a sender
 * that lies (or a broken one) makes them disagree; the receiver refuses the message (`Room`, docs/audit.md).
 */
export function fileCommitmentProblem(params: {
  commitment: string | undefined
  file: FileManifest | undefined
}): string | undefined {
  const { commitment, file } = params
  if (commitment === undefined) {
    return file?.salt === undefined ? undefined : 'its file has a commitment salt, but its record commits to no file'
  }
  if (file === undefined) return 'its record commits to a file, but it shares none'
  if (file.salt === undefined) return 'its record commits to a file, but the file has no commitment salt'
  return fileCommitment({ salt: file.salt, sha256: file.sha256 }) === commitment
    ? undefined
    : "its record's file commitment is not the shared file's (another file or another salt)"
}

/**
 * SHA-256 of a stream, in lowercase hex: a file checked against a commitment, read once in pieces, never held
 * whole. `signal` stops it between chunks.
 */
export async function sha256OfStream(
  source: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
  options: AbortOptions = {},
): Promise<string> {
  options.signal?.throwIfAborted()
  const hash = createSha256()
  const chunks = source instanceof ReadableStream ? chunksOf(source) : source
  for await (const chunk of chunks) {
    options.signal?.throwIfAborted()
    hash.update(chunk)
  }
  return bytesToHex(hash.digest())
}
