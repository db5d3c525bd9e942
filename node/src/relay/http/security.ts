/** The headers every response of the relay's HTTP server carries: a strict CSP with a nonce, and the rest. */
import { randomBytes } from 'node:crypto'
import { HTTP_NONCE_BYTES } from '../../constants.ts'

/**
 * The Content-Security-Policy of every response. Scripts run only with the response's nonce, and
 * what they load (`'strict-dynamic'`); DOM sinks take only values of the `securechat` and
 * `lit-html` Trusted Types policies.
 */
export function contentSecurityPolicy(params: { nonce: string; connectSources?: readonly string[] }): string {
  return cspTemplate(params.connectSources ?? [])(params.nonce)
}

/**
 * {@link contentSecurityPolicy} with everything but the nonce joined once: a server builds this at start and only
 * splices each response's nonce in.
 */
export function cspTemplate(connectSources: readonly string[]): (nonce: string) => string {
  const head = "default-src 'self'; script-src 'nonce-"
  const tail = `' 'strict-dynamic'; ${[
    "style-src 'self'",
    "img-src 'self' data: blob:",
    // A shared file's audio or video plays from a blob: URL of its checked plaintext (web/src/state/file-kinds.ts),
    // never from anywhere remote.
    "media-src 'self' blob:",
    "font-src 'self'",
    ['connect-src', "'self'", 'ws:', 'wss:', ...connectSources].join(' '),
    "worker-src 'self'",
    "manifest-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'none'",
    "require-trusted-types-for 'script'",
    'trusted-types securechat lit-html',
  ].join('; ')}`
  return (nonce) => `${head}${nonce}${tail}`
}

/**
 * Headers on every response besides the CSP. Camera and microphone stay allowed for this origin:
 * calls (docs/architecture.md, Calls: media) need them; everything else powerful is off.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Referrer-Policy': 'no-referrer',
  'X-Content-Type-Options': 'nosniff',
  'Permissions-Policy': 'camera=(self), microphone=(self), geolocation=(), payment=(), usb=()',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'X-Frame-Options': 'DENY',
}

/** 128 random bits, base64. */
export function newNonce(): string {
  return randomBytes(HTTP_NONCE_BYTES).toString('base64')
}
