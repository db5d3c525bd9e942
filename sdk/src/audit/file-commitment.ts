/**
 * Checking a file against a room message's record (docs/audit.md, Files): the record carries
 * `fileCommitment = sha256(salt ‖ sha256(file))` (`files/commitment.ts`) and is what the message id hashes, so
 * with the record's anchor (`verifyInclusion`) a member who discloses the file and its salt proves the file was
 * shared, unaltered, in that message — and discloses nothing else of the room.
 */
import { utf8 } from '../encoding.ts'
import { fileCommitment, sha256OfStream } from '../files/commitment.ts'
import { decodeRecord } from '../rooms/wire.ts'
import type { AbortOptions } from '../types.ts'

/** What a record says of a file. */
export type FileCommitmentCheck =
  /** The record commits to this file under this salt. */
  | { status: 'match'; commitment: string }
  /** It commits to another file, or the salt is another. */
  | { status: 'mismatch'; commitment: string; expected: string }
  /** It is a message record that commits to no file (no file shared, or sent before commitments). */
  | { status: 'no-commitment' }
  /** The bytes are no message record. */
  | { status: 'not-a-record' }

/** The file commitment of a message record as published (its bytes or their UTF-8 text), if it has one. */
export function fileCommitmentOf(
  record: Uint8Array | string,
): FileCommitmentCheck | { status: 'committed'; commitment: string } {
  const decoded = decodeRecord(typeof record === 'string' ? utf8.encode(record) : record)
  if (decoded.status !== 'ok' || decoded.record.type !== 'message') return { status: 'not-a-record' }
  const { fileCommitment: commitment } = decoded.record
  return commitment === undefined ? { status: 'no-commitment' } : { status: 'committed', commitment }
}

export interface CheckFileCommitmentParams {
  /** The record as published (bytes or text), or the commitment read from it (64 lowercase hex digits). */
  record: Uint8Array | string | { commitment: string }
  /** The salt the file's manifest carries (64 lowercase hex digits). */
  salt: string
  /** The file's SHA-256 (64 lowercase hex digits). */
  sha256: string
}

/**
 * Whether `record` commits to the file with SHA-256 `sha256` under `salt`. Never throws for a record that is not
 * one or commits to nothing (the result says so); throws `InvalidInputError` for a salt or hash that is no 64 hex
 * digits.
 */
export function checkFileCommitment(params: CheckFileCommitmentParams): FileCommitmentCheck {
  const expected = fileCommitment({ salt: params.salt.toLowerCase(), sha256: params.sha256.toLowerCase() })
  let commitment: string
  if (typeof params.record === 'object' && !(params.record instanceof Uint8Array)) {
    commitment = params.record.commitment.toLowerCase()
  } else {
    const read = fileCommitmentOf(params.record)
    if (read.status !== 'committed') return read as FileCommitmentCheck
    commitment = read.commitment
  }
  return commitment === expected ? { status: 'match', commitment } : { status: 'mismatch', commitment, expected }
}

/**
 * {@link checkFileCommitment} for a file given as a stream (a file on disk, a browser `File`): hashed once in pieces,
 * never held whole. Resolves with the file's SHA-256 beside the result.
 */
export async function checkSharedFile(
  params: Omit<CheckFileCommitmentParams, 'sha256'> & {
    file: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>
  },
  options: AbortOptions = {},
): Promise<FileCommitmentCheck & { sha256: string }> {
  const sha256 = await sha256OfStream(params.file, options)
  return { ...checkFileCommitment({ record: params.record, salt: params.salt, sha256 }), sha256 }
}
