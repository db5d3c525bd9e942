/**
 * The relay's HTTP server (`securechat relay --http <port>`): the built web app with a strict CSP
 * and security headers, `/config.json` (what the app needs to reach this relay and its chain),
 * `/healthz`, Prometheus `/metrics`, `/audit/proof` (the proofs of anchored messages) and
 * `POST /audit/leaf-lists` (members' own anchors' leaf lists), with a token bucket per client IP.
 * `node:http` only.
 */
import { randomBytes } from 'node:crypto'
import { createReadStream, type Stats } from 'node:fs'
import { readFile, realpath, stat } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { isIP, isIPv6 } from 'node:net'
import { extname, join, resolve, sep } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { type LoggerFactory, silentLoggerFactory } from '@securechat/sdk/logger'
import type { LeafListSubmission } from '../audit/leaf-list-intake.ts'
import type { AnchoredProof } from '../audit/proof-index.ts'
import {
  DEFAULT_HTTP_HOST,
  DEFAULT_WEB_ROOT,
  HTTP_HEADERS_TIMEOUT_MS,
  HTTP_LEAF_LISTS_IN_FLIGHT,
  HTTP_NONCE_BYTES,
  HTTP_REQUEST_TIMEOUT_MS,
} from '../constants.ts'
import { ConfigError } from '../errors.ts'
import { type NonceTemplate, parseNonceTemplate, renderWithNonce } from './html-nonce.ts'
import { formatMetrics, METRICS_CONTENT_TYPE, type Metric, relayMetrics } from './metrics.ts'
import { RateLimiter, type RateLimiterInit } from './rate-limit.ts'
import type { RelayNode } from './relay.ts'

/** What the server reads from the relay. */
export type RelayHttpSource = Pick<RelayNode, 'peerId' | 'multiaddrs' | 'stats'>

/** What `/config.json` tells the web app, besides this relay's addresses. */
export interface WebAppSettings {
  /** Chain of `rpcUrl` (token gates, contract wallets, audit anchors). */
  chainId?: number
  /** JSON-RPC endpoint browsers may use. It is published to every visitor: never one with a secret in it. */
  rpcUrl?: string
  /** Contracts on that chain, by name (`auditLog`, …). */
  contracts?: Record<string, string>
  /**
   * Lets the app dial loopback and private addresses. Browsers' libp2p refuses them by default, and
   * that stays the default: only a devnet or a LAN deployment turns it on.
   */
  allowPrivateAddresses?: boolean
  /** An Ethereum mainnet JSON-RPC endpoint, so the app can show ENS names. Published like `rpcUrl`. */
  ensRpcUrl?: string
  /**
   * ICE servers for browsers' WebRTC connections (STUN/TURN URLs); absent: the browser's defaults.
   * A devnet on loopback passes none (`[]`): host candidates are enough, and STUN is unreachable.
   */
  iceServers?: string[]
}

/** `GET /config.json`. */
export interface WebAppConfig {
  /** This relay's WebSocket multiaddrs, each ending in `/p2p/<peerId>`. */
  relays: string[]
  chainId?: number
  rpcUrl?: string
  contracts: Record<string, string>
  allowPrivateAddresses: boolean
  ensRpcUrl?: string
  iceServers?: Array<{ urls: string }>
}

export interface RelayHttpServerInit {
  relay: RelayHttpSource
  /** 0 picks a free port (see {@link RelayHttpServer.url}). */
  port: number
  /** Default {@link DEFAULT_HTTP_HOST}. */
  host?: string
  /** The built web app; default {@link DEFAULT_WEB_ROOT}. */
  webRoot?: string
  app?: WebAppSettings
  rateLimit?: RateLimiterInit
  /**
   * Behind one reverse proxy, every request comes from the proxy: take the client IP from the last
   * `X-Forwarded-For` entry (the one the proxy added) instead. Off by default: a client can write
   * that header itself.
   */
  trustProxy?: boolean
  /** Metrics to serve besides the relay's and the server's own (the anchorer's). */
  metrics?: () => Metric[]
  /**
   * Answers `GET /audit/proof?leaf=0x…` (an anchoring relay passes its anchorer, a relay that takes members' leaf
   * lists its intake, or both); without it, 501.
   */
  auditProofs?: { proofOf(leafHash: string): AnchoredProof | undefined }
  /**
   * Takes `POST /audit/leaf-lists` (a relay with an IPFS node and the chain passes its `LeafListIntake`); without
   * it, 501.
   */
  leafLists?: {
    /** Largest body taken; more is 413. */
    readonly maxBytes: number
    submit(bytes: Uint8Array, options?: { signal?: AbortSignal }): Promise<LeafListSubmission>
  }
  logger?: LoggerFactory
}

export const WEB_APP_NOT_BUILT = 'the web app is not built: run `npm run build -w @securechat/web`'

/** Where members hand in the leaf lists of their own anchors (`POST`). */
export const LEAF_LISTS_PATH = '/audit/leaf-lists'

/** The whole query of `/audit/proof`: one leaf hash, nothing else. */
const AUDIT_PROOF_QUERY = /^leaf=(0x[0-9a-fA-F]{64})$/

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

/**
 * The Content-Security-Policy of every response. Scripts run only with the response's nonce, and
 * what they load (`'strict-dynamic'`); DOM sinks take only values of the `securechat` and
 * `lit-html` Trusted Types policies.
 */
export function contentSecurityPolicy(params: { nonce: string; connectSources?: readonly string[] }): string {
  return [
    "default-src 'self'",
    `script-src 'nonce-${params.nonce}' 'strict-dynamic'`,
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "font-src 'self'",
    ['connect-src', "'self'", 'ws:', 'wss:', ...(params.connectSources ?? [])].join(' '),
    "worker-src 'self'",
    "manifest-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'none'",
    "require-trusted-types-for 'script'",
    'trusted-types securechat lit-html',
  ].join('; ')
}

/**
 * Headers on every response besides the CSP. Camera and microphone stay allowed for this origin:
 * calls (DESIGN.md) need them; everything else powerful is off.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Referrer-Policy': 'no-referrer',
  'X-Content-Type-Options': 'nosniff',
  'Permissions-Policy': 'camera=(self), microphone=(self), geolocation=(), payment=(), usb=()',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'X-Frame-Options': 'DENY',
}

/** The WebSocket addresses of `multiaddrs`, each ending in `/p2p/<peerId>`: what browsers can dial. */
export function webSocketAddresses(multiaddrs: readonly string[], peerId: string): string[] {
  return multiaddrs
    .filter((address) => /\/(ws|wss|tls\/ws)(\/|$)/.test(address))
    .map((address) => (address.includes('/p2p/') ? address : `${address}/p2p/${peerId}`))
}

/**
 * Whether a browser with libp2p's default connection gater would refuse `address`: loopback,
 * private (RFC 1918, RFC 4193), link-local and unspecified IPs, and `localhost`.
 */
export function isPrivateMultiaddr(address: string): boolean {
  const match = /^\/(ip4|ip6|dns|dns4|dns6|dnsaddr)\/([^/]+)/.exec(address)
  const kind = match?.[1]
  const host = match?.[2] ?? ''
  if (kind === undefined) return false
  if (kind.startsWith('dns')) return host === 'localhost' || host.endsWith('.localhost')
  if (kind === 'ip4') {
    const [a = 0, b = 0] = host.split('.').map(Number)
    return (
      a === 0 ||
      a === 10 ||
      a === 127 ||
      (a === 169 && b === 254) ||
      (a === 172 && b >= 16 && b < 32) ||
      (a === 192 && b === 168)
    )
  }
  const groups = expandIPv6(host).map((group) => Number.parseInt(group, 16))
  const first = groups[0] ?? 0
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const [hi = 0, lo = 0] = groups.slice(6)
    return isPrivateMultiaddr(`/ip4/${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`)
  }
  const unspecifiedOrLoopback = groups.slice(0, 7).every((g) => g === 0) && (groups[7] ?? 0) <= 1
  return unspecifiedOrLoopback || (first & 0xfe00) === 0xfc00 || (first & 0xffc0) === 0xfe80
}

/**
 * Serves the web app and the relay's HTTP endpoints. `start()` listens, `stop()` closes every
 * connection; `stop()` is idempotent.
 */
export class RelayHttpServer {
  readonly #init: RelayHttpServerInit
  readonly #log
  readonly #root: string
  readonly #limiter: RateLimiter
  readonly #connectSources: string[]
  /** Parsed HTML pages by path, re-read when the file changes (a rebuild while the relay runs). */
  readonly #templates = new Map<string, { mtimeMs: number; size: number; template: NonceTemplate }>()
  readonly #responses = new Map<number, number>()
  #realRoot: string | undefined
  #server: Server | undefined
  #url: string | undefined
  #stopping: Promise<void> | undefined
  /** `POST /audit/leaf-lists` requests being read or checked. */
  #leafListsInFlight = 0

  constructor(init: RelayHttpServerInit) {
    this.#init = init
    this.#log = (init.logger ?? silentLoggerFactory)('securechat:node:http')
    this.#root = resolve(init.webRoot ?? DEFAULT_WEB_ROOT)
    this.#limiter = new RateLimiter(init.rateLimit)
    this.#connectSources = []
    for (const rpcUrl of [init.app?.rpcUrl, init.app?.ensRpcUrl]) {
      if (rpcUrl === undefined) continue
      const origin = new URL(rpcUrl).origin
      // A CSP host-source is letters, digits, dots and hyphens: an IPv6 literal cannot be one.
      if (/^https?:\/\/[A-Za-z0-9.-]+(:\d+)?$/.test(origin)) {
        if (!this.#connectSources.includes(origin)) this.#connectSources.push(origin)
      } else if (!/^wss?:/.test(rpcUrl)) {
        this.#log.warn('the RPC URL cannot be named in the CSP: the web app will not reach it', { rpcUrl: origin })
      }
    }
  }

  /** `http://host:port/` once started. */
  get url(): string {
    if (this.#url === undefined) throw new Error('HTTP server not started')
    return this.#url
  }

  get webRoot(): string {
    return this.#root
  }

  async start(): Promise<void> {
    if (this.#server !== undefined) return
    const server = createServer({ requestTimeout: HTTP_REQUEST_TIMEOUT_MS, headersTimeout: HTTP_HEADERS_TIMEOUT_MS })
    server.on('request', (req, res) => {
      this.#handle(req, res).catch((err: unknown) => {
        this.#log.error('HTTP request failed', { path: req.url, error: String(err) })
        if (!res.headersSent)
          this.#send(res, req, 500, { 'Content-Type': 'text/plain; charset=utf-8' }, 'internal error\n')
        else res.destroy()
      })
    })
    const host = this.#init.host ?? DEFAULT_HTTP_HOST
    await new Promise<void>((done, fail) => {
      server.once('error', (cause: NodeJS.ErrnoException) =>
        fail(
          new ConfigError(`the HTTP server could not listen on ${host}:${this.#init.port}`, {
            cause,
            details: { host, port: this.#init.port, code: cause.code },
            hint: 'is another process using that port? Choose another with --http <port>',
          }),
        ),
      )
      server.listen({ port: this.#init.port, host }, () => done())
    })
    this.#server = server
    this.#stopping = undefined
    const { address, port } = server.address() as { address: string; port: number }
    const shown = address === '0.0.0.0' || address === '::' ? 'localhost' : isIPv6(address) ? `[${address}]` : address
    this.#url = `http://${shown}:${port}/`
    this.#log.debug('HTTP server listening', { event: 'http:listening', url: this.#url, webRoot: this.#root })
  }

  /** Whether the web root has the built app (an `index.html`); without it, pages answer 503. */
  async hasWebApp(): Promise<boolean> {
    return (await this.#resolveFile(['index.html'])) !== undefined
  }

  /** Closes the server and every open connection. Idempotent. */
  async stop(): Promise<void> {
    const server = this.#server
    if (server === undefined) return this.#stopping
    this.#server = undefined
    this.#stopping = new Promise<void>((done) => {
      server.close(() => done())
      server.closeAllConnections()
    })
    return this.#stopping
  }

  /** The server's own metrics. */
  metrics(): Metric[] {
    return [
      {
        name: 'securechat_http_responses_total',
        help: 'HTTP responses by status code.',
        type: 'counter',
        samples: [...this.#responses]
          .sort(([a], [b]) => a - b)
          .map(([code, value]) => ({ labels: { code: String(code) }, value })),
      },
      {
        name: 'securechat_http_rate_limited_clients',
        help: 'Client IPs the rate limiter tracks.',
        type: 'gauge',
        samples: [{ value: this.#limiter.size }],
      },
    ]
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const decision = this.#limiter.take(this.#clientKey(req))
    if (!decision.allowed) {
      return this.#text(res, req, 429, 'too many requests\n', { 'Retry-After': String(decision.retryAfterSeconds) })
    }
    const raw = req.url ?? ''
    const pathname = raw.split(/[?#]/, 1)[0]!
    if (pathname === LEAF_LISTS_PATH) return this.#leafLists(res, req, raw)
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return this.#text(res, req, 405, 'method not allowed\n', { Allow: 'GET, HEAD' })
    }
    if (!raw.startsWith('/')) return this.#text(res, req, 400, 'bad request\n')
    switch (pathname) {
      case '/healthz':
        return this.#healthz(res, req)
      case '/config.json': {
        let config: WebAppConfig
        try {
          config = this.appConfig()
        } catch {
          // The relay's libp2p node is stopping or stopped: nothing to dial. The app keeps its last copy.
          return this.#json(res, req, 503, { error: 'the relay is not running; try again shortly' })
        }
        return this.#json(res, req, 200, config)
      }
      case '/metrics':
        return this.#metrics(res, req)
      case '/audit/proof':
        return this.#auditProof(res, req, raw)
    }
    const segments = decodeSegments(pathname)
    if (segments === undefined) return this.#text(res, req, 400, 'bad request\n')
    if (segments.some((segment) => segment.startsWith('.'))) return this.#text(res, req, 404, 'not found\n')
    const file = await this.#resolveFile(segments)
    if (file !== undefined) return this.#serveFile(res, req, file.path, file.stats, pathname)
    const last = segments.at(-1) ?? ''
    // A path without an extension is a route of the app (SPA): its page handles it.
    if (extname(last) === '') return this.#serveIndex(res, req)
    return this.#text(res, req, 404, 'not found\n')
  }

  /** `GET /config.json`. */
  appConfig(): WebAppConfig {
    const app = this.#init.app ?? {}
    return {
      relays: webSocketAddresses(this.#init.relay.multiaddrs, this.#init.relay.peerId),
      ...(app.chainId === undefined ? {} : { chainId: app.chainId }),
      ...(app.rpcUrl === undefined ? {} : { rpcUrl: app.rpcUrl }),
      contracts: { ...app.contracts },
      allowPrivateAddresses: app.allowPrivateAddresses ?? false,
      ...(app.ensRpcUrl === undefined ? {} : { ensRpcUrl: app.ensRpcUrl }),
      ...(app.iceServers === undefined ? {} : { iceServers: app.iceServers.map((urls) => ({ urls })) }),
    }
  }

  #healthz(res: ServerResponse, req: IncomingMessage): void {
    const relay = this.#init.relay
    let body: Record<string, unknown> = { status: 'stopped' }
    try {
      const stats = relay.stats()
      body = {
        status: 'ok',
        peerId: relay.peerId,
        connections: stats.connections,
        rooms: stats.rooms,
        uptimeSeconds: Math.floor(stats.uptimeMs / 1000),
      }
    } catch {
      // Stopped (or stopping): `peerId` is gone with the libp2p node.
    }
    this.#json(res, req, body.status === 'ok' ? 200 : 503, body)
  }

  /**
   * `GET /audit/proof?leaf=0x<64 hex digits>`: the Merkle proof of an anchored message's leaf (`leafHashOf`),
   * `{ root, proof, batch: { root, count, cid, blockNumber, transactionHash? } }`, or 404 while it is not
   * anchored (501 from a relay that does not anchor). The asker trusts none of it: it checks the proof against
   * the root and the root on chain.
   */
  #auditProof(res: ServerResponse, req: IncomingMessage, raw: string): void {
    const query = raw.slice(raw.indexOf('?') + 1)
    const match = raw.includes('?') ? AUDIT_PROOF_QUERY.exec(query) : null
    if (match === null) {
      this.#json(res, req, 400, { error: 'expected ?leaf=0x followed by 64 hex digits' })
      return
    }
    if (this.#init.auditProofs === undefined) {
      this.#json(res, req, 501, { error: 'this relay does not anchor messages' })
      return
    }
    const proof = this.#init.auditProofs.proofOf(match[1]!.toLowerCase())
    if (proof === undefined) this.#json(res, req, 404, { error: 'no anchored batch of this relay holds the leaf' })
    else this.#json(res, req, 200, proof)
  }

  /**
   * `POST /audit/leaf-lists`, body: a leaf list exactly as published (`application/json`, at most the intake's
   * `maxBytes`). Kept only when its root is anchored on chain with these bytes' CID (see
   * `LeafListIntake`): 201 stored, 200 already held, 400 not a leaf list, 413 too large, 415 not JSON, 422 root not
   * anchored (yet), 409 anchored with another CID, 503 chain unreadable or busy, 501 on a relay without the intake.
   * Refusals before the body is read close the connection.
   */
  async #leafLists(res: ServerResponse, req: IncomingMessage, raw: string): Promise<void> {
    if (req.method !== 'POST') return this.#text(res, req, 405, 'method not allowed\n', { Allow: 'POST' })
    if (raw !== LEAF_LISTS_PATH) return this.#jsonClose(res, req, 400, { error: 'no query expected' })
    const intake = this.#init.leafLists
    if (intake === undefined) {
      return this.#jsonClose(res, req, 501, { error: 'this relay does not take leaf lists' })
    }
    const type = (req.headers['content-type'] ?? '').split(';', 1)[0]!.trim().toLowerCase()
    if (type !== 'application/json') {
      return this.#jsonClose(res, req, 415, { error: 'send the leaf list as application/json' })
    }
    const declared = Number(req.headers['content-length'] ?? Number.NaN)
    if (declared > intake.maxBytes) {
      return this.#jsonClose(res, req, 413, { error: `a leaf list holds at most ${intake.maxBytes} bytes` })
    }
    if (this.#leafListsInFlight >= HTTP_LEAF_LISTS_IN_FLIGHT) {
      res.setHeader('Retry-After', '1')
      return this.#jsonClose(res, req, 503, { error: 'busy checking other leaf lists; try again' })
    }
    this.#leafListsInFlight += 1
    try {
      const body = await readBody(req, intake.maxBytes)
      if (body === 'gone') return void res.destroy()
      if (body === 'too-large') {
        return this.#jsonClose(res, req, 413, { error: `a leaf list holds at most ${intake.maxBytes} bytes` })
      }
      const result = await intake.submit(body, { signal: AbortSignal.timeout(HTTP_REQUEST_TIMEOUT_MS) })
      if (result.status === 'accepted') {
        return this.#json(res, req, result.stored ? 201 : 200, {
          status: result.stored ? 'stored' : 'held',
          ...result.batch,
        })
      }
      if (result.status === 'unavailable') {
        res.setHeader('Retry-After', '2')
        return this.#json(res, req, 503, { error: result.message })
      }
      const status = { malformed: 400, 'not-anchored': 422, 'cid-mismatch': 409 }[result.reason]
      return this.#json(res, req, status, { error: result.message, reason: result.reason })
    } finally {
      this.#leafListsInFlight -= 1
    }
  }

  /** A JSON answer that closes the connection: the request body may be unread. */
  #jsonClose(res: ServerResponse, req: IncomingMessage, status: number, value: unknown): void {
    res.setHeader('Connection', 'close')
    this.#json(res, req, status, value)
  }

  #metrics(res: ServerResponse, req: IncomingMessage): void {
    const metrics = [...relayMetrics(this.#init.relay.stats()), ...this.metrics(), ...(this.#init.metrics?.() ?? [])]
    this.#send(
      res,
      req,
      200,
      { 'Content-Type': METRICS_CONTENT_TYPE, 'Cache-Control': 'no-store' },
      formatMetrics(metrics),
    )
  }

  /** The regular file `segments` name under the web root, never one outside it (`..`, symlinks). */
  async #resolveFile(segments: string[]): Promise<{ path: string; stats: Stats } | undefined> {
    const path = join(this.#root, ...segments)
    if (path !== this.#root && !path.startsWith(this.#root + sep)) return undefined
    try {
      this.#realRoot ??= await realpath(this.#root)
      const real = await realpath(path)
      if (!real.startsWith(this.#realRoot + sep)) return undefined
      const stats = await stat(real)
      return stats.isFile() ? { path: real, stats } : undefined
    } catch {
      return undefined
    }
  }

  async #serveFile(
    res: ServerResponse,
    req: IncomingMessage,
    path: string,
    stats: Stats,
    pathname: string,
  ): Promise<void> {
    const extension = extname(path).toLowerCase()
    if (extension === '.html') return this.#serveHtml(res, req, path)
    const etag = `W/"${stats.size.toString(16)}-${Math.floor(stats.mtimeMs).toString(16)}"`
    const headers = {
      'Content-Type': CONTENT_TYPES[extension] ?? 'application/octet-stream',
      'Cache-Control': pathname.startsWith('/assets/') ? IMMUTABLE : 'no-cache',
      ETag: etag,
    }
    const ifNoneMatch = req.headers['if-none-match']
    if (ifNoneMatch?.split(',').some((tag) => [etag, '*'].includes(tag.trim()))) {
      return this.#send(res, req, 304, headers)
    }
    this.#count(200)
    this.#securityHeaders(res)
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

  async #serveIndex(res: ServerResponse, req: IncomingMessage): Promise<void> {
    const index = await this.#resolveFile(['index.html'])
    if (index === undefined) {
      const accept = req.headers.accept ?? ''
      if (accept.includes('text/html')) {
        return this.#send(
          res,
          req,
          503,
          { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' },
          `<!doctype html>\n<html lang="en"><meta charset="utf-8"><title>SecureChat: web app not built</title>\n<h1>The web app is not built</h1>\n<p>On the relay's machine, run <code>npm run build -w @securechat/web</code>, then reload this page.</p>\n`,
        )
      }
      return this.#json(res, req, 503, { error: WEB_APP_NOT_BUILT })
    }
    return this.#serveHtml(res, req, index.path)
  }

  /** An HTML page, with a fresh nonce on its scripts and in its CSP. Never cached: every response has its own nonce. */
  async #serveHtml(res: ServerResponse, req: IncomingMessage, path: string): Promise<void> {
    const stats = await stat(path)
    let cached = this.#templates.get(path)
    if (cached === undefined || cached.mtimeMs !== stats.mtimeMs || cached.size !== stats.size) {
      cached = { mtimeMs: stats.mtimeMs, size: stats.size, template: parseNonceTemplate(await readFile(path, 'utf8')) }
      this.#templates.set(path, cached)
    }
    const nonce = newNonce()
    const body = renderWithNonce(cached.template, nonce)
    this.#send(res, req, 200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-cache' }, body, nonce)
  }

  #json(res: ServerResponse, req: IncomingMessage, status: number, value: unknown): void {
    this.#send(
      res,
      req,
      status,
      { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' },
      `${JSON.stringify(value)}\n`,
    )
  }

  #text(
    res: ServerResponse,
    req: IncomingMessage,
    status: number,
    text: string,
    headers: Record<string, string> = {},
  ): void {
    this.#send(
      res,
      req,
      status,
      { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', ...headers },
      text,
    )
  }

  #send(
    res: ServerResponse,
    req: IncomingMessage,
    status: number,
    headers: Record<string, string>,
    body?: string,
    nonce = newNonce(),
  ): void {
    this.#count(status)
    this.#securityHeaders(res, nonce)
    const length = body === undefined ? {} : { 'Content-Length': Buffer.byteLength(body) }
    res.writeHead(status, { ...headers, ...length })
    res.end(req.method === 'HEAD' || body === undefined ? undefined : body)
  }

  /** Every response carries the CSP, with a nonce of its own (only HTML pages use theirs), and the other headers. */
  #securityHeaders(res: ServerResponse, nonce = newNonce()): void {
    res.setHeader('Content-Security-Policy', contentSecurityPolicy({ nonce, connectSources: this.#connectSources }))
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value)
  }

  #count(status: number): void {
    this.#responses.set(status, (this.#responses.get(status) ?? 0) + 1)
  }

  /** The rate limiter's key: the client's IP, and for IPv6 its /64 (one host usually has a whole /64). */
  #clientKey(req: IncomingMessage): string {
    let ip = req.socket.remoteAddress ?? ''
    if (this.#init.trustProxy === true) {
      const header = req.headers['x-forwarded-for']
      const forwarded = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',').at(-1)?.trim() ?? ''
      if (isIP(forwarded) !== 0) ip = forwarded
    }
    if (ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4) ip = ip.slice(7)
    if (isIP(ip) === 6) return `${expandIPv6(ip).slice(0, 4).join(':')}::/64`
    return ip
  }
}

/**
 * The request's body; `too-large` as soon as it passes `maxBytes` (the rest is discarded unread: the caller's
 * answer closes the connection), `gone` when the client went away first.
 */
function readBody(req: IncomingMessage, maxBytes: number): Promise<Uint8Array | 'too-large' | 'gone'> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      if (size > maxBytes) return
      size += chunk.byteLength
      if (size > maxBytes) resolve('too-large')
      else chunks.push(chunk)
    })
    req.on('end', () => resolve(Buffer.concat(chunks)))
    req.on('close', () => resolve('gone'))
  })
}

/** 128 random bits, base64. */
function newNonce(): string {
  return randomBytes(HTTP_NONCE_BYTES).toString('base64')
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

/** The eight groups of an IPv6 address, as hex strings. */
function expandIPv6(address: string): string[] {
  let text = address.split('%', 1)[0]!
  const embedded = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  if (embedded !== null) {
    const [a = 0, b = 0, c = 0, d = 0] = embedded[1]!.split('.').map(Number)
    text = `${text.slice(0, embedded.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const [head = '', tail] = text.split('::')
  const left = head === '' ? [] : head.split(':')
  if (tail === undefined) return left
  const right = tail === '' ? [] : tail.split(':')
  return [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
}
