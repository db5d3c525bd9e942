/**
 * Direct messages between wallets (DESIGN.md, Encryption; README, Direct messages): every
 * device pair has its own Double Ratchet session, started by PQXDH; a message goes to every
 * device of the recipient wallet and, as a copy, to this wallet's other devices.
 *
 * Discovery: each device subscribes to its wallet's inbox (`topics.ts`) and announces itself
 * there (certificate + key bundle) every `DM_ANNOUNCE_INTERVAL_MS`, when a neighbour subscribes,
 * and in answer to a `query`. A sender subscribes to the recipient's inbox only while it
 * discovers (`DM_DISCOVERY_TIMEOUT_MS`, at most every `DM_REDISCOVERY_MS`), asks, and collects
 * the bundles that answer; it checks each bundle's PeerId signature and that the device's
 * certificate commits to it.
 *
 * Sessions: the first message to a device is a PQXDH initial message in an `init` record on the
 * recipient's inbox. As in Signal (PreKeySignalMessage), every message of that session is sent
 * this way — the PQXDH header repeated, the payload the next ratchet message — until a message
 * from the responder arrives; the responder answers a new session with an `ack` at once. After
 * that, messages are `msg` records on the pair's topic, which only the two devices can name.
 * One-time prekeys are used only from a bundle heard within `DM_FRESH_BUNDLE_MS` (bundles are
 * broadcast, not handed out once, so a stale one may name a prekey already used).
 *
 * State: every session, the devices it belongs to, and the ids of accepted initial messages (a
 * replay is refused) are saved to the vault after each change — before a ciphertext is
 * published, so a restart never reuses a message key — and loaded on start.
 */

import type { GossipSub, Message, SubscriptionChangeData } from '@libp2p/gossipsub'
import { peerIdFromString } from '@libp2p/peer-id'
import { getAddress } from 'ethers'
import { TypedEventEmitter } from 'main-event'
import { z } from 'zod'
import { sleep } from '../async.ts'
import { MAX_TEXT_BYTES } from '../constants.ts'
import { type DoubleRatchetSession, deserializeSession } from '../crypto/double-ratchet.ts'
import { CryptoError } from '../crypto/errors.ts'
import { decodeKeyBundle, removeOneTimePrekey, type VerifiedKeyBundle, verifyKeyBundle } from '../crypto/key-bundle.ts'
import { acceptSession, decodeInitialMessage, initiateSession } from '../crypto/pqxdh.ts'
import { bytesToHex, hexToBytes, randomBytes } from '../crypto/primitives.ts'
import { base64urlDecode, base64urlEncode, utf8 } from '../encoding.ts'
import { describeError, InvalidInputError, SecureChatError } from '../errors.ts'
import { eventStream } from '../event-stream.ts'
import type { CertificateRegistry } from '../identity/registry.ts'
import type { Logger } from '../logger.ts'
import type {
  AbortOptions,
  Address,
  DirectMessage,
  DirectMessagesEvents,
  DmDevice,
  DmDeviceResult,
  DmSendResult,
  SessionCertificate,
  UndecryptableDirectMessage,
  VerifiedCertificate,
} from '../types.ts'
import type { DeviceKeyring } from '../vault/keyring.ts'
import type { Vault } from '../vault/vault.ts'
import {
  DM_ANNOUNCE_INTERVAL_MS,
  DM_ANNOUNCE_MIN_GAP_MS,
  DM_DISCOVERY_QUIET_MS,
  DM_DISCOVERY_TIMEOUT_MS,
  DM_FRESH_BUNDLE_MS,
  DM_MAX_DEVICES_PER_WALLET,
  DM_MAX_SEEN_INITS,
  DM_MAX_SESSIONS_PER_DEVICE,
  DM_PREKEY_CHECK_INTERVAL_MS,
  DM_QUERY_RETRY_MS,
  DM_REDISCOVERY_MS,
  DM_WIRE_VERSION,
} from './constants.ts'
import { Conversation, type ConversationHost } from './conversation.ts'
import { type AcceptedDmRecord, DmGatekeeper } from './gatekeeper.ts'
import { inboxId, inboxTopic, pairTopic } from './topics.ts'
import { type DmRecord, type DmText, dmEnvelopeSchema, encodeDmRecord, sessionIdOf } from './wire.ts'

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

export interface DirectMessagesInit {
  /** SIWE domains whose certificates are accepted from senders; default: this device's own. */
  domains?: string[]
  /** Chains whose certificates are accepted; default: this device's own. */
  chainIds?: number[]
  /** Default {@link DM_ANNOUNCE_INTERVAL_MS}. */
  announceIntervalMs?: number
  /** Default {@link DM_DISCOVERY_TIMEOUT_MS}. */
  discoveryTimeoutMs?: number
}

/** Vault entries: one per remote device, and the ids of accepted initial messages. */
const DEVICE_ENTRY_PREFIX = 'dm/device/'
const SEEN_ENTRY = 'dm/seen-inits'

interface SessionEntry {
  session: DoubleRatchetSession
  lastUsedMs: number
  /** A message from the other side arrived on it (responder sessions: from the start). */
  confirmed: boolean
  /** Until confirmed, an initiator repeats this PQXDH header before every message. */
  initHeader: Uint8Array | undefined
}

interface RemoteDevice {
  readonly peerId: string
  readonly address: Address
  /** What its certificate commits to (hex): every record from it must carry a certificate that does. */
  readonly bundleHash: string
  readonly identityKey: Uint8Array
  readonly topic: string
  bundle: VerifiedKeyBundle | undefined
  bundleText: string | undefined
  /** When its bundle was last heard live (0: only from the vault). */
  bundleSeenMs: number
  lastSeenMs: number
  readonly sessions: Map<string, SessionEntry>
  /** Operations on one device's sessions run one at a time. */
  tail: Promise<unknown>
}

const b64 = z.string().regex(/^[A-Za-z0-9_-]*$/)
const storedDeviceSchema = z
  .object({
    v: z.literal(1),
    peerId: z.string().min(1).max(128),
    address: z.string().regex(/^0x[0-9a-fA-F]{40}$/),
    bundleHash: z.string().regex(/^[0-9a-f]{64}$/),
    identityKey: b64,
    bundle: b64.optional(),
    lastSeenMs: z.number().int().nonnegative(),
    sessions: z
      .array(
        z
          .object({
            sid: z.string().regex(/^[0-9a-f]{32}$/),
            state: b64,
            lastUsedMs: z.number().int().nonnegative(),
            confirmed: z.boolean(),
            initHeader: b64.optional(),
          })
          .strict(),
      )
      .max(DM_MAX_SESSIONS_PER_DEVICE),
  })
  .strict()
const seenSchema = z
  .object({ v: z.literal(1), sids: z.array(z.string().regex(/^[0-9a-f]{32}$/)).max(DM_MAX_SEEN_INITS) })
  .strict()

/**
 * The DM layer of a client: discovery, sessions, conversations. Events on the standard
 * `EventTarget`; `messages()` streams every conversation's messages.
 */
export class DirectMessages extends TypedEventEmitter<DirectMessagesEvents> implements ConversationHost {
  readonly #c: DirectMessagesComponents
  readonly #gatekeeper: DmGatekeeper
  readonly #self: Address
  readonly #selfPeerId: string
  readonly #inbox: string
  readonly #announceIntervalMs: number
  readonly #discoveryTimeoutMs: number
  readonly #devices = new Map<string, RemoteDevice>()
  readonly #byTopic = new Map<string, string>()
  readonly #conversations = new Map<Address, Conversation>()
  readonly #subscribed = new Set<string>()
  readonly #lastDiscovery = new Map<Address, number>()
  readonly #discovering = new Map<Address, Promise<void>>()
  readonly #seen = new Set<string>()
  readonly #inflight = new Set<Promise<unknown>>()
  #acceptTail: Promise<unknown> = Promise.resolve()
  #started: Promise<void> | undefined
  #running = false
  #announceTimer: ReturnType<typeof setInterval> | undefined
  #maintainTimer: ReturnType<typeof setInterval> | undefined
  #announceSoon: ReturnType<typeof setTimeout> | undefined
  #lastAnnounceMs = 0

  constructor(components: DirectMessagesComponents, init: DirectMessagesInit = {}) {
    super()
    this.#c = components
    this.#self = components.self.verified.address
    this.#selfPeerId = components.self.peerId
    this.#inbox = inboxTopic(this.#self)
    this.#announceIntervalMs = init.announceIntervalMs ?? DM_ANNOUNCE_INTERVAL_MS
    this.#discoveryTimeoutMs = init.discoveryTimeoutMs ?? DM_DISCOVERY_TIMEOUT_MS
    this.#gatekeeper = new DmGatekeeper({
      registry: components.registry,
      policy: {
        domains: init.domains ?? [components.self.verified.domain],
        chainIds: init.chainIds ?? [components.self.verified.chainId],
      },
      onRejected: (from, reason) => {
        components.log.debug('DM record refused', { from, reason })
        this.safeDispatchEvent('message:rejected', { detail: { from, reason } })
      },
    })
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
    await this.#load()
    const { pubsub } = this.#c
    pubsub.addEventListener('message', this.#onMessage)
    pubsub.addEventListener('subscription-change', this.#onSubscriptionChange)
    this.#running = true
    this.#subscribe(this.#inbox)
    for (const device of this.#devices.values()) if (device.sessions.size > 0) this.#subscribe(device.topic)
    this.#announceTimer = setInterval(() => void this.#announce(), this.#announceIntervalMs)
    this.#maintainTimer = setInterval(() => {
      this.#track(
        this.#c.keyring.maintain().then(
          () => this.#scheduleAnnounce(),
          (err: unknown) => this.#c.log.warn('prekey maintenance failed', { error: String(err) }),
        ),
      )
    }, DM_PREKEY_CHECK_INTERVAL_MS)
    void this.#announce()
    // This wallet's other devices answer, so that copies of what we send reach them.
    void this.#query(this.#self)
  }

  /** Stops listening; waits for work in progress so that every state change is saved. Idempotent. */
  async stop(): Promise<void> {
    if (this.#started === undefined) return
    await this.#started.catch(() => undefined)
    if (!this.#running) return
    this.#running = false
    clearInterval(this.#announceTimer)
    clearInterval(this.#maintainTimer)
    clearTimeout(this.#announceSoon)
    const { pubsub } = this.#c
    pubsub.removeEventListener('message', this.#onMessage)
    pubsub.removeEventListener('subscription-change', this.#onSubscriptionChange)
    await Promise.allSettled([...this.#inflight, ...[...this.#devices.values()].map((d) => d.tail), this.#acceptTail])
    for (const topic of [...this.#subscribed]) this.#unsubscribe(topic)
    for (const conversation of this.#conversations.values()) conversation.stopped()
    this.safeDispatchEvent('dm:stopped')
  }

  /** The conversation with `address` (one object per wallet). */
  conversation(address: string): Conversation {
    const peer = checksum(address)
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
    return this.#devicesOf(checksum(address)).map(describeDevice)
  }

  // -------------------------------------------------------------------------------------------
  // Sending
  // -------------------------------------------------------------------------------------------

  async send(peer: Address, text: string, options: { parentId?: string } & AbortOptions = {}): Promise<DmSendResult> {
    await this.start()
    if (utf8.encode(text).byteLength > MAX_TEXT_BYTES) {
      throw new InvalidInputError('message is too long', {
        details: { max: MAX_TEXT_BYTES },
        hint: 'split it into several messages',
      })
    }
    if (options.parentId !== undefined && !/^[0-9a-f]{32}$/.test(options.parentId)) {
      throw new InvalidInputError('parentId is not a DM message id', { details: { parentId: options.parentId } })
    }
    const last = this.#lastDiscovery.get(peer) ?? 0
    const reachable = this.#devicesOf(peer).some((d) => d.sessions.size > 0 || d.bundle !== undefined)
    if (!reachable || Date.now() - last >= DM_REDISCOVERY_MS) await this.discover(peer, options)
    const envelope: DmText = {
      v: 1,
      kind: 'text',
      id: bytesToHex(randomBytes(16)),
      body: text,
      sentAtMs: Date.now(),
      ...(options.parentId === undefined ? {} : { parent: options.parentId }),
    }
    const targets = [
      ...this.#devicesOf(peer).map((device) => ({ device, envelope })),
      ...this.#devicesOf(this.#self).map((device) => ({ device, envelope: { ...envelope, to: peer } })),
    ]
    const devices = await Promise.all(
      targets.map(({ device, envelope: copy }) =>
        this.#track(this.#withDevice(device, () => this.#sendTo(device, utf8.encode(JSON.stringify(copy))))),
      ),
    )
    return { id: envelope.id, devices }
  }

  async #sendTo(device: RemoteDevice, plaintext: Uint8Array): Promise<DmDeviceResult> {
    const result = { address: device.address, peerId: device.peerId }
    try {
      const entry = pickSession(device)
      if (entry === undefined) return { ...result, ...(await this.#startSession(device, plaintext)) }
      const [sid, session] = entry
      const ct = await session.session.encrypt(plaintext)
      session.lastUsedMs = Date.now()
      await this.#persistDevice(device)
      const recipients =
        session.initHeader === undefined
          ? await this.#publishMsg(device, sid, ct)
          : await this.#publishInit(device, concat(session.initHeader, ct))
      return { ...result, status: 'sent', handshake: session.initHeader !== undefined, recipients }
    } catch (err) {
      this.#c.log.info('DM not sent to a device', { peer: device.peerId, error: String(err) })
      return { ...result, status: 'failed', handshake: false, recipients: 0, error: describeError(err) }
    }
  }

  /** PQXDH with the device's bundle; the message rides in the initial message on its inbox. */
  async #startSession(
    device: RemoteDevice,
    plaintext: Uint8Array,
  ): Promise<Omit<DmDeviceResult, 'address' | 'peerId'>> {
    const bundle = device.bundle
    if (bundle === undefined) {
      return {
        status: 'failed',
        handshake: false,
        recipients: 0,
        error: 'no key bundle: the device has not announced itself since its last session was lost',
      }
    }
    const fresh = Date.now() - device.bundleSeenMs < DM_FRESH_BUNDLE_MS
    const usable = (fresh ? bundle : { ...bundle, oneTimePrekeys: [] }) as VerifiedKeyBundle
    const { session, initialMessage } = await initiateSession({
      identityKey: this.#c.keyring.keys.identityKey,
      bundle: usable,
      initiatorId: this.#selfPeerId,
      responderId: device.peerId,
      plaintext,
    })
    const { header, payload } = decodeInitialMessage(initialMessage)
    const initHeader = initialMessage.slice(0, initialMessage.length - payload.length)
    const sid = sessionIdOf(initHeader)
    // Never pick that one-time prekey again: another session may have used it already.
    if (header.oneTimePrekeyId !== null) {
      const used = header.oneTimePrekeyId
      device.bundle = {
        ...bundle,
        oneTimePrekeys: bundle.oneTimePrekeys.filter((k) => k.id !== used),
      } as VerifiedKeyBundle
    }
    this.#addSession(device, sid, { session, lastUsedMs: Date.now(), confirmed: false, initHeader })
    await this.#persistDevice(device)
    const recipients = await this.#publishInit(device, initialMessage)
    return { status: 'sent', handshake: true, recipients }
  }

  #publishMsg(device: RemoteDevice, sid: string, ct: Uint8Array): Promise<number> {
    return this.#publish(device.topic, {
      v: DM_WIRE_VERSION,
      type: 'msg',
      sid,
      cert: this.#c.self.certificate,
      ct: base64urlEncode(ct),
    })
  }

  #publishInit(device: RemoteDevice, initialMessage: Uint8Array): Promise<number> {
    return this.#publish(inboxTopic(device.address), {
      v: DM_WIRE_VERSION,
      type: 'init',
      inbox: inboxId(device.address),
      to: device.peerId,
      cert: this.#c.self.certificate,
      bundle: this.#c.keyring.bundle,
      msg: base64urlEncode(initialMessage),
    })
  }

  async #publish(topic: string, record: DmRecord): Promise<number> {
    const { recipients } = await this.#c.pubsub.publish(topic, encodeDmRecord(record))
    return recipients.length
  }

  // -------------------------------------------------------------------------------------------
  // Discovery
  // -------------------------------------------------------------------------------------------

  /** Asks `address`'s inbox which devices are online and waits for their answers (see the module doc). */
  async discover(address: string, options: AbortOptions = {}): Promise<DmDevice[]> {
    await this.start()
    const peer = checksum(address)
    let run = this.#discovering.get(peer)
    if (run === undefined) {
      run = this.#runDiscovery(peer, options).finally(() => this.#discovering.delete(peer))
      this.#discovering.set(peer, run)
    }
    await run
    return this.devices(peer)
  }

  async #runDiscovery(peer: Address, options: AbortOptions): Promise<void> {
    const topic = inboxTopic(peer)
    const own = topic === this.#inbox
    const startedMs = Date.now()
    const deadline = startedMs + this.#discoveryTimeoutMs
    if (!own) this.#subscribe(topic)
    try {
      let lastQueryMs = 0
      while (Date.now() < deadline && this.#running) {
        options.signal?.throwIfAborted()
        const heard = this.#devicesOf(peer)
          .map((d) => d.bundleSeenMs)
          .filter((t) => t >= startedMs)
        if (heard.length > 0 && Date.now() - Math.max(...heard) >= DM_DISCOVERY_QUIET_MS) break
        const hasNeighbours = this.#c.pubsub.getSubscribers(topic).length > 0
        if (heard.length === 0 && hasNeighbours && Date.now() - lastQueryMs >= DM_QUERY_RETRY_MS) {
          lastQueryMs = Date.now()
          await this.#query(peer)
        }
        await sleep(25, options.signal)
      }
    } finally {
      // Stay on another wallet's inbox only while asking: the subscription tells relays whom we contact.
      if (!own) this.#unsubscribe(topic)
    }
    this.#lastDiscovery.set(peer, Date.now())
  }

  async #query(address: Address): Promise<void> {
    try {
      await this.#publish(inboxTopic(address), {
        v: DM_WIRE_VERSION,
        type: 'query',
        inbox: inboxId(address),
        cert: this.#c.self.certificate,
        atMs: Date.now(),
      })
    } catch (err) {
      this.#c.log.debug('inbox query not published', { error: String(err) })
    }
  }

  async #announce(): Promise<void> {
    if (!this.#running) return
    this.#lastAnnounceMs = Date.now()
    try {
      await this.#publish(this.#inbox, {
        v: DM_WIRE_VERSION,
        type: 'device',
        inbox: inboxId(this.#self),
        cert: this.#c.self.certificate,
        bundle: this.#c.keyring.bundle,
        atMs: Date.now(),
      })
    } catch (err) {
      this.#c.log.debug('device announcement not published', { error: String(err) })
    }
  }

  /** Announces soon, but not more often than {@link DM_ANNOUNCE_MIN_GAP_MS}. */
  #scheduleAnnounce(): void {
    if (this.#announceSoon !== undefined || !this.#running) return
    const waitMs = Math.max(0, this.#lastAnnounceMs + DM_ANNOUNCE_MIN_GAP_MS - Date.now())
    this.#announceSoon = setTimeout(
      () => {
        this.#announceSoon = undefined
        void this.#announce()
      },
      waitMs + Math.floor(Math.random() * 50),
    )
  }

  readonly #onSubscriptionChange = (event: CustomEvent<SubscriptionChangeData>): void => {
    if (event.detail.subscriptions.some((s) => s.topic === this.#inbox && s.subscribe)) this.#scheduleAnnounce()
  }

  // -------------------------------------------------------------------------------------------
  // Receiving
  // -------------------------------------------------------------------------------------------

  readonly #onMessage = (event: CustomEvent<Message>): void => {
    const message = event.detail
    if (!this.#subscribed.has(message.topic)) return
    const accepted = this.#gatekeeper.accepted(message)
    if (accepted === undefined || accepted.from === this.#selfPeerId) return
    this.#track(
      this.#handle(accepted).catch((err: unknown) =>
        this.#c.log.warn('DM record not handled', { from: accepted.from, error: String(err) }),
      ),
    )
  }

  async #handle(accepted: AcceptedDmRecord): Promise<void> {
    switch (accepted.type) {
      case 'device':
        await this.#onDevice(accepted.from, accepted.record.bundle, accepted.certificate)
        return
      case 'query':
        if (accepted.topic === this.#inbox) this.#scheduleAnnounce()
        return
      case 'init':
        if (accepted.topic === this.#inbox && accepted.record.to === this.#selfPeerId) await this.#onInit(accepted)
        return
      case 'msg': {
        const peerId = this.#byTopic.get(accepted.topic)
        const device = peerId === undefined ? undefined : this.#devices.get(peerId)
        // Only the two devices of a pair can name its topic; anything else is not for us.
        if (device === undefined || accepted.from !== device.peerId) return
        const ct = base64urlDecode(accepted.record.ct)
        await this.#withDevice(device, () => this.#receive(device, accepted.record.sid, ct, accepted, false))
      }
    }
  }

  async #onDevice(from: string, bundleText: string, certificate: VerifiedCertificate): Promise<void> {
    const known = this.#devices.get(from)
    if (known !== undefined && known.bundleText === bundleText && known.bundleHash === certificate.bundleHash) {
      known.lastSeenMs = known.bundleSeenMs = Date.now()
      return
    }
    const bundle = await this.#verifyBundle(from, bundleText, certificate)
    if (bundle === undefined) return
    const device = await this.#deviceFor(from, certificate, bundle)
    device.bundle = bundle
    device.bundleText = bundleText
    device.lastSeenMs = device.bundleSeenMs = Date.now()
    this.safeDispatchEvent('device:discovered', { detail: describeDevice(device) })
  }

  /** A PQXDH initial message for this device: a new session, or the next message of one not yet confirmed. */
  #onInit(accepted: Extract<AcceptedDmRecord, { type: 'init' }>): Promise<void> {
    const run = this.#acceptTail.then(async () => {
      const { record, certificate, from } = accepted
      let initial: { header: ReturnType<typeof decodeInitialMessage>['header']; payload: Uint8Array }
      let bytes: Uint8Array
      try {
        bytes = base64urlDecode(record.msg)
        initial = decodeInitialMessage(bytes)
      } catch (err) {
        this.#undecryptable(accepted, err)
        return
      }
      const sid = sessionIdOf(bytes.slice(0, bytes.length - initial.payload.length))
      const existing = this.#devices.get(from)
      if (existing?.sessions.has(sid) === true) {
        await this.#withDevice(existing, () => this.#receive(existing, sid, initial.payload, accepted, false))
        return
      }
      // A session we accepted once and dropped since: the initial message is a replay.
      if (this.#seen.has(sid)) return
      const bundle = await this.#verifyBundle(from, record.bundle, certificate)
      if (bundle === undefined) {
        this.#undecryptable(accepted, new SecureChatError("the sender's key bundle does not match its certificate"))
        return
      }
      let result: Awaited<ReturnType<typeof acceptSession>>
      try {
        result = await acceptSession({
          deviceKeys: this.#c.keyring.keys,
          initialMessage: bytes,
          initiatorId: from,
          responderId: this.#selfPeerId,
          expectedInitiatorIdentityKey: bundle.identityKey,
        })
      } catch (err) {
        this.#undecryptable(accepted, err)
        return
      }
      const used = initial.header.oneTimePrekeyId
      if (used !== null) {
        await this.#c.keyring.update((keys) => removeOneTimePrekey(keys, used))
        this.#scheduleAnnounce()
      }
      const device = await this.#deviceFor(from, certificate, bundle)
      device.bundle = bundle
      device.bundleText = record.bundle
      device.lastSeenMs = device.bundleSeenMs = Date.now()
      this.#remember(sid)
      await this.#withDevice(device, async () => {
        this.#addSession(device, sid, {
          session: result.session,
          lastUsedMs: Date.now(),
          confirmed: true,
          initHeader: undefined,
        })
        await this.#persistDevice(device)
        await this.#persistSeen()
        this.#deliver(device, result.plaintext, accepted, true)
        await this.#ack(device, sid, result.plaintext)
      })
    })
    this.#acceptTail = run.catch(() => undefined)
    return run
  }

  /** Decrypts a ratchet message of session `sid` from `device` (inside the device's queue). */
  async #receive(
    device: RemoteDevice,
    sid: string,
    ct: Uint8Array,
    accepted: AcceptedDmRecord,
    handshake: boolean,
  ): Promise<void> {
    const { certificate } = accepted
    if (certificate.address !== device.address || certificate.bundleHash !== device.bundleHash) {
      this.#undecryptable(
        accepted,
        new SecureChatError("the sender's certificate no longer names the wallet or keys this session was made with"),
      )
      return
    }
    const entry = device.sessions.get(sid)
    if (entry === undefined) {
      this.#undecryptable(
        accepted,
        new SecureChatError('no such session with this device (started with state this device no longer has)'),
      )
      return
    }
    let plaintext: Uint8Array
    try {
      plaintext = await entry.session.decrypt(ct)
    } catch (err) {
      this.#undecryptable(accepted, err)
      return
    }
    entry.lastUsedMs = Date.now()
    entry.confirmed = true
    entry.initHeader = undefined
    device.lastSeenMs = Date.now()
    await this.#persistDevice(device)
    this.#deliver(device, plaintext, accepted, handshake)
    if (accepted.type === 'init') await this.#ack(device, sid, plaintext)
  }

  /** Tells the initiator of session `sid` that it is established (not in answer to an ack). */
  async #ack(device: RemoteDevice, sid: string, answered: Uint8Array): Promise<void> {
    if (isAck(answered)) return
    const entry = device.sessions.get(sid)
    if (entry === undefined) return
    try {
      const ct = await entry.session.encrypt(utf8.encode(JSON.stringify({ v: 1, kind: 'ack' })))
      await this.#persistDevice(device)
      await this.#publishMsg(device, sid, ct)
    } catch (err) {
      this.#c.log.debug('DM session ack not sent', { peer: device.peerId, error: String(err) })
    }
  }

  #deliver(device: RemoteDevice, plaintext: Uint8Array, accepted: AcceptedDmRecord, handshake: boolean): void {
    let envelope: z.infer<typeof dmEnvelopeSchema>
    try {
      envelope = dmEnvelopeSchema.parse(JSON.parse(utf8.decode(plaintext)))
    } catch (cause) {
      this.#undecryptable(accepted, new InvalidInputError('the decrypted envelope is malformed', { cause }))
      return
    }
    if (envelope.kind === 'ack') return
    let conversation: Address
    let direction: DirectMessage['direction']
    if (device.address !== this.#self) {
      conversation = device.address
      direction = 'in'
    } else if (envelope.to !== undefined && checksum(envelope.to) !== this.#self) {
      conversation = checksum(envelope.to)
      direction = 'out'
    } else {
      return
    }
    const message: DirectMessage = {
      conversation,
      id: envelope.id,
      sender: device.address,
      senderPeerId: device.peerId,
      direction,
      kind: 'text',
      text: envelope.body,
      parentId: envelope.parent,
      sentAtMs: envelope.sentAtMs,
      receivedAtMs: Date.now(),
      handshake,
    }
    this.safeDispatchEvent('message:received', { detail: message })
    this.conversation(conversation).safeDispatchEvent('message:received', { detail: message })
  }

  #undecryptable(accepted: AcceptedDmRecord, err: unknown): void {
    const detail: UndecryptableDirectMessage = {
      recordId: accepted.recordId,
      sender: accepted.certificate.address,
      senderPeerId: accepted.from,
      error: err instanceof Error ? err.name : 'Error',
      reason: explain(err),
    }
    this.#c.log.info('DM not decrypted', { from: accepted.from, error: detail.error })
    this.safeDispatchEvent('message:undecryptable', { detail })
    if (detail.sender !== this.#self) {
      this.conversation(detail.sender).safeDispatchEvent('message:undecryptable', { detail })
    }
  }

  // -------------------------------------------------------------------------------------------
  // Devices, sessions, persistence
  // -------------------------------------------------------------------------------------------

  /** Verifies a bundle: signed by the PeerId, committed to by the certificate, prekeys fresh. */
  async #verifyBundle(
    peerId: string,
    text: string,
    certificate: Pick<VerifiedCertificate, 'bundleHash'>,
  ): Promise<VerifiedKeyBundle | undefined> {
    if (certificate.bundleHash === undefined) return undefined
    try {
      const publicKey = peerIdFromString(peerId).publicKey
      if (publicKey === undefined) return undefined
      return await verifyKeyBundle({
        bundle: decodeKeyBundle(base64urlDecode(text)),
        verify: async (data, signature) => publicKey.verify(data, signature),
        expectedBundleHash: hexToBytes(certificate.bundleHash),
      })
    } catch (err) {
      this.#c.log.info('key bundle refused', { peer: peerId, error: String(err) })
      return undefined
    }
  }

  /** The known device `peerId`, or a new one; a device whose keys changed starts over. */
  async #deviceFor(peerId: string, certificate: VerifiedCertificate, bundle: VerifiedKeyBundle): Promise<RemoteDevice> {
    const known = this.#devices.get(peerId)
    if (known !== undefined && known.bundleHash === certificate.bundleHash && known.address === certificate.address) {
      return known
    }
    if (known !== undefined) {
      this.#c.log.info('a device changed its wallet or keys; its old sessions are dropped', { peer: peerId })
      this.#byTopic.delete(known.topic)
      this.#unsubscribe(known.topic)
    }
    const topic = await pairTopic({
      selfIdentityKey: this.#c.keyring.keys.identityKey,
      selfPeerId: this.#selfPeerId,
      remoteIdentityKey: bundle.identityKey,
      remotePeerId: peerId,
    })
    const device: RemoteDevice = {
      peerId,
      address: certificate.address,
      bundleHash: certificate.bundleHash!,
      identityKey: bundle.identityKey,
      topic,
      bundle,
      bundleText: undefined,
      bundleSeenMs: 0,
      lastSeenMs: Date.now(),
      sessions: new Map(),
      tail: Promise.resolve(),
    }
    this.#devices.set(peerId, device)
    this.#byTopic.set(topic, peerId)
    return device
  }

  #addSession(device: RemoteDevice, sid: string, entry: SessionEntry): void {
    device.sessions.set(sid, entry)
    this.#subscribe(device.topic)
    while (device.sessions.size > DM_MAX_SESSIONS_PER_DEVICE) {
      const oldest = [...device.sessions]
        .filter(([id]) => id !== sid)
        .sort((a, b) => a[1].lastUsedMs - b[1].lastUsedMs)[0]
      if (oldest === undefined) break
      device.sessions.delete(oldest[0])
    }
  }

  #devicesOf(address: Address): RemoteDevice[] {
    return [...this.#devices.values()]
      .filter((d) => d.address === address && d.peerId !== this.#selfPeerId)
      .sort((a, b) => b.lastSeenMs - a.lastSeenMs)
      .slice(0, DM_MAX_DEVICES_PER_WALLET)
  }

  #withDevice<T>(device: RemoteDevice, operation: () => Promise<T>): Promise<T> {
    const result = device.tail.then(operation)
    device.tail = result.catch(() => undefined)
    return result
  }

  #remember(sid: string): void {
    this.#seen.add(sid)
    while (this.#seen.size > DM_MAX_SEEN_INITS) this.#seen.delete(this.#seen.values().next().value!)
  }

  async #persistDevice(device: RemoteDevice): Promise<void> {
    const vault = this.#c.vault
    if (vault === undefined) return
    await vault.putJson(`${DEVICE_ENTRY_PREFIX}${device.peerId}`, {
      v: 1,
      peerId: device.peerId,
      address: device.address,
      bundleHash: device.bundleHash,
      identityKey: base64urlEncode(device.identityKey),
      ...(device.bundleText === undefined ? {} : { bundle: device.bundleText }),
      lastSeenMs: device.lastSeenMs,
      sessions: [...device.sessions].map(([sid, entry]) => ({
        sid,
        state: base64urlEncode(entry.session.serialize()),
        lastUsedMs: entry.lastUsedMs,
        confirmed: entry.confirmed,
        ...(entry.initHeader === undefined ? {} : { initHeader: base64urlEncode(entry.initHeader) }),
      })),
    } satisfies z.input<typeof storedDeviceSchema>)
  }

  async #persistSeen(): Promise<void> {
    await this.#c.vault?.putJson(SEEN_ENTRY, { v: 1, sids: [...this.#seen] })
  }

  /** Loads every stored device and session; an entry that cannot be read is reported and kept. */
  async #load(): Promise<void> {
    const vault = this.#c.vault
    if (vault === undefined) return
    const seen = await vault.getJson(SEEN_ENTRY, seenSchema).catch((err: unknown) => {
      this.#c.log.warn('the list of accepted DM sessions could not be read', { error: String(err) })
      return undefined
    })
    for (const sid of seen?.sids ?? []) this.#remember(sid)
    for (const name of await vault.list(DEVICE_ENTRY_PREFIX)) {
      try {
        const stored = await vault.getJson(name, storedDeviceSchema)
        if (stored === undefined) continue
        const identityKey = base64urlDecode(stored.identityKey)
        const topic = await pairTopic({
          selfIdentityKey: this.#c.keyring.keys.identityKey,
          selfPeerId: this.#selfPeerId,
          remoteIdentityKey: identityKey,
          remotePeerId: stored.peerId,
        })
        const bundle =
          stored.bundle === undefined
            ? undefined
            : await this.#verifyBundle(stored.peerId, stored.bundle, { bundleHash: stored.bundleHash })
        const device: RemoteDevice = {
          peerId: stored.peerId,
          address: checksum(stored.address),
          bundleHash: stored.bundleHash,
          identityKey,
          topic,
          bundle,
          bundleText: bundle === undefined ? undefined : stored.bundle,
          bundleSeenMs: 0,
          lastSeenMs: stored.lastSeenMs,
          sessions: new Map(
            stored.sessions.map((s) => [
              s.sid,
              {
                session: deserializeSession(base64urlDecode(s.state)),
                lastUsedMs: s.lastUsedMs,
                confirmed: s.confirmed,
                initHeader: s.initHeader === undefined ? undefined : base64urlDecode(s.initHeader),
              },
            ]),
          ),
          tail: Promise.resolve(),
        }
        this.#devices.set(device.peerId, device)
        this.#byTopic.set(topic, device.peerId)
      } catch (err) {
        this.#c.log.warn('a stored DM device could not be loaded; its entry is kept as it is', {
          entry: name,
          error: String(err),
        })
      }
    }
  }

  #subscribe(topic: string): void {
    if (this.#subscribed.has(topic) || !this.#running) return
    this.#subscribed.add(topic)
    this.#c.pubsub.topicValidators.set(topic, this.#gatekeeper.validate)
    this.#c.pubsub.subscribe(topic)
  }

  #unsubscribe(topic: string): void {
    if (!this.#subscribed.delete(topic)) return
    this.#c.pubsub.unsubscribe(topic)
    this.#c.pubsub.topicValidators.delete(topic)
  }

  #track<T>(promise: Promise<T>): Promise<T> {
    this.#inflight.add(promise)
    void promise.finally(() => this.#inflight.delete(promise)).catch(() => undefined)
    return promise
  }
}

function describeDevice(device: RemoteDevice): DmDevice {
  return {
    address: device.address,
    peerId: device.peerId,
    lastSeenMs: device.lastSeenMs,
    hasSession: device.sessions.size > 0,
    established: [...device.sessions.values()].some((e) => e.confirmed),
  }
}

/** The session to send on: the most recently used confirmed one, else the newest unconfirmed one. */
function pickSession(device: RemoteDevice): [string, SessionEntry] | undefined {
  const usable = [...device.sessions].filter(([, e]) => e.session.canSend)
  const newest = (entries: Array<[string, SessionEntry]>) =>
    entries.sort((a, b) => b[1].lastUsedMs - a[1].lastUsedMs)[0]
  return newest(usable.filter(([, e]) => e.confirmed)) ?? newest(usable)
}

function isAck(plaintext: Uint8Array): boolean {
  try {
    return (JSON.parse(utf8.decode(plaintext)) as { kind?: unknown }).kind === 'ack'
  } catch {
    return false
  }
}

function checksum(address: string): Address {
  try {
    return getAddress(address) as Address
  } catch (cause) {
    throw new InvalidInputError('not an Ethereum address', { details: { address }, cause })
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length)
  out.set(a)
  out.set(b, a.length)
  return out
}

/** Why a record could not be read, for people: names what happened, never key material. */
function explain(err: unknown): string {
  const name = err instanceof Error ? err.name : ''
  switch (name) {
    case 'DecryptionFailedError':
      return 'the ciphertext or its header was altered, or it was encrypted for another session'
    case 'DuplicateMessageError':
      return 'already received, or older than the skipped message keys this device keeps'
    case 'SkippedKeyLimitError':
      return 'too far ahead of the session (more messages skipped than MAX_FORWARD_JUMP allows)'
    case 'PrekeyNotFoundError':
      return 'it names a prekey this device no longer has (a one-time prekey already used, or a signed prekey rotated away); the sender must start a new session'
    case 'InvalidKeyError':
      return `the sender's identity key does not match its certificate (${(err as Error).message})`
    default:
      if (err instanceof CryptoError || err instanceof SecureChatError) return err.message
      return String(err)
  }
}
