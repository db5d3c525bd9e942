/**
 * Direct messages between wallets (docs/architecture.md, Encryption; docs/direct-messages.md): every device pair has its
 * own Double Ratchet session, started by PQXDH; a message goes to every device of the recipient wallet and, as a
 * copy, to this wallet's other devices.
 *
 * This class is the facade a client uses; the work is in four parts, each in its own module:
 * - discovery (`discovery.ts`): inbox announcements and queries, finding a wallet's devices;
 * - sessions (`sessions.ts`): PQXDH and ratchet sessions, encrypting for and decrypting from one device;
 * - the session store (`session-store.ts`): known devices and their sessions, in memory and in the vault;
 * - delivery (`delivery.ts`): a text to every device, and decrypted envelopes to conversations.
 */

import type { GossipSub, Message } from '@libp2p/gossipsub'
import { TypedEventEmitter } from 'main-event'
import { InvalidInputError } from '../errors.ts'
import { eventStream } from '../event-stream.ts'
import type { CertificateRegistry } from '../identity/registry.ts'
import type { Logger } from '../logger.ts'
import type {
  AbortOptions,
  Address,
  DirectMessage,
  DirectMessagesEvents,
  DmDevice,
  DmSendResult,
  SessionCertificate,
  UndecryptableDirectMessage,
  VerifiedCertificate,
} from '../types.ts'
import type { DeviceKeyring } from '../vault/keyring.ts'
import type { Vault } from '../vault/vault.ts'
import { Conversation, type ConversationHost } from './conversation.ts'
import { DmDelivery } from './delivery.ts'
import { DmDiscovery, type DmDiscoveryInit } from './discovery.ts'
import { DmTopics } from './dm-topics.ts'
import { type AcceptedDmRecord, DmGatekeeper } from './gatekeeper.ts'
import { DmSessionStore, describeDevice } from './session-store.ts'
import { DmSessions } from './sessions.ts'
import { checksumAddress } from './topics.ts'

export interface DirectMessagesComponents {
  pubsub: GossipSub
  registry: CertificateRegistry
  /** This device's certificate, verified. */
  self: { peerId: string; certificate: SessionCertificate; verified: VerifiedCertificate }
  keyring: DeviceKeyring
  /** Where sessions persist; without one they live as long as the process. */
  vault?: Vault
  log: Logger
}

export interface DirectMessagesInit extends DmDiscoveryInit {
  /** SIWE domains whose certificates are accepted from senders; default: this device's own. */
  domains?: string[]
  /** Chains whose certificates are accepted; default: this device's own. */
  chainIds?: number[]
}

/**
 * The DM layer of a client: discovery, sessions, conversations. Events on the standard
 * `EventTarget`; `messages()` streams every conversation's messages.
 */
export class DirectMessages extends TypedEventEmitter<DirectMessagesEvents> implements ConversationHost {
  readonly #c: DirectMessagesComponents
  readonly #self: Address
  readonly #gatekeeper: DmGatekeeper
  readonly #topics: DmTopics
  readonly #store: DmSessionStore
  readonly #discovery: DmDiscovery
  readonly #sessions: DmSessions
  readonly #delivery: DmDelivery
  readonly #conversations = new Map<Address, Conversation>()
  readonly #inflight = new Set<Promise<unknown>>()
  #started: Promise<void> | undefined
  #running = false

  constructor(components: DirectMessagesComponents, init: DirectMessagesInit = {}) {
    super()
    this.#c = components
    const { log, keyring, vault } = components
    const self = { address: components.self.verified.address, ...components.self }
    this.#self = self.address
    this.#gatekeeper = new DmGatekeeper({
      registry: components.registry,
      policy: {
        domains: init.domains ?? [components.self.verified.domain],
        chainIds: init.chainIds ?? [components.self.verified.chainId],
      },
      onRejected: (from, reason) => {
        log.debug('DM record refused', { from, reason })
        this.safeDispatchEvent('message:rejected', { detail: { from, reason } })
      },
    })
    const topics = new DmTopics(components.pubsub, this.#gatekeeper)
    const store = new DmSessionStore({
      selfPeerId: self.peerId,
      keyring,
      topics,
      log,
      ...(vault === undefined ? {} : { vault }),
    })
    const discovery = new DmDiscovery(
      {
        pubsub: components.pubsub,
        topics,
        store,
        self,
        keyring,
        log,
        onDiscovered: (device) => this.safeDispatchEvent('device:discovered', { detail: device }),
        track: (work) => void this.#track(work),
      },
      init,
    )
    const sessions = new DmSessions({
      topics,
      store,
      keyring,
      self,
      log,
      onPlaintext: (device, plaintext, accepted, handshake) =>
        this.#delivery.deliver(device, plaintext, accepted, handshake),
      onUndecryptable: (accepted, err) => this.#delivery.undecryptable(accepted, err),
      onPrekeyUsed: () => discovery.scheduleAnnounce(),
      onEstablished: (device) => this.safeDispatchEvent('session:established', { detail: describeDevice(device) }),
    })
    this.#delivery = new DmDelivery({
      self: self.address,
      store,
      discovery,
      sessions,
      log,
      track: (work) => this.#track(work),
      onMessage: (message) => {
        this.safeDispatchEvent('message:received', { detail: message })
        this.conversation(message.conversation).safeDispatchEvent('message:received', { detail: message })
      },
      onUndecryptable: (detail) => this.#onUndecryptable(detail),
    })
    this.#topics = topics
    this.#store = store
    this.#discovery = discovery
    this.#sessions = sessions
  }

  /** Loads sessions from the vault, subscribes to this wallet's inbox and every session's topic. */
  start(): Promise<void> {
    this.#started ??= this.#start()
    return this.#started
  }

  /** Resolves once started (the same as {@link start}). */
  ready(): Promise<void> {
    return this.start()
  }

  async #start(): Promise<void> {
    await this.#store.load()
    this.#c.pubsub.addEventListener('message', this.#onMessage)
    this.#running = true
    this.#topics.start()
    this.#topics.subscribe(this.#discovery.inbox)
    for (const topic of this.#store.sessionTopics()) this.#topics.subscribe(topic)
    this.#discovery.start()
  }

  /** Stops listening; waits for work in progress so that every state change is saved. Idempotent. */
  async stop(): Promise<void> {
    if (this.#started === undefined) return
    await this.#started.catch(() => undefined)
    if (!this.#running) return
    this.#running = false
    this.#topics.stop()
    this.#discovery.stop()
    this.#c.pubsub.removeEventListener('message', this.#onMessage)
    await Promise.allSettled([...this.#inflight, ...this.#store.queues(), this.#sessions.idle()])
    this.#topics.leaveAll()
    for (const conversation of this.#conversations.values()) conversation.stopped()
    this.safeDispatchEvent('dm:stopped')
  }

  /** The conversation with `address` (one object per wallet). */
  conversation(address: string): Conversation {
    const peer = checksumAddress(address)
    if (peer === this.#self) {
      throw new InvalidInputError('a conversation needs another wallet', {
        details: { address: peer },
        hint: "this wallet's other devices get a copy of every message it sends",
      })
    }
    let conversation = this.#conversations.get(peer)
    if (conversation === undefined) {
      conversation = new Conversation(this, peer)
      this.#conversations.set(peer, conversation)
    }
    return conversation
  }

  /** Conversations this device has sent or received a message in since it started. */
  conversations(): Conversation[] {
    return [...this.#conversations.values()]
  }

  /** Messages of every conversation as they arrive; ends on abort or {@link stop}. */
  messages(options: AbortOptions = {}): AsyncIterable<DirectMessage> {
    return eventStream<DirectMessage>(
      this,
      { event: 'message:received', endEvent: 'dm:stopped', ended: false },
      options,
    )
  }

  devices(address: string): DmDevice[] {
    return this.#store.devicesOf(checksumAddress(address)).map(describeDevice)
  }

  /** Sends `text` to `peer` (see `Conversation.send`). */
  async send(peer: Address, text: string, options: { parentId?: string } & AbortOptions = {}): Promise<DmSendResult> {
    await this.start()
    return this.#delivery.send(peer, text, options)
  }

  /** Asks `address`'s inbox which devices are online and waits for their answers (see `discovery.ts`). */
  async discover(address: string, options: AbortOptions = {}): Promise<DmDevice[]> {
    await this.start()
    const peer = checksumAddress(address)
    await this.#discovery.discover(peer, options)
    return this.devices(peer)
  }

  readonly #onMessage = (event: CustomEvent<Message>): void => {
    const message = event.detail
    if (!this.#topics.has(message.topic)) return
    const accepted = this.#gatekeeper.accepted(message)
    if (accepted === undefined || accepted.from === this.#c.self.peerId) return
    this.#track(
      this.#handle(accepted).catch((err: unknown) =>
        this.#c.log.warn('DM record not handled', { from: accepted.from, error: String(err) }),
      ),
    )
  }

  async #handle(accepted: AcceptedDmRecord): Promise<void> {
    switch (accepted.type) {
      case 'device':
        await this.#discovery.onDevice(accepted.from, accepted.record.bundle, accepted.certificate)
        return
      case 'query':
        this.#discovery.onQuery(accepted.topic)
        return
      case 'init':
        if (accepted.topic === this.#discovery.inbox && accepted.record.to === this.#c.self.peerId) {
          await this.#sessions.onInit(accepted)
        }
        return
      case 'msg':
        await this.#sessions.onMsg(accepted)
    }
  }

  #onUndecryptable(detail: UndecryptableDirectMessage): void {
    this.safeDispatchEvent('message:undecryptable', { detail })
    if (detail.sender !== this.#self) {
      this.conversation(detail.sender).safeDispatchEvent('message:undecryptable', { detail })
    }
  }

  #track<T>(promise: Promise<T>): Promise<T> {
    this.#inflight.add(promise)
    void promise.finally(() => this.#inflight.delete(promise)).catch(() => undefined)
    return promise
  }
}
