import type { GossipSub, Message, SubscriptionChangeData } from '@libp2p/gossipsub'
import { type AcceptedDmRecord, DmGatekeeper, isDmTopic } from '@securechat/sdk/dm'
import type { CertificateRegistry } from '@securechat/sdk/identity'
import type { Logger } from '@securechat/sdk/logger'
import type { RecordBudget, RecordRates } from './record-rates.ts'

/** Which DM records count against a device's chat messages, which against its control records. */
const DM_BUDGETS: Record<AcceptedDmRecord['type'], RecordBudget> = {
  init: 'messages',
  msg: 'messages',
  signal: 'signals',
  device: 'control',
  query: 'control',
}

export interface RelayDmTopicsInit {
  pubsub: GossipSub
  /** The relay's certificate cache: certificates learned on DM topics are served like the others. */
  registry: CertificateRegistry
  log: Logger
  /** A DM topic no connected peer uses any more is left after this long. */
  idleMs: number
  /** How often idle topics are looked for. */
  checkIntervalMs: number
  /** Every record accepted on a DM topic, once (the message store keeps them). Keep it synchronous and cheap. */
  onAccepted?: (message: Message, record: AcceptedDmRecord) => void
  /** Every record a DM topic's validator rejected, with why; logged by whoever listens (the relay: boundedly). */
  onRejected?: (from: string, reason: string) => void
  /** Records per second per device and topic; none: no limit. */
  recordRates?: RecordRates
}

/**
 * The relay's side of direct messages: it joins every DM topic (wallet inboxes and device
 * pairs) a connected peer subscribes to, so that peers which are not directly connected reach
 * each other, and validates each record there exactly as peers do (`DmGatekeeper`: valid
 * certificate, records on the right kind of topic, devices only on their own wallet's inbox).
 * It holds no DM keys; it sees inbox ids, certificates, public key bundles, session ids and
 * ciphertext (docs/direct-messages.md, What a relay learns).
 */
export class RelayDmTopics {
  readonly #init: RelayDmTopicsInit
  readonly #gatekeeper: DmGatekeeper
  readonly #validate: DmGatekeeper['validate']
  readonly #topics = new Map<string, { idleSinceMs: number | undefined }>()
  #timer: ReturnType<typeof setInterval> | undefined

  constructor(init: RelayDmTopicsInit) {
    this.#init = init
    this.#gatekeeper = new DmGatekeeper({
      registry: init.registry,
      onRejected: (from, reason) => init.onRejected?.(from, reason),
    })
    const gatekeeper = this.#gatekeeper
    this.#validate = init.recordRates?.guard(gatekeeper.validate, gatekeeper, DM_BUDGETS) ?? gatekeeper.validate
  }

  /** DM topics joined now. */
  get size(): number {
    return this.#topics.size
  }

  start(): void {
    const { pubsub } = this.#init
    pubsub.addEventListener('subscription-change', this.#onSubscriptionChange)
    pubsub.addEventListener('message', this.#onMessage)
    this.#timer = setInterval(() => this.#leaveIdle(), this.#init.checkIntervalMs)
  }

  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
    const { pubsub } = this.#init
    pubsub.removeEventListener('subscription-change', this.#onSubscriptionChange)
    pubsub.removeEventListener('message', this.#onMessage)
    this.#topics.clear()
  }

  readonly #onSubscriptionChange = (event: CustomEvent<SubscriptionChangeData>): void => {
    for (const { topic, subscribe } of event.detail.subscriptions) {
      if (!subscribe || !isDmTopic(topic)) continue
      const known = this.#topics.get(topic)
      if (known !== undefined) {
        known.idleSinceMs = undefined
        continue
      }
      this.#topics.set(topic, { idleSinceMs: undefined })
      this.#init.pubsub.topicValidators.set(topic, this.#validate)
      this.#init.pubsub.subscribe(topic)
      this.#init.log.debug('joined DM topic', { topic })
    }
  }

  readonly #onMessage = (event: CustomEvent<Message>): void => {
    if (!this.#topics.has(event.detail.topic)) return
    const accepted = this.#gatekeeper.accepted(event.detail)
    if (accepted !== undefined) this.#init.onAccepted?.(event.detail, accepted)
  }

  #leaveIdle(): void {
    const { pubsub, idleMs } = this.#init
    const now = Date.now()
    for (const [topic, state] of this.#topics) {
      if (pubsub.getSubscribers(topic).length > 0) {
        state.idleSinceMs = undefined
        continue
      }
      state.idleSinceMs ??= now
      if (now - state.idleSinceMs < idleMs) continue
      pubsub.unsubscribe(topic)
      pubsub.topicValidators.delete(topic)
      this.#topics.delete(topic)
      this.#init.log.debug('left idle DM topic', { topic })
    }
  }
}
