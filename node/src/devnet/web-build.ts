import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { DEFAULT_WEB_ROOT } from '../constants.ts'

/** The web app's package, next to this one in the repository. */
export const WEB_DIR = resolve(import.meta.dirname, '../../../web')

export type WebBuild =
  | { status: 'built'; webRoot: string; ms: number }
  /** No build was made; `webRoot` is served as it is (an earlier build, or nothing: pages answer 503). */
  | { status: 'skipped' | 'failed'; webRoot: string; reason: string }

/**
 * Builds the web app with Vite's JS API (its config: `web/vite.config.ts`), for `npm start`. Never
 * throws: without a config file, or when the build fails, the devnet runs on and says why.
 */
export async function buildWebApp(params: { skip?: boolean } = {}): Promise<WebBuild> {
  const configFile = resolve(WEB_DIR, 'vite.config.ts')
  if (params.skip === true) {
    return { status: 'skipped', webRoot: DEFAULT_WEB_ROOT, reason: 'SECURECHAT_WEB_BUILD=0' }
  }
  if (!existsSync(configFile)) {
    return { status: 'skipped', webRoot: DEFAULT_WEB_ROOT, reason: `${configFile} does not exist` }
  }
  const started = Date.now()
  let webRoot = DEFAULT_WEB_ROOT
  try {
    const { build } = await import('vite')
    await build({
      configFile,
      root: WEB_DIR,
      // Errors only: the devnet prints its own short summary.
      logLevel: 'error',
      plugins: [
        {
          name: 'securechat-devnet-out-dir',
          configResolved(config) {
            webRoot = resolve(config.root, config.build.outDir)
          },
        },
      ],
    })
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err)
    return { status: 'failed', webRoot, reason: `the build failed: ${message.split('\n', 1)[0]}` }
  }
  return { status: 'built', webRoot, ms: Date.now() - started }
}
