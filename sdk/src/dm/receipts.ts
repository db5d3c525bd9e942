/**
 * Delivery receipts (docs/direct-messages.md): a device that received text messages answers the device that
 * sent them with a `receipt` envelope naming their ids, inside the same Double Ratchet session — only that
 * device can read it, and a relay sees one more ciphertext. Receipts of a burst (or of a whole backlog fetched
 * from the relays' stores) go as one, {@link DM_RECEIPT_DELAY_MS} after the first message. The sender keeps,
 * per message it sent, each device's status: `sent` → `delivered`.
 */
import { evictOldest } from '../bounded-map.ts'
import { utf8 } from '../encoding.ts'
import type { Logger } from '../logger.ts'
import type { Address, DmDelivered, DmDeviceResult, DmDeviceStatus } from '../types.ts'
import { DM_MAX_RECEIPT_IDS, DM_MAX_TRACKED_SENDS, DM_RECEIPT_DELAY_MS } from './constants.ts'
import type { RemoteDevice } from './session-store.ts'
import type { DmReceipt } from './wire.ts'

export interface DmReceiptsComponents {
  self: Address
  /** Encrypts for and publishes to one device (`DmSessions.sendTo`). */
  sendTo: (device: RemoteDevice, plaintext: Uint8Array) => Promise<DmDeviceResult>
  /** Work that stop waits for. */
  track: <T>(work: Promise<T>) => Promise<T>
  log: Logger
  onDelivered: (detail: DmDelivered) => void
}

interface SentMessage {
  conversation: Address
  devices: Map<string, DmDeviceStatus>
}

export class DmReceipts {
  readonly #c: DmReceiptsComponents
  readonly #sent = new Map<string, SentMessage>()
  readonly #due = new Map<string, { device: RemoteDevice; ids: string[] }>()
  #timer: ReturnType<typeof setTimeout> | undefined

  constructor(components: DmReceiptsComponents) {
    this.#c = components
  }

  /** A message this device sent (or, after a restart, still waits on): each device starts as `sent` (or `failed`). */
  sent(conversation: Address, id: string, delivery: readonly DmDeviceStatus[]): void {
    const devices = new Map<string, DmDeviceStatus>()
    for (const d of delivery) devices.set(d.peerId, { address: d.address, peerId: d.peerId, status: d.status })
    this.#sent.set(id, { conversation, devices })
    evictOldest(this.#sent, DM_MAX_TRACKED_SENDS)
  }

  /** Each device's status for a message this device sent (the last {@link DM_MAX_TRACKED_SENDS}). */
  status(id: string): DmDeviceStatus[] | undefined {
    const sent = this.#sent.get(id)
    return sent === undefined ? undefined : [...sent.devices.values()].map((d) => ({ ...d }))
  }

  /** A text from `device` was delivered here: its receipt goes back soon, with the others of the burst. */
  received(device: RemoteDevice, id: string): void {
    const due = this.#due.get(device.peerId)
    if (due === undefined) this.#due.set(device.peerId, { device, ids: [id] })
    else if (!due.ids.includes(id)) due.ids.push(id)
    this.#timer ??= setTimeout(() => void this.flush(), DM_RECEIPT_DELAY_MS)
  }

  /** A receipt from `device`: the messages it names reached it. */
  onReceipt(device: RemoteDevice, ids: readonly string[]): void {
    for (const id of ids) {
      const sent = this.#sent.get(id)
      if (sent === undefined) {
        // Sent before this process started: the conversation is the device's wallet, unless it is our own.
        if (device.address !== this.#c.self) this.#delivered(id, device.address, device)
        continue
      }
      const known = sent.devices.get(device.peerId)
      if (known?.status === 'delivered') continue
      sent.devices.set(device.peerId, { address: device.address, peerId: device.peerId, status: 'delivered' })
      this.#delivered(id, sent.conversation, device)
    }
  }

  /** Sends every receipt due now. */
  async flush(): Promise<void> {
    clearTimeout(this.#timer)
    this.#timer = undefined
    const due = [...this.#due.values()]
    this.#due.clear()
    await Promise.all(
      due.map(async ({ device, ids }) => {
        for (let i = 0; i < ids.length; i += DM_MAX_RECEIPT_IDS) {
          const receipt: DmReceipt = { v: 1, kind: 'receipt', ids: ids.slice(i, i + DM_MAX_RECEIPT_IDS) }
          const result = await this.#c.track(this.#c.sendTo(device, utf8.encode(JSON.stringify(receipt))))
          if (result.status === 'failed') {
            this.#c.log.debug('DM receipt not sent', { peer: device.peerId, error: result.error })
          }
        }
      }),
    )
  }

  #delivered(id: string, conversation: Address, device: RemoteDevice): void {
    this.#c.onDelivered({ id, conversation, address: device.address, peerId: device.peerId })
  }
}
