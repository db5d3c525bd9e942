/**
 * The verifier (docs/architecture.md, Audit anchoring): leaf → Merkle proof → root → the root's anchor on chain. It never
 * trusts the party that hands it a proof: the proof must lead from the leaf to the root, the root must be
 * anchored in `AuditLog`, and every fact the claim states (room, sender, time, the record's bytes) must match
 * the leaf the chain vouches for.
 */
import { sha256Hex } from '../crypto/primitives.ts'
import { utf8 } from '../encoding.ts'
import type { AbortOptions } from '../types.ts'
import type { AnchorRecord, AuditLogReader } from './chain.ts'
import { AuditLogUnavailableError } from './errors.ts'
import { checkFileCommitment, type FileCommitmentCheck } from './file-commitment.ts'
import { type AuditLeaf, leafOfRecord, leafToValue, toBytes32 } from './leaf.ts'
import { verifyLeafProof } from './tree.ts'

/** Why a message does not verify. */
export const VerifyFailure = {
  /** No anchored batch holds the message. */
  unanchored: 'unanchored',
  /** The record's bytes are not the ones anchored: another id or another ciphertext. */
  tampered: 'tampered',
  /** The message was anchored in another room than the one claimed. */
  wrongRoom: 'wrong-room',
  /** The message was anchored as sent by another wallet than the one claimed. */
  wrongSender: 'wrong-sender',
  /** The message was anchored with another send time than the one claimed. */
  wrongTimestamp: 'wrong-timestamp',
  /** The proof does not lead from its leaf to its root. */
  badProof: 'bad-proof',
  /** The root was never anchored in the audit log. */
  rootNotOnChain: 'root-not-on-chain',
  /** The audit log could not be read; nothing is known. */
  chainUnavailable: 'chain-unavailable',
  /** The record does not commit to the file claimed (another file, another salt, or no file at all). */
  fileMismatch: 'file-mismatch',
} as const
export type VerifyFailure = (typeof VerifyFailure)[keyof typeof VerifyFailure]

/** What someone says about a message. Only what is given is checked. */
export interface MessageClaim {
  /** The room the message belongs to (64 hex digits, or bytes32). */
  roomId: string
  /** The message id (64 hex digits, or bytes32). */
  messageId: string
  /** The wallet that sent it. */
  sender?: string
  /** The record as published (bytes or UTF-8 text): its id, room, time and ciphertext are checked. */
  record?: Uint8Array | string
  /** The send time (ms since the epoch), when stated apart from a record. */
  timestampMs?: number
  /**
   * A file the message shared: its SHA-256 and the salt its manifest carries (both 64 hex digits). Checked against
   * the record's file commitment (`file-commitment.ts`), so `record` is needed with it.
   */
  file?: { sha256: string; salt: string }
}

/** A proof that some leaf is in the batch with root `root` (from a leaf list, a transcript, or a relay). */
export interface InclusionEvidence {
  root: string
  proof: readonly string[]
  /** The leaf the proof is for, as the batch holds it. */
  leaf: AuditLeaf
  /** From the batch's `Anchored` event, when known. */
  cid?: string
  count?: number
}

export interface Verdict {
  ok: boolean
  messageId: string
  failures: Array<{ reason: VerifyFailure; message: string }>
  /** The leaf the chain vouches for: set when the proof leads to an anchored root. */
  leaf?: AuditLeaf
  /** The file the claim named, when the record commits to it. */
  file?: { sha256: string }
  anchor?: AnchorRecord & { cid?: string; count?: number }
}

export interface VerifyInclusionParams {
  claim: MessageClaim
  /** Undefined when no anchored batch holding the message was found. */
  evidence: InclusionEvidence | undefined
  reader: Pick<AuditLogReader, 'anchorOf'>
}

/** Checks `claim` against `evidence` and the chain. Never throws for a bad claim or proof: the verdict says why. */
export async function verifyInclusion(params: VerifyInclusionParams, options: AbortOptions = {}): Promise<Verdict> {
  const { claim, evidence } = params
  const messageId = normalizeId(claim.messageId)
  const failures: Verdict['failures'] = []
  const fail = (reason: VerifyFailure, message: string): Verdict => {
    failures.push({ reason, message })
    return { ok: false, messageId, failures }
  }
  if (evidence === undefined) {
    return fail(VerifyFailure.unanchored, `no anchored batch holds message ${messageId}`)
  }
  const root = evidence.root.toLowerCase()
  if (!verifyLeafProof({ root, value: leafToValue(evidence.leaf), proof: evidence.proof })) {
    return fail(VerifyFailure.badProof, `the proof does not lead from the message's leaf to the root ${root}`)
  }
  let anchor: AnchorRecord | undefined
  try {
    anchor = await params.reader.anchorOf(root, options)
  } catch (err) {
    const reason = err instanceof AuditLogUnavailableError ? err.message : String(err)
    return fail(VerifyFailure.chainUnavailable, `could not check the root on chain: ${reason}`)
  }
  if (anchor === undefined) {
    return fail(VerifyFailure.rootNotOnChain, `the root ${root} is not anchored in the audit log`)
  }
  const proven = evidence.leaf
  const verdict: Verdict = {
    ok: true,
    messageId,
    failures,
    leaf: proven,
    anchor: {
      ...anchor,
      ...(evidence.cid === undefined ? {} : { cid: evidence.cid }),
      ...(evidence.count === undefined ? {} : { count: evidence.count }),
    },
  }
  const add = (reason: VerifyFailure, message: string): void => {
    failures.push({ reason, message })
  }
  if (proven.messageId !== `0x${messageId}`) {
    add(VerifyFailure.unanchored, `the proof is for message ${proven.messageId.slice(2)}, not ${messageId}`)
  }
  if (proven.roomId !== toBytes32(claim.roomId)) {
    add(VerifyFailure.wrongRoom, `anchored in room ${proven.roomId.slice(2)}, not ${normalizeId(claim.roomId)}`)
  }
  if (claim.sender !== undefined && claim.sender.toLowerCase() !== proven.sender.toLowerCase()) {
    add(VerifyFailure.wrongSender, `anchored as sent by ${proven.sender}, not ${claim.sender}`)
  }
  if (claim.timestampMs !== undefined && claim.timestampMs !== proven.timestampMs) {
    add(
      VerifyFailure.wrongTimestamp,
      `anchored with send time ${iso(proven.timestampMs)}, not ${iso(claim.timestampMs)}`,
    )
  }
  if (claim.record !== undefined) checkRecord(claim.record, proven, messageId, add)
  if (claim.file !== undefined) {
    const problem = fileProblem(claim.record, claim.file)
    if (problem === undefined) verdict.file = { sha256: claim.file.sha256.toLowerCase() }
    else add(VerifyFailure.fileMismatch, problem)
  }
  verdict.ok = failures.length === 0
  return verdict
}

/**
 * Why `record` does not commit to `file`, or undefined when it does (`checkFileCommitment`). The record's own
 * bytes are checked against the anchor apart (`checkRecord`): together, the anchored message committed to the file.
 */
export function fileProblem(
  record: Uint8Array | string | undefined,
  file: { sha256: string; salt: string },
): string | undefined {
  if (record === undefined) return "a file is checked against the message's record: none was given"
  let check: FileCommitmentCheck
  try {
    check = checkFileCommitment({ record, salt: file.salt, sha256: file.sha256 })
  } catch (err) {
    return err instanceof Error ? err.message : String(err)
  }
  switch (check.status) {
    case 'match':
      return undefined
    case 'mismatch':
      return `the record commits to another file (or the salt is another): its commitment is ${check.commitment}, this file's ${check.expected}`
    case 'no-commitment':
      return 'the record commits to no file'
    case 'not-a-record':
      return 'the record is not a well-formed message record'
  }
}

/** Compares a record's bytes with the anchored leaf; the specific field first, then `tampered`. */
function checkRecord(
  record: Uint8Array | string,
  proven: AuditLeaf,
  messageId: string,
  add: (reason: VerifyFailure, message: string) => void,
): void {
  const bytes = typeof record === 'string' ? utf8.encode(record) : record
  let leaf: AuditLeaf
  try {
    leaf = leafOfRecord({ record: bytes, sender: proven.sender })
  } catch {
    add(VerifyFailure.tampered, 'the record is not a well-formed message record')
    return
  }
  if (leaf.roomId !== proven.roomId) {
    add(VerifyFailure.wrongRoom, `the record names room ${leaf.roomId.slice(2)}, the anchor ${proven.roomId.slice(2)}`)
  }
  if (leaf.timestampMs !== proven.timestampMs) {
    add(
      VerifyFailure.wrongTimestamp,
      `the record says it was sent at ${iso(leaf.timestampMs)}, the anchor ${iso(proven.timestampMs)}`,
    )
  }
  const id = sha256Hex(bytes)
  if (id !== messageId || leaf.ciphertextHash !== proven.ciphertextHash) {
    const what =
      leaf.ciphertextHash !== proven.ciphertextHash ? 'its ciphertext differs from the one anchored' : 'other bytes'
    add(VerifyFailure.tampered, `the record hashes to ${id}, not to the anchored message id ${messageId}: ${what}`)
  }
}

function normalizeId(id: string): string {
  try {
    return toBytes32(id).slice(2)
  } catch {
    return id
  }
}

function iso(ms: number): string {
  const date = new Date(ms)
  return Number.isNaN(date.getTime()) ? String(ms) : date.toISOString()
}

/** Human lines for a verdict, as `securechat verify` prints them. */
export function describeVerdict(verdict: Verdict): string[] {
  const lines: string[] = []
  if (verdict.ok && verdict.anchor !== undefined && verdict.leaf !== undefined) {
    const { anchor, leaf } = verdict
    lines.push(`VERIFIED: message ${verdict.messageId}`)
    lines.push(`  room      ${leaf.roomId.slice(2)}`)
    lines.push(`  sender    ${leaf.sender}`)
    lines.push(`  sent at   ${iso(leaf.timestampMs)} (sender's clock)`)
    if (verdict.file !== undefined) lines.push(`  file      sha256 ${verdict.file.sha256}, committed by the record`)
    lines.push(
      `  anchored  in block ${anchor.blockNumber} at ${iso(anchor.timestamp * 1000)} by ${anchor.anchorer}` +
        ` (root ${anchor.root}${anchor.count === undefined ? '' : `, ${anchor.count} message${anchor.count === 1 ? '' : 's'}`}` +
        `${anchor.cid === undefined ? '' : `, leaf list ${anchor.cid}`})`,
    )
    return lines
  }
  lines.push(`FAILED: message ${verdict.messageId}`)
  for (const failure of verdict.failures) lines.push(`  ${failure.reason}: ${failure.message}`)
  return lines
}
