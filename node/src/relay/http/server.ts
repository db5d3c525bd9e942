/**
 * The relay's HTTP server (`securechat relay --http <port>`), `node:http` only: a token bucket per client IP, then
 * one route per path — the web app (`web-app.ts`), `/config.json` (`app-config.ts`), `/healthz` and `/metrics`
 * (`status.ts`), `/audit/proof` and `POST /audit/leaf-lists` (`audit.ts`) — every answer with a strict CSP and
 * the security headers (`reply.ts`, `security.ts`).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https'
import { isIP, isIPv6 } from 'node:net'
import { resolve } from 'node:path'
import { type LoggerFactory, silentLoggerFactory } from '@securechat/sdk/logger'
import { LEAF_LISTS_PATH, WEB_APP_CONFIG_PATH } from '@securechat/sdk/relay-api'
import type { ProofSource } from '../../audit/proof-index.ts'
import {
  DEFAULT_HTTP_HOST,
  DEFAULT_WEB_ROOT,
  HTTP_HEADERS_TIMEOUT_MS,
  HTTP_REQUEST_TIMEOUT_MS,
} from '../../constants.ts'
import { ConfigError } from '../../errors.ts'
import { gauge, type Metric, relayMetrics } from '../metrics.ts'
import { RateLimiter, type RateLimiterInit } from '../rate-limit.ts'
import type { RelayNode } from '../relay.ts'
import type { TlsCertificate, TlsCredentials } from '../tls.ts'
import { canonicalIp, clientAddressKey } from './addresses.ts'
import { appConfigRoute, type WebAppSettings } from './app-config.ts'
import { auditRoutes, type LeafListTaker } from './audit.ts'
import { type Exchange, Replies, type Route } from './reply.ts'
import { cspTemplate } from './security.ts'
import { healthRoute, metricsRoute } from './status.ts'
import { WebAppFiles } from './web-app.ts'

/** What the server reads from the relay. */
export type RelayHttpSource = Pick<RelayNode, 'peerId' | 'multiaddrs' | 'stats' | 'health'>

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
   * The reverse proxies in front of this server (IP addresses). Behind one, every request comes from the proxy: for
   * a request from one of these, the client IP is the right-most `X-Forwarded-For` entry that is not one of them
   * (the address the outermost of them saw). Anyone else's header is ignored — a client can write it itself.
   */
  trustedProxies?: readonly string[]
  /**
   * Everything `/metrics` serves (a relay component passes its one metrics surface); default: the relay node's
   * and this server's own.
   */
  metrics?: () => Metric[]
  /** Answers `GET /audit/proof` (a relay passes its proof index); without it, 501. */
  auditProofs?: ProofSource
  /** Takes `POST /audit/leaf-lists` (a relay passes its `LeafListIntake`); without it, 501. */
  leafLists?: LeafListTaker
  /** Serve HTTPS with this pair (a relay passes its `--tls-cert`); a reloaded pair goes to new connections. */
  tls?: TlsCredentials
  logger?: LoggerFactory
}

/**
 * Serves the web app and the relay's HTTP endpoints. `start()` listens, `stop()` closes every
 * connection; `stop()` is idempotent.
 */
export class RelayHttpServer {
  readonly #init: RelayHttpServerInit
  readonly #log
  readonly #limiter: RateLimiter
  readonly #reply: Replies
  readonly #files: WebAppFiles
  readonly #routes: Record<string, Route>
  readonly #trustedProxies: ReadonlySet<string>
  #server: Server | HttpsServer | undefined
  #url: string | undefined
  #stopping: Promise<void> | undefined

  constructor(init: RelayHttpServerInit) {
    this.#init = init
    this.#log = (init.logger ?? silentLoggerFactory)('securechat:node:http')
    this.#limiter = new RateLimiter(init.rateLimit)
    this.#trustedProxies = new Set((init.trustedProxies ?? []).map(canonicalIp))
    this.#reply = new Replies(cspTemplate(this.#connectSources()))
    this.#files = new WebAppFiles({
      root: resolve(init.webRoot ?? DEFAULT_WEB_ROOT),
      reply: this.#reply,
      log: this.#log,
    })
    const reply = this.#reply
    this.#routes = {
      '/healthz': healthRoute({ relay: init.relay, reply }),
      '/metrics': metricsRoute({
        metrics: init.metrics ?? (() => [...relayMetrics(init.relay.stats()), ...this.metrics()]),
        reply,
      }),
      [WEB_APP_CONFIG_PATH]: appConfigRoute({
        relay: init.relay,
        ...(init.app === undefined ? {} : { app: init.app }),
        reply,
      }),
      ...auditRoutes({ proofs: init.auditProofs, leafLists: init.leafLists, reply }),
    }
  }

  /** `http://host:port/` (`https://` with TLS) once started. */
  get url(): string {
    if (this.#url === undefined) throw new Error('HTTP server not started')
    return this.#url
  }

  get webRoot(): string {
    return this.#files.root
  }

  async start(): Promise<void> {
    if (this.#server !== undefined) return
    const options = { requestTimeout: HTTP_REQUEST_TIMEOUT_MS, headersTimeout: HTTP_HEADERS_TIMEOUT_MS }
    const tls = this.#init.tls
    const server = tls === undefined ? createServer(options) : createHttpsServer({ ...options, ...tls.certificate })
    server.on('request', (req, res) => {
      this.#handle(req, res).catch((err: unknown) => {
        this.#log.error('HTTP request failed', { path: req.url, error: String(err) })
        if (!res.headersSent) this.#reply.text({ req, res }, 500, 'internal error\n')
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
    tls?.addEventListener('certificate:reloaded', this.#onCertificate)
    const { address, port } = server.address() as { address: string; port: number }
    const shown = address === '0.0.0.0' || address === '::' ? 'localhost' : isIPv6(address) ? `[${address}]` : address
    this.#url = `${tls === undefined ? 'http' : 'https'}://${shown}:${port}/`
    this.#log.debug('HTTP server listening', { event: 'http:listening', url: this.#url, webRoot: this.webRoot })
  }

  /** Whether the web root has the built app (an `index.html`); without it, pages answer 503. */
  hasWebApp(): Promise<boolean> {
    return this.#files.hasWebApp()
  }

  /** Closes the server and every open connection. Idempotent. */
  async stop(): Promise<void> {
    const server = this.#server
    if (server === undefined) return this.#stopping
    this.#server = undefined
    this.#init.tls?.removeEventListener('certificate:reloaded', this.#onCertificate)
    this.#stopping = new Promise<void>((done) => {
      server.close(() => done())
      server.closeAllConnections()
    })
    return this.#stopping
  }

  /** New connections get the new pair; open ones keep the session they made. */
  readonly #onCertificate = (event: CustomEvent<TlsCertificate>): void => {
    const server = this.#server
    if (server !== undefined && 'setSecureContext' in server) server.setSecureContext(event.detail)
  }

  /** The server's own metrics. */
  metrics(): Metric[] {
    return [
      {
        name: 'securechat_http_responses_total',
        help: 'HTTP responses by status code.',
        type: 'counter',
        samples: this.#reply.counts().map(([code, value]) => ({ labels: { code: String(code) }, value })),
      },
      gauge('securechat_http_rate_limited_clients', 'Client IPs the rate limiter tracks.', this.#limiter.size),
    ]
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = req.url ?? ''
    const exchange: Exchange = { req, res, raw }
    const decision = this.#limiter.take(this.#clientKey(req))
    if (!decision.allowed) {
      return this.#reply.text(exchange, 429, 'too many requests\n', {
        'Retry-After': String(decision.retryAfterSeconds),
      })
    }
    const pathname = raw.split(/[?#]/, 1)[0]!
    // The one route that takes a body answers every method itself.
    if (pathname === LEAF_LISTS_PATH) return this.#routes[LEAF_LISTS_PATH]!(exchange)
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return this.#reply.text(exchange, 405, 'method not allowed\n', { Allow: 'GET, HEAD' })
    }
    if (!raw.startsWith('/')) return this.#reply.text(exchange, 400, 'bad request\n')
    return (this.#routes[pathname] ?? this.#files.route)(exchange)
  }

  /** The origins of the RPC endpoints the app is told about: its CSP lets it connect there. */
  #connectSources(): string[] {
    const sources: string[] = []
    for (const rpcUrl of [this.#init.app?.rpcUrl, this.#init.app?.ensRpcUrl]) {
      if (rpcUrl === undefined) continue
      const origin = new URL(rpcUrl).origin
      // A CSP host-source is letters, digits, dots and hyphens: an IPv6 literal cannot be one.
      if (/^https?:\/\/[A-Za-z0-9.-]+(:\d+)?$/.test(origin)) {
        if (!sources.includes(origin)) sources.push(origin)
      } else if (!/^wss?:/.test(rpcUrl)) {
        this.#log.warn('the RPC URL cannot be named in the CSP: the web app will not reach it', { rpcUrl: origin })
      }
    }
    return sources
  }

  /** The rate limiter's key: the client's IP, and for IPv6 its /64 (one host usually has a whole /64). */
  #clientKey(req: IncomingMessage): string {
    let ip = canonicalIp(req.socket.remoteAddress ?? '')
    if (this.#trustedProxies.has(ip)) {
      const header = req.headers['x-forwarded-for']
      const hops = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',')
      // Right to left: each trusted proxy appended the address it saw; the first one not ours is the client.
      for (let i = hops.length - 1; i >= 0; i--) {
        const hop = canonicalIp(hops[i]!.trim())
        if (isIP(hop) === 0) break
        ip = hop
        if (!this.#trustedProxies.has(hop)) break
      }
    }
    return clientAddressKey(ip)
  }
}
