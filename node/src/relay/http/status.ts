/** `GET /healthz` (for load balancers and probes) and `GET /metrics` (Prometheus). */
import { formatMetrics, METRICS_CONTENT_TYPE, type Metric } from '../metrics.ts'
import type { RelayNode } from '../relay.ts'
import type { Replies, Route } from './reply.ts'

/** `/healthz`: 200 with the relay's figures while it runs and forwards; 503 once it stops or forwards nothing. */
export function healthRoute(init: { relay: Pick<RelayNode, 'peerId' | 'stats' | 'health'>; reply: Replies }): Route {
  return (exchange) => {
    const relay = init.relay
    let body: Record<string, unknown> = { status: 'stopped' }
    try {
      const stats = relay.stats()
      // A relay that forwards nothing is not healthy, however well its process runs (relay.ts RelayHealth).
      const health = relay.health()
      body = {
        status: health.ok ? 'ok' : 'unhealthy',
        ...(health.ok ? {} : { health }),
        peerId: relay.peerId,
        connections: stats.connections,
        rooms: stats.rooms,
        uptimeSeconds: Math.floor(stats.uptimeMs / 1000),
      }
    } catch {
      // Stopped (or stopping): `peerId` is gone with the libp2p node.
    }
    init.reply.json(exchange, body.status === 'ok' ? 200 : 503, body)
  }
}

/** `/metrics`: what `metrics` gives, in Prometheus' text format. */
export function metricsRoute(init: { metrics: () => Metric[]; reply: Replies }): Route {
  return (exchange) => {
    init.reply.send(
      exchange,
      200,
      { 'Content-Type': METRICS_CONTENT_TYPE, 'Cache-Control': 'no-store' },
      formatMetrics(init.metrics()),
    )
  }
}
