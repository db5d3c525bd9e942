/**
 * The built web app under the web root: files as they are (hashed assets cached for good), HTML pages with a
 * fresh nonce on their scripts and in their CSP, and the app's page for any path without an extension (its
 * routes). Nothing outside the web root is ever served (`..`, encoded separators, symlinks).
 */
import { createReadStream, type Stats } from 'node:fs'
import { readFile, realpath, stat } from 'node:fs/promises'
import { extname, join, sep } from 'node:path'
import { pipeline } from 'node:stream/promises'
import type { Logger } from '@securechat/sdk/logger'
import { type NonceTemplate, parseNonceTemplate, renderWithNonce } from '../html-nonce.ts'
import type { Exchange, Replies } from './reply.ts'
import { newNonce } from './security.ts'

export const WEB_APP_NOT_BUILT = 'the web app is not built: run `npm run build -w @securechat/web`'

/** Hashed by Vite, so a given URL never changes. */
const IMMUTABLE = 'public, max-age=31536000, immutable'

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.txt': 'text/plain; charset=utf-8',
}

export class WebAppFiles {
  /** The web root, resolved. */
  readonly root: string
  readonly #reply: Replies
  readonly #log: Logger
  /** Parsed HTML pages by path, re-read when the file changes (a rebuild while the relay runs). */
  readonly #templates = new Map<string, { mtimeMs: number; size: number; template: NonceTemplate }>()
  #realRoot: string | undefined

  constructor(init: { root: string; reply: Replies; log: Logger }) {
    this.root = init.root
    this.#reply = init.reply
    this.#log = init.log
  }

  /** Whether the web root has the built app (an `index.html`); without it, pages answer 503. */
  async hasWebApp(): Promise<boolean> {
    return (await this.#resolveFile(['index.html'])) !== undefined
  }

  /** Any path no other route took. */
  readonly route = async (exchange: Exchange): Promise<void> => {
    const pathname = exchange.raw.split(/[?#]/, 1)[0]!
    const segments = decodeSegments(pathname)
    if (segments === undefined) return this.#reply.text(exchange, 400, 'bad request\n')
    if (segments.some((segment) => segment.startsWith('.'))) return this.#reply.text(exchange, 404, 'not found\n')
    const file = await this.#resolveFile(segments)
    if (file !== undefined) return this.#serveFile(exchange, file.path, file.stats, pathname)
    const last = segments.at(-1) ?? ''
    // A path without an extension is a route of the app (SPA): its page handles it.
    if (extname(last) === '') return this.#serveIndex(exchange)
    return this.#reply.text(exchange, 404, 'not found\n')
  }

  /** The regular file `segments` name under the web root, never one outside it (`..`, symlinks). */
  async #resolveFile(segments: string[]): Promise<{ path: string; stats: Stats } | undefined> {
    const path = join(this.root, ...segments)
    if (path !== this.root && !path.startsWith(this.root + sep)) return undefined
    try {
      this.#realRoot ??= await realpath(this.root)
      const real = await realpath(path)
      if (!real.startsWith(this.#realRoot + sep)) return undefined
      const stats = await stat(real)
      return stats.isFile() ? { path: real, stats } : undefined
    } catch {
      return undefined
    }
  }

  async #serveFile(exchange: Exchange, path: string, stats: Stats, pathname: string): Promise<void> {
    const { req, res } = exchange
    const extension = extname(path).toLowerCase()
    if (extension === '.html') return this.#serveHtml(exchange, path)
    const etag = `W/"${stats.size.toString(16)}-${Math.floor(stats.mtimeMs).toString(16)}"`
    const headers = {
      'Content-Type': CONTENT_TYPES[extension] ?? 'application/octet-stream',
      'Cache-Control': pathname.startsWith('/assets/') ? IMMUTABLE : 'no-cache',
      ETag: etag,
    }
    const ifNoneMatch = req.headers['if-none-match']
    if (ifNoneMatch?.split(',').some((tag) => [etag, '*'].includes(tag.trim()))) {
      return this.#reply.send(exchange, 304, headers)
    }
    this.#reply.count(200)
    this.#reply.securityHeaders(res)
    res.writeHead(200, { ...headers, 'Content-Length': stats.size })
    if (req.method === 'HEAD') {
      res.end()
      return
    }
    await pipeline(createReadStream(path), res).catch((err: unknown) => {
      // Headers are gone: all that is left is to cut the response (the client went away, or the file did).
      this.#log.debug('HTTP response cut short', { path: pathname, error: String(err) })
      res.destroy()
    })
  }

  async #serveIndex(exchange: Exchange): Promise<void> {
    const index = await this.#resolveFile(['index.html'])
    if (index === undefined) {
      const accept = exchange.req.headers.accept ?? ''
      if (accept.includes('text/html')) {
        return this.#reply.send(
          exchange,
          503,
          { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' },
          `<!doctype html>\n<html lang="en"><meta charset="utf-8"><title>SecureChat: web app not built</title>\n<h1>The web app is not built</h1>\n<p>On the relay's machine, run <code>npm run build -w @securechat/web</code>, then reload this page.</p>\n`,
        )
      }
      return this.#reply.json(exchange, 503, { error: WEB_APP_NOT_BUILT })
    }
    return this.#serveHtml(exchange, index.path)
  }

  /** An HTML page, with a fresh nonce on its scripts and in its CSP. Never cached: every response has its own nonce. */
  async #serveHtml(exchange: Exchange, path: string): Promise<void> {
    const stats = await stat(path)
    let cached = this.#templates.get(path)
    if (cached === undefined || cached.mtimeMs !== stats.mtimeMs || cached.size !== stats.size) {
      cached = { mtimeMs: stats.mtimeMs, size: stats.size, template: parseNonceTemplate(await readFile(path, 'utf8')) }
      this.#templates.set(path, cached)
    }
    const nonce = newNonce()
    const body = renderWithNonce(cached.template, nonce)
    this.#reply.send(
      exchange,
      200,
      { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-cache' },
      body,
      nonce,
    )
  }
}

/**
 * The decoded segments of a URL path, or `undefined` when the path is not acceptable: a segment
 * that does not decode, or that decodes to `.`, `..`, or something with a slash, a backslash or
 * a NUL in it (an encoded separator is never a way into another directory).
 */
export function decodeSegments(pathname: string): string[] | undefined {
  const segments: string[] = []
  for (const raw of pathname.split('/').slice(1)) {
    let segment: string
    try {
      segment = decodeURIComponent(raw)
    } catch {
      return undefined
    }
    if (segment === '.' || segment === '..' || /[/\\\0]/.test(segment)) return undefined
    if (segment !== '') segments.push(segment)
  }
  if (pathname.endsWith('/')) segments.push('')
  return segments
}
