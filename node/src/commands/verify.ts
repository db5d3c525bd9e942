/**
 * `securechat verify`: proves a message — leaf → Merkle proof → root → its anchor on chain (block, time,
 * anchorer) — or a whole exported transcript, and exits non-zero with the reasons when anything fails.
 *
 *   verify --room <invite> --message <id> [--sender <address>] [--record <file>]   finds the message's batch
 *       through `Anchored` events and the relays' leaf lists on IPFS
 *       [--shared-file <path> --salt <hex>]      and that its record commits to this file (with --record)
 *   verify --file <transcript> [--message <id>]                                     offline but for the chain
 *       [--shared-file <path> [--salt <hex>]]    and that the message (by default: the one the transcript says
 *                                                shared a file with this hash) committed to this file
 *   verify --moderation --room <invite> [--file <log>]                              the room's moderation log
 *       against its anchors (verify-moderation.ts)
 */
import { createReadStream } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import {
  describeTranscriptVerdict,
  describeVerdict,
  findEvidence,
  type MessageClaim,
  type Transcript,
  VerifyFailure,
  verifyInclusion,
  verifyTranscript,
} from '@securechat/sdk/audit'
import { sha256OfStream } from '@securechat/sdk/files'
import { decodeInvite, roomIdOf } from '@securechat/sdk/rooms'
import {
  anchoredBatches,
  type ChainFlags,
  openAuditChain,
  openAuditNetwork,
  readTranscriptFile,
} from '../audit/cli-support.ts'
import { ConfigError, VerificationFailedError } from '../errors.ts'
import { readInvite } from './room-client.ts'

export interface VerifyFlags extends ChainFlags {
  room?: string
  message?: string
  file?: string
  sender?: string
  record?: string
  bootstrap?: string[]
  json?: boolean
  moderation?: boolean
  /** A file on disk to check against the message's file commitment (docs/audit.md, Files). */
  sharedFile?: string
  /** The salt of the file's manifest (64 hex digits); in a transcript, it is the exporter's by default. */
  salt?: string
}

export async function verify(flags: VerifyFlags): Promise<void> {
  if (flags.moderation === true) return (await import('./verify-moderation.ts')).verifyModeration(flags)
  if (flags.file !== undefined) return verifyFile(flags, flags.file)
  if (flags.room === undefined || flags.message === undefined) {
    throw new ConfigError('verify needs --room <invite> --message <id>, or --file <transcript>', {
      hint: 'securechat verify --help',
    })
  }
  if (flags.sharedFile !== undefined && (flags.record === undefined || flags.salt === undefined)) {
    throw new ConfigError("--shared-file is checked against the message's record: it needs --record and --salt", {
      hint: "the record is what `listen --json` or a transcript holds; the salt is the file's (`listen --json`, `send-file`)",
    })
  }
  const invite = decodeInvite(await readInvite(flags.room))
  const roomId = roomIdOf(invite.manifest.manifest)
  const messageId = flags.message.toLowerCase().replace(/^0x/, '')
  const record = flags.record === undefined ? undefined : await readRecord(flags.record)
  const file =
    flags.sharedFile === undefined ? undefined : { sha256: await hashFile(flags.sharedFile), salt: flags.salt! }
  const chain = await openAuditChain(flags, process.env)
  const network = await openAuditNetwork({ relays: flags.bootstrap ?? invite.relays ?? [] })
  try {
    // Every batch, not only this room's: a message anchored in another room is a wrong-room verdict.
    const batches = await anchoredBatches(chain, network.ipfs)
    const claim: MessageClaim = {
      roomId,
      messageId,
      ...(flags.sender === undefined ? {} : { sender: flags.sender }),
      ...(record === undefined ? {} : { record }),
      ...(file === undefined ? {} : { file }),
    }
    const evidence = findEvidence(batches, { messageId, roomId })
    const verdict = await verifyInclusion({ claim, evidence, reader: chain.reader })
    process.stdout.write(
      flags.json === true ? `${JSON.stringify(verdict)}\n` : `${describeVerdict(verdict).join('\n')}\n`,
    )
    if (!verdict.ok) {
      throw new VerificationFailedError(`message ${messageId} did not verify: ${reasons(verdict.failures)}`)
    }
  } finally {
    await network.stop()
    chain.provider.destroy()
  }
}

async function verifyFile(flags: VerifyFlags, path: string): Promise<void> {
  const transcript = await readTranscriptFile(path)
  const shared = flags.sharedFile === undefined ? undefined : await sharedFileIn(transcript, flags, flags.sharedFile)
  if (flags.room !== undefined) {
    const roomId = roomIdOf(decodeInvite(await readInvite(flags.room)).manifest.manifest)
    if (roomId !== transcript.room.id) {
      throw new VerificationFailedError(`the transcript is of room ${transcript.room.id}, not of ${roomId}`)
    }
  }
  const chain = await openAuditChain(flags, process.env, transcript.chain)
  if (flags.auditLog === undefined && transcript.chain !== undefined) {
    process.stderr.write(
      `checking anchors in the audit log ${chain.auditLog} on chain ${chain.chainId}, as the transcript names it; ` +
        'pass --audit-log to insist on the one you trust\n',
    )
  }
  try {
    const verdict = await verifyTranscript(transcript, chain.reader)
    const ids = shared?.ids ?? (flags.message === undefined ? undefined : [normalize(flags.message)])
    if (ids !== undefined) {
      const found = ids.map((id) => ({ id, one: verdict.messages.find((m) => m.id === id) }))
      for (const { id, one } of found) {
        if (one === undefined) throw new VerificationFailedError(`the transcript holds no message ${id}`)
        process.stdout.write(
          flags.json === true ? `${JSON.stringify(one)}\n` : `${describeVerdict(one.verdict).join('\n')}\n`,
        )
      }
      const failed = found.filter(({ one }) => one?.status !== 'anchored')
      if (failed.length > 0) {
        throw new VerificationFailedError(
          failed
            .map(
              ({ id, one }) => `message ${id} did not verify (${one?.status}): ${reasons(one?.verdict.failures ?? [])}`,
            )
            .join('; '),
        )
      }
      return
    }
    process.stdout.write(
      flags.json === true
        ? `${JSON.stringify(verdict, (_, v) => (typeof v === 'bigint' ? String(v) : v))}\n`
        : `${describeTranscriptVerdict(verdict).join('\n')}\n`,
    )
    if (!verdict.ok) {
      const failed = verdict.messages.filter((m) => m.status === 'failed' || m.status === 'gap').length
      throw new VerificationFailedError(
        `the transcript did not verify: ${failed} message(s) failed or in gaps, ${verdict.gaps.length} gap(s), ` +
          `${verdict.batches.filter((b) => !b.ok).length} bad batch(es)`,
      )
    }
  } finally {
    chain.provider.destroy()
  }
}

/**
 * `--shared-file` with a transcript: the messages to check it against — `--message`, or those the transcript says
 * shared a file with its hash — each given the file's hash and salt (`--salt`, or the transcript's), so the verdict
 * says whether the anchored record committed to it. No message to check against is a `file-mismatch` failure.
 */
async function sharedFileIn(
  transcript: Transcript,
  flags: VerifyFlags,
  path: string,
): Promise<{ ids: string[]; sha256: string }> {
  const sha256 = await hashFile(path)
  const ids =
    flags.message === undefined
      ? transcript.messages.filter((m) => m.file?.sha256 === sha256).map((m) => m.id)
      : [normalize(flags.message)]
  if (ids.length === 0) {
    const lines = [
      `FAILED: file ${path} (sha256 ${sha256})`,
      `  ${VerifyFailure.fileMismatch}: no message of the transcript shared this file; give --message <id> to check it against one`,
    ]
    process.stdout.write(
      flags.json === true
        ? `${JSON.stringify({ ok: false, sha256, failures: [{ reason: VerifyFailure.fileMismatch, message: lines[1]!.trim() }] })}\n`
        : `${lines.join('\n')}\n`,
    )
    throw new VerificationFailedError(
      `no message of the transcript shared the file ${path}: ${VerifyFailure.fileMismatch}`,
    )
  }
  for (const id of ids) {
    const message = transcript.messages.find((m) => m.id === id)
    const salt = flags.salt?.toLowerCase() ?? message?.file?.salt
    if (message === undefined) continue
    if (salt === undefined) {
      throw new ConfigError(`the transcript has no file salt for message ${id}`, {
        hint: "give the file's salt with --salt (`listen --json` prints it with the file)",
      })
    }
    message.file = { sha256, salt }
  }
  return { ids, sha256 }
}

/** SHA-256 of a file on disk, streamed: a file of gigabytes passes through a megabyte at a time. */
async function hashFile(path: string): Promise<string> {
  const size = await stat(path).then(
    (s) => (s.isFile() ? s.size : undefined),
    () => undefined,
  )
  if (size === undefined) throw new ConfigError(`no file at ${path}`, { hint: 'give --shared-file the path of a file' })
  return sha256OfStream(createReadStream(path, { highWaterMark: 1024 * 1024 }))
}

function normalize(id: string): string {
  return id.toLowerCase().replace(/^0x/, '')
}

function reasons(failures: ReadonlyArray<{ reason: string }>): string {
  return [...new Set(failures.map((f) => f.reason))].join(', ')
}

/** `--record`: a file with the record exactly as published (one trailing newline is ignored), or the JSON itself. */
async function readRecord(value: string): Promise<string> {
  if (value.trimStart().startsWith('{')) return value
  try {
    const text = await readFile(value, 'utf8')
    return text.endsWith('\n') ? text.slice(0, -1) : text
  } catch (cause) {
    throw new ConfigError(`cannot read the record file ${value}`, { cause })
  }
}
