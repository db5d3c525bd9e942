/** The forwarding unit's part of the relay's `/metrics` (`sfu-service.ts`). */
import { byLabel, counter, gauge, type Metric } from '../metrics.ts'
import type { SfuStats } from './sfu-service.ts'

export function sfuMetrics(stats: SfuStats): Metric[] {
  return [
    gauge(
      'securechat_sfu_up',
      'Whether the forwarding unit (Janus) runs and takes calls: 1, or 0 while it is down.',
      stats.up ? 1 : 0,
    ),
    gauge('securechat_sfu_calls', 'Calls the forwarding unit carries now (one Janus room each).', stats.calls),
    gauge('securechat_sfu_devices', 'Devices in those calls (open SFU streams that joined).', stats.devices),
    gauge('securechat_sfu_feeds', 'Devices publishing media in those calls.', stats.feeds),
    gauge(
      'securechat_sfu_janus_sessions',
      "Janus sessions the relay holds: one per device in a call, and the relay's own (which creates rooms).",
      stats.janusSessions,
    ),
    byLabel(
      'counter',
      'securechat_sfu_joins_total',
      'SFU streams by outcome: joined a call, or refused (at their join or later) with the reason sent (malformed, not-a-member, full, unavailable).',
      'outcome',
      stats.joins,
    ),
    counter('securechat_sfu_rooms_created_total', 'Janus rooms the relay created (one per call).', stats.roomsCreated),
    counter(
      'securechat_sfu_rooms_destroyed_total',
      'Janus rooms the relay destroyed after their last device left.',
      stats.roomsDestroyed,
    ),
    counter('securechat_sfu_janus_restarts_total', 'Times Janus died and was started again.', stats.restarts),
  ]
}
