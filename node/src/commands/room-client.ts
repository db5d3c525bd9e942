import { readFile } from 'node:fs/promises'
import { createClient, type SecureChatClient } from '@securechat/sdk/client'
import { DEFAULT_CLI_DOMAIN, DEVNET_CHAIN_ID } from '@securechat/sdk/constants'
import { conditionsOf } from '@securechat/sdk/gates'
import { walletSigner } from '@securechat/sdk/identity'
import type { LoggerFactory } from '@securechat/sdk/logger'
import { decodeInvite, INVITE_PREFIX, type Room } from '@securechat/sdk/rooms'
import type { RoomMessage } from '@securechat/sdk/types'
import { CLI_NETWORK_TIMEOUT_MS } from '../constants.ts'
import { ConfigError } from '../errors.ts'
import { createRpcProvider } from '../rpc.ts'
import { loadWallet } from '../wallet.ts'

/** Options every networked client command shares. */
export interface ClientFlags {
  room: string
  bootstrap?: string[]
  keyFile?: string
  domain?: string
  chainId?: string
  rpc?: string
}

/** Starts a client with the command's wallet, dials the relays and joins the invite's room. */
export async function joinFromFlags(
  flags: ClientFlags,
  logger: LoggerFactory,
): Promise<{ client: SecureChatClient; room: Room }> {
  const wallet = await loadWallet({ keyFile: flags.keyFile, env: process.env })
  const invite = decodeInvite(await readInvite(flags.room))
  const bootstrap = flags.bootstrap ?? invite.relays ?? []
  if (bootstrap.length === 0) {
    throw new ConfigError('no relay to connect to', {
      hint: 'pass --bootstrap <relay multiaddr> (printed by `securechat relay`)',
    })
  }
  const chainId = flags.chainId === undefined ? DEVNET_CHAIN_ID : Number(flags.chainId)
  if (!Number.isSafeInteger(chainId) || chainId <= 0) {
    throw new ConfigError(`--chain-id must be a positive integer, got ${flags.chainId}`)
  }
  // A gated room reads its rule's chain; otherwise the endpoint checks contract wallets on ours.
  const { access } = invite.manifest.manifest
  const rpc = flags.rpc ?? (process.env.SECURECHAT_RPC || undefined)
  const rpcChainId = access.type === 'gated' ? conditionsOf(access.rule)[0]!.chainId : chainId
  const client = createClient({
    signer: walletSigner({ type: 'eoa', signer: wallet }),
    bootstrap,
    domain: flags.domain ?? DEFAULT_CLI_DOMAIN,
    chainId,
    logger,
    ...(rpc === undefined ? {} : { provider: createRpcProvider({ url: rpc, chainId: rpcChainId }) }),
  })
  try {
    await client.start({ signal: AbortSignal.timeout(CLI_NETWORK_TIMEOUT_MS) })
    const room = await client.joinRoom(invite.manifest)
    await room.waitForPeers({ signal: AbortSignal.timeout(CLI_NETWORK_TIMEOUT_MS) })
    return { client, room }
  } catch (err) {
    await client.stop()
    throw err
  }
}

/** One JSON object per message, as `listen --json` prints it. */
export function messageToJson(message: RoomMessage): Record<string, unknown> {
  return {
    type: 'message',
    roomId: message.roomId,
    id: message.id,
    sender: message.sender,
    senderPeerId: message.senderPeerId,
    text: message.text,
    ...(message.parentId === undefined ? {} : { parentId: message.parentId }),
    sentAt: new Date(message.sentAtMs).toISOString(),
    lamport: message.lamport,
    receivedAt: new Date(message.receivedAtMs).toISOString(),
  }
}

export function formatMessage(message: RoomMessage): string {
  const time = new Date(message.sentAtMs).toISOString().slice(11, 19)
  return `[${time}] ${message.sender.slice(0, 6)}…${message.sender.slice(-4)}: ${message.text}`
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
