/**
 * `securechat export --room <invite> --out <file>`: a member's transcript of a room — the messages it received
 * while listening (or those of `--in`, an earlier transcript), each with its record, leaf, proof and anchor,
 * and the complete leaf lists of the anchoring batches — that anyone with the chain can verify offline
 * (`securechat verify --file`).
 */
import {
  batchFromValues,
  buildTranscript,
  type FoundBatch,
  type Transcript,
  type TranscriptMessageInput,
} from '@securechat/sdk/audit'
import { decodeInvite, roomIdOf } from '@securechat/sdk/rooms'
import {
  anchoredBatches,
  type ChainFlags,
  openAuditChain,
  openAuditNetwork,
  readTranscriptFile,
  writeTranscriptFile,
} from '../audit/cli-support.ts'
import { ConfigError } from '../errors.ts'
import { createNodeLogger } from '../log.ts'
import { type ClientFlags, joinFromFlags, readInvite } from './room-client.ts'
import { recordWhileListening } from './room-recorder.ts'

export interface ExportFlags extends ClientFlags, ChainFlags {
  out: string
  /** An earlier transcript to start from (its messages and batches are kept). */
  in?: string
  /** Listen this long (ms) before exporting; default: until Ctrl-C (or not at all with --in). */
  duration?: string
}

export async function exportTranscript(flags: ExportFlags): Promise<void> {
  const { factory } = createNodeLogger({ json: false, level: 'warn' })
  const invite = decodeInvite(await readInvite(flags.room))
  const roomId = roomIdOf(invite.manifest.manifest)
  const previous = flags.in === undefined ? undefined : await readTranscriptFile(flags.in)
  if (previous !== undefined && previous.room.id !== roomId) {
    throw new ConfigError(`${flags.in} is a transcript of room ${previous.room.id}, not of ${roomId}`)
  }
  const duration = durationOf(flags.duration)
  const listening = previous === undefined || duration !== undefined
  const messages: TranscriptMessageInput[] = previous === undefined ? [] : inputsOf(previous)
  const joined = listening ? await joinFromFlags(flags, factory) : undefined
  try {
    if (joined !== undefined) {
      messages.push(
        ...(await recordWhileListening(joined.room, {
          label: `${invite.manifest.manifest.name} (${roomId})`,
          durationMs: duration,
          onInterrupt: 'exports',
          onMessage: (m) => process.stderr.write(`received message ${m.id}\n`),
        })),
      )
    }
    const rpc = flags.rpc ?? (process.env.SECURECHAT_RPC || undefined)
    let batches: FoundBatch[] = previous === undefined ? [] : await batchesOf(previous)
    let chain: Transcript['chain']
    if (rpc === undefined) {
      process.stderr.write('no --rpc: exporting without looking for anchors\n')
    } else {
      const audit = await openAuditChain(flags, process.env, previous?.chain)
      chain = { chainId: audit.chainId, auditLog: audit.auditLog }
      const network = await openAuditNetwork({
        relays: flags.bootstrap ?? invite.relays ?? [],
        ...(joined === undefined ? {} : { libp2p: joined.client.libp2p }),
      })
      try {
        const found = await anchoredBatches(audit, network.ipfs, roomId)
        const roots = new Set(found.map((b) => b.batch.root))
        batches = [...batches.filter((b) => !roots.has(b.batch.root)), ...found]
      } finally {
        await network.stop()
        audit.provider.destroy()
      }
    }
    const transcript = buildTranscript({
      room: { id: roomId, name: invite.manifest.manifest.name },
      ...(chain === undefined ? (previous?.chain === undefined ? {} : { chain: previous.chain }) : { chain }),
      ...(joined === undefined ? {} : { exportedBy: joined.client.address }),
      messages,
      batches,
    })
    await writeTranscriptFile(flags.out, transcript)
    process.stdout.write(
      `${JSON.stringify({
        out: flags.out,
        room: roomId,
        messages: transcript.messages.length,
        anchored: transcript.messages.filter((m) => m.anchor !== undefined).length,
        batches: transcript.batches.length,
      })}\n`,
    )
  } finally {
    await joined?.close()
  }
}

/** The messages of a transcript, to build a new one from. */
export function inputsOf(transcript: Transcript): TranscriptMessageInput[] {
  return transcript.messages.map((m) => ({
    id: m.id,
    sender: m.sender,
    record: m.record,
    ...(m.senderPeerId === undefined ? {} : { senderPeerId: m.senderPeerId }),
    ...(m.text === undefined ? {} : { text: m.text }),
    ...(m.file === undefined ? {} : { file: m.file }),
    ...(m.receivedAtMs === undefined ? {} : { receivedAtMs: m.receivedAtMs }),
  }))
}

/** The batches a transcript carries, rebuilt from their leaves (the root must match). */
export async function batchesOf(transcript: Transcript): Promise<FoundBatch[]> {
  return Promise.all(
    transcript.batches.map(async (b) => ({
      event: {
        root: b.root as `0x${string}`,
        anchorer: b.anchorer as `0x${string}`,
        count: b.count,
        cid: b.cid,
        blockNumber: b.blockNumber,
        transactionHash: b.transactionHash ?? '',
      },
      batch: await batchFromValues(b.leaves, { expectedRoot: b.root }),
    })),
  )
}

export function durationOf(value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const ms = Number(value)
  if (!Number.isSafeInteger(ms) || ms < 0) throw new ConfigError(`--duration must be milliseconds, got ${value}`)
  return ms
}
