import { type ClientFilesInit, createClient, type SecureChatClient } from '@securechat/sdk/client'
import type { DirectMessagesInit } from '@securechat/sdk/dm'
import type { WalletSigner } from '@securechat/sdk/identity'
import type { LoggerFactory } from '@securechat/sdk/logger'
import type { Vault } from '@securechat/sdk/vault'
import { DEFAULT_CLI_DOMAIN, DEVNET_CHAIN_ID } from '../constants.ts'
import { ConfigError } from '../errors.ts'
import { createRpcProvider } from '../rpc.ts'

/** Options every command that starts a client shares. */
export interface NetworkFlags {
  bootstrap?: string[]
  keyFile?: string
  domain?: string
  chainId?: string
  rpc?: string
  /** Where this device (its keys, certificate, rooms, sender keys and DM sessions) persists, in an encrypted vault. */
  dataDir?: string
  /** `--no-receipts`, `--no-typing` (commander sets them false): neither sent nor shown. */
  receipts?: boolean
  typing?: boolean
}

/**
 * A command's client: the SIWE terms the sdk needs stated come from `--domain` and `--chain-id` (the CLI's own
 * defaults, {@link DEFAULT_CLI_DOMAIN} and {@link DEVNET_CHAIN_ID}); `--rpc` (or `SECURECHAT_RPC`) gives it a chain
 * for contract wallets and token gates, on `rpcChainId` when that differs (a gated room's rule names its chain).
 */
export function createCliClient(params: {
  flags: NetworkFlags
  signer: WalletSigner
  vault: Vault | undefined
  bootstrap: string[]
  logger: LoggerFactory
  rpcChainId?: number
  directMessages?: DirectMessagesInit
  /** Where files' blocks live (`send-file`, `get-file`). */
  files?: ClientFilesInit
}): SecureChatClient {
  const { flags, vault } = params
  const chainId = chainIdFromFlag(flags.chainId)
  const rpc = flags.rpc ?? (process.env.SECURECHAT_RPC || undefined)
  const provider =
    rpc === undefined ? undefined : createRpcProvider({ url: rpc, chainId: params.rpcChainId ?? chainId })
  return createClient({
    signer: params.signer,
    bootstrap: params.bootstrap,
    domain: flags.domain ?? DEFAULT_CLI_DOMAIN,
    chainId,
    logger: params.logger,
    ...(vault === undefined ? {} : { vault }),
    ...(provider === undefined ? {} : { provider }),
    ...(params.directMessages === undefined ? {} : { directMessages: params.directMessages }),
    ...(params.files === undefined ? {} : { files: params.files }),
    signals: { receipts: flags.receipts !== false, typing: flags.typing !== false },
  })
}

/** The relays a client command dials; at least one, or a ConfigError that says where to find one. */
export function requireBootstrap(bootstrap: readonly string[]): string[] {
  if (bootstrap.length === 0) {
    throw new ConfigError('no relay to connect to', {
      hint: 'pass --bootstrap <relay multiaddr> (printed by `securechat relay`)',
    })
  }
  return [...bootstrap]
}

/** `--chain-id`: the chain certificates are signed for, {@link DEVNET_CHAIN_ID} by default. */
export function chainIdFromFlag(value: string | undefined): number {
  const chainId = value === undefined ? DEVNET_CHAIN_ID : Number(value)
  if (!Number.isSafeInteger(chainId) || chainId <= 0) {
    throw new ConfigError(`--chain-id must be a positive integer, got ${value}`)
  }
  return chainId
}
