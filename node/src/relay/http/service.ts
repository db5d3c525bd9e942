/** The HTTP server as a service of the relay component: the web app and the relay's HTTP API. */
import type { HttpService, RelayComponents } from '../create-relay.ts'
import { RelayHttpServer, type RelayHttpServerInit } from './server.ts'

export type HttpServiceInit = Omit<
  RelayHttpServerInit,
  'relay' | 'metrics' | 'auditProofs' | 'leafLists' | 'tls' | 'logger'
>

/**
 * Serves the relay's one metrics surface, answers `/audit/proof` from the relay's proof index when a service fills
 * it (anchoring, leaf lists), takes leaf lists when the relay has that service, and serves HTTPS with the relay's TLS
 * pair when it has one.
 */
export function httpServer(init: HttpServiceInit): (components: RelayComponents) => HttpService & RelayHttpServer {
  return (components) => {
    const { anchoring, leafLists } = components.services
    return new RelayHttpServer({
      ...init,
      relay: components.node,
      logger: components.logger,
      metrics: components.metrics,
      ...(components.tls === undefined ? {} : { tls: components.tls }),
      ...(anchoring === undefined && leafLists === undefined ? {} : { auditProofs: components.proofs }),
      ...(leafLists === undefined ? {} : { leafLists: leafLists.intake }),
    })
  }
}
