import { z } from 'zod'
import { loadLastConfig, saveLastConfig } from './state/device-store.ts'

const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/)

/** What the relay that serves the app tells it (`/config.json`), checked before use. */
const configSchema = z.object({
  /** Relay multiaddrs to dial, each ending in `/p2p/<relay PeerId>`. */
  relays: z.array(z.string().startsWith('/')).min(1),
  chainId: z
    .number({ error: 'the relay names no chain: its operator starts it with --chain-id or --rpc' })
    .int()
    .positive(),
  /** JSON-RPC endpoint of `chainId`, for token gates and audit anchors. */
  rpcUrl: z.url().optional(),
  /** A mainnet endpoint, to show ENS names; none by default. */
  ensRpcUrl: z.url().optional(),
  contracts: z.object({ auditLog: address.optional() }).catchall(z.unknown()).default({}),
  /** Loopback and LAN devnets only: browsers refuse private addresses by default. */
  allowPrivateAddresses: z.boolean().default(false),
  /** ICE servers for WebRTC; absent means the browser's defaults. */
  iceServers: z.array(z.object({ urls: z.union([z.string(), z.array(z.string())]) }).passthrough()).optional(),
})

export type AppConfig = z.infer<typeof configSchema>

export class ConfigError extends Error {
  override name = 'ConfigError'
}

/**
 * Loads `/config.json` from the relay that served the page, and keeps a copy on this device: with
 * the relay down or no network, the app starts from the last copy (the vault opens, history
 * shows, and the client keeps trying those relays).
 */
export async function loadConfig(signal?: AbortSignal): Promise<AppConfig> {
  let body: unknown
  let failure: ConfigError
  try {
    const response = await fetch('/config.json', { cache: 'no-cache', ...(signal === undefined ? {} : { signal }) })
    if (!response.ok) throw new ConfigError(`the relay answered ${response.status}`)
    body = await response.json()
    const config = parseConfig(body)
    await saveLastConfig(body).catch(() => {})
    return config
  } catch (err) {
    failure =
      err instanceof ConfigError
        ? err
        : new ConfigError(`cannot reach the relay that serves this app (${String(err)}); check your connection`)
  }
  const last = await loadLastConfig().catch(() => undefined)
  if (last === undefined) throw failure
  return parseConfig(last)
}

function parseConfig(body: unknown): AppConfig {
  const parsed = configSchema.safeParse(body)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new ConfigError(`the relay's /config.json is not usable (${issue?.path.join('.')}): ${issue?.message}`)
  }
  return parsed.data
}
