/**
 * Transcripts: a member's export of a room's history — every message's record as published, its sender, its
 * leaf and proof, and the complete leaf lists of the batches that anchored them — which anyone with the chain
 * can verify offline: each message's inclusion, and the absence of gaps in anchored ranges.
 *
 * A gap is a message the transcript shows existed before an anchored message of the same room, which no
 * anchored batch holds. "Existed before" is proven by the records themselves: an anchored record names the
 * message in its causal history (`deps`), directly or through other messages of the transcript, or the same
 * device sent both and the anchored one carries the higher Lamport clock. A relay that leaves a message out
 * of its batch while anchoring later ones is caught this way.
 *
 * What a transcript does not prove: the plaintext. Proofs cover the ciphertext; `text` is what the exporter
 * decrypted and is shown as such.
 */
import { z } from 'zod'
import { sha256Hex } from '../crypto/primitives.ts'
import { utf8 } from '../encoding.ts'
import { recordTimeSchema, sha256HexSchema } from '../json-records.ts'
import { decodeRecord, type MessageRecord } from '../rooms/wire.ts'
import type { AbortOptions, Address } from '../types.ts'
import { type AuditBatch, batchFromValues, proveInclusion, roomLeaves } from './batch.ts'
import type { AnchorRecord, AuditLogReader } from './chain.ts'
import { TRANSCRIPT_FORMAT } from './constants.ts'
import { InvalidTranscriptError } from './errors.ts'
import { type AuditLeaf, leafFromValue, leafToValue, toBytes32 } from './leaf.ts'
import type { FoundBatch } from './lookup.ts'
import { isModerationLeaf } from './moderation-leaf.ts'
import type { LeafValue } from './tree.ts'
import {
  fileProblem,
  type InclusionEvidence,
  type MessageClaim,
  type Verdict,
  VerifyFailure,
  verifyInclusion,
} from './verify.ts'

const bytes32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/)
const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/)
const leafValue = z.tuple([z.string(), z.string(), z.string(), z.string(), z.string()])
const ms = recordTimeSchema

export const transcriptMessageSchema = z
  .object({
    id: sha256HexSchema,
    sender: address,
    senderPeerId: z.string().max(128).optional(),
    /** The record exactly as published (UTF-8 JSON text): its sha256 is the message id. */
    record: z.string().min(1),
    /** What the exporter decrypted. Not covered by any proof. */
    text: z.string().optional(),
    /**
     * The file the message shared, as the exporter decrypted its manifest: its SHA-256 and commitment salt. Checked
     * against the record's file commitment, so the anchor covers it (docs/audit.md, Files).
     */
    file: z.object({ sha256: sha256HexSchema, salt: sha256HexSchema }).strict().optional(),
    receivedAtMs: ms.optional(),
    anchor: z
      .object({ root: bytes32, leaf: leafValue, proof: z.array(bytes32) })
      .strict()
      .optional(),
  })
  .strict()
export type TranscriptMessage = z.infer<typeof transcriptMessageSchema>

export const transcriptBatchSchema = z
  .object({
    root: bytes32,
    cid: z.string(),
    count: z.number().int().positive(),
    blockNumber: z.number().int().positive(),
    anchorer: address,
    transactionHash: z.string().optional(),
    /** The batch's complete leaf list (every room's leaves): completeness is checked against it. */
    leaves: z.array(leafValue).min(1),
  })
  .strict()
export type TranscriptBatch = z.infer<typeof transcriptBatchSchema>

export const transcriptSchema = z
  .object({
    format: z.literal(TRANSCRIPT_FORMAT),
    room: z.object({ id: sha256HexSchema, name: z.string().optional() }).strict(),
    /** Where the anchors are. A verifier may insist on its own audit log address instead. */
    chain: z.object({ chainId: z.number().int().positive(), auditLog: address }).strict().optional(),
    exportedAtMs: ms,
    exportedBy: address.optional(),
    messages: z.array(transcriptMessageSchema),
    batches: z.array(transcriptBatchSchema),
  })
  .strict()
export type Transcript = z.infer<typeof transcriptSchema>

/** A message as a member holds it, to put into a transcript. */
export interface TranscriptMessageInput {
  id: string
  sender: string
  senderPeerId?: string
  /** The record as published (bytes or their UTF-8 text). */
  record: Uint8Array | string
  text?: string
  /** The file it shared (SHA-256 and commitment salt), for a message whose record commits to one. */
  file?: { sha256: string; salt: string }
  receivedAtMs?: number
}

export interface BuildTranscriptParams {
  room: { id: string; name?: string }
  chain?: { chainId: number; auditLog: string }
  exportedBy?: string
  messages: readonly TranscriptMessageInput[]
  /** Anchored batches found for the room (see `fetchAnchoredBatches`); each message gets its earliest. */
  batches: readonly FoundBatch[]
  nowMs?: number
}

/** Assembles a transcript: messages in Lamport order, each with its earliest anchor, and those batches. */
export function buildTranscript(params: BuildTranscriptParams): Transcript {
  const ordered = [...params.batches].sort((a, b) => a.event.blockNumber - b.event.blockNumber)
  const used = new Map<string, FoundBatch>()
  const seen = new Set<string>()
  const messages: TranscriptMessage[] = []
  for (const input of params.messages) {
    const record = typeof input.record === 'string' ? input.record : utf8.decode(input.record)
    const id = input.id.toLowerCase()
    if (seen.has(id)) continue
    seen.add(id)
    let anchor: TranscriptMessage['anchor']
    for (const found of ordered) {
      const proof = proveInclusion(found.batch, { messageId: id, roomId: params.room.id })
      if (proof === undefined) continue
      anchor = { root: proof.root, leaf: leafToValue(proof.leaf), proof: proof.proof }
      used.set(found.batch.root, found)
      break
    }
    messages.push({
      id,
      sender: input.sender,
      ...(input.senderPeerId === undefined ? {} : { senderPeerId: input.senderPeerId }),
      record,
      ...(input.text === undefined ? {} : { text: input.text }),
      ...(input.file === undefined ? {} : { file: { sha256: input.file.sha256, salt: input.file.salt } }),
      ...(input.receivedAtMs === undefined ? {} : { receivedAtMs: input.receivedAtMs }),
      ...(anchor === undefined ? {} : { anchor }),
    })
  }
  messages.sort((a, b) => lamportOf(a) - lamportOf(b) || sentAtOf(a) - sentAtOf(b) || (a.id < b.id ? -1 : 1))
  return {
    format: TRANSCRIPT_FORMAT,
    room: { id: params.room.id, ...(params.room.name === undefined ? {} : { name: params.room.name }) },
    ...(params.chain === undefined ? {} : { chain: params.chain }),
    exportedAtMs: params.nowMs ?? Date.now(),
    ...(params.exportedBy === undefined ? {} : { exportedBy: params.exportedBy }),
    messages,
    batches: [...used.values()].map(({ event, batch }) => ({
      root: event.root,
      cid: event.cid,
      count: event.count,
      blockNumber: event.blockNumber,
      anchorer: event.anchorer,
      transactionHash: event.transactionHash,
      leaves: batch.leaves.map(leafToValue),
    })),
  }
}

/** Parses a transcript (its JSON text or the parsed value). Throws {@link InvalidTranscriptError}. */
export function parseTranscript(input: string | unknown): Transcript {
  let json = input
  if (typeof input === 'string') {
    try {
      json = JSON.parse(input)
    } catch (cause) {
      throw new InvalidTranscriptError('the transcript is not JSON', { cause })
    }
  }
  const parsed = transcriptSchema.safeParse(json)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new InvalidTranscriptError(`malformed transcript: ${issue?.path.join('.') ?? ''}: ${issue?.message ?? ''}`, {
      details: { path: issue?.path },
      hint: `expected a file written by \`securechat export\` (format ${TRANSCRIPT_FORMAT})`,
    })
  }
  return parsed.data
}

export type MessageStatus =
  /** Included in an anchored batch, and every fact checks out. */
  | 'anchored'
  /** Not anchored (yet), and nothing anchored comes after it. */
  | 'unanchored'
  /** Not anchored although an anchored message of the room comes after it. */
  | 'gap'
  /** A fact does not check out (tampered, wrong room or sender, bad proof, root not on chain…). */
  | 'failed'

export interface TranscriptGap {
  messageId: string
  /** The anchored message the gap precedes. */
  before: string
  /** Root of the batch that anchored `before`. */
  batch: string
  evidence: 'causal-history' | 'sender-clock'
}

export interface TranscriptVerdict {
  ok: boolean
  roomId: string
  messages: Array<{ id: string; status: MessageStatus; verdict: Verdict }>
  gaps: TranscriptGap[]
  batches: Array<{ root: string; ok: boolean; problems: string[]; anchor?: AnchorRecord; roomLeaves: number }>
  /** Messages of the room that an included batch anchored but the transcript does not hold: a partial export. */
  omitted: Array<{ root: string; leaf: AuditLeaf }>
}

/**
 * Verifies every message of a transcript and looks for gaps. Reads the chain through `reader` (one
 * `anchorOf` per batch root); needs no IPFS, since the transcript carries its batches' leaf lists.
 */
export async function verifyTranscript(
  transcript: Transcript,
  reader: Pick<AuditLogReader, 'anchorOf'>,
  options: AbortOptions = {},
): Promise<TranscriptVerdict> {
  const roomId = transcript.room.id
  const cached = new Map<string, Promise<AnchorRecord | undefined>>()
  const cachedReader: Pick<AuditLogReader, 'anchorOf'> = {
    anchorOf: (root, opts) => {
      const key = root.toLowerCase()
      let hit = cached.get(key)
      if (hit === undefined) {
        hit = reader.anchorOf(key, opts)
        cached.set(key, hit)
        hit.catch(() => cached.delete(key))
      }
      return hit
    },
  }

  // Batches: each must rebuild its root from its leaves, and the root must be anchored.
  const batches: TranscriptVerdict['batches'] = []
  const rebuilt = new Map<string, AuditBatch>()
  for (const entry of transcript.batches) {
    const problems: string[] = []
    let batch: AuditBatch | undefined
    try {
      batch = await batchFromValues(entry.leaves as LeafValue[], { ...options, expectedRoot: entry.root })
      rebuilt.set(batch.root, batch)
    } catch (err) {
      problems.push(`its leaf list does not rebuild its root: ${err instanceof Error ? err.message : String(err)}`)
    }
    if (batch !== undefined && batch.count !== entry.count) {
      problems.push(`it holds ${batch.count} leaves, the anchor says ${entry.count}`)
    }
    let anchor: AnchorRecord | undefined
    try {
      anchor = await cachedReader.anchorOf(entry.root, options)
      if (anchor === undefined) problems.push('its root is not anchored in the audit log')
      else if (anchor.blockNumber !== entry.blockNumber) {
        problems.push(`the chain says block ${anchor.blockNumber}, the transcript ${entry.blockNumber}`)
      }
    } catch (err) {
      problems.push(`the audit log could not be read: ${err instanceof Error ? err.message : String(err)}`)
    }
    batches.push({
      root: entry.root.toLowerCase(),
      ok: problems.length === 0,
      problems,
      ...(anchor === undefined ? {} : { anchor }),
      roomLeaves: batch === undefined ? 0 : roomLeaves(batch, roomId).length,
    })
  }

  // Messages: each proven from its own proof, or from an included batch that holds it.
  const records = new Map<string, MessageRecord>()
  const results: TranscriptVerdict['messages'] = []
  for (const message of transcript.messages) {
    const bytes = utf8.encode(message.record)
    const decoded = decodeRecord(bytes)
    const record = decoded.status === 'ok' && decoded.record.type === 'message' ? decoded.record : undefined
    // Only records that hash to their id speak for causal order.
    if (record !== undefined && sha256Hex(bytes) === message.id) records.set(message.id, record)
    const evidence = evidenceFor(message, rebuilt, roomId)
    const claim: MessageClaim = {
      roomId,
      messageId: message.id,
      sender: message.sender,
      record: bytes,
      ...(message.file === undefined ? {} : { file: message.file }),
    }
    const verdict = await verifyInclusion({ claim, evidence, reader: cachedReader }, options)
    let status: MessageStatus = verdict.ok ? 'anchored' : 'failed'
    if (!verdict.ok && verdict.failures.every((f) => f.reason === VerifyFailure.unanchored)) {
      status = 'unanchored'
      // Unanchored, but its record must still be its own and of this room, and commit to the file it names.
      const problem = message.file === undefined ? undefined : fileProblem(bytes, message.file)
      if (!records.has(message.id)) {
        status = 'failed'
        verdict.failures.push({ reason: VerifyFailure.tampered, message: 'the record does not hash to the message id' })
      } else if (records.get(message.id)!.room !== roomId) {
        status = 'failed'
        verdict.failures.push({ reason: VerifyFailure.wrongRoom, message: 'the record names another room' })
      } else if (problem !== undefined) {
        status = 'failed'
        verdict.failures.push({ reason: VerifyFailure.fileMismatch, message: problem })
      }
    }
    results.push({ id: message.id, status, verdict })
  }

  // Gaps: unanchored messages that precede an anchored one.
  const byId = new Map(transcript.messages.map((m) => [m.id, m]))
  const statusOf = new Map(results.map((r) => [r.id, r]))
  const gaps: TranscriptGap[] = []
  const gapped = new Set<string>()
  const flag = (id: string, before: string, evidence: TranscriptGap['evidence']): void => {
    const result = statusOf.get(id)
    if (result === undefined || result.status !== 'unanchored' || gapped.has(id)) return
    gapped.add(id)
    result.status = 'gap'
    const batch = statusOf.get(before)?.verdict.anchor?.root ?? ''
    gaps.push({ messageId: id, before, batch, evidence })
    result.verdict.failures.splice(0, result.verdict.failures.length, {
      reason: VerifyFailure.unanchored,
      message: `gap: no anchored batch holds it, yet anchored message ${before} comes after it (${evidence})`,
    })
  }
  for (const anchored of results.filter((r) => r.status === 'anchored')) {
    // Causal history, transitively through the transcript's records.
    const stack = [...(records.get(anchored.id)?.deps ?? [])]
    const visited = new Set<string>()
    while (stack.length > 0) {
      const dep = stack.pop()!
      if (visited.has(dep) || !byId.has(dep)) continue
      visited.add(dep)
      flag(dep, anchored.id, 'causal-history')
      stack.push(...(records.get(dep)?.deps ?? []))
    }
    // The same device's earlier messages (its Lamport clock only grows).
    const sender = byId.get(anchored.id)!
    const clock = records.get(anchored.id)?.lamport
    if (sender.senderPeerId === undefined || clock === undefined) continue
    for (const other of transcript.messages) {
      const lamport = records.get(other.id)?.lamport
      if (other.senderPeerId === sender.senderPeerId && lamport !== undefined && lamport < clock) {
        flag(other.id, anchored.id, 'sender-clock')
      }
    }
  }

  // Omitted: this room's anchored messages in included batches that the transcript does not hold (its moderation
  // log's leaves are no messages: `verify --moderation` checks them).
  const omitted: TranscriptVerdict['omitted'] = []
  for (const batch of rebuilt.values()) {
    for (const leaf of roomLeaves(batch, roomId)) {
      if (!isModerationLeaf(leaf) && !byId.has(leaf.messageId.slice(2))) omitted.push({ root: batch.root, leaf })
    }
  }

  const ok = batches.every((b) => b.ok) && results.every((r) => r.status === 'anchored' || r.status === 'unanchored')
  return { ok, roomId, messages: results, gaps, batches, omitted }
}

function evidenceFor(
  message: TranscriptMessage,
  batches: ReadonlyMap<string, AuditBatch>,
  roomId: string,
): InclusionEvidence | undefined {
  if (message.anchor !== undefined) {
    let leaf: AuditLeaf
    try {
      leaf = leafFromValue(message.anchor.leaf)
    } catch {
      // A malformed leaf cannot be proven; the proof check reports it.
      return { root: message.anchor.root, proof: message.anchor.proof, leaf: placeholderLeaf(message.id, roomId) }
    }
    return { root: message.anchor.root, proof: message.anchor.proof, leaf }
  }
  for (const batch of batches.values()) {
    const proof = proveInclusion(batch, { messageId: message.id })
    if (proof !== undefined) return proof
  }
  return undefined
}

function placeholderLeaf(messageId: string, roomId: string): AuditLeaf {
  return {
    roomId: toBytes32(roomId),
    messageId: toBytes32(messageId),
    sender: '0x0000000000000000000000000000000000000000' as Address,
    timestampMs: 0,
    ciphertextHash: `0x${'00'.repeat(32)}`,
  }
}

function lamportOf(message: TranscriptMessage): number {
  const decoded = decodeRecord(utf8.encode(message.record))
  return decoded.status === 'ok' && decoded.record.type === 'message' ? decoded.record.lamport : 0
}

function sentAtOf(message: TranscriptMessage): number {
  const decoded = decodeRecord(utf8.encode(message.record))
  return decoded.status === 'ok' && decoded.record.type === 'message' ? decoded.record.sentAtMs : 0
}

/** Human lines for a transcript verdict, as `securechat verify --file` prints them. */
export function describeTranscriptVerdict(verdict: TranscriptVerdict): string[] {
  const lines: string[] = []
  for (const batch of verdict.batches) {
    if (!batch.ok) lines.push(`✗ batch ${batch.root}: ${batch.problems.join('; ')}`)
  }
  for (const { id, status, verdict: v } of verdict.messages) {
    if (status === 'anchored') {
      const file = v.file === undefined ? '' : `, file sha256 ${v.file.sha256} committed`
      lines.push(`✓ ${id} anchored in block ${v.anchor?.blockNumber} (sender ${v.leaf?.sender}${file})`)
    } else if (status === 'unanchored') {
      lines.push(`? ${id} not anchored yet`)
    } else {
      for (const failure of v.failures)
        lines.push(`✗ ${id} ${status === 'gap' ? 'gap' : failure.reason}: ${failure.message}`)
    }
  }
  if (verdict.omitted.length > 0) {
    lines.push(
      `note: the anchored batches hold ${verdict.omitted.length} more message(s) of this room that the transcript does not contain`,
    )
  }
  const count = (status: MessageStatus): number => verdict.messages.filter((m) => m.status === status).length
  lines.push(
    `${verdict.ok ? 'VERIFIED' : 'FAILED'}: ${verdict.messages.length} messages — ${count('anchored')} anchored, ` +
      `${count('unanchored')} not anchored yet, ${count('gap')} in gaps, ${count('failed')} failed; ` +
      `${verdict.batches.length} batches`,
  )
  return lines
}
