import { fileURLToPath } from 'node:url'
import { defineConfig, type Plugin } from 'vite'
import { VitePWA } from 'vite-plugin-pwa'

/**
 * The web app, built into `web/dist` and served by `securechat relay --http`. The relay adds
 * the CSP nonce to every script tag and module preload link, so the build must emit no inline
 * script: Vite's module preload polyfill is off (`modulePreload: false`; the one preload link
 * is `preloadSignedIn`'s), and the service worker is registered by our own code through the
 * Trusted Types policy (`injectRegister: false`).
 */
/**
 * Fetches the signed-in part (`signed-in.ts`, imported dynamically by the shell) with the page,
 * rather than once the shell has run: a `<link rel="modulepreload">` in index.html, which the
 * relay gives the page's CSP nonce like every script tag.
 */
function preloadSignedIn(): Plugin {
  return {
    name: 'securechat-preload-signed-in',
    apply: 'build',
    transformIndexHtml: {
      order: 'post',
      handler(_html, context) {
        const chunk = Object.values(context.bundle ?? {}).find((c) => c.type === 'chunk' && c.name === 'signed-in')
        if (chunk === undefined) throw new Error('no signed-in chunk to preload: was web/src/signed-in.ts renamed?')
        return [
          {
            tag: 'link',
            attrs: { rel: 'modulepreload', crossorigin: true, href: `/${chunk.fileName}` },
            injectTo: 'head',
          },
        ]
      },
    },
  }
}

export default defineConfig({
  root: import.meta.dirname,
  resolve: {
    // siwe `require`s ethers, which would otherwise bring ethers' CommonJS build in beside the
    // ES build the sdk imports: one copy, half a megabyte less to parse on every cold load.
    alias: [{ find: /^ethers$/, replacement: fileURLToPath(import.meta.resolve('ethers')) }],
  },
  build: {
    target: 'es2024',
    outDir: 'dist',
    emptyOutDir: true,
    modulePreload: false,
    chunkSizeWarningLimit: 4_096,
  },
  // `npx vite web` during development: the relay of `npm start` tells the app where to connect.
  server: { proxy: { '/config.json': process.env.SECURECHAT_RELAY_HTTP ?? 'http://127.0.0.1:8080' } },
  plugins: [
    preloadSignedIn(),
    VitePWA({
      injectRegister: false,
      registerType: 'autoUpdate',
      manifest: {
        name: 'SecureChat',
        short_name: 'SecureChat',
        description: 'End-to-end encrypted chat for Ethereum wallets, peer to peer.',
        start_url: '/',
        scope: '/',
        display: 'standalone',
        background_color: '#ffffff',
        theme_color: '#1d4ed8',
        icons: [
          { src: '/icons/icon-192.png', sizes: '192x192', type: 'image/png' },
          { src: '/icons/icon-512.png', sizes: '512x512', type: 'image/png' },
          { src: '/icons/icon-maskable-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
          { src: '/icons/icon.svg', sizes: 'any', type: 'image/svg+xml' },
        ],
      },
      // Our own worker (web/src/sw.ts: Workbox's precaching, and what a notification's click does), built into
      // one self-contained sw.js: it runs under the page's CSP (nonces, Trusted Types), which would refuse
      // `importScripts` of a separate file.
      strategies: 'injectManifest',
      srcDir: 'src',
      filename: 'sw.ts',
      injectManifest: {
        globPatterns: ['**/*.{js,css,html,svg,png,webmanifest}'],
        maximumFileSizeToCacheInBytes: 8 * 1024 * 1024,
        rollupFormat: 'iife',
      },
    }),
  ],
})
