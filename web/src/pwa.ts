/**
 * Trusted Types (CSP `require-trusted-types-for 'script'`): the one policy of our own, which
 * vouches only for the service worker's URL. lit renders through its own `lit-html` policy;
 * nothing else may reach a script sink.
 */
const SERVICE_WORKER_URL = '/sw.js'

interface TrustedTypePolicyFactoryLike {
  createPolicy(
    name: string,
    rules: { createScriptURL(input: string): string },
  ): { createScriptURL(input: string): unknown }
}

const policy = (globalThis as { trustedTypes?: TrustedTypePolicyFactoryLike }).trustedTypes?.createPolicy(
  'securechat',
  {
    createScriptURL(input: string): string {
      if (input !== SERVICE_WORKER_URL) throw new TypeError(`refusing script URL ${input}`)
      return input
    },
  },
)

/** Installs the service worker that keeps the app shell (and so the vault) available offline. */
export async function registerServiceWorker(): Promise<void> {
  if (!('serviceWorker' in navigator)) return
  const url = (policy?.createScriptURL(SERVICE_WORKER_URL) ?? SERVICE_WORKER_URL) as string
  try {
    await navigator.serviceWorker.register(url, { scope: '/' })
  } catch {
    // No offline mode (private window, or served over plain HTTP from a non-local host); the app works online.
  }
}
