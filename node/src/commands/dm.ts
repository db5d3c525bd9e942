import { sleep } from '@securechat/sdk/async'
import type { SecureChatClient } from '@securechat/sdk/client'
import type { Conversation, DirectMessagesInit } from '@securechat/sdk/dm'
import { UnreachableError } from '@securechat/sdk/errors'
import { walletSigner } from '@securechat/sdk/identity'
import type { LoggerFactory } from '@securechat/sdk/logger'
import type {
  AbortOptions,
  DirectMessage,
  DmDelivered,
  DmDeviceStatus,
  DmSendResult,
  UndecryptableDirectMessage,
} from '@securechat/sdk/types'
import type { Vault } from '@securechat/sdk/vault'
import { CLI_NETWORK_TIMEOUT_MS, DM_ANSWER_WAIT_MS, SEND_FLUSH_MS } from '../constants.ts'
import { createNodeLogger } from '../log.ts'
import { openDataDirVault } from '../vault.ts'
import { loadWallet } from '../wallet.ts'
import { clockTime, isoTime, mentionNote, mentionsToJson, printable, shortAddress } from './cli-format.ts'
import { printTimerEvents } from './disappear.ts'
import { formatRefused, formatUpdate } from './message-updates.ts'
import { createCliClient, type NetworkFlags, requireBootstrap } from './network-flags.ts'
import { untilSignal } from './room-client.ts'
import { printSignals } from './signal-lines.ts'

/** Options of `securechat dm` and `securechat listen --dm`. */
export interface DmFlags extends NetworkFlags {
  json?: boolean
}

/** `securechat dm <address> <text>`: sends one direct message to every device of `address`. */
export function dmSend(address: string, text: string, flags: DmFlags): Promise<void> {
  return dmWrite(flags, address, (conversation, options) => conversation.send(text, options))
}

/**
 * Runs `write` (a send, reply, reaction, edit or delete) in the conversation with `address`, then prints per device
 * what happened; fails when no device of `address` could be reached.
 */
export async function dmWrite(
  flags: DmFlags,
  address: string,
  write: (conversation: Conversation, options: AbortOptions) => Promise<DmSendResult>,
): Promise<void> {
  const { factory } = createNodeLogger({ json: false, level: 'warn' })
  // It only sends: a backlog it fetched would be printed nowhere (`listen --dm` reads it).
  const { client, close } = await startDmClient(flags, factory, { catchUp: false })
  try {
    const conversation = client.dm(address)
    const result = await write(conversation, { signal: AbortSignal.timeout(CLI_NETWORK_TIMEOUT_MS) })
    // Give the records a moment to leave, and the devices' receipts (and a new session's answer) a moment to arrive.
    await sleep(SEND_FLUSH_MS)
    await untilAnswered(client, result)
    const json = sendResultToJson(result, client.dms.status(result.id))
    process.stdout.write(`${JSON.stringify(json)}\n`)
    const taken = result.delivery.some(
      (d) => d.address === conversation.peer && d.status === 'sent' && d.recipients > 0,
    )
    if (!taken) {
      throw new UnreachableError(`no device of ${conversation.peer} could be reached`, {
        details: { devices: json.devices },
        hint: 'the recipient must have been online once (`securechat listen --dm`) through a relay you both reach (--bootstrap); while it is away, that relay keeps what you send',
      })
    }
  } finally {
    await close()
  }
}

/** `securechat listen --dm`: prints direct messages to this wallet as they arrive. */
export async function listenDm(flags: DmFlags): Promise<void> {
  const { factory } = createNodeLogger({ json: false, level: 'warn' })
  const { client, close } = await startDmClient(flags, factory)
  try {
    process.stderr.write(
      `listening for direct messages to ${client.address} (peer ${client.peerId.toString()})${flags.dataDir === undefined ? '' : ` in ${flags.dataDir}`}\n`,
    )
    const stop = new AbortController()
    void untilSignal().then(() => stop.abort())
    // What this device cannot read is shown, with why, never dropped silently.
    client.dms.addEventListener('message:undecryptable', ({ detail }) => {
      process.stdout.write(
        `${flags.json === true ? JSON.stringify(undecryptableToJson(detail)) : formatUndecryptable(detail)}\n`,
      )
    })
    client.dms.addEventListener('message:delivered', ({ detail }) => {
      process.stdout.write(
        `${flags.json === true ? JSON.stringify(deliveredToJson(detail)) : formatDelivered(detail)}\n`,
      )
    })
    printSignals(client.dms, flags.json === true, (line) => process.stdout.write(`${line}\n`))
    client.dms.addEventListener('history:progress', ({ detail }) => {
      if (detail.relays === 0 || detail.fetched === 0) return
      process.stderr.write(
        `catching up direct messages: ${detail.delivered} of ${detail.fetched} read${detail.undecryptable > 0 ? `, ${detail.undecryptable} unreadable` : ''}${detail.rejected > 0 ? `, ${detail.rejected} rejected` : ''} from ${detail.relays} relay(s)${detail.done ? ' — done' : ''}\n`,
      )
    })
    client.dms.addEventListener('message:updated', ({ detail }) => {
      process.stdout.write(`${formatUpdate(detail, flags.json === true, client.address)}\n`)
    })
    client.dms.addEventListener('change:refused', ({ detail }) => {
      process.stdout.write(`${formatRefused(detail, flags.json === true)}\n`)
    })
    printTimerEvents(client.dms, flags.json === true, (line) => process.stdout.write(`${line}\n`))
    for await (const message of client.dms.messages({ signal: stop.signal })) {
      process.stdout.write(
        `${flags.json === true ? JSON.stringify(dmToJson(message, client.address)) : formatDm(message, client.address)}\n`,
      )
    }
  } finally {
    await close()
  }
}

/**
 * Opens the vault of `--data-dir` (passphrase from `SECURECHAT_VAULT_PASSPHRASE`, else derived
 * from the wallet's signature), starts a client on it and its direct messages.
 */
async function startDmClient(
  flags: DmFlags,
  logger: LoggerFactory,
  directMessages?: DirectMessagesInit,
): Promise<{ client: SecureChatClient; close: () => Promise<void> }> {
  const wallet = await loadWallet({ keyFile: flags.keyFile, env: process.env })
  const bootstrap = requireBootstrap(flags.bootstrap ?? [])
  const signer = walletSigner({ type: 'eoa', signer: wallet })
  let vault: Vault | undefined
  if (flags.dataDir === undefined) {
    process.stderr.write('note: without --data-dir this device and its sessions end with this command\n')
  } else {
    vault = await openDataDirVault({ dataDir: flags.dataDir, signer, env: process.env })
  }
  const client = createCliClient({
    flags,
    signer,
    vault,
    bootstrap,
    logger,
    ...(directMessages === undefined ? {} : { directMessages }),
  })
  const close = async (): Promise<void> => {
    await client.stop()
    await vault?.close()
  }
  try {
    await client.start({ signal: AbortSignal.timeout(CLI_NETWORK_TIMEOUT_MS) })
    await client.dms.ready()
    return { client, close }
  } catch (err) {
    await close()
    throw err
  }
}

/**
 * Until every device the message went to sent its receipt (and so answered a new session), at most
 * {@link DM_ANSWER_WAIT_MS}: a device that is offline stays `sent` — a relay keeps the message for it.
 */
function untilAnswered(client: SecureChatClient, result: DmSendResult): Promise<void> {
  const answered = (): boolean => !(client.dms.status(result.id) ?? []).some((d) => d.status === 'sent')
  return new Promise<void>((resolve) => {
    const check = (): void => {
      if (answered()) done()
    }
    const timer = setTimeout(done, DM_ANSWER_WAIT_MS)
    function done(): void {
      clearTimeout(timer)
      client.dms.removeEventListener('message:delivered', check)
      resolve()
    }
    client.dms.addEventListener('message:delivered', check)
    check()
  })
}

/** The send result as `securechat dm` prints it: per device, what happened (not the record bytes). */
function sendResultToJson(
  result: DmSendResult,
  status: DmDeviceStatus[] | undefined,
): { id: string; devices: Array<Record<string, unknown>> } {
  const now = new Map(status?.map((d) => [d.peerId, d.status]))
  return {
    id: result.id,
    devices: result.delivery.map((d) => ({
      address: d.address,
      peerId: d.peerId,
      status: now.get(d.peerId) ?? d.status,
      handshake: d.handshake,
      recipients: d.recipients,
      ...(d.status === 'failed' ? { error: d.error } : {}),
    })),
  }
}

/** One JSON object per direct message, as `listen --dm --json` prints it. */
export function dmToJson(message: DirectMessage, self: string): Record<string, unknown> {
  return {
    type: 'dm',
    id: message.id,
    conversation: message.conversation,
    direction: message.direction,
    sender: message.sender,
    senderPeerId: message.senderPeerId,
    text: message.text,
    ...(message.parentId === undefined ? {} : { parentId: message.parentId }),
    ...mentionsToJson(message.mentions, self),
    ...(message.before === undefined ? {} : { before: message.before }),
    sentAt: isoTime(message.sentAtMs),
    receivedAt: isoTime(message.receivedAtMs),
    handshake: message.handshake,
  }
}

export function undecryptableToJson(detail: UndecryptableDirectMessage): Record<string, unknown> {
  return {
    type: 'undecryptable',
    dm: true,
    id: detail.recordId,
    sender: detail.sender,
    senderPeerId: detail.senderPeerId,
    error: detail.error,
    reason: detail.reason,
  }
}

/** A device's receipt, as `listen --dm --json` prints it. */
export function deliveredToJson(detail: DmDelivered): Record<string, unknown> {
  return {
    type: 'delivered',
    dm: true,
    id: detail.id,
    conversation: detail.conversation,
    address: detail.address,
    peerId: detail.peerId,
  }
}

function formatDelivered(detail: DmDelivered): string {
  return `✓ delivered to ${shortAddress(detail.address)} (device ${detail.peerId.slice(-6)}): ${detail.id}`
}

function formatDm(message: DirectMessage, self: string): string {
  const time = clockTime(message.sentAtMs)
  const note = mentionNote(message.mentions, self)
  return message.direction === 'in'
    ? `[${time}] ${shortAddress(message.sender)} → you: ${printable(message.text)}${note}`
    : `[${time}] you (another device) → ${shortAddress(message.conversation)}: ${printable(message.text)}${note}`
}

function formatUndecryptable(detail: UndecryptableDirectMessage): string {
  return `! a direct message from ${detail.sender} could not be decrypted (${detail.error}): ${detail.reason}`
}
