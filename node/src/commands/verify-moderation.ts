/**
 * `securechat verify --moderation --room <invite>`: checks a room's moderation log against the chain — every event's
 * signature, chain and role, every anchored event present, each event's anchor (docs/architecture.md, Moderation) —
 * and exits non-zero with what to do when anything fails.
 *
 * The log comes from the relays' stores over the history protocol (every relay asked, their events merged: a relay
 * that withholds some is made up for by another, and caught by the anchors if none has them), or from a file
 * (`--file`: a JSON array of events, `{ "events": [...] }`, or one event or record per line).
 */
import { readFile } from 'node:fs/promises'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Libp2p } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { describeModerationAudit, verifyModerationLog } from '@securechat/sdk/audit'
import { createSecureChatLibp2p } from '@securechat/sdk/client'
import { queryHistoryPages } from '@securechat/sdk/history'
import { decodeInvite, roomIdOf, roomTopic } from '@securechat/sdk/rooms'
import { anchoredBatches, type ChainFlags, openAuditChain, openAuditNetwork } from '../audit/cli-support.ts'
import { CLI_NETWORK_TIMEOUT_MS } from '../constants.ts'
import { ConfigError, VerificationFailedError } from '../errors.ts'
import { readInvite } from './room-client.ts'

export interface VerifyModerationFlags extends ChainFlags {
  room?: string
  file?: string
  bootstrap?: string[]
  json?: boolean
}

export async function verifyModeration(flags: VerifyModerationFlags): Promise<void> {
  if (flags.room === undefined) {
    throw new ConfigError('verify --moderation needs --room <invite>: the room and its first owner', {
      hint: 'securechat verify --moderation --room <invite> [--file <log.json>]',
    })
  }
  const { manifest, relays: inviteRelays } = decodeInvite(await readInvite(flags.room))
  const roomId = roomIdOf(manifest.manifest)
  const relays = flags.bootstrap ?? inviteRelays ?? []
  const fromFile = flags.file === undefined ? undefined : await readLogFile(flags.file)
  if (fromFile === undefined && relays.length === 0) {
    throw new ConfigError('where is the log? the invite names no relay', {
      hint: 'pass --bootstrap <relay multiaddr>, or --file <log.json>',
    })
  }
  const chain = await openAuditChain(flags, process.env)
  const libp2p = await createSecureChatLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: [] })
  try {
    const reached = await dialRelays(libp2p, relays)
    const events = fromFile ?? (await fetchLog(libp2p, reached, roomTopic(roomId)))
    const network = await openAuditNetwork({ relays, libp2p })
    try {
      process.stderr.write(`reading anchors of room ${roomId} from block ${chain.filter.fromBlock}…\n`)
      const batches = await anchoredBatches(chain, network.ipfs, roomId)
      process.stderr.write(`${batches.length} anchored batch(es) hold leaves of the room\n`)
      const audit = await verifyModerationLog({
        roomId,
        owner: manifest.manifest.owner,
        events,
        batches,
        reader: chain.reader,
      })
      process.stdout.write(
        flags.json === true ? `${JSON.stringify(audit)}\n` : `${describeModerationAudit(audit).join('\n')}\n`,
      )
      if (!audit.ok) {
        throw new VerificationFailedError(
          `the moderation log of room ${roomId} did not verify: ${[...new Set(audit.problems.map((p) => p.failure))].join(', ')}`,
          {
            hint:
              'the lines above say which events; fetch the log from other relays (--bootstrap), or count only the ' +
              'anchors of anchorers you trust (--anchorer)',
          },
        )
      }
    } finally {
      await network.stop()
    }
  } finally {
    await libp2p.stop()
    chain.provider.destroy()
  }
}

/** The relays that answered a dial; a warning names those that did not. */
async function dialRelays(libp2p: Libp2p, relays: string[]): Promise<string[]> {
  const dialled = await Promise.allSettled(
    relays.map((address) => libp2p.dial(multiaddr(address), { signal: AbortSignal.timeout(CLI_NETWORK_TIMEOUT_MS) })),
  )
  const reached = relays.filter((_, i) => dialled[i]!.status === 'fulfilled')
  for (const address of relays.filter((a) => !reached.includes(a))) {
    process.stderr.write(`warning: relay ${address} is unreachable\n`)
  }
  return reached
}

/** Every relay's stored moderation records of the room, merged (the log deduplicates and judges them). */
async function fetchLog(libp2p: Libp2p, relays: string[], topic: string): Promise<unknown[]> {
  if (relays.length === 0) {
    throw new VerificationFailedError('no relay answered: the log could not be fetched', {
      hint: 'check --bootstrap, or verify an exported log with --file <log.json>',
    })
  }
  const events: unknown[] = []
  let answered = 0
  for (const relay of relays) {
    let count = 0
    try {
      for await (const page of queryHistoryPages(
        libp2p,
        multiaddr(relay),
        { topic, range: { by: 'time' }, types: ['moderation'] },
        { signal: AbortSignal.timeout(CLI_NETWORK_TIMEOUT_MS) },
      )) {
        for (const { record } of page.records) events.push(parseJson(new TextDecoder().decode(record.data)))
        count += page.records.length
      }
      answered += 1
      process.stderr.write(`relay ${relay}: ${count} moderation event(s)\n`)
    } catch (err) {
      process.stderr.write(
        `warning: relay ${relay} did not give its log: ${err instanceof Error ? err.message : String(err)}\n`,
      )
    }
  }
  if (answered === 0) {
    throw new VerificationFailedError('no relay gave the room’s moderation log', {
      hint: 'does the relay keep a store (--store)? or verify an exported log with --file <log.json>',
    })
  }
  return events
}

/** `--file`: a JSON array of events, `{ "events": [...] }`, or one JSON event per line. */
async function readLogFile(path: string): Promise<unknown[]> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (cause) {
    throw new ConfigError(`cannot read the moderation log ${path}`, { cause })
  }
  let whole: unknown
  try {
    whole = JSON.parse(text)
  } catch {
    // Not one JSON value: one event a line.
    return text
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map(parseJson)
  }
  if (Array.isArray(whole)) return whole
  const events = (whole as { events?: unknown } | null)?.events
  return Array.isArray(events) ? events : [whole]
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    // Judged as malformed by the log, with the others.
    return text
  }
}
