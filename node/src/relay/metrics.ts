/**
 * Prometheus text exposition (format 0.0.4) of the relay's counters, for `GET /metrics`. No
 * client library: the relay keeps its own counters (`RelayNode.stats()`, `Anchorer.stats()`) and
 * this only prints them.
 */
import type { AnchorerStats } from '../audit/anchorer.ts'
import type { RelayStats } from './relay.ts'

export interface Metric {
  /** `snake_case`, with `_total` for counters (Prometheus naming). */
  name: string
  help: string
  type: 'counter' | 'gauge'
  samples: Array<{ labels?: Record<string, string>; value: number | bigint }>
}

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

export function formatMetrics(metrics: readonly Metric[]): string {
  const lines: string[] = []
  for (const metric of metrics) {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(metric.name)) throw new RangeError(`invalid metric name ${metric.name}`)
    lines.push(`# HELP ${metric.name} ${metric.help.replaceAll('\\', '\\\\').replaceAll('\n', '\\n')}`)
    lines.push(`# TYPE ${metric.name} ${metric.type}`)
    for (const sample of metric.samples) {
      const labels = Object.entries(sample.labels ?? {})
      const suffix =
        labels.length === 0
          ? ''
          : `{${labels.map(([key, value]) => `${key}="${value.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n')}"`).join(',')}}`
      lines.push(`${metric.name}${suffix} ${formatValue(sample.value)}`)
    }
  }
  return `${lines.join('\n')}\n`
}

function formatValue(value: number | bigint): string {
  if (typeof value === 'bigint') return value.toString()
  if (Number.isNaN(value)) return 'NaN'
  if (value === Infinity) return '+Inf'
  if (value === -Infinity) return '-Inf'
  return String(value)
}

/** A gauge of one sample. */
export function gauge(name: string, help: string, value: number | bigint): Metric {
  return { name, help, type: 'gauge', samples: [{ value }] }
}

/** A counter of one sample. */
export function counter(name: string, help: string, value: number | bigint): Metric {
  return { name, help, type: 'counter', samples: [{ value }] }
}

/** A counter or gauge of one sample per key of `counts`, the key under the label `label` (an outcome, a reason…). */
export function byLabel<T extends { [K in keyof T]: number | bigint }>(
  type: 'counter' | 'gauge',
  name: string,
  help: string,
  label: string,
  counts: T,
): Metric {
  const entries = Object.entries(counts) as Array<[string, number | bigint]>
  return { name, help, type, samples: entries.map(([key, value]) => ({ labels: { [label]: key }, value })) }
}

export function relayMetrics(stats: RelayStats): Metric[] {
  return [
    gauge('securechat_relay_uptime_seconds', 'Seconds since the relay started.', Math.floor(stats.uptimeMs / 1000)),
    gauge('securechat_relay_rooms', 'Room topics the relay has joined.', stats.rooms),
    gauge('securechat_relay_connections', 'Open libp2p connections.', stats.connections),
    counter('securechat_relay_records_accepted_total', 'Records accepted and forwarded.', stats.accepted),
    counter('securechat_relay_records_rejected_total', 'Records rejected as invalid.', stats.rejected),
    counter(
      'securechat_relay_records_gate_dropped_total',
      "Valid records dropped because their sender fails the room's token gate.",
      stats.gateDropped,
    ),
    counter(
      'securechat_relay_records_gate_unavailable_total',
      'Valid records dropped because the token gate could not be read.',
      stats.gateUnavailable,
    ),
    ...gateMetrics(stats.gate),
    gauge(
      'securechat_relay_inbound_connections',
      'Inbound libp2p connections open or being opened, as the limits count them.',
      stats.limits.inboundConnections,
    ),
    gauge(
      'securechat_relay_pending_connections',
      'Inbound libp2p connections being opened (handshake not done).',
      stats.limits.pendingConnections,
    ),
    gauge('securechat_relay_reservations', 'Circuit relay reservations held.', stats.limits.reservations),
    byLabel(
      'counter',
      'securechat_refused_total',
      'Connections, circuit reservations, gossip records and store queries the relay refused, by the limit that refused them (invalid-record: a validator, or gossipsub’s own checks such as the gossip signature, rejected the record).',
      'reason',
      stats.limits.refused,
    ),
    byLabel(
      'gauge',
      'securechat_relay_peers_scored_out',
      'Gossip peers whose score is below a gossipsub threshold: gossip (sent no gossip), publish (sent nothing), graylist (everything they send is ignored).',
      'threshold',
      stats.scoredOut,
    ),
    gauge(
      'securechat_relay_peers_read_paused',
      'Gossip neighbours the relay reads no further now: each has as many records being handled as --read-records-in-flight allows, and waits on its side of the connection (a flooder does; an honest client sending at its pace does not).',
      stats.reads.pausedPeers,
    ),
    counter(
      'securechat_relay_read_pauses_total',
      'Times the relay stopped reading a gossip neighbour until its records in flight were handled.',
      stats.reads.pauses,
    ),
    gauge(
      'securechat_relay_gossip_streams_opening',
      'Gossip neighbours whose stream the relay is opening now (the protocol negotiation under way): it sends them nothing, not even its subscriptions, until the stream is open.',
      stats.gossipStreams.opening,
    ),
    counter(
      'securechat_relay_gossip_streams_opened_total',
      'Gossip streams the relay opened to neighbours since it started.',
      stats.gossipStreams.opened,
    ),
  ]
}

/** The token gate's view of the chain; nothing for a relay without one. */
function gateMetrics(gate: RelayStats['gate']): Metric[] {
  if (gate === undefined) return []
  return [
    gauge(
      'securechat_relay_gate_head_block',
      'The newest block the token gate followed the chain to (0: none yet); gated records are judged at it or later.',
      gate.head ?? 0,
    ),
    byLabel(
      'counter',
      'securechat_relay_gate_chain_reads_total',
      'What the token gate asked the chain: heads (eth_blockNumber), logs (eth_getLogs), balances.',
      'read',
      gate.reads,
    ),
  ]
}

export function anchorerMetrics(stats: AnchorerStats): Metric[] {
  return [
    gauge('securechat_anchor_pending_leaves', 'Leaves waiting for the next batch.', stats.pendingLeaves),
    gauge('securechat_anchor_queued_batches', 'Batches cut and not anchored yet.', stats.queuedBatches),
    gauge('securechat_anchor_queued_leaves', 'Leaves in batches not anchored yet.', stats.queuedLeaves),
    counter('securechat_anchor_batches_anchored_total', 'Batches this relay anchored.', stats.batchesAnchored),
    counter(
      'securechat_anchor_batches_already_anchored_total',
      'Batches whose root was found already anchored.',
      stats.batchesAlreadyAnchored,
    ),
    counter('securechat_anchor_leaves_anchored_total', 'Leaves in anchored batches.', stats.leavesAnchored),
    counter('securechat_anchor_attempts_total', 'Anchoring attempts.', stats.attempts),
    counter('securechat_anchor_failures_total', 'Failed anchoring attempts (each is retried).', stats.failures),
    counter('securechat_anchor_gas_used_total', 'Gas used by anchor transactions.', stats.gasUsed),
    gauge(
      'securechat_anchor_last_anchor_timestamp_seconds',
      'When the last batch was anchored (Unix time; 0: never).',
      Math.floor((stats.lastAnchor?.atMs ?? 0) / 1000),
    ),
  ]
}
