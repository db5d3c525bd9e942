/**
 * How every route answers: the status counted for `/metrics`, the CSP (with a nonce of the response's own) and
 * the security headers set, and nothing but headers for `HEAD`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { newNonce, SECURITY_HEADERS } from './security.ts'

/** One request and its response, as a route gets them. */
export interface Exchange {
  req: IncomingMessage
  res: ServerResponse
  /** The request target as sent (path and query). */
  raw: string
}

export type Route = (exchange: Exchange) => void | Promise<void>

export class Replies {
  readonly #csp: (nonce: string) => string
  readonly #counts = new Map<number, number>()

  constructor(csp: (nonce: string) => string) {
    this.#csp = csp
  }

  /** Responses sent so far, by status code, lowest first. */
  counts(): Array<[status: number, count: number]> {
    return [...this.#counts].sort(([a], [b]) => a - b)
  }

  json({ req, res }: Exchange, status: number, value: unknown): void {
    this.send(
      { req, res },
      status,
      { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' },
      `${JSON.stringify(value)}\n`,
    )
  }

  /** A JSON answer that closes the connection: the request body may be unread. */
  jsonClose(exchange: Exchange, status: number, value: unknown): void {
    exchange.res.setHeader('Connection', 'close')
    this.json(exchange, status, value)
  }

  text(
    { req, res }: Pick<Exchange, 'req' | 'res'>,
    status: number,
    text: string,
    headers: Record<string, string> = {},
  ): void {
    this.send(
      { req, res },
      status,
      { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', ...headers },
      text,
    )
  }

  send(
    { req, res }: Pick<Exchange, 'req' | 'res'>,
    status: number,
    headers: Record<string, string>,
    body?: string,
    nonce = newNonce(),
  ): void {
    this.count(status)
    this.securityHeaders(res, nonce)
    const length = body === undefined ? {} : { 'Content-Length': Buffer.byteLength(body) }
    res.writeHead(status, { ...headers, ...length })
    res.end(req.method === 'HEAD' || body === undefined ? undefined : body)
  }

  /** Every response carries the CSP, with a nonce of its own (only HTML pages use theirs), and the other headers. */
  securityHeaders(res: ServerResponse, nonce = newNonce()): void {
    res.setHeader('Content-Security-Policy', this.#csp(nonce))
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value)
  }

  count(status: number): void {
    this.#counts.set(status, (this.#counts.get(status) ?? 0) + 1)
  }
}
