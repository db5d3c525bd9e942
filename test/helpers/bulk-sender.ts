import type { ClientInit } from '@securechat/sdk/client'
import type { RecordRatesInit } from '../../node/src/relay/record-rates.ts'

/** What relays and a sender set so that one device may send a backlog in a loop: see {@link bulkSender}. */
export interface BulkSender {
  /** For a relay in this process (`RelayInit.recordRates`). */
  recordRates: Pick<RecordRatesInit, 'recordsPerSecond' | 'recordBurst'>
  /** For a relay process: `--records-per-second` and `--record-burst`. */
  relayArgs: string[]
  /** For the sender (`ClientInit.publishPacing`). */
  publishPacing: NonNullable<ClientInit['publishPacing']>
}

/**
 * A test that sends `count` records from one device in a loop does it as an import does (docs/architecture.md,
 * publish pacing): the operator lets one device send `count` a second, and at once, and the sender paces itself at
 * half of it, as the sdk paces itself at half the relays' defaults. At the defaults (10 a second) a thousand
 * messages take minutes.
 */
export function bulkSender(count: number): BulkSender {
  return {
    recordRates: { recordsPerSecond: count, recordBurst: count },
    relayArgs: ['--records-per-second', String(count), '--record-burst', String(count)],
    publishPacing: { perSecond: count / 2, burst: count / 2 },
  }
}
