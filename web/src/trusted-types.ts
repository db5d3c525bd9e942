/**
 * Trusted Types (CSP `require-trusted-types-for 'script'`): the one policy of our own, `securechat`, which vouches for
 * exactly two script URLs of the app's own origin — the service worker (`/sw.js`) and the call's frame-encryption
 * worker (`calls/call-worker.ts`, built by Vite into one file whose URL this module imports). lit renders through its
 * own `lit-html` policy; nothing else may reach a script sink.
 */
import callWorkerUrl from './calls/call-worker.ts?worker&url'

export const SERVICE_WORKER_URL = '/sw.js'
export const CALL_WORKER_URL: string = callWorkerUrl

interface TrustedTypePolicyFactoryLike {
  createPolicy(
    name: string,
    rules: { createScriptURL(input: string): string },
  ): { createScriptURL(input: string): unknown }
}

const ALLOWED = new Set([SERVICE_WORKER_URL, CALL_WORKER_URL])

const policy = (globalThis as { trustedTypes?: TrustedTypePolicyFactoryLike }).trustedTypes?.createPolicy(
  'securechat',
  {
    createScriptURL(input: string): string {
      if (!ALLOWED.has(input)) throw new TypeError(`refusing script URL ${input}`)
      return input
    },
  },
)

/** `url` (one of the two above) as a script sink takes it: a TrustedScriptURL where the browser has Trusted Types. */
export function trustedScriptUrl(url: string): string {
  return (policy?.createScriptURL(url) ?? url) as string
}
