/**
 * `securechat verify`: proves a message — leaf → Merkle proof → root → its anchor on chain (block, time,
 * anchorer) — or a whole exported transcript, and exits non-zero with the reasons when anything fails.
 *
 *   verify --room <invite> --message <id> [--sender <address>] [--record <file>]   finds the message's batch
 *       through `Anchored` events and the relays' leaf lists on IPFS
 *   verify --file <transcript> [--message <id>]                                     offline but for the chain
 *   verify --moderation --room <invite> [--file <log>]                              the room's moderation log
 *       against its anchors (verify-moderation.ts)
 */
import { readFile } from 'node:fs/promises'
import {
  describeTranscriptVerdict,
  describeVerdict,
  findEvidence,
  type MessageClaim,
  verifyInclusion,
  verifyTranscript,
} from '@securechat/sdk/audit'
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
}

export async function verify(flags: VerifyFlags): Promise<void> {
  if (flags.moderation === true) return (await import('./verify-moderation.ts')).verifyModeration(flags)
  if (flags.file !== undefined) return verifyFile(flags, flags.file)
  if (flags.room === undefined || flags.message === undefined) {
    throw new ConfigError('verify needs --room <invite> --message <id>, or --file <transcript>', {
      hint: 'securechat verify --help',
    })
  }
  const invite = decodeInvite(await readInvite(flags.room))
  const roomId = roomIdOf(invite.manifest.manifest)
  const messageId = flags.message.toLowerCase().replace(/^0x/, '')
  const record = flags.record === undefined ? undefined : await readRecord(flags.record)
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
    if (flags.message !== undefined) {
      const id = flags.message.toLowerCase().replace(/^0x/, '')
      const one = verdict.messages.find((m) => m.id === id)
      if (one === undefined) throw new VerificationFailedError(`the transcript holds no message ${id}`)
      process.stdout.write(
        flags.json === true ? `${JSON.stringify(one)}\n` : `${describeVerdict(one.verdict).join('\n')}\n`,
      )
      if (one.status !== 'anchored') {
        throw new VerificationFailedError(
          `message ${id} did not verify (${one.status}): ${reasons(one.verdict.failures)}`,
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
