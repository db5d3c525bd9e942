import { SERVICE_WORKER_URL, trustedScriptUrl } from './trusted-types.ts'

/** Installs the service worker that keeps the app shell (and so the vault) available offline. */
export async function registerServiceWorker(): Promise<void> {
  if (!('serviceWorker' in navigator)) return
  try {
    await navigator.serviceWorker.register(trustedScriptUrl(SERVICE_WORKER_URL), { scope: '/' })
  } catch {
    // No offline mode (private window, or served over plain HTTP from a non-local host); the app works online.
  }
}
