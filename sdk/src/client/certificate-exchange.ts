import type { Libp2p, PeerId } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { z } from 'zod'
import { CERTIFICATE_FETCH_TIMEOUT_MS, CERTIFICATE_PROTOCOL, MAX_CERTIFICATE_BYTES } from '../constants.ts'
import { utf8 } from '../encoding.ts'
import { certificateSchema } from '../identity/certificate.ts'
import type { Logger } from '../logger.ts'
import type { AbortOptions, SessionCertificate } from '../types.ts'

const requestSchema = z.object({ peer: z.string().min(1).max(128) }).strict()
const responseSchema = z.object({ cert: certificateSchema.optional() }).strict()

/** Where certificates come from: this node's own and the verified ones it has cached. */
export type CertificateLookup = (peerId: string) => SessionCertificate | undefined

/**
 * Answers "what is the certificate of PeerId X?" over {@link CERTIFICATE_PROTOCOL}. Answers
 * are hints: the asker verifies them like any other certificate.
 */
export async function serveCertificates(libp2p: Libp2p, lookup: CertificateLookup, log: Logger): Promise<void> {
  await libp2p.handle(
    CERTIFICATE_PROTOCOL,
    async (stream) => {
      const signal = AbortSignal.timeout(CERTIFICATE_FETCH_TIMEOUT_MS)
      try {
        const lp = lpStream(stream, { maxDataLength: MAX_CERTIFICATE_BYTES * 2 })
        const request = requestSchema.parse(JSON.parse(utf8.decode((await lp.read({ signal })).subarray())))
        const cert = lookup(request.peer)
        await lp.write(utf8.encode(JSON.stringify(cert === undefined ? {} : { cert })), { signal })
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
  const signal = options.signal ?? AbortSignal.timeout(CERTIFICATE_FETCH_TIMEOUT_MS)
  const stream = await libp2p.dialProtocol(ask, CERTIFICATE_PROTOCOL, { signal, runOnLimitedConnection: true })
  try {
    const lp = lpStream(stream, { maxDataLength: MAX_CERTIFICATE_BYTES * 2 })
    await lp.write(utf8.encode(JSON.stringify({ peer: about })), { signal })
    const response = responseSchema.parse(JSON.parse(utf8.decode((await lp.read({ signal })).subarray())))
    await stream.close({ signal })
    return response.cert
  } catch (err) {
    stream.abort(err instanceof Error ? err : new Error(String(err)))
    return undefined
  }
}
