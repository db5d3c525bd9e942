/**
 * `securechat anchor`: a member anchors the messages of a room it holds — those received while this command
 * listens, or those of an exported transcript (`--file`) — as one batch, paying the gas from its wallet. The
 * result is written as a transcript with the new batch and every message's proof, so the anchor can be
 * verified offline (`securechat verify --file`). The batch's leaf list is served on IPFS only while the command
 * runs: the transcript is where it stays.
 */
import {
  type AnchoredEvent,
  anchorRoot,
  buildBatch,
  buildTranscript,
  leafOfMessage,
  leafOfRecord,
  publishLeafList,
  type Transcript,
  type TranscriptMessageInput,
} from '@securechat/sdk/audit'
import { decodeInvite, roomIdOf } from '@securechat/sdk/rooms'
import type { Address } from '@securechat/sdk/types'
import {
  type ChainFlags,
  openAuditChain,
  openAuditNetwork,
  readTranscriptFile,
  writeTranscriptFile,
} from '../audit/cli-support.ts'
import { ConfigError } from '../errors.ts'
import { createNodeLogger } from '../log.ts'
import { loadWallet } from '../wallet.ts'
import { batchesOf, durationOf, inputsOf } from './export.ts'
import { type ClientFlags, joinFromFlags, readInvite } from './room-client.ts'
import { type RecordedMessage, recordWhileListening } from './room-recorder.ts'

export interface AnchorFlags extends Omit<ClientFlags, 'room'>, ChainFlags {
  room?: string
  /** A transcript whose messages to anchor (instead of listening). */
  file?: string
  /** Where to write the transcript with the new anchor; default: `--file`. */
  out?: string
  /** Listen this long (ms); default: until Ctrl-C. */
  duration?: string
  gasLimit?: string
}

export async function anchor(flags: AnchorFlags): Promise<void> {
  const { factory } = createNodeLogger({ json: false, level: 'warn' })
  const out = flags.out ?? flags.file
  if (out === undefined) throw new ConfigError('where should the transcript go? pass --out <file>')
  if (flags.file === undefined && flags.room === undefined) {
    throw new ConfigError('anchor needs --room <invite> (to listen) or --file <transcript>')
  }
  const invite = flags.room === undefined ? undefined : decodeInvite(await readInvite(flags.room))
  const previous = flags.file === undefined ? undefined : await readTranscriptFile(flags.file)
  const roomId = previous?.room.id ?? roomIdOf(invite!.manifest.manifest)
  if (invite !== undefined && roomIdOf(invite.manifest.manifest) !== roomId) {
    throw new ConfigError(`${flags.file} is a transcript of room ${roomId}, not of the --room invite`)
  }
  const gasLimit = flags.gasLimit === undefined ? undefined : BigInt(flags.gasLimit)
  const wallet = await loadWallet({ keyFile: flags.keyFile, env: process.env })
  const chain = await openAuditChain(flags, process.env, previous?.chain)
  const earlierMessages: TranscriptMessageInput[] = previous === undefined ? [] : inputsOf(previous)
  const received: RecordedMessage[] = []
  const joined = previous === undefined ? await joinFromFlags({ ...flags, room: flags.room! }, factory) : undefined
  const network = await openAuditNetwork({
    relays: flags.bootstrap ?? invite?.relays ?? [],
    ...(joined === undefined ? {} : { libp2p: joined.client.libp2p }),
  })
  try {
    if (joined !== undefined) {
      received.push(
        ...(await recordWhileListening(joined.room, {
          label: roomId,
          durationMs: durationOf(flags.duration),
          onInterrupt: 'anchors what arrived',
        })),
      )
    }
    // A transcript's messages are known by their records; those received here carry their leaf's fields.
    const leaves = [
      ...earlierMessages
        .filter((m) => roomOfRecord(m) === roomId)
        .map((m) => leafOfRecord({ record: m.record, sender: m.sender })),
      ...received.map(leafOfMessage),
    ]
    if (leaves.length === 0) throw new ConfigError('no message of the room to anchor')
    const batch = await buildBatch(leaves)
    const cid = await publishLeafList(network.ipfs, batch)
    const result = await anchorRoot({
      signer: wallet.connect(chain.provider),
      address: chain.auditLog,
      root: batch.root,
      count: batch.count,
      cid,
      ...(gasLimit === undefined ? {} : { gasLimit }),
    })
    const event: AnchoredEvent = {
      root: batch.root,
      anchorer: result.anchor.anchorer,
      count: batch.count,
      cid,
      blockNumber: result.anchor.blockNumber,
      transactionHash: result.status === 'anchored' ? result.transactionHash : '',
    }
    const earlier = previous === undefined ? [] : (await batchesOf(previous)).filter((b) => b.batch.root !== batch.root)
    const transcript: Transcript = buildTranscript({
      room: { id: roomId, ...(invite === undefined ? {} : { name: invite.manifest.manifest.name }) },
      chain: { chainId: chain.chainId, auditLog: chain.auditLog },
      exportedBy: wallet.address as Address,
      messages: [...earlierMessages, ...received],
      batches: [...earlier, { event, batch }],
    })
    await writeTranscriptFile(out, transcript)
    process.stdout.write(
      `${JSON.stringify({
        status: result.status,
        root: batch.root,
        count: batch.count,
        cid,
        blockNumber: result.anchor.blockNumber,
        anchorer: result.anchor.anchorer,
        ...(result.status === 'anchored'
          ? { transactionHash: result.transactionHash, gasUsed: Number(result.gasUsed) }
          : {}),
        out,
      })}\n`,
    )
  } finally {
    await network.stop()
    await joined?.close()
    chain.provider.destroy()
  }
}

function roomOfRecord(message: TranscriptMessageInput): string | undefined {
  try {
    const text = typeof message.record === 'string' ? message.record : new TextDecoder().decode(message.record)
    return (JSON.parse(text) as { room?: string }).room
  } catch {
    return undefined
  }
}
