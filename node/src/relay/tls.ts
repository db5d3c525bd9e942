/**
 * The relay's own TLS (`--tls-cert`, `--tls-key`): the certificate and key it serves `wss://` and HTTPS with, read
 * from PEM files and read again on `reload()` (SIGHUP). A pair that cannot be used is refused with what to do — at
 * start the relay does not start; on a reload the certificate in use stays. Whoever serves TLS listens for
 * `certificate:reloaded` and gives new connections the new pair; connections already open keep the session they
 * made (TLS does not re-key a live session with a new certificate) until they close.
 */
import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { isIP } from 'node:net'
import { createSecureContext } from 'node:tls'
import type { AbortOptions, Libp2pEvents, Startable } from '@libp2p/interface'
import { TypedEventEmitter, type TypedEventTarget } from 'main-event'
import { TlsError } from '../errors.ts'
import { gauge, type Metric } from './metrics.ts'

/** Where the PEM files are: the certificate chain (leaf first, as `fullchain.pem`) and its unencrypted key. */
export interface TlsFiles {
  certFile: string
  keyFile: string
}

/** A certificate chain and its private key, in PEM (the shape of libp2p's `TLSCertificate`). */
export interface TlsCertificate {
  cert: string
  key: string
}

/** What the relay logs about the certificate it serves. */
export interface TlsCertificateInfo {
  subject: string
  /** The subject alternative names, as OpenSSL prints them (`DNS:relay.example, IP Address:127.0.0.1`). */
  altNames: string
  validFrom: string
  validTo: string
  /** SHA-256 of the leaf certificate, colon-separated hex: tells one certificate from the next. */
  fingerprint256: string
  /** The leaf's `notAfter` has passed: browsers refuse it. */
  expired: boolean
}

/** Reads and checks the pair; throws a {@link TlsError} that says which file is wrong and what to do. */
export async function readTlsCertificate(
  files: TlsFiles,
  options: AbortOptions = {},
): Promise<{ certificate: TlsCertificate; info: TlsCertificateInfo }> {
  const cert = await readPem(files.certFile, 'certificate', options)
  const key = await readPem(files.keyFile, 'key', options)
  let leaf: X509Certificate
  try {
    leaf = new X509Certificate(cert)
  } catch (cause) {
    throw new TlsError(`no PEM certificate in ${files.certFile}`, {
      cause,
      details: { file: files.certFile },
      hint: '--tls-cert takes the certificate chain in PEM ("-----BEGIN CERTIFICATE-----", leaf first), such as fullchain.pem',
    })
  }
  let privateKey: KeyObject
  try {
    privateKey = createPrivateKey(key)
  } catch (cause) {
    throw new TlsError(`no unencrypted PEM private key in ${files.keyFile}`, {
      cause,
      details: { file: files.keyFile },
      hint: '--tls-key takes the private key in PEM, without a passphrase ("-----BEGIN PRIVATE KEY-----"), such as privkey.pem',
    })
  }
  if (!leaf.checkPrivateKey(privateKey)) {
    throw new TlsError(`the key in ${files.keyFile} does not belong to the certificate in ${files.certFile}`, {
      details: { certFile: files.certFile, keyFile: files.keyFile, subject: leaf.subject },
      hint: 'pass the key the certificate was issued for with --tls-key (they are issued together: fullchain.pem and privkey.pem)',
    })
  }
  try {
    // What OpenSSL itself will refuse (a key too weak for its security level, a broken chain entry).
    createSecureContext({ cert, key })
  } catch (cause) {
    throw new TlsError(`TLS cannot use the certificate in ${files.certFile}: ${(cause as Error).message}`, {
      cause,
      details: { certFile: files.certFile, keyFile: files.keyFile },
      hint: 'issue a certificate with an RSA key of 2048 bits or more, or an ECDSA P-256/P-384 key',
    })
  }
  return {
    certificate: { cert, key },
    info: {
      subject: leaf.subject,
      altNames: leaf.subjectAltName ?? '',
      validFrom: leaf.validFrom,
      validTo: leaf.validTo,
      fingerprint256: leaf.fingerprint256,
      expired: Date.parse(leaf.validTo) < Date.now(),
    },
  }
}

async function readPem(file: string, what: 'certificate' | 'key', options: AbortOptions): Promise<string> {
  try {
    return await readFile(file, {
      encoding: 'utf8',
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    })
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? 'error'
    const flag = what === 'certificate' ? '--tls-cert (SECURECHAT_TLS_CERT)' : '--tls-key (SECURECHAT_TLS_KEY)'
    throw new TlsError(`cannot read the TLS ${what} file ${file} (${code})`, {
      cause,
      details: { file, code },
      hint: `check ${flag}: the path, and that the user running the relay may read it`,
    })
  }
}

/** Whether the leaf of `certificate` names `host` (a DNS name, wildcards as browsers match them, or an IP address). */
export function certificateCovers(certificate: TlsCertificate, host: string): boolean {
  const leaf = new X509Certificate(certificate.cert)
  return (isIP(host) === 0 ? leaf.checkHost(host) : leaf.checkIP(host)) !== undefined
}

export interface TlsCredentialsEvents {
  /** A new pair was read and checked: serve it to new connections. */
  'certificate:reloaded': CustomEvent<TlsCertificate>
}

/** The pair the relay serves now, read again by {@link TlsCredentials.reload}. Create with {@link loadTlsCredentials}. */
export class TlsCredentials extends TypedEventEmitter<TlsCredentialsEvents> {
  readonly files: TlsFiles
  #certificate: TlsCertificate
  #info: TlsCertificateInfo
  #reloads = { ok: 0, failed: 0 }
  /** Reloads run one after the other: two quick SIGHUPs cannot finish out of order. */
  #queue: Promise<unknown> = Promise.resolve()

  constructor(files: TlsFiles, loaded: { certificate: TlsCertificate; info: TlsCertificateInfo }) {
    super()
    this.files = files
    this.#certificate = loaded.certificate
    this.#info = loaded.info
  }

  get certificate(): TlsCertificate {
    return this.#certificate
  }

  get info(): TlsCertificateInfo {
    return this.#info
  }

  /**
   * Reads the files again. When the new pair checks out, it is the one served from now on (`certificate:reloaded`);
   * otherwise the one in use stays and the {@link TlsError} is thrown.
   */
  reload(options: AbortOptions = {}): Promise<TlsCertificateInfo> {
    const next = this.#queue.then(async () => {
      try {
        const loaded = await readTlsCertificate(this.files, options)
        this.#certificate = loaded.certificate
        this.#info = loaded.info
        this.#reloads.ok += 1
        this.safeDispatchEvent('certificate:reloaded', { detail: loaded.certificate })
        return loaded.info
      } catch (err) {
        this.#reloads.failed += 1
        throw err
      }
    })
    this.#queue = next.catch(() => undefined)
    return next
  }

  metrics(): Metric[] {
    return [
      gauge(
        'securechat_tls_certificate_expiry_timestamp_seconds',
        'When the certificate the relay serves expires (Unix time).',
        Math.floor(Date.parse(this.#info.validTo) / 1000),
      ),
      {
        name: 'securechat_tls_reloads_total',
        help: 'Certificate reloads (SIGHUP), by result.',
        type: 'counter',
        samples: [
          { labels: { result: 'ok' }, value: this.#reloads.ok },
          { labels: { result: 'failed' }, value: this.#reloads.failed },
        ],
      },
    ]
  }
}

/** Reads and checks the pair once (see {@link readTlsCertificate}); the relay refuses to start when this throws. */
export async function loadTlsCredentials(files: TlsFiles, options: AbortOptions = {}): Promise<TlsCredentials> {
  return new TlsCredentials(files, await readTlsCertificate(files, options))
}

/**
 * A libp2p service that hands each reloaded pair to the WebSocket transport. `@libp2p/websockets` listens for
 * `certificate:renew` on libp2p's internal event bus (AutoTLS raises it): each `/tls/ws` listener then accepts new
 * connections with a new HTTPS server made with the new pair, while connections already upgraded keep theirs.
 */
export function tlsRenewal(
  credentials: TlsCredentials,
): (components: { events: TypedEventTarget<Libp2pEvents> }) => Startable {
  return (components) => {
    const renew = (event: CustomEvent<TlsCertificate>): void => {
      components.events.safeDispatchEvent('certificate:renew', { detail: event.detail })
    }
    return {
      start: () => credentials.addEventListener('certificate:reloaded', renew),
      stop: () => credentials.removeEventListener('certificate:reloaded', renew),
    }
  }
}
