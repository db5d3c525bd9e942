import {
  parseWebAppConfig,
  RelayApiError,
  relayApi,
  type WebAppConfig,
  webAppConfigSchema,
} from '@securechat/sdk/relay-api'
import { z } from 'zod'
import { loadLastConfig, saveLastConfig } from './state/device-store.ts'

/** What the app needs of the relay's `/config.json` (`webAppConfigSchema`) beyond its shape: a relay to dial, a chain. */
const appConfigSchema = webAppConfigSchema.extend({
  relays: webAppConfigSchema.shape.relays.min(1),
  chainId: z
    .number({ error: 'the relay names no chain: its operator starts it with --chain-id or --rpc' })
    .int()
    .positive(),
})

export type AppConfig = WebAppConfig & z.output<typeof appConfigSchema>

export class ConfigError extends Error {
  override name = 'ConfigError'
}

/**
 * Loads `/config.json` from the relay that served the page, and keeps a copy on this device: with
 * the relay down or no network, the app starts from the last copy (the vault opens, history
 * shows, and the client keeps trying those relays).
 */
export async function loadConfig(signal?: AbortSignal): Promise<AppConfig> {
  let failure: ConfigError
  try {
    const config = parseConfig(
      await relayApi({ baseUrl: location.origin }).config(signal === undefined ? {} : { signal }),
    )
    await saveLastConfig(config).catch(() => {})
    return config
  } catch (err) {
    signal?.throwIfAborted()
    failure =
      err instanceof ConfigError
        ? err
        : err instanceof RelayApiError && err.reason !== 'unreachable'
          ? new ConfigError(err.message)
          : new ConfigError(`cannot reach the relay that serves this app (${String(err)}); check your connection`)
  }
  const last = await loadLastConfig().catch(() => undefined)
  if (last === undefined) throw failure
  return parseConfig(parseWebAppConfig(last))
}

function parseConfig(config: WebAppConfig): AppConfig {
  const parsed = appConfigSchema.safeParse(config)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new ConfigError(`the relay's /config.json is not usable (${issue?.path.join('.')}): ${issue?.message}`)
  }
  return parsed.data
}
