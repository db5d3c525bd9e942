import { DEVNET_CHAIN_ID } from '../constants.ts'
import { ConfigError } from '../errors.ts'

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
