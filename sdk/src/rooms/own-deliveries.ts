import { evictOldest } from '../bounded-map.ts'
import { MAX_SENT_KEPT } from '../constants.ts'
import type { Address, MessageDelivery } from '../types.ts'

/**
 * How far each of this device's own room messages got ("delivered to N of M members present"), read from the
 * acknowledgements the outgoing buffer waits for anyway (`outgoing-buffer.ts`: a member's presence `acks`, or a
 * message's `deps`) — no record more, and nothing a person can turn off: re-publishing needs them. Counted in
 * wallets, this one's own other devices left out; a member that comes back after the message was sent and
 * acknowledges it counts too. Memory only, the last {@link MAX_SENT_KEPT} messages sent.
 */
export class OwnDeliveries {
  readonly #roomId: string
  readonly #self: Address
  readonly #max: number
  readonly #messages = new Map<string, { present: Set<Address>; delivered: Set<Address> }>()

  constructor(init: { roomId: string; self: Address; max?: number }) {
    this.#roomId = init.roomId
    this.#self = init.self
    this.#max = init.max ?? MAX_SENT_KEPT
  }

  /** Message `id` was just sent while these member wallets were present. */
  sent(id: string, present: Iterable<Address>): void {
    const wallets = new Set([...present].filter((address) => !this.#isSelf(address)))
    this.#messages.set(id, { present: wallets, delivered: new Set() })
    evictOldest(this.#messages, this.#max)
  }

  /** A device of wallet `address` acknowledged message `id`: its delivery when that is news, else undefined. */
  acknowledged(id: string, address: Address): MessageDelivery | undefined {
    const message = this.#messages.get(id)
    if (message === undefined || this.#isSelf(address) || message.delivered.has(address)) return undefined
    message.present.add(address)
    message.delivered.add(address)
    return this.get(id)
  }

  get(id: string): MessageDelivery | undefined {
    const message = this.#messages.get(id)
    if (message === undefined) return undefined
    return { roomId: this.#roomId, id, present: [...message.present], delivered: [...message.delivered] }
  }

  #isSelf(address: Address): boolean {
    return address.toLowerCase() === this.#self.toLowerCase()
  }
}
