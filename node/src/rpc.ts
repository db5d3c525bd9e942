/**
 * JSON-RPC providers for the CLI and the relay.
 *
 * Every provider here has a static network (the chain id is given, or probed once): an ethers
 * `JsonRpcProvider` without one detects the network on first use and, while the endpoint is
 * down, prints "failed to detect network" to stdout every second and holds every request. Gate
 * evaluators ask the endpoint's real chain id themselves, so a wrong static id is still caught.
 */
import { withTimeout } from '@securechat/sdk/async'
import type { AbortOptions } from '@securechat/sdk/types'
import { JsonRpcProvider } from 'ethers'
import { RPC_PROBE_TIMEOUT_MS } from './constants.ts'
import { ConfigError } from './errors.ts'

export interface RpcProviderParams {
  /** HTTP(S) JSON-RPC endpoint. */
  url: string
  /** The chain the endpoint serves. */
  chainId: number
}

export function createRpcProvider(params: RpcProviderParams): JsonRpcProvider {
  let url: URL
  try {
    url = new URL(params.url)
  } catch (cause) {
    throw new ConfigError(`--rpc must be a URL, got ${JSON.stringify(params.url)}`, { cause })
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`--rpc must be an http(s) URL, got ${params.url}`, {
      hint: 'for example http://127.0.0.1:8545',
    })
  }
  return new JsonRpcProvider(params.url, params.chainId, { staticNetwork: true })
}

/**
 * Asks `url` for `eth_chainId` once (the relay, its anchorer, the CLI and the devnet's start all ask this way).
 * Throws {@link ConfigError} when it does not answer within `timeoutMs`, or `signal` aborts first, with `hint` (what
 * the caller's command can do about it) or a plain one.
 */
export async function probeChainId(
  url: string,
  timeoutMs = RPC_PROBE_TIMEOUT_MS,
  options: AbortOptions & { hint?: string } = {},
): Promise<number> {
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      signal: withTimeout(options.signal, timeoutMs),
    })
    const body = (await response.json()) as { result?: unknown }
    if (typeof body.result !== 'string') throw new Error(`unexpected answer ${JSON.stringify(body).slice(0, 200)}`)
    return Number(BigInt(body.result))
  } catch (cause) {
    throw new ConfigError(`the JSON-RPC endpoint ${url} did not tell its chain id`, {
      cause,
      hint: options.hint ?? 'start the chain, or fix --rpc',
    })
  }
}
