/// <reference lib="webworker" />
/**
 * The service worker (built by vite-plugin-pwa's `injectManifest` into one self-contained `sw.js`: it runs under the
 * page's CSP, which refuses `importScripts`). Workbox keeps the app shell available offline, as its generated worker
 * did — precached, old caches cleaned, every navigation answered with `index.html` but the relay's own routes and
 * downloads — a click on a notification opens the app on its conversation (`notification-click.ts`), and a file is
 * saved as it streams in browsers without the File System Access API (`streamed-download-worker.ts`).
 */
import { clientsClaim } from 'workbox-core'
import { cleanupOutdatedCaches, createHandlerBoundToURL, precacheAndRoute } from 'workbox-precaching'
import { NavigationRoute, registerRoute } from 'workbox-routing'
import { openFromNotification } from './notification-click.ts'
import { STREAMED_DOWNLOAD_PATH } from './streamed-download-protocol.ts'
import { acceptStreamedDownload, respondToStreamedDownload } from './streamed-download-worker.ts'

declare const self: ServiceWorkerGlobalScope

// A new version takes over at once (`registerType: 'autoUpdate'`).
void self.skipWaiting()
clientsClaim()
precacheAndRoute(self.__WB_MANIFEST)
cleanupOutdatedCaches()
registerRoute(
  new NavigationRoute(createHandlerBoundToURL('/index.html'), {
    // The app keeps the relay's last /config.json itself (web/src/config.ts).
    denylist: [/^\/(healthz|metrics|config\.json|audit)/, new RegExp(`^${STREAMED_DOWNLOAD_PATH}`)],
  }),
)

self.addEventListener('message', (event) => {
  acceptStreamedDownload(event)
})

self.addEventListener('fetch', (event) => {
  respondToStreamedDownload(event, self.location.origin)
})

self.addEventListener('notificationclick', (event) => {
  event.notification.close()
  event.waitUntil(openFromNotification(event.notification.data, self.clients))
})
