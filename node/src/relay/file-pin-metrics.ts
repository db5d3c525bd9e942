/** The file pins' part of the relay's `/metrics` (`file-pins.ts`). */
import type { FilePinsStats } from './file-pins.ts'
import { byLabel, counter, gauge, type Metric } from './metrics.ts'

export function filePinMetrics(stats: FilePinsStats): Metric[] {
  return [
    gauge('securechat_files_pinned', 'Files the relay keeps for its rooms and DMs.', stats.files),
    gauge('securechat_files_pinned_bytes', 'Bytes the files kept take (their ciphertext blocks).', stats.bytes),
    gauge(
      'securechat_files_reserved_bytes',
      'Bytes reserved by pins under way (what their claimed sizes may take).',
      stats.reservedBytes,
    ),
    gauge(
      'securechat_files_quota_bytes',
      'The most the files kept may take (--file-total-quota; 0: none kept).',
      stats.quotaBytes,
    ),
    gauge('securechat_files_pins_under_way', 'Files being fetched to be kept.', stats.pinsUnderWay),
    byLabel(
      'counter',
      'securechat_files_pin_requests_total',
      'Pin requests answered, by outcome: ok, or the reason of the refusal (not-a-member, too-large, room-quota, relay-full, unavailable, malformed, busy).',
      'outcome',
      stats.requests,
    ),
    counter(
      'securechat_files_fetched_bytes_total',
      'Bytes of file blocks the relay fetched over bitswap for pins (blocks it had already are not counted).',
      stats.fetchedBytes,
    ),
    counter('securechat_files_expired_total', 'Files unpinned at the end of their retention.', stats.expired),
  ]
}
