import type { Libp2p, PeerId } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { z } from 'zod'
import {
  CERTIFICATE_FETCH_TIMEOUT_MS,
  CERTIFICATE_PROTOCOL,
  MAX_BUNDLE_BYTES,
  MAX_CERTIFICATE_BYTES,
} from '../constants.ts'
import { utf8 } from '../encoding.ts'
import { certificateSchema } from '../identity/certificate.ts'
import { keyBundleTextSchema, peerIdTextSchema } from '../json-records.ts'
import type { Logger } from '../logger.ts'
import type { AbortOptions, SessionCertificate } from '../types.ts'

/** A request names one PeerId and asks for its certificate, or for its key bundle. */
const requestSchema = z.object({ peer: peerIdTextSchema, bundle: z.literal(true).optional() }).strict()
const responseSchema = z.object({ cert: certificateSchema.optional(), bundle: keyBundleTextSchema.optional() }).strict()
/** The largest message either side reads: a response with a bundle, base64url. */
const MAX_EXCHANGE_BYTES = MAX_BUNDLE_BYTES * 2 + MAX_CERTIFICATE_BYTES * 2

/** Where certificates come from: this node's own and the verified ones it has cached. */
export type CertificateLookup = (peerId: string) => SessionCertificate | undefined

/** Where key bundles come from (`KeyBundleCache.lookup`): base64url, verified, or undefined. */
export type BundleLookup = (peerId: string, asker: PeerId, options: AbortOptions) => Promise<string | undefined>

/**
 * Answers "what is the certificate (or the key bundle) of PeerId X?" over
 * {@link CERTIFICATE_PROTOCOL}. Answers are hints: the asker verifies them like any other.
 */
export async function serveCertificates(
  libp2p: Libp2p,
  lookup: CertificateLookup,
  log: Logger,
  bundles?: BundleLookup,
): Promise<void> {
  await libp2p.handle(
    CERTIFICATE_PROTOCOL,
    async (stream, connection) => {
      const signal = AbortSignal.timeout(CERTIFICATE_FETCH_TIMEOUT_MS)
      try {
        const lp = lpStream(stream, { maxDataLength: MAX_EXCHANGE_BYTES })
        const request = requestSchema.parse(JSON.parse(utf8.decode((await lp.read({ signal })).subarray())))
        let response: z.input<typeof responseSchema>
        if (request.bundle === true) {
          // Half the asker's time: a bundle fetched from its owner must still reach the asker.
          const bundle = await bundles?.(request.peer, connection.remotePeer, {
            signal: AbortSignal.timeout(CERTIFICATE_FETCH_TIMEOUT_MS / 2),
          })
          response = bundle === undefined ? {} : { bundle }
        } else {
          const cert = lookup(request.peer)
          response = cert === undefined ? {} : { cert }
        }
        await lp.write(utf8.encode(JSON.stringify(response)), { signal })
        await stream.close({ signal })
      } catch (err) {
        log.debug('certificate request failed', { error: String(err) })
        stream.abort(err instanceof Error ? err : new Error(String(err)))
      }
    },
    { runOnLimitedConnection: true },
  )
}

/** Asks `ask` for the certificate of `about`; undefined when it has none or does not answer. */
export async function fetchCertificate(
  libp2p: Libp2p,
  ask: PeerId,
  about: string,
  options: AbortOptions = {},
): Promise<SessionCertificate | undefined> {
  return (await exchange(libp2p, ask, { peer: about }, options))?.cert
}

/**
 * Asks `ask` for the key bundle of `about` (base64url, not verified yet: see `KeyBundleCache`);
 * undefined when it has none or does not answer.
 */
export async function fetchBundle(
  libp2p: Libp2p,
  ask: PeerId,
  about: string,
  options: AbortOptions = {},
): Promise<string | undefined> {
  return (await exchange(libp2p, ask, { peer: about, bundle: true }, options))?.bundle
}

async function exchange(
  libp2p: Libp2p,
  ask: PeerId,
  request: z.input<typeof requestSchema>,
  options: AbortOptions,
): Promise<z.infer<typeof responseSchema> | undefined> {
  const signal = options.signal ?? AbortSignal.timeout(CERTIFICATE_FETCH_TIMEOUT_MS)
  const stream = await libp2p.dialProtocol(ask, CERTIFICATE_PROTOCOL, { signal, runOnLimitedConnection: true })
  try {
    const lp = lpStream(stream, { maxDataLength: MAX_EXCHANGE_BYTES })
    await lp.write(utf8.encode(JSON.stringify(request)), { signal })
    const response = responseSchema.parse(JSON.parse(utf8.decode((await lp.read({ signal })).subarray())))
    await stream.close({ signal })
    return response
  } catch (err) {
    stream.abort(err instanceof Error ? err : new Error(String(err)))
    return undefined
  }
}
