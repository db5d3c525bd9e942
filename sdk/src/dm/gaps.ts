/**
 * Gap repair for direct messages (docs/architecture.md, Offline devices and receipts): every text names the records
 * its sender sent this device before it (`deps`). One watcher per sending device — the rooms' gap repair
 * (`history/gap-repair.ts`), made by the client — opens a gap for each named record this device has not handled,
 * asks the stores for it on the device pair's topic, then on this wallet's inbox (a text sent before the session
 * was answered travels in an initial message there), and hands what comes back to the DM layer.
 */
import type { SignedMessage } from '@libp2p/gossipsub'
import type { DmHistoryGap, GapFill, GapSink, GapWatcher } from '../types.ts'
import { DM_MAX_GAP_DEVICES } from './constants.ts'
import type { RemoteDevice } from './session-store.ts'

export interface DmGapsComponents {
  /** Gap repair over one sink (`GapRepair`). */
  create: (sink: GapSink) => GapWatcher
  /** This wallet's inbox topic. */
  inbox: string
  /** Whether this device handled the record (live or fetched). */
  handled: (recordId: string) => boolean
  /** Runs a record fetched for a gap of `device` through the DM gatekeeper and ratchet, like a live one. */
  fill: (device: RemoteDevice, message: SignedMessage) => Promise<GapFill>
  report: (gap: DmHistoryGap) => void
}

export class DmGaps {
  readonly #c: DmGapsComponents
  /** By the sending device's PeerId, the most recent last. */
  readonly #watchers = new Map<string, GapWatcher>()
  #stopped = false

  constructor(components: DmGapsComponents) {
    this.#c = components
  }

  /** A text from `device` in record `recordId` names `deps` as sent before it. */
  saw(device: RemoteDevice, recordId: string, deps: readonly string[]): void {
    if (this.#stopped) return
    let watcher = this.#watchers.get(device.peerId)
    if (watcher === undefined) {
      watcher = this.#watch(device)
      this.#watchers.set(device.peerId, watcher)
      if (this.#watchers.size > DM_MAX_GAP_DEVICES) {
        const [oldest, evicted] = this.#watchers.entries().next().value!
        evicted.stop()
        this.#watchers.delete(oldest)
      }
    }
    watcher.saw(recordId, deps)
  }

  /** Record `recordId` from device `from` was handled (a receipt, or unreadable): a gap it was is closed. */
  handled(from: string, recordId: string): void {
    this.#watchers.get(from)?.saw(recordId, [])
  }

  stop(): void {
    this.#stopped = true
    for (const watcher of this.#watchers.values()) watcher.stop()
    this.#watchers.clear()
  }

  #watch(device: RemoteDevice): GapWatcher {
    return this.#c.create({
      topics: [device.topic, this.#c.inbox],
      known: (id) => this.#c.handled(id),
      fill: (message) => this.#c.fill(device, message),
      report: (gap) => this.#c.report({ sender: device.address, senderPeerId: device.peerId, ...gap }),
    })
  }
}
