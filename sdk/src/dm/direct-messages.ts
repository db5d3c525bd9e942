/**
 * Direct messages between wallets (docs/architecture.md, Encryption; docs/direct-messages.md): every device pair has its
 * own Double Ratchet session, started by PQXDH; a message goes to every device of the recipient wallet and, as a
 * copy, to this wallet's other devices.
 *
 * This class is the facade a client uses; the work is in four parts, each in its own module:
 * - discovery (`discovery.ts`): inbox announcements and queries, finding a wallet's devices;
 * - sessions (`sessions.ts`): PQXDH and ratchet sessions, encrypting for and decrypting from one device;
 * - the session store (`session-store.ts`): known devices and their sessions, in memory and in the vault;
 * - delivery (`delivery.ts`): a text to every device, and decrypted envelopes to conversations;
 * - receipts (`receipts.ts`): "delivered" back to the sending device, and each sent message's status per device;
 * - catch-up (`history-sink.ts`, `history-state.ts`): what was sent while this device was away, from the
 *   relays' stores, on start, when a relay with history connects, and every `DM_CATCH_UP_INTERVAL_MS`;
 * - the outgoing texts (`outgoing.ts`): what each device was sent lately (named in the next text's `deps`), and
 *   what no receipt answered yet, re-sent;
 * - gaps (`gaps.ts`): a record a text names that this device lacks, fetched from the stores by the client's gap
 *   repair.
 */

import {
  type GossipSub,
  type Message,
  type SignedMessage,
  type SubscriptionChangeData,
  TopicValidatorResult,
} from '@libp2p/gossipsub'
import { TypedEventEmitter } from 'main-event'
import { callSignalOf, createCallSignalGuard } from '../calls/signals.ts'
import { MAX_HELD_LIVE_RECORDS } from '../constants.ts'
import { checkTimerSeconds, dmTimerRefusal, ExpiryClock } from '../disappearing.ts'
import { InvalidInputError, NotStartedError } from '../errors.ts'
import { eventStream } from '../event-stream.ts'
import { parseFileManifest } from '../files/manifest.ts'
import type { CertificateRegistry } from '../identity/registry.ts'
import { LateArrivals } from '../late-arrivals.ts'
import type { Logger } from '../logger.ts'
import { mentionsToSend } from '../mentions.ts'
import { type ChangeOutcome, isReaction, type MessageStatesFollower } from '../message-state.ts'
import { DEFAULT_SIGNAL_SETTINGS, SignalGuard, type SignalSettings } from '../signals.ts'
import type {
  AbortOptions,
  Address,
  CallSignalEvent,
  CallSignalInput,
  DirectMessage,
  DirectMessagesEvents,
  DmDelivered,
  DmDevice,
  DmDeviceStatus,
  DmHistoryGap,
  DmHistoryProgress,
  DmSendResult,
  FileManifest,
  GapFill,
  GapSink,
  GapWatcher,
  MessageChange,
  MessageState,
  OutgoingStats,
  ReadSignal,
  SessionCertificate,
  TimerChange,
  TypingSignal,
  UndecryptableDirectMessage,
  VerifiedCertificate,
} from '../types.ts'
import type { DeviceKeyring } from '../vault/keyring.ts'
import type { Vault } from '../vault/vault.ts'
import { DM_CATCH_UP_CLOCK_MARGIN_MS, DM_CATCH_UP_INTERVAL_MS, DM_HISTORY_SAVE_DELAY_MS } from './constants.ts'
import { Conversation, type ConversationHost } from './conversation.ts'
import { checkDmId, checkDmText, type DmContent, DmDelivery } from './delivery.ts'
import { DmDiscovery, type DmDiscoveryInit } from './discovery.ts'
import { DmSignals } from './dm-signals.ts'
import { DmTopics } from './dm-topics.ts'
import { DmGaps } from './gaps.ts'
import { type AcceptedDmRecord, DmGatekeeper } from './gatekeeper.ts'
import type { DmHistorySink, HandledDmRecord } from './history-sink.ts'
import { DmHistoryState } from './history-state.ts'
import { DmMessageLog } from './message-log.ts'
import { DmOutgoing } from './outgoing.ts'
import { DmReceipts } from './receipts.ts'
import { DmSessionStore, describeDevice, type RemoteDevice } from './session-store.ts'
import { type DmOutcome, type DmReceiveOptions, DmSessions } from './sessions.ts'
import { checksumAddress } from './topics.ts'

export interface DirectMessagesComponents {
  pubsub: GossipSub
  registry: CertificateRegistry
  /** This device's certificate, verified. */
  self: { peerId: string; certificate: SessionCertificate; verified: VerifiedCertificate }
  keyring: DeviceKeyring
  /** Where sessions persist; without one they live as long as the process. */
  vault?: Vault
  /** The device's search index (`search/search-indexer.ts`): it follows each conversation's messages. */
  search?: MessageStatesFollower
  log: Logger
  /** The relays' stores (`history/dm-catch-up.ts` over the connected relays); without them, delivery is live only. */
  history?: DmHistoryAccess
  /** Gap repair for what one device sent this one (`history/gap-repair.ts`); without it, gaps are not followed. */
  gaps?: (sink: GapSink) => GapWatcher
  /** Whether this device tells and shows read receipts and typing (`signals.ts`); both on without it. */
  signalSettings?: () => SignalSettings
}

export interface DmHistoryAccess {
  /** Asks for what was sent while this device was away and hands it to `sink`. */
  catchUp(sink: DmHistorySink, options: AbortOptions): Promise<DmHistoryProgress>
  /** A topic's stored records of these types, from every connected store, verified and deduplicated. */
  records(topic: string, types: string[], options: AbortOptions): Promise<SignedMessage[]>
  /** Which of these record ids of `topic` a connected store holds (verified). */
  held(topic: string, ids: string[], options: AbortOptions): Promise<Set<string>>
}

export interface DirectMessagesInit extends DmDiscoveryInit {
  /** SIWE domains whose certificates are accepted from senders; default: this device's own. */
  domains?: string[]
  /** Chains whose certificates are accepted; default: this device's own. */
  chainIds?: number[]
  /**
   * Fetch what was sent while this device was away from the relays' stores (default true). A program that
   * only sends turns it off: what it read would be shown nowhere, and marked read.
   */
  catchUp?: boolean
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
  readonly #receipts: DmReceipts
  readonly #signals: DmSignals
  readonly #history: DmHistoryState
  /** Each conversation's messages: texts, versions, reactions, deletes, threads (`message-log.ts`). */
  readonly #messages: DmMessageLog
  /** Sweeps the messages past their disappearing timer (`disappearing.ts`) when the next one is due. */
  readonly #expiry: ExpiryClock
  readonly #outgoing: DmOutgoing
  /** Gap repair of what each device sends this one (absent: the client gave none). */
  readonly #gaps: DmGaps | undefined
  /** Where a text that arrives after one naming it belongs (`before`), and record ids as message ids. */
  readonly #arrivals = new LateArrivals()
  readonly #sink: DmHistorySink
  readonly #conversations = new Map<Address, Conversation>()
  readonly #inflight = new Set<Promise<unknown>>()
  #started: Promise<void> | undefined
  #running = false
  /** Live records held while the first catch-up after start runs (undefined: none runs). */
  #held: AcceptedDmRecord[] | undefined
  #catchingUp: Promise<void> | undefined
  #catchUpAgain = false
  #catchUpTimer: ReturnType<typeof setInterval> | undefined
  #saveSoon: ReturnType<typeof setTimeout> | undefined
  readonly #stopping = new AbortController()

  constructor(components: DirectMessagesComponents, init: DirectMessagesInit = {}) {
    super()
    const { history, ...live } = components
    this.#c = init.catchUp === false || history === undefined ? live : { ...live, history }
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
      beforePersist: () => this.#messages.flush(),
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
        storedDevices: async (topic, options) => {
          const out: Array<Extract<AcceptedDmRecord, { type: 'device' }>> = []
          for (const message of (await components.history?.records(topic, ['device'], options)) ?? []) {
            const accepted = await this.#acceptStored(message)
            if (accepted?.type === 'device') out.push(accepted)
          }
          return out
        },
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
    this.#receipts = new DmReceipts({
      self: self.address,
      sendTo: (device, plaintext) => sessions.sendTo(device, plaintext),
      track: (work) => this.#track(work),
      log,
      onDelivered: (detail) => this.#onDelivered(detail),
    })
    this.#signals = new DmSignals({
      self: self.address,
      selfPeerId: self.peerId,
      store,
      settings: components.signalSettings ?? (() => DEFAULT_SIGNAL_SETTINGS),
      guard: new SignalGuard(),
      callGuard: createCallSignalGuard(),
      sendTo: (device, plaintext, options) => sessions.sendTo(device, plaintext, options),
      discoverIfDue: async (peer) => {
        if (this.#discovery.isDue(peer)) await this.#discovery.discover(peer)
      },
      track: (work) => this.#track(work),
      onTyping: (detail) => this.#onSignal('typing:changed', detail),
      onRead: (detail) => this.#onSignal('read:received', detail),
      onCall: (detail) => this.#onSignal('call:signal', detail),
      log,
    })
    this.#history = new DmHistoryState({ vault, log, beforeSave: () => this.#messages.flush() })
    this.#messages = new DmMessageLog({ vault, log, search: components.search })
    this.#expiry = new ExpiryClock({ next: () => this.#messages.nextExpiryMs(), sweep: () => this.#expire() })
    this.#outgoing = new DmOutgoing({
      vault,
      log,
      // Whether a store holds a text is asked even by a device that does not catch up itself.
      ...(history === undefined ? {} : { held: (topic, ids, options) => history.held(topic, ids, options) }),
      republish: async (topic, record) => (await components.pubsub.publish(topic, record)).recipients.length,
      onRestored: (conversation, id, devices) => this.#receipts.sent(conversation, id, devices),
    })
    this.#delivery = new DmDelivery({
      self: self.address,
      store,
      discovery,
      sessions,
      receipts: this.#receipts,
      signals: this.#signals,
      outgoing: this.#outgoing,
      log,
      track: (work) => this.#track(work),
      onMessage: (message) => this.#onText(message),
      onChange: (conversation, change) => this.#onChange(conversation, change),
      onTimer: (conversation, change) => this.#onTimer(conversation, change),
      onUndecryptable: (detail) => this.#onUndecryptable(detail),
      onDeps: (device, recordId, deps) => this.#gaps?.saw(device, recordId, deps),
      arrivals: this.#arrivals,
    })
    this.#gaps =
      components.gaps === undefined
        ? undefined
        : new DmGaps({
            create: components.gaps,
            inbox: discovery.inbox,
            handled: (recordId) => this.#history.handled(recordId),
            fill: (device, message) => this.#fillGap(device, message),
            report: (gap) => this.#onGap(gap),
          })
    this.#topics = topics
    this.#store = store
    this.#discovery = discovery
    this.#sessions = sessions
    this.#sink = this.#makeSink()
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
    await this.#history.load()
    await this.#messages.load()
    // What expired while this device was off leaves its vault now, before anything is shown.
    this.#expire()
    this.#expiry.schedule()
    await this.#outgoing.start()
    this.#c.pubsub.addEventListener('message', this.#onMessage)
    this.#c.pubsub.addEventListener('subscription-change', this.#onSubscriptionChange)
    this.#running = true
    this.#topics.start()
    this.#topics.subscribe(this.#discovery.inbox)
    for (const topic of this.#store.sessionTopics()) this.#topics.subscribe(topic)
    this.#discovery.start()
    if (this.#c.history !== undefined) {
      // What was sent while this device was away comes first: live records wait for the first catch-up.
      this.#held = []
      this.catchUpSoon()
      this.#catchUpTimer = setInterval(() => this.catchUpSoon(), DM_CATCH_UP_INTERVAL_MS)
    }
  }

  /** Stops listening; waits for work in progress so that every state change is saved. Idempotent. */
  async stop(): Promise<void> {
    if (this.#started === undefined) return
    await this.#started.catch(() => undefined)
    if (!this.#running) return
    this.#running = false
    clearInterval(this.#catchUpTimer)
    this.#expiry.stop()
    this.#stopping.abort()
    await this.#catchingUp
    this.#topics.stop()
    this.#discovery.stop()
    this.#c.pubsub.removeEventListener('message', this.#onMessage)
    this.#c.pubsub.removeEventListener('subscription-change', this.#onSubscriptionChange)
    this.#gaps?.stop()
    this.#signals.stop()
    await this.#receipts.flush()
    await Promise.allSettled([...this.#inflight, ...this.#store.queues(), this.#sessions.idle()])
    await this.#store.persistUnsaved()
    clearTimeout(this.#saveSoon)
    await this.#outgoing.stop()
    await this.#history.save()
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

  /**
   * The pair topic of a device of `address` this device has a session with, if any: where a relay keeps a file
   * shared in the conversation (a relay pins a DM's file under a pair topic; it cannot tell which devices it joins).
   */
  pairTopic(address: string): string | undefined {
    return this.#store.devicesOf(checksumAddress(address)).find((device) => device.sessions.size > 0)?.topic
  }

  /** Sends `text` to `peer` (see `Conversation.send`). */
  async send(
    peer: Address,
    text: string,
    options: { parentId?: string; file?: FileManifest } & AbortOptions = {},
  ): Promise<DmSendResult> {
    await this.start()
    checkDmText(text)
    const { parentId } = options
    if (parentId !== undefined) checkDmId(parentId, 'parentId')
    // What a receiver would refuse is refused here, with the reason (`files/manifest.ts`).
    const file = options.file === undefined ? undefined : parseFileManifest(options.file)
    // Listed once, for the envelope and for this device's own state alike.
    const mentions = mentionsToSend(text)
    const result = await this.#delivery.write(
      peer,
      {
        kind: 'text',
        body: text,
        ...(parentId === undefined ? {} : { parent: parentId }),
        ...(mentions === undefined ? {} : { mentions }),
        ...(file === undefined ? {} : { file }),
      },
      options,
    )
    const { outcomes } = this.#messages.of(peer).text({
      id: result.id,
      sender: this.#self,
      senderPeerId: this.#c.self.peerId,
      sentAtMs: result.sentAtMs,
      body: text,
      parentId,
      ...(mentions === undefined ? {} : { mentions }),
      file,
    })
    this.#report(peer, outcomes)
    this.#expiry.added(this.#messages.of(peer).expiresAtMs(result.id))
    return result
  }

  /** Sends a reaction, edit or delete to `peer` (see `Conversation.react`, `edit`, `delete`), checked first. */
  async change(
    peer: Address,
    written: Exclude<DmContent, { kind: 'text' | 'timer' }>,
    options: AbortOptions = {},
  ): Promise<DmSendResult> {
    let content = written
    await this.start()
    checkDmId(content.target, 'id')
    if (content.kind === 'react' && !isReaction(content.emoji)) {
      throw new InvalidInputError('not a reaction', {
        details: { emoji: content.emoji },
        hint: 'react with an emoji (at most a few characters, no spaces)',
      })
    }
    if (content.kind === 'edit') {
      checkDmText(content.body)
      const mentions = mentionsToSend(content.body)
      if (mentions !== undefined) content = { ...content, mentions }
    }
    // One this device does not have goes out: the receivers check the sender themselves.
    if (content.kind !== 'react' && this.#messages.of(peer).isAuthor(content.target, this.#self) === false) {
      throw new InvalidInputError(`cannot ${content.kind} another wallet's message`, {
        details: { id: content.target },
        hint: `only its sender may ${content.kind} it`,
      })
    }
    const result = await this.#delivery.write(peer, content, options)
    const common = {
      id: result.id,
      target: content.target,
      sender: this.#self,
      senderPeerId: this.#c.self.peerId,
      sentAtMs: result.sentAtMs,
    }
    this.#onChange(
      peer,
      content.kind === 'react'
        ? { ...common, kind: 'react', emoji: content.emoji, remove: content.remove === true }
        : content.kind === 'edit'
          ? {
              ...common,
              kind: 'edit',
              body: content.body,
              ...(content.mentions === undefined ? {} : { mentions: content.mentions }),
            }
          : { ...common, kind: 'delete' },
    )
    return result
  }

  /** Message `id` of the conversation with `peer` as this device knows it now, if it is here. */
  message(peer: Address, id: string): MessageState | undefined {
    return this.#messages.of(peer).get(id)
  }

  /** The replies of the thread whose root is `rootId` in the conversation with `peer`, oldest first. */
  thread(peer: Address, rootId: string): MessageState[] {
    return this.#messages.of(peer).thread(rootId)
  }

  /** The messages this device keeps of the conversation with `peer`, in the order they came (`Room.keptMessages`). */
  keptMessages(peer: Address): MessageState[] {
    return this.#messages.of(peer).list()
  }

  /**
   * Sets the disappearing-messages timer of the conversation with `peer`, in seconds (0: off; `disappearing.ts`):
   * messages sent from now on leave both wallets' devices that long after they were sent. Either wallet may.
   */
  async setDisappearing(peer: Address, seconds: number, options: AbortOptions = {}): Promise<DmSendResult> {
    await this.start()
    checkTimerSeconds(seconds)
    const result = await this.#delivery.write(peer, { kind: 'timer', seconds }, options)
    const change = { id: result.id, sender: this.#self, senderPeerId: this.#c.self.peerId, sentAtMs: result.sentAtMs }
    this.#onTimer(peer, { ...change, seconds })
    return result
  }

  /** The disappearing-messages timer in force with `peer` (its last change), if it was ever set. */
  disappearing(peer: Address): TimerChange | undefined {
    return this.#messages.of(peer).timer()
  }

  /** When a message with `peer` sent at `sentAtMs`, received at `receivedAtMs`, leaves this device; undefined: never. */
  expiryOf(peer: Address, sentAtMs: number, receivedAtMs: number): number | undefined {
    return this.#messages.of(peer).expiryOf(sentAtMs, receivedAtMs)
  }

  #onTimer(conversation: Address, change: TimerChange): void {
    const target = this.conversation(conversation)
    const reason = dmTimerRefusal([this.#self, conversation], change.sender)
    if (reason !== undefined) {
      const detail = { change, reason }
      this.safeDispatchEvent('timer:refused', { detail })
      target.safeDispatchEvent('timer:refused', { detail })
      return
    }
    if (!this.#messages.of(conversation).setTimer(change)) return
    const detail = { conversation, change }
    this.safeDispatchEvent('timer:changed', { detail })
    target.safeDispatchEvent('timer:changed', { detail })
    this.#messages.save(conversation)
    this.#expire()
    this.#expiry.schedule()
  }

  /** Drops the messages past their timer, here and (saved) in the vault, and says which. */
  #expire(): void {
    for (const detail of this.#messages.expire(Date.now())) {
      this.safeDispatchEvent('message:expired', { detail })
      this.#conversations.get(detail.conversation)?.safeDispatchEvent('message:expired', { detail })
    }
  }

  #onText(message: DirectMessage): void {
    const { state, outcomes, expired } = this.#messages.of(message.conversation).text({
      id: message.id,
      sender: message.sender,
      senderPeerId: message.senderPeerId,
      sentAtMs: message.sentAtMs,
      body: message.text,
      parentId: message.parentId,
      mentions: message.mentions,
      file: message.file,
      receivedAtMs: message.receivedAtMs,
    })
    // Past its disappearing timer on arrival (a catch-up after being away): never shown.
    if (expired) return
    this.#expiry.added(this.#messages.of(message.conversation).expiresAtMs(message.id))
    // Deleted before it arrived (a catch-up delivers in any order): its text is not shown, even once.
    const { file: _file, ...withoutFile } = message
    const detail = state.deleted ? { ...withoutFile, text: '', mentions: [] } : message
    this.safeDispatchEvent('message:received', { detail })
    this.conversation(message.conversation).safeDispatchEvent('message:received', { detail })
    this.#report(message.conversation, outcomes)
  }

  #onChange(conversation: Address, change: MessageChange): void {
    this.#report(conversation, [this.#messages.of(conversation).change(change)])
  }

  #report(conversation: Address, outcomes: ChangeOutcome[]): void {
    const target = this.conversation(conversation)
    for (const outcome of outcomes) {
      if (outcome.status === 'applied') {
        const detail = { conversation, ...outcome.update }
        this.safeDispatchEvent('message:updated', { detail })
        target.safeDispatchEvent('message:updated', { detail })
      } else if (outcome.status === 'refused') {
        const detail = { change: outcome.change, reason: outcome.reason }
        this.safeDispatchEvent('change:refused', { detail })
        target.safeDispatchEvent('change:refused', { detail })
      }
    }
    this.#messages.save(conversation)
  }

  /** Texts sent per device, waiting for a receipt or a store, re-published and given up (`outgoing.ts`). */
  get outgoing(): OutgoingStats {
    return this.#outgoing.stats
  }

  /** The person is typing to `peer` (`true`, repeated as they type) or cleared or sent the composer (`false`). */
  typing(peer: Address, typing: boolean): boolean {
    return this.#running ? this.#signals.typing(peer, typing) : false
  }

  /** The person read the conversation with `peer` up to message `id` (`Conversation.markRead`). */
  markRead(peer: Address, id: string): void {
    checkDmId(id, 'id')
    if (this.#running) this.#signals.read(peer, id)
  }

  /**
   * Every read position heard since start, as `read:received` told them: the other wallets' (none while receipts are
   * off) and this wallet's other devices' (`own`), the latest per conversation.
   */
  readPositions(): ReadSignal[] {
    return this.#signals.reads()
  }

  /** How far `peer` read this conversation, as last heard (undefined while receipts are off). */
  readPosition(peer: Address): ReadSignal | undefined {
    return this.#signals.readOf(peer)
  }

  /**
   * Sends a call signal in the conversation with `peer` (`Conversation.sendCallSignal`): ephemeral, like typing, but
   * a `here` opens a session where none is established (a call rings a wallet never written to); not turned off by
   * the typing or receipts settings.
   */
  async sendCallSignal(peer: Address, signal: CallSignalInput): Promise<void> {
    const full = callSignalOf(signal)
    if (!this.#running) throw new NotStartedError('start the DMs before calling', { hint: 'await client.dms.start()' })
    await this.#signals.sendCall(checksumAddress(peer), full)
  }

  #onSignal<K extends 'typing:changed' | 'read:received' | 'call:signal'>(
    type: K,
    detail: K extends 'typing:changed' ? TypingSignal : K extends 'read:received' ? ReadSignal : CallSignalEvent,
  ): void {
    this.safeDispatchEvent(type, { detail } as never)
    this.#conversations.get(detail.conversation as Address)?.safeDispatchEvent(type, { detail } as never)
  }

  /** Each device's status (`sent`, `delivered`, `failed`) for a message this device sent lately, by its id. */
  status(id: string): DmDeviceStatus[] | undefined {
    return this.#receipts.status(id)
  }

  /**
   * Asks the relays' stores for what was sent to this device while it was away (once the current run, if
   * any, is done). The client calls it when a relay with history connects; progress is `history:progress`.
   */
  catchUpSoon(): void {
    if (!this.#running) return
    // A relay came or went: a text published to nobody meanwhile goes out again now.
    this.#outgoing.reachable()
    if (this.#c.history === undefined) return
    if (this.#catchingUp !== undefined) {
      this.#catchUpAgain = true
      return
    }
    this.#catchingUp = this.#catchUp().finally(() => {
      this.#catchingUp = undefined
      if (this.#catchUpAgain) {
        this.#catchUpAgain = false
        this.catchUpSoon()
      }
    })
  }

  async #catchUp(): Promise<void> {
    try {
      await this.#c.history?.catchUp(this.#sink, { signal: this.#stopping.signal })
    } catch (err) {
      if (!this.#stopping.signal.aborted) this.#c.log.warn('DM catch-up failed', { error: String(err) })
      await this.#releaseHeld()
    }
  }

  #makeSink(): DmHistorySink {
    return {
      self: this.#c.self.peerId,
      topics: () => [this.#discovery.inbox, ...this.#store.sessionTopics()],
      types: (topic) => (topic === this.#discovery.inbox ? ['init'] : ['msg']),
      position: (relay, topic) => this.#history.position(relay, topic, DM_CATCH_UP_CLOCK_MARGIN_MS),
      accept: (message) => this.#acceptStored(message),
      handled: (recordId) => this.#history.handled(recordId),
      handle: (accepted) => this.#handleOnce(accepted, { fromStore: true }),
      advance: (relay, topic, position) => this.#history.advance(relay, topic, position),
      progress: (progress) => this.safeDispatchEvent('history:progress', { detail: progress }),
      end: async () => {
        await this.#receipts.flush()
        await this.#history.save()
        await this.#releaseHeld()
      },
    }
  }

  /** Runs a stored record through the gatekeeper that live gossip goes through. */
  async #acceptStored(message: SignedMessage): Promise<AcceptedDmRecord | undefined> {
    const verdict = await this.#gatekeeper.validate(message.from, message)
    return verdict === TopicValidatorResult.Accept ? this.#gatekeeper.accepted(message) : undefined
  }

  /** Handles the records held while the first catch-up ran, then lets live ones through. */
  async #releaseHeld(): Promise<void> {
    while (this.#held !== undefined && this.#held.length > 0) {
      const held = this.#held
      this.#held = []
      for (const accepted of held) await this.#handleLive(accepted)
    }
    this.#held = undefined
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
    const hold = this.#held !== undefined && this.#held.length < MAX_HELD_LIVE_RECORDS
    if (hold && (accepted.type === 'init' || accepted.type === 'msg')) {
      this.#held?.push(accepted)
      return
    }
    this.#track(this.#handleLive(accepted))
  }

  async #handleLive(accepted: AcceptedDmRecord): Promise<void> {
    try {
      switch (accepted.type) {
        case 'device':
          await this.#discovery.onDevice(accepted.from, accepted.record.bundle, accepted.certificate)
          return
        case 'query':
          this.#discovery.onQuery(accepted.topic)
          return
        default:
          await this.#handleOnce(accepted, {})
          this.#scheduleSave()
      }
    } catch (err) {
      this.#c.log.warn('DM record not handled', { from: accepted.from, error: String(err) })
    }
  }

  /** An initial message or ratchet message, live or fetched: handled once, whichever way it came first. */
  async #handleOnce(accepted: HandledDmRecord, options: DmReceiveOptions): Promise<DmOutcome> {
    if (this.#history.handled(accepted.recordId)) return 'seen'
    this.#history.markHandled(accepted.recordId)
    let outcome: DmOutcome
    try {
      if (accepted.type === 'msg' || accepted.type === 'signal') outcome = await this.#sessions.onMsg(accepted, options)
      else if (accepted.topic !== this.#discovery.inbox || accepted.record.to !== this.#c.self.peerId) return 'ignored'
      else outcome = await this.#sessions.onInit(accepted, options)
    } finally {
      this.#history.settled(accepted.recordId)
    }
    // A gap this record was (a text closed it as it was delivered; a receipt or an unreadable record here).
    this.#gaps?.handled(accepted.from, accepted.recordId)
    return outcome
  }

  /** A record a gap of `device` named, fetched from a store: read like a live one. */
  async #fillGap(device: RemoteDevice, message: SignedMessage): Promise<GapFill> {
    const accepted = await this.#acceptStored(message)
    if ((accepted?.type !== 'msg' && accepted?.type !== 'init') || accepted.from !== device.peerId) return 'rejected'
    const outcome = await this.#handleOnce(accepted, { fromStore: true })
    this.#scheduleSave()
    return outcome === 'seen' ? 'had' : outcome === 'ignored' ? 'rejected' : 'delivered'
  }

  /** The handled ids reach the vault a little after a live record (one write per burst). */
  #scheduleSave(): void {
    this.#saveSoon ??= setTimeout(() => {
      this.#saveSoon = undefined
      void this.#history.save()
    }, DM_HISTORY_SAVE_DELAY_MS)
  }

  #onDelivered(detail: DmDelivered): void {
    this.#outgoing.delivered(detail.id, detail.peerId)
    this.safeDispatchEvent('message:delivered', { detail })
    this.#conversations.get(detail.conversation)?.safeDispatchEvent('message:delivered', { detail })
  }

  #onGap(gap: DmHistoryGap): void {
    // Named by a record; a list knows the message inside it (`before` is where the gap's line goes).
    const detail = { ...gap, before: this.#arrivals.messageIdOf(gap.before) }
    this.safeDispatchEvent('history:gap', { detail })
    if (detail.sender !== this.#self) {
      this.conversation(detail.sender).safeDispatchEvent('history:gap', { detail })
    }
  }

  /** A neighbour subscribed to a topic: a text published there to nobody goes out again now. */
  readonly #onSubscriptionChange = (event: CustomEvent<SubscriptionChangeData>): void => {
    for (const { topic, subscribe } of event.detail.subscriptions) if (subscribe) this.#outgoing.reachable(topic)
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
