import { readFile } from 'node:fs/promises'
import { sleep } from '@securechat/sdk/async'
import type { ClientFilesInit, SecureChatClient } from '@securechat/sdk/client'
import { conditionsOf } from '@securechat/sdk/gates'
import { type WalletSigner, walletSigner } from '@securechat/sdk/identity'
import type { LoggerFactory } from '@securechat/sdk/logger'
import { decodeInvite, INVITE_PREFIX, type Invite, loadSavedRooms, type Room } from '@securechat/sdk/rooms'
import type {
  FileManifest,
  HistoryGap,
  HistoryProgress,
  RoomMessage,
  RoomSendResult,
  UndecryptableMessage,
} from '@securechat/sdk/types'
import type { Vault } from '@securechat/sdk/vault'
import { CLI_NETWORK_TIMEOUT_MS, SEND_FLUSH_MS } from '../constants.ts'
import { ConfigError } from '../errors.ts'
import { createNodeLogger } from '../log.ts'
import { openDataDirVault } from '../vault.ts'
import { loadWallet } from '../wallet.ts'
import { clockTime, formatBytes, isoTime, mentionNote, mentionsToJson, printable, shortAddress } from './cli-format.ts'
import { createCliClient, type NetworkFlags, requireBootstrap } from './network-flags.ts'

/** Options every command in a room shares. */
export interface ClientFlags extends NetworkFlags {
  room: string
}

/** A joined room; `close` stops the client, then closes the vault (every key state saved). */
export interface JoinedRoom {
  client: SecureChatClient
  room: Room
  /** The command's wallet: what signs a moderation event. */
  signer: WalletSigner
  close: () => Promise<void>
}

/** Starts a client with the command's wallet (and `--data-dir`), dials the relays and joins the room. */
export async function joinFromFlags(
  flags: ClientFlags,
  logger: LoggerFactory,
  options: { catchUp?: 'later' | 'no'; files?: ClientFilesInit } = {},
): Promise<JoinedRoom> {
  const wallet = await loadWallet({ keyFile: flags.keyFile, env: process.env })
  const signer = walletSigner({ type: 'eoa', signer: wallet })
  const vault =
    flags.dataDir === undefined
      ? undefined
      : await openDataDirVault({ dataDir: flags.dataDir, signer, env: process.env })
  let client: SecureChatClient | undefined
  const close = async (): Promise<void> => {
    await client?.stop()
    await vault?.close()
  }
  try {
    const invite = await resolveRoom(flags, vault)
    // `--bootstrap` and the invite's relays alike: every relay that carries the room is one to fail over to.
    const bootstrap = requireBootstrap([...new Set([...(flags.bootstrap ?? []), ...(invite.relays ?? [])])])
    // A gated room reads its rule's chain; otherwise the endpoint checks contract wallets on ours.
    const { access } = invite.manifest.manifest
    const rpcChainId = access.type === 'gated' ? conditionsOf(access.rule)[0]!.chainId : undefined
    client = createCliClient({
      flags,
      signer,
      vault,
      bootstrap,
      logger,
      ...(rpcChainId === undefined ? {} : { rpcChainId }),
      ...(options.files === undefined ? {} : { files: options.files }),
    })
    await client.start({ signal: AbortSignal.timeout(CLI_NETWORK_TIMEOUT_MS) })
    // `later`: catch-up waits for the command's listeners (`catchUpFromFlags`), live messages for it.
    const room = await client.joinRoom(invite.manifest, { catchUp: options.catchUp ?? 'no' })
    await room.waitForPeers({ signal: AbortSignal.timeout(CLI_NETWORK_TIMEOUT_MS) })
    return { client, room, signer, close }
  } catch (err) {
    await close()
    throw err
  }
}

/**
 * Joins the room of `flags`, runs `write` (a send, reply, reaction, edit or delete) and prints its id and how many
 * members this device knows of: what a person means by "who got it" (gossip's recipients are the neighbours the
 * record left through, usually the relay).
 */
export async function roomWrite(flags: ClientFlags, write: (room: Room) => Promise<RoomSendResult>): Promise<void> {
  const { factory } = createNodeLogger({ json: false, level: 'warn' })
  const { client, room, close } = await joinFromFlags(flags, factory)
  try {
    const result = await write(room)
    // Give the record a moment to leave the socket before the process exits.
    await sleep(SEND_FLUSH_MS)
    const self = client.peerId.toString()
    const members = room.members().filter((member) => member.peerId !== self).length
    process.stdout.write(`${JSON.stringify({ id: result.id, members })}\n`)
  } finally {
    await close()
  }
}

/**
 * `--room`: an invite, a file that holds one, or — with `--data-dir` — the id or name of a room
 * this device joined before (`securechat room list`).
 */
export async function resolveRoom(
  flags: { room: string; dataDir?: string | undefined },
  vault: Vault | undefined,
): Promise<Invite> {
  const text = await readInvite(flags.room)
  if (vault === undefined || text.trim().startsWith(INVITE_PREFIX)) return decodeInvite(text)
  const matches = (await loadSavedRooms(vault)).filter((r) => r.roomId === flags.room || r.name === flags.room)
  if (matches.length === 1) return { manifest: matches[0]!.manifest, relays: matches[0]!.relays }
  throw new ConfigError(
    matches.length === 0
      ? `--room ${flags.room} is not an invite, a file holding one, or a room saved in ${flags.dataDir}`
      : `more than one room saved in ${flags.dataDir} is named ${flags.room}`,
    { hint: '`securechat room list --data-dir <dir>` lists the saved rooms with their ids' },
  )
}

/**
 * Fetches what the room missed from the relays' stores, delivered as `message:received` in
 * order; progress on stderr. Call once the command listens for messages.
 */
export async function catchUpFromFlags(joined: JoinedRoom): Promise<HistoryProgress> {
  const { client, room } = joined
  const report = ({ detail }: CustomEvent<HistoryProgress>): void => {
    if (detail.relays === 0 && detail.done) return
    process.stderr.write(
      `catching up: ${detail.delivered} of ${detail.fetched} delivered${detail.undecryptable > 0 ? `, ${detail.undecryptable} unreadable` : ''}${detail.rejected > 0 ? `, ${detail.rejected} rejected` : ''} from ${detail.relays} relay(s)${detail.done ? ' — done' : ''}\n`,
    )
  }
  room.addEventListener('history:progress', report)
  try {
    return await client.catchUp(room)
  } finally {
    room.removeEventListener('history:progress', report)
  }
}

/** One JSON object per room message (`listen --json`, `history --json`); `self`: this wallet, for `mentionsMe`. */
export function messageToJson(message: RoomMessage, self: string): Record<string, unknown> {
  return {
    type: 'message',
    roomId: message.roomId,
    id: message.id,
    sender: message.sender,
    senderPeerId: message.senderPeerId,
    text: message.text,
    // What a file is, never its key: `get-file` reads the key from the message in this device's own vault.
    ...(message.file === undefined ? {} : { file: fileToJson(message.file) }),
    ...(message.parentId === undefined ? {} : { parentId: message.parentId }),
    ...mentionsToJson(message.mentions, self),
    ...(message.before === undefined ? {} : { before: message.before }),
    sentAt: isoTime(message.sentAtMs),
    lamport: message.lamport,
    receivedAt: isoTime(message.receivedAtMs),
  }
}

export function formatMessage(message: RoomMessage, self: string): string {
  const file =
    message.file === undefined
      ? ''
      : ` [file: ${printable(message.file.name)}, ${formatBytes(message.file.size)} — securechat get-file --room <room> ${message.id}]`
  return `[${clockTime(message.sentAtMs)}] ${shortAddress(message.sender)}: ${printable(message.text)}${file}${mentionNote(message.mentions, self)}`
}

/**
 * A shared file as the CLI prints it: everything but its key, and of its thumbnail only what it is (the picture is
 * up to 16 KiB of base64url, which would swamp a terminal and a log line, and says nothing a script needs).
 */
export function fileToJson(file: FileManifest): Record<string, unknown> {
  const { thumbnail } = file
  return {
    name: file.name,
    size: file.size,
    type: file.type,
    cid: file.cid,
    sha256: file.sha256,
    // What opens the record's file commitment: a member shows it with the file to prove the share (docs/audit.md).
    ...(file.salt === undefined ? {} : { salt: file.salt }),
    ...(thumbnail === undefined
      ? {}
      : { thumbnail: { type: thumbnail.type, width: thumbnail.width, height: thumbnail.height } }),
  }
}

/** What this device cannot read is shown, with why, never dropped silently. */
export function formatUndecryptable(detail: UndecryptableMessage, json: boolean): string {
  return json
    ? JSON.stringify({
        type: 'undecryptable',
        roomId: detail.roomId,
        id: detail.id,
        sender: detail.sender,
        senderPeerId: detail.senderPeerId,
        sentAt: isoTime(detail.sentAtMs),
        reason: detail.reason,
      })
    : `! a message from ${detail.sender} could not be decrypted: ${detail.reason}`
}

/**
 * A message later ones named that this device lacked (`history:gap`), as `listen`, `chat` and `history` print
 * it: said when it was recovered or given up on. While it is being fetched, nothing (undefined): most gaps fill
 * within a second or two.
 */
export function formatGap(gap: HistoryGap, json: boolean): string | undefined {
  if (gap.state === 'missing') return undefined
  const short = `${gap.id.slice(0, 12)}…`
  return json
    ? JSON.stringify({ type: 'gap', roomId: gap.roomId, id: gap.id, state: gap.state, before: gap.before })
    : gap.state === 'filled'
      ? `* recovered a message this device had missed (${short}), from a relay's store or another member`
      : `! a message this device missed could not be recovered (${short}): no relay or member still holds it`
}

/** Resolves on the first SIGINT/SIGTERM. */
export function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve())
    process.once('SIGTERM', () => resolve())
  })
}

/** `--room` takes an invite, or the path of a file that holds one (`npm start` writes one). */
export async function readInvite(value: string): Promise<string> {
  if (value.trim().startsWith(INVITE_PREFIX)) return value
  try {
    return (await readFile(value, 'utf8')).trim()
  } catch {
    return value
  }
}
