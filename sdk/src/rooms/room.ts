import type { GossipSub, MeshPeer, Message, SignedMessage, SubscriptionChangeData } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import { TypedEventEmitter } from 'main-event'
import { raceSignal, sleep, withTimeout } from '../async.ts'
import { callSignalOf, createCallSignalGuard } from '../calls/signals.ts'
import {
  ABSENT_MEMBER_KEYS_MS,
  CATCH_UP_HOLD_LIVE_MS,
  CATCH_UP_MARGIN_MS,
  CAUSAL_HISTORY_LENGTH,
  MAX_HELD_LIVE_RECORDS,
  MAX_KEY_REQUESTS_PER_PRESENCE,
  MAX_LAMPORT_CLOCK,
  MAX_LOCK_MEMBERS,
  MAX_PENDING_MESSAGES,
  MAX_PRESENCE_INTERVAL_MS,
  MAX_REACTION_GRAPHEMES,
  MAX_REMEMBERED_MESSAGE_IDS,
  MAX_TEXT_BYTES,
  MESH_WAIT_MS,
  PRESENCE_FULL_RATE_MEMBERS,
  PRESENCE_INTERVAL_MS,
  PRESENCE_TIMEOUT_MS,
  PUBLISH_RETRY_MAX_MS,
  PUBLISH_RETRY_MIN_MS,
  REPUBLISH_AFTER_PRESENCE_INTERVALS,
  ROOM_TOPIC_PREFIX,
  SEND_NEIGHBOUR_WAIT_MS,
  SETTLE_MAX_MS,
  SETTLE_QUIET_MS,
  STORED_MEMBERS_WAIT_MS,
  UNDECRYPTABLE_AFTER_MS,
  WIRE_VERSION,
} from '../constants.ts'
import { DuplicateMessageError } from '../crypto/errors.ts'
import { checkTimerSeconds, ExpiryClock } from '../disappearing.ts'
import { utf8 } from '../encoding.ts'
import { InvalidInputError, ModeratedError, NotStartedError, UnreachableError } from '../errors.ts'
import { eventStream, waitForEvent } from '../event-stream.ts'
import { commitToFile, fileCommitmentProblem } from '../files/commitment.ts'
import { parseFileManifest } from '../files/manifest.ts'
import type { GateEvaluator } from '../gates/evaluator.ts'
import { explainGateResult } from '../gates/evaluator.ts'
import type { GateRule } from '../gates/rule.ts'
import type { CertificateRegistry } from '../identity/registry.ts'
import type { WalletSigner } from '../identity/signer.ts'
import { firstIssue, SHA256_HEX_PATTERN } from '../json-records.ts'
import { LateArrivals } from '../late-arrivals.ts'
import type { Logger } from '../logger.ts'
import { acceptMentions, type DroppedMention, mentionsToSend } from '../mentions.ts'
import {
  type ChangeOutcome,
  isReaction,
  MessageStates,
  type MessageStatesFollower,
  type SavedMessageStates,
} from '../message-state.ts'
import { DEFAULT_SIGNAL_SETTINGS, SignalGuard, type SignalSettings } from '../signals.ts'
import type {
  AbortOptions,
  Address,
  CallSignalInput,
  FileManifest,
  GapSink,
  GapWatcher,
  MessageChange,
  MessageDelivery,
  MessageEdit,
  MessageState,
  OutgoingStats,
  ReadSignal,
  RoomEvents,
  RoomMember,
  RoomMemberRemoved,
  RoomMessage,
  RoomSendResult,
  SessionCertificate,
  TimerChange,
  VerifiedCertificate,
} from '../types.ts'
import type { Vault } from '../vault/vault.ts'
import { AbsentMembers } from './absent-members.ts'
import { ReceivedIds, readAckFilter } from './ack-filter.ts'
import { type AcceptedRecord, RoomGatekeeper } from './gatekeeper.ts'
import { HistoryPositionKeeper } from './history-position.ts'
import type { HistoryDelivery, HistoryPosition, RoomHistorySink, RoomMembersSink } from './history-sink.ts'
import { joinAnswerDelayMs, joinAnswerWindowMs } from './join-answers.ts'
import type { SignedManifest } from './manifest.ts'
import { createModerationEvent, type ModerationAction, type ModerationActionFields } from './moderation-event.ts'
import { isStateRefusal, type ModerationLog, type ModerationVerdict } from './moderation-log.ts'
import { OutgoingBuffer } from './outgoing-buffer.ts'
import { OwnDeliveries } from './own-deliveries.ts'
import { presenceIntervalFor, presenceTimeoutFor } from './presence-interval.ts'
import { PresenceWitness } from './presence-witness.ts'
import { type DeviceEncryptionKeys, isBeforeChainStart, isMissingKey, RoomKeys } from './room-keys.ts'
import { RoomSignals } from './room-signals.ts'
import { type RoomKeysRecord, type StoredRoomKeys, saveModerationLog, saveRoomHistory } from './room-store.ts'
import {
  type Envelope,
  encodeRecord,
  envelopeSchema,
  type KeysRecord,
  type MessageRecord,
  messageIdOf,
  type PresenceRecord,
  withCiphertextHash,
} from './wire.ts'

type MessageAccepted = Extract<AcceptedRecord, { type: 'message' }>

const SENT_BEFORE_KEY =
  'sent before this device received the sender key (forward secrecy: earlier messages stay unreadable)'

export function roomTopic(roomId: string): string {
  return `${ROOM_TOPIC_PREFIX}${roomId}`
}

/** The room id a gossip topic names; undefined for a topic that is not a room's, or names no room id (a SHA-256). */
export function roomIdOfTopic(topic: string): string | undefined {
  if (!topic.startsWith(ROOM_TOPIC_PREFIX)) return undefined
  const roomId = topic.slice(ROOM_TOPIC_PREFIX.length)
  return SHA256_HEX_PATTERN.test(roomId) ? roomId : undefined
}

export interface RoomComponents {
  pubsub: GossipSub
  registry: CertificateRegistry
  /** This device's certificate, verified. */
  self: { peerId: string; certificate: SessionCertificate; verified: VerifiedCertificate }
  /** Reads the room's token gate, if it has one; without it a gated room admits nobody. */
  gates?: GateEvaluator
  /** This device's encryption keys; its bundle travels in presence. */
  device: DeviceEncryptionKeys
  /** Fetches the certificate of `about` from `ask` (a neighbour that forwarded its message). */
  fetchCertificate: (ask: PeerId, about: string) => Promise<SessionCertificate | undefined>
  /**
   * Members' key bundles (`KeyBundleCache` of the client): `resolve` fetches one once from the
   * neighbour that forwarded the member's presence; `add` keeps one an older peer sent along.
   */
  bundles: {
    resolve(about: string, ask: PeerId): Promise<string | undefined>
    add(peerId: string, text: string, certificate: VerifiedCertificate): Promise<boolean>
  }
  /**
   * Resolves once the gossip streams to the topic's neighbours can take more (`gossipDrained`):
   * `send` waits for it, so a sender in a loop cannot queue more than its neighbours read.
   */
  drained?: (topic: string, options: AbortOptions) => Promise<void>
  /**
   * Which of these message ids a relay's store holds (`libp2pStoredIds`); undefined when none can
   * be asked. With it, what this device sends while alone in the room waits for a store.
   */
  stored?: (topic: string, ids: string[]) => Promise<ReadonlySet<string> | undefined>
  /** Where the room's sender keys persist (`room-store.ts`); without one they end with the room. */
  vault?: Vault
  /** The device's search index (`search/search-indexer.ts`): it follows the room's messages. */
  search?: MessageStatesFollower
  /**
   * Asks the relays' stores for the room's records again (the client's catch-up, live messages
   * flowing meanwhile): a message from before the point its sender's key reached us needs the
   * epoch's first distribution, which only a store may still hold.
   */
  askStores?: () => void
  /** Whether this device tells and shows read receipts and typing (`signals.ts`); both on without it. */
  signalSettings?: () => SignalSettings
  log: Logger
}

export interface RoomInit {
  roomId: string
  manifest: SignedManifest
  /** Sender keys saved by an earlier run (`loadRoomKeys`): the room resumes them. */
  keys?: StoredRoomKeys
  /** Where this device stood in the room's history (`loadHistoryPosition`): catch-up starts there. */
  position?: HistoryPosition
  /** The messages' states an earlier run saved (`loadMessageStates`): later edits, deletes and reactions apply to them. */
  messages?: SavedMessageStates
  /**
   * The moderation events an earlier run saved (`loadModerationLog`), in the log's order: judged again and taken in
   * before the room starts, quietly — `moderation:changed` tells only what is new to this device.
   */
  moderation?: readonly unknown[]
  presenceIntervalMs?: number
  presenceTimeoutMs?: number
  /** Members up to which presence is not stretched (`presence-interval.ts`); {@link PRESENCE_FULL_RATE_MEMBERS}. */
  presenceFullRateMembers?: number
  /**
   * This device's wall clock: the times its records state (a message's `sentAtMs`, presence's
   * `atMs`) are read from it. Default `Date.now`. Only the stamps: timers and ages stay on the
   * process clock, which libp2p and gossipsub read too.
   */
  now?: () => number
}

/** What {@link Room.moderate} takes besides the action and its target. */
export interface ModerateOptions extends AbortOptions {
  /** The wallet that signs: the owner's or a moderator's. */
  signer: WalletSigner
  /** `mute`: when it ends (ms since the epoch), at most `MAX_MUTE_MS` from now. */
  untilMs?: number
  /** `lock`: only the owner and moderators may send while it holds. */
  readOnly?: boolean
  /** `remove`: the message's author, when the message is not on this device. */
  author?: string
  /** `gate`: the room's new token gate (its chains among the manifest's `chainIds`); absent, the gate is lifted. */
  rule?: GateRule
  /** `timer`: the disappearing-messages timer in seconds (0: off); {@link Room.setDisappearing} says it for people. */
  seconds?: number
}

/**
 * One joined room: gossip validation, presence, sending, and the stream of received messages.
 */
export class Room extends TypedEventEmitter<RoomEvents> {
  readonly id: string
  readonly topic: string
  readonly manifest: SignedManifest
  readonly #c: RoomComponents
  readonly #gatekeeper: RoomGatekeeper
  readonly #presenceIntervalMs: number
  readonly #presenceTimeoutMs: number
  readonly #presenceFullRateMembers: number
  readonly #now: () => number
  readonly #members = new Map<string, RoomMember>()
  /** The interval each member's last presence announced (`every`), in a room large enough to stretch it. */
  readonly #announcedEveryMs = new Map<string, number>()
  /** When our last presence went out, and the interval it announced. */
  #lastAnnounceMs = 0
  #everyMs: number | undefined
  /** Members gone offline: our sender keys are still sealed to them (`absent-members.ts`). */
  readonly #absent = new AbsentMembers()
  /** Judges a leave (a replay?) and a neighbour's word that a member went (`presence-witness.ts`). */
  readonly #witness = new PresenceWitness({
    windowMs: () => presenceTimeoutFor({ timeoutMs: this.#presenceTimeoutMs, announcedEveryMs: this.#everyMs }),
  })
  readonly #position: HistoryPositionKeeper
  /** The position and keys as {@link #saveHistory} last took them, and the messages unsettled meanwhile. */
  #positionToSave: HistoryPosition
  #keysToSave: RoomKeysRecord | undefined
  #unsettled = 0
  /** A sender key chain was installed since the last save: its keys are taken as they are (see #saveHistory). */
  #keysInstalled = false
  /** Own messages until members acknowledge them (`outgoing-buffer.ts`). */
  readonly #outgoing: OutgoingBuffer
  /** How far each of our messages got, in member wallets (`own-deliveries.ts`). */
  readonly #deliveries: OwnDeliveries
  /** What this device received lately: its presence acknowledges it (`acks`). */
  readonly #received: ReceivedIds
  /**
   * Live messages and sender keys held while a catch-up delivers older ones, so delivery stays
   * in order and a newer epoch's key does not evict an older one catch-up still needs.
   */
  #heldLive: Array<MessageAccepted | Extract<AcceptedRecord, { type: 'keys' }>> | undefined
  /** The ids of the messages in {@link #heldLive}: one the catch-up reads too is live, its key maybe on its way. */
  readonly #heldLiveIds = new Set<string>()
  readonly #pending = new Map<string, SignedMessage[]>()
  readonly #fetching = new Set<string>()
  #pendingCount = 0
  /** Ids of messages already handled, oldest first: a replayed record is dropped silently. */
  readonly #seenIds = new Set<string>()
  readonly #keys: RoomKeys
  /** Typing indicators and read positions (`room-signals.ts`). */
  readonly #signals: RoomSignals
  /** Every message's text, versions, reactions and thread (`message-state.ts`), saved to the vault. */
  readonly #messages: MessageStates
  /** Sweeps the messages past their disappearing timer (`disappearing.ts`) when the next one is due. */
  readonly #expiry: ExpiryClock
  /**
   * Messages whose sender key has not arrived, by sender, with when they arrived; `earlier`: the
   * key is here, but from a later iteration on (see {@link isBeforeChainStart}).
   */
  readonly #awaitingKey = new Map<string, Array<{ accepted: MessageAccepted; sinceMs: number; earlier: boolean }>>()
  #storesAskedAtMs = Number.NEGATIVE_INFINITY
  /**
   * Messages reported undecryptable for want of their key, newest last (at most
   * {@link MAX_PENDING_MESSAGES}): a key installed later still opens them.
   */
  readonly #late = new Map<string, MessageAccepted>()
  /** Key records from members whose bundle we have not seen yet. */
  readonly #awaitingBundle = new Map<string, KeysRecord[]>()
  /** Senders whose key we lack: asked for in our next presence. */
  readonly #want = new Set<string>()
  #distributing: Promise<void> | undefined
  #startedAtMs = 0
  #stopWatchingGate: () => void = () => {}
  #lastMemberJoinedMs = 0
  /** Bundles being fetched: {@link waitForPeers} settles only once they are in. */
  #learningBundles = 0
  /** `settle:progress` when a member joins or the last bundle being fetched is in: what {@link waitForPeers} waits on. */
  readonly #progress = new EventTarget()
  #lamport = 0
  #recent: string[] = []
  /** Live messages being decrypted and delivered: {@link gapsSettled} waits for them. */
  readonly #delivering = new Set<Promise<unknown>>()
  /** Gap repair (`watchGaps`), told of every message this room takes. */
  #gaps: GapWatcher | undefined
  /** Where a message that arrives after one naming it belongs (`before` of `message:received`). */
  readonly #arrivals = new LateArrivals()
  /**
   * Learning the members the stores kept the presence of, from the first sink on ({@link membersSink}); the
   * first send waits for it, once: undefined from then on.
   */
  #storedMembers: Promise<void> | undefined
  #storedMembersOpened = false
  /**
   * A record a gap names that the relays received before this is history this device already had
   * (its catch-up started there): it closes the gap but is not delivered again.
   */
  readonly #gapHorizonMs: number
  #timer: ReturnType<typeof setInterval> | undefined
  #announceTimer: ReturnType<typeof setTimeout> | undefined
  /** Newcomers' bundles gathered into one distribution (`#scheduleDistribution`). */
  #distributeTimer: ReturnType<typeof setTimeout> | undefined
  #lastScheduledDistributionMs = 0
  #started = false
  /** Set when a neighbour appears: our certificate must reach it before our next message. */
  #needsAnnounce = true

  constructor(components: RoomComponents, init: RoomInit) {
    super()
    this.id = init.roomId
    this.topic = roomTopic(init.roomId)
    this.manifest = init.manifest
    this.#c = components
    this.#presenceIntervalMs = init.presenceIntervalMs ?? PRESENCE_INTERVAL_MS
    this.#presenceFullRateMembers = init.presenceFullRateMembers ?? PRESENCE_FULL_RATE_MEMBERS
    this.#now = init.now ?? Date.now
    // Three missed heartbeats at whatever interval this room uses.
    this.#presenceTimeoutMs =
      init.presenceTimeoutMs ??
      (init.presenceIntervalMs === undefined ? PRESENCE_TIMEOUT_MS : 3 * init.presenceIntervalMs)
    this.#position = new HistoryPositionKeeper({
      now: this.#now,
      save: () => this.#saveMessages(),
      ...(init.position === undefined ? {} : { position: init.position }),
    })
    this.#positionToSave = this.#position.get()
    // A restarted device goes on from its clock, and drops what it delivered last if it comes again.
    this.#lamport = init.position?.lamport ?? 0
    for (const id of init.position?.ids ?? []) this.#seenIds.add(id)
    const interval = (): number => this.#intervalMs()
    this.#outgoing = new OutgoingBuffer({
      roomId: init.roomId,
      // Members acknowledge in their presence, which comes less often in a large room.
      get firstDelayMs() {
        return REPUBLISH_AFTER_PRESENCE_INTERVALS * interval()
      },
      republish: async (bytes) => (await this.#c.pubsub.publish(this.topic, bytes)).recipients.length,
      onUnacknowledged: (detail) => this.safeDispatchEvent('message:unacknowledged', { detail }),
      onAcknowledged: (id, peerId) => this.#onAcknowledged(id, peerId),
      ...(components.stored === undefined ? {} : { stored: (ids) => components.stored!(this.topic, ids) }),
      log: components.log,
    })
    this.#received = new ReceivedIds()
    this.#deliveries = new OwnDeliveries({ roomId: init.roomId, self: components.self.verified.address })
    this.#messages = new MessageStates(init.messages === undefined ? {} : { saved: init.messages })
    this.#expiry = new ExpiryClock({ next: () => this.#messages.nextExpiryMs(), sweep: () => this.#expire() })
    components.search?.follow(`room:${init.roomId}`, this.#messages)
    const position = init.position
    this.#gapHorizonMs =
      position === undefined || (position.lamport === 0 && position.ids.length === 0)
        ? 0
        : (position.liveAtMs ?? this.#now()) - CATCH_UP_MARGIN_MS
    this.#keys = new RoomKeys({
      roomId: init.roomId,
      selfPeerId: components.self.peerId,
      device: components.device,
      log: components.log,
      ...(components.vault === undefined ? {} : { save: (options) => this.#saveHistory(options) }),
      ...(init.keys === undefined ? {} : { stored: init.keys }),
      absentSince: (peerId) => this.#absent.sinceMs(peerId),
    })
    // The members our key was sealed to before a restart are absent until heard again: our new
    // epoch is sealed to them too (a member cut off meanwhile reads it from the stores).
    for (const saved of init.keys?.members ?? []) {
      const sinceMs = saved.absentSinceMs ?? Date.now()
      const member: RoomMember = { address: saved.address, peerId: saved.peer, lastSeenMs: sinceMs }
      for (const dropped of this.#absent.add(member, sinceMs)) this.#keys.removeMember(dropped.peerId)
    }
    this.#signals = new RoomSignals({
      roomId: init.roomId,
      self: { address: components.self.verified.address, peerId: components.self.peerId },
      settings: components.signalSettings ?? (() => DEFAULT_SIGNAL_SETTINGS),
      guard: new SignalGuard(),
      callGuard: createCallSignalGuard(),
      encrypt: async (plaintext, header) => {
        if (!this.#started) return undefined
        // Readable on arrival, as a message is: our current epoch to every member that lacks it first.
        this.#keys.rotateIfDue()
        await this.#distributeKeys()
        return this.#keys.encrypt(plaintext, header)
      },
      decrypt: (from, ct, header) => this.#keys.decrypt(from, ct, header),
      publish: async (bytes) => {
        await this.#c.pubsub.publish(this.topic, bytes)
      },
      onTyping: (detail) => this.safeDispatchEvent('typing:changed', { detail }),
      onRead: (detail) => this.safeDispatchEvent('read:received', { detail }),
      onCall: (detail) => this.safeDispatchEvent('call:signal', { detail }),
      now: this.#now,
      log: components.log,
    })
    this.#gatekeeper = new RoomGatekeeper({
      roomId: init.roomId,
      registry: components.registry,
      manifest: init.manifest,
      ...(components.gates === undefined ? {} : { gates: components.gates }),
      onUnknownSender: (message, source) => this.#holdUntilCertified(message, source),
      onRejected: (from, reason) => {
        this.#c.log.debug('record rejected', { room: this.id, from, reason })
        this.safeDispatchEvent('message:rejected', { detail: { from, reason } })
      },
      onModeration: (verdict) => this.#onModeration(verdict),
      onSanctionDropped: (from, address, reason) =>
        this.#c.log.debug('record of a sanctioned member dropped', { room: this.id, from, address, reason }),
      now: this.#now,
    })
    this.#takeUpSavedModeration(init.moderation ?? [])
  }

  /**
   * The log as an earlier run saved it: what it did then (a removal, a timer, members dropped) is in the saved
   * states and members already, so only the log's state is taken up here. An event the log refuses now is left out.
   */
  #takeUpSavedModeration(events: readonly unknown[]): void {
    const log = this.moderation
    let refused = 0
    for (const event of events) if (log.add(event).status === 'refused') refused += 1
    if (refused > 0)
      this.#c.log.warn('saved moderation events refused; the stores send the log again', { room: this.id, refused })
  }

  /** Saves the moderation log (`room-store.ts`) off the caller's path; a failed save is logged. */
  #saveModeration(): void {
    const vault = this.#c.vault
    if (vault === undefined) return
    saveModerationLog(vault, this.id, () => this.moderation.events()).catch((err: unknown) =>
      this.#c.log.warn('room moderation log not saved', { room: this.id, error: String(err) }),
    )
  }

  /** The room's moderation log (docs/architecture.md, Moderation): roles, bans, kicks. */
  get moderation(): ModerationLog {
    return this.#gatekeeper.moderation as ModerationLog
  }

  /**
   * Signs a moderation event with `signer` (the wallet: owner or moderator), after the log's head, applies it here
   * and publishes it. Throws when the log refuses it (the reason says why: no role, a target ranked too high).
   * `target`: a wallet (mod-add … unmute); a message id for `remove`, whose author the event names: `author`, or the
   * message's sender when it is on this device; ignored by `lock` and `unlock`, which name the signer. `mute` needs
   * `untilMs`; `lock` takes `readOnly` and lists this device's members (present and away) as the ones it admits.
   * A role the log would refuse throws before the wallet is asked; like a message, the event then waits for a
   * neighbour that carries the room (at most `SEND_NEIGHBOUR_WAIT_MS`, else `UnreachableError`, nothing applied).
   */
  async moderate(
    action: ModerationAction,
    target: string | undefined,
    options: ModerateOptions,
  ): Promise<Extract<ModerationVerdict, { status: 'applied' | 'void' }>> {
    const extra = await this.#moderationFields(action, target, options)
    const refused = (reason: string): InvalidInputError =>
      new InvalidInputError(`${action} refused: ${reason}`, {
        details: { action, target },
        hint: isStateRefusal(reason)
          ? "the room's log says who is banned or muted and whether the room is locked (securechat room log; Members in the web app)"
          : 'only the owner appoints moderators, hands the room over and changes its token gate and disappearing messages; the owner and moderators kick, ban, mute, lock and remove messages of those ranked below them',
      })
    const refusal = this.moderation.refusal(await options.signer.getAddress(options), action, extra.target)
    if (refusal !== undefined) throw refused(refusal)
    // Published to nobody, an event would hold here alone: no store would keep it and no member would hear of it.
    await this.#untilCarried(options)
    const event = await createModerationEvent(
      { signer: options.signer, room: this.id, prev: this.moderation.head, action, now: this.#now(), ...extra },
      options,
    )
    const verdict = this.#gatekeeper.addOwnModeration(event)
    if (verdict.status !== 'applied' && verdict.status !== 'void') {
      throw refused('reason' in verdict ? verdict.reason : verdict.status)
    }
    await this.#c.pubsub.publish(this.topic, encodeRecord(event))
    return verdict
  }

  /** What an event of `action` carries besides the common fields: its target, and the action's own fields. */
  async #moderationFields(
    action: ModerationAction,
    target: string | undefined,
    options: ModerateOptions,
  ): Promise<ModerationActionFields & { target: string }> {
    if (action === 'lock' || action === 'unlock' || action === 'gate' || action === 'timer') {
      const self = await options.signer.getAddress(options)
      if (action === 'unlock') return { target: self }
      if (action === 'timer') {
        if (options.seconds === undefined) throw new InvalidInputError('timer needs seconds: 0 (off) or the timer')
        return { target: self, seconds: checkTimerSeconds(options.seconds) }
      }
      if (action === 'gate') return { target: self, ...(options.rule === undefined ? {} : { rule: options.rule }) }
      const members = [
        ...new Set([self, ...[...this.#members.values(), ...this.#absent.members()].map((m) => m.address)]),
      ]
      if (members.length > MAX_LOCK_MEMBERS) {
        throw new InvalidInputError(
          `a lock lists at most ${MAX_LOCK_MEMBERS} members; this room has ${members.length}`,
          {
            hint: 'kick or ban members first, or keep the room open',
          },
        )
      }
      return { target: self, members, ...(options.readOnly === true ? { readOnly: true } : {}) }
    }
    if (target === undefined) throw new InvalidInputError(`${action} needs a target`)
    if (action === 'mute') {
      if (options.untilMs === undefined) throw new InvalidInputError('mute needs untilMs: when the mute ends')
      return { target, until: options.untilMs }
    }
    if (action !== 'remove') return { target }
    checkMessageId(target, 'id')
    // Honest members check the author named against the message's own sender: a wrong one removes nothing.
    const author = options.author ?? this.#messages.get(target)?.sender
    if (author === undefined) {
      throw new InvalidInputError(`message ${target} is not on this device`, {
        hint: 'a removal names the message and its author: give the author (listen --json prints it as sender)',
      })
    }
    return { target: author, message: target }
  }

  /**
   * A kept moderation event: told; a banned or kicked member (or one a lock does not list) is dropped and our key
   * rotates without it (`member:removed`); a message a moderator removed is deleted here as its sender's own delete
   * would be.
   */
  #onModeration(verdict: Extract<ModerationVerdict, { status: 'applied' | 'void' }>): void {
    this.#saveModeration()
    this.safeDispatchEvent('moderation:changed', { detail: verdict })
    if (verdict.status !== 'applied') return
    const { action, target, message } = verdict.event
    if (action === 'remove' && message !== undefined) {
      const { author, atMs } = verdict.event
      // The event's hash is its id as a change: the same on every device, so a second copy is a no-op.
      const change: MessageChange = {
        kind: 'delete',
        author: target as Address,
        id: verdict.hash,
        target: message,
        sender: author as Address,
        senderPeerId: '',
        sentAtMs: atMs,
      }
      this.#fold(change)
      return
    }
    if (action === 'gate') {
      this.#gateChanged()
      return
    }
    if (action === 'timer') {
      const { author, atMs, seconds } = verdict.event
      this.#applyTimer({
        id: verdict.hash,
        sender: author as Address,
        senderPeerId: '',
        sentAtMs: atMs,
        seconds: seconds ?? 0,
      })
      return
    }
    if (action === 'lock') this.#removeWallets((address) => this.moderation.isLockedOut(address), action)
    // Named even with no device of it here: other members may have seen it, and sealed it keys, where we did not.
    else if (action === 'ban' || action === 'kick') this.#removeWallets(sameWallet(target), action, target as Address)
  }

  /**
   * Drops every device (present or away) of the wallets `gone` names, our key rotating without each, then says
   * `member:removed` once per wallet — only then, so that what a listener sends at once (a call's new key) goes under
   * a sender key none of them reads. Told: each wallet a device of which was here, our own when it is among them (its
   * other devices drop it), and `named` (a ban's or kick's target) whether or not any device of it was here.
   */
  #removeWallets(gone: (address: string) => boolean, reason: RoomMemberRemoved['reason'], named?: Address): void {
    const removed = new Map<string, Address>()
    if (named !== undefined) removed.set(named.toLowerCase(), named)
    const self = this.#c.self.verified.address
    if (gone(self)) removed.set(self.toLowerCase(), self)
    for (const member of [...this.#members.values(), ...this.#absent.members()]) {
      if (!gone(member.address)) continue
      this.#removeMember(member, 'gone')
      // A banned wallet was told at its ban: a device of it still known here (a presence that raced the ban) is
      // dropped again by a lock or a gate, not told of twice.
      if (reason !== 'ban' && this.moderation.isBanned(member.address)) continue
      removed.set(member.address.toLowerCase(), member.address)
    }
    for (const address of removed.values()) this.safeDispatchEvent('member:removed', { detail: { address, reason } })
  }

  /** {@link sendRestriction} as the error a send throws. */
  #throwIfRestricted(): void {
    const restriction = this.sendRestriction()
    if (restriction !== undefined) {
      const { reason, untilMs } = restriction
      throw new ModeratedError(restriction.message, {
        hint: restriction.hint,
        details: { reason, ...(untilMs === undefined ? {} : { untilMs }) },
      })
    }
  }

  /**
   * Why the room's moderation log stops this wallet from sending now, if it does (banned, muted until a time, a
   * read-only lock, a lock that does not list it): what {@link send} and the other sends throw, and what an app shows.
   */
  sendRestriction():
    | { reason: 'banned' | 'muted' | 'read-only' | 'locked'; message: string; hint: string; untilMs?: number }
    | undefined {
    const log = this.#gatekeeper.moderation
    if (log === undefined) return undefined
    const self = this.#c.self.verified.address
    // Every member and relay drops what a banned wallet sends: saying it was sent would be a lie.
    if (log.isBanned(self)) {
      return {
        reason: 'banned',
        message: 'you are banned from this room',
        hint: 'nobody receives what you send here until a moderator unbans you',
      }
    }
    if (log.isLockedOut(self)) {
      return {
        reason: 'locked',
        message: 'the room is locked by its moderators',
        hint: 'it admits no new member until a moderator unlocks it',
      }
    }
    if (log.isSilencedByLock(self)) {
      return {
        reason: 'read-only',
        message: 'the room is read-only: only its owner and moderators may send',
        hint: 'wait until a moderator unlocks it',
      }
    }
    const mute = log.muteOf(self)
    if (mute === undefined || this.#now() >= mute.untilMs) return undefined
    const until = new Date(mute.untilMs).toISOString()
    return {
      reason: 'muted',
      message: `you are muted in this room until ${until}`,
      hint: `wait until ${until}, or ask a moderator to unmute you`,
      untilMs: mute.untilMs,
    }
  }

  get started(): boolean {
    return this.#started
  }

  start(): void {
    if (this.#started) return
    this.#started = true
    this.#startedAtMs = Date.now()
    const { pubsub } = this.#c
    pubsub.topicValidators.set(this.topic, this.#gatekeeper.validate)
    pubsub.addEventListener('message', this.#onMessage)
    pubsub.addEventListener('subscription-change', this.#onSubscriptionChange)
    pubsub.subscribe(this.topic)
    this.#watchGate()
    this.#watchOwnGate()
    this.#timer = setInterval(() => {
      this.#watchOwnGate()
      this.#expireMembers()
      this.#expireAwaitingKey()
      if (this.#presenceDue()) void this.#announce()
    }, this.#presenceIntervalMs)
    // What expired while this device was off leaves its vault now.
    this.#expire()
    this.#expiry.schedule()
    void this.#announce()
  }

  /** A member who sells or transfers the token loses the room: drop it and rotate our key. Follows the current gate. */
  #watchGate(): void {
    this.#stopWatchingGate()
    this.#stopWatchingGate = this.#gatekeeper.onEligibilityChange((change) => {
      if (change.address.toLowerCase() === this.#c.self.verified.address.toLowerCase()) {
        // Our own wallet: the others drop us (or take us back); say so rather than go quiet.
        this.safeDispatchEvent('access:changed', {
          detail: { eligible: change.eligible, reason: explainGateResult(change.result) },
        })
      }
      if (!change.eligible) this.#removeWallets(sameWallet(change.address), 'gate')
    })
  }

  /**
   * The log changed the room's gate: judge every member by the new rule (as a transfer of its token would), drop those
   * it refuses, our key rotating without them; our own wallet is told `access:changed`. Newcomers holding what the new
   * rule asks are admitted by the gatekeeper, which reads the current rule.
   */
  #gateChanged(): void {
    if (!this.#started) return
    this.#watchGate()
    this.#watchOwnGate()
    const self = this.#c.self.verified.address
    // One read per wallet, however many of its devices are here: each wallet is removed (and told) once.
    const wallets = new Map<string, string>()
    for (const member of [...this.#members.values(), ...this.#absent.members()]) {
      wallets.set(member.address.toLowerCase(), member.address)
    }
    wallets.set(self.toLowerCase(), self)
    for (const address of wallets.values()) {
      void this.#gatekeeper
        .isEligible(address)
        .catch(() => false)
        .then((passes) => {
          if (address === self) {
            const reason = passes
              ? 'the owner changed the token gate'
              : 'the owner changed the token gate; this wallet fails it'
            this.safeDispatchEvent('access:changed', { detail: { eligible: passes, reason } })
          }
          if (!passes && this.#started) this.#removeWallets(sameWallet(address), 'gate')
        })
    }
  }

  /** The room's current token gate: the log's latest `gate` event's rule, else the manifest's (`currentGateRule`). */
  get gateRule(): GateRule | undefined {
    return this.#gatekeeper.gateRule
  }

  /** Keeps the chain watching our own wallet's tokens, so losing one shows as `access:changed`. */
  #watchOwnGate(): void {
    const rule = this.#gatekeeper.gateRule
    if (rule !== undefined) this.#c.gates?.watch(rule, this.#c.self.verified.address)
  }

  /**
   * Stops listening and tells the others this device went offline; with `forever` (`leaveRoom`),
   * that it left the room, so they stop sealing their keys to it. Idempotent.
   */
  async stop(options: { forever?: boolean } = {}): Promise<void> {
    if (!this.#started) return
    await this.#announce({ leaving: true, ...(options.forever === true ? { forever: true } : {}) })
    this.#started = false
    clearInterval(this.#timer)
    clearTimeout(this.#announceTimer)
    clearTimeout(this.#distributeTimer)
    this.#expiry.stop()
    this.#outgoing.stop()
    this.#signals.stop()
    this.#stopWatchingGate()
    const { pubsub } = this.#c
    pubsub.removeEventListener('message', this.#onMessage)
    pubsub.removeEventListener('subscription-change', this.#onSubscriptionChange)
    pubsub.unsubscribe(this.topic)
    pubsub.topicValidators.delete(this.topic)
    // What is scheduled still reaches the vault (its delay, or the owner's flush or close);
    // leaving the room deletes the keys instead.
    this.#keys.detach()
    this.#gaps?.stop()
    // Live until now, if a relay or peer still carried the room.
    if (pubsub.getSubscribers(this.topic).length > 0) this.#position.touch()
    this.#position.detach()
    this.safeDispatchEvent('room:stopped')
  }

  /** Members heard from recently, this device included. */
  members(): RoomMember[] {
    const self = this.#c.self
    return [
      { address: self.verified.address, peerId: self.peerId, lastSeenMs: Date.now() },
      ...[...this.#members.values()].filter((m) => m.peerId !== self.peerId),
    ]
  }

  /** Resolves once the members the relays' stores kept the presence of are learned (at most a short wait). */
  async membersKnown(options: AbortOptions = {}): Promise<void> {
    await this.#untilMembersLearned(options)
  }

  /** Members gone offline (timed out, said they left, or their relay saw them go), with when they were last seen. */
  away(): RoomMember[] {
    return this.#absent.members()
  }

  /**
   * The neighbour `via` says `peerId` went: its connection to it closed (a relay's departure notice,
   * `client/departures.ts`, or our own connection to it). Marked away at once when `via` carried its presence lately
   * (`presence-witness.ts`); otherwise its presence times out as before. Not for an unsubscribe: the member said it
   * first, in its leaving presence, which tells whether it comes back.
   */
  departed(peerId: string, via: string): void {
    const member = this.#members.get(peerId)
    if (member === undefined || peerId === this.#c.self.peerId || !this.#witness.acceptsDeparture(peerId, via)) return
    this.#c.log.debug('member departed', { room: this.id, peer: peerId, via })
    this.#removeMember({ ...member, lastSeenMs: Date.now() }, 'offline')
  }

  /** Resolves once at least one neighbour (a relay or a peer) shares the room topic. */
  async waitForPeers(options: AbortOptions = {}): Promise<void> {
    await this.#untilSubscriber(options)
    await this.#untilMeshed(options)
    if (this.#needsAnnounce) await this.#announce()
    await this.#settle(options)
  }

  /**
   * A neighbour forwards others' records only to its mesh; until we are grafted, what others
   * say would pass us by. Waits for a mesh peer (`gossipsub:graft`), at most {@link MESH_WAIT_MS}.
   */
  async #untilMeshed(options: AbortOptions): Promise<void> {
    // The class has it; the GossipSub interface does not name it (without it, do not wait).
    const pubsub = this.#c.pubsub as GossipSub & { getMeshPeers?: (topic: string) => string[] }
    const meshed = (): boolean => (pubsub.getMeshPeers?.(this.topic).length ?? 1) > 0
    if (meshed()) return
    await waitForEvent<CustomEvent<MeshPeer>>(pubsub, 'gossipsub:graft', {
      test: (event) => event.detail.topic === this.topic && meshed(),
      timeoutMs: MESH_WAIT_MS,
      ...options,
    })
  }

  /**
   * Members answer a newcomer's presence within a moment; a message sent before their bundles
   * arrive cannot be shared with them (a sender key never goes backwards). So wait until no new
   * member has appeared for {@link SETTLE_QUIET_MS} and every bundle being fetched is in (each
   * wakes the wait through `#progress`), at most {@link SETTLE_MAX_MS}.
   */
  async #settle(options: AbortOptions): Promise<void> {
    const deadline = Date.now() + SETTLE_MAX_MS
    for (;;) {
      options.signal?.throwIfAborted()
      const quietSince = Math.max(this.#lastMemberJoinedMs, this.#startedAtMs)
      const quietForMs = SETTLE_QUIET_MS - (Date.now() - quietSince)
      if (this.#members.size > 0 && this.#learningBundles === 0 && quietForMs <= 0) return
      const leftMs = deadline - Date.now()
      if (leftMs <= 0) return
      // Until the first member answers, or while bundles are fetched, the next `settle:progress` tells.
      const waiting = this.#members.size === 0 || this.#learningBundles > 0
      const timeoutMs = waiting ? leftMs : Math.min(quietForMs, leftMs)
      await waitForEvent(this.#progress, 'settle:progress', { timeoutMs, ...options })
    }
  }

  /**
   * A record published while no neighbour carries the room goes nowhere, and nothing sends it again: gossip keeps
   * no copy for a neighbour that subscribes later, and no store saw it. That is what happens just after this
   * device reconnects (its relay restarted, or it moves to another): the connection is up and the relay already
   * has our subscription, but its own has not reached us yet. So a message waits for a neighbour, at most
   * {@link SEND_NEIGHBOUR_WAIT_MS}, and fails with {@link UnreachableError} after that rather than vanish.
   */
  async #untilCarried(options: AbortOptions): Promise<void> {
    const { pubsub } = this.#c
    if (pubsub.getSubscribers(this.topic).length > 0) return
    const arrived = await waitForEvent(pubsub, 'subscription-change', {
      test: () => pubsub.getSubscribers(this.topic).length > 0,
      timeoutMs: SEND_NEIGHBOUR_WAIT_MS,
      ...options,
    })
    if (!arrived) {
      throw new UnreachableError('not sent: no relay or peer carries this room', {
        details: { waitedMs: SEND_NEIGHBOUR_WAIT_MS },
        hint: 'is a relay of the room running and reachable? The message can be sent again once one is',
      })
    }
  }

  /**
   * See {@link membersSink}: a store that has not answered within {@link STORED_MEMBERS_WAIT_MS} is not waited
   * for, and only the first send waits (a sink its caller never uses must not slow every send).
   */
  async #untilMembersLearned(options: AbortOptions): Promise<void> {
    const learning = this.#storedMembers
    if (learning === undefined) return
    try {
      await raceSignal(learning, withTimeout(options.signal, STORED_MEMBERS_WAIT_MS))
      this.#storedMembers = undefined
    } catch (err) {
      options.signal?.throwIfAborted()
      this.#storedMembers = undefined
      this.#c.log.info('sending before the stored members are learned', { room: this.id, error: String(err) })
    }
  }

  async #untilSubscriber(options: AbortOptions): Promise<void> {
    const { pubsub } = this.#c
    const subscribed = (): boolean => pubsub.getSubscribers(this.topic).length > 0
    if (subscribed()) return
    try {
      await waitForEvent(pubsub, 'subscription-change', { test: subscribed, ...options })
    } catch (err) {
      if (options.signal?.aborted !== true) throw err
      throw new UnreachableError('no relay or peer carries this room yet', {
        hint: 'check --bootstrap: is `securechat relay` running and reachable?',
        cause: options.signal.reason,
      })
    }
  }

  /**
   * Sends a text message (a reply with `parentId`). Resolves to its id, its record as published and that record's
   * ciphertext hash (what its audit leaf commits to), and the neighbours it went to. `signal` cancels it until it is
   * published.
   */
  async send(
    text: string,
    options: { parentId?: string; file?: FileManifest } & AbortOptions = {},
  ): Promise<RoomSendResult> {
    checkText(text)
    const { parentId } = options
    if (parentId !== undefined) checkMessageId(parentId, 'parentId')
    // What a receiver would refuse is refused here, with the reason (`files/manifest.ts`); the record commits to the
    // file under a salt the manifest carries (`files/commitment.ts`).
    const { file, commitment } = commitToFile(options.file === undefined ? undefined : parseFileManifest(options.file))
    const mentions = mentionsToSend(text)
    const envelope: Envelope = {
      v: 1,
      kind: 'text',
      body: text,
      ...(parentId === undefined ? {} : { parent: parentId }),
      ...(mentions === undefined ? {} : { mentions }),
      ...(file === undefined ? {} : { file }),
    }
    return this.#settling(async () => {
      const result = await this.#publish(envelope, options, commitment)
      const self = this.#c.self
      const { outcomes } = this.#messages.text({
        id: result.id,
        sender: self.verified.address,
        senderPeerId: self.peerId,
        sentAtMs: result.sentAtMs,
        body: text,
        parentId,
        ...(mentions === undefined ? {} : { mentions }),
        file,
      })
      this.#report(outcomes)
      this.#expiry.added(this.#messages.expiresAtMs(result.id))
      return result
    })
  }

  /**
   * Sets the room's disappearing-messages timer, in seconds (0: off; `disappearing.ts`): messages sent from now on
   * leave every honest member's device that long after they were sent. Only the room's owner may. The change is an
   * event of the room's moderation log, signed by the owner's wallet (`signer`, as {@link moderate} takes it), so
   * that the stores keep it and a member who joins later learns it, the owner away or not.
   */
  async setDisappearing(
    seconds: number,
    options: AbortOptions & { signer: WalletSigner },
  ): Promise<Extract<ModerationVerdict, { status: 'applied' | 'void' }>> {
    checkTimerSeconds(seconds)
    const refusal = this.disappearingRefusal(this.#c.self.verified.address)
    if (refusal !== undefined) throw new InvalidInputError(refusal, { hint: "ask the room's owner to change it" })
    return this.moderate('timer', undefined, { ...options, seconds })
  }

  /** Why `address` may not change the room's disappearing-messages timer, in a sentence; undefined when it may. */
  disappearingRefusal(address: string): string | undefined {
    if (this.moderation.refusal(address, 'timer', address) === undefined) return undefined
    return `only the room's owner (${this.moderation.state.owner}) may change its disappearing messages`
  }

  /** The disappearing-messages timer in force (its last change), if it was ever set. */
  disappearing(): TimerChange | undefined {
    return this.#messages.timer()
  }

  /** When a message sent at `sentAtMs` and received at `receivedAtMs` leaves this room's devices; undefined: never. */
  expiryOf(sentAtMs: number, receivedAtMs: number): number | undefined {
    return this.#messages.expiryOf(sentAtMs, receivedAtMs)
  }

  /** A timer change the moderation log applied: what it covers expires. */
  #applyTimer(change: TimerChange): void {
    if (!this.#messages.setTimer(change)) return
    this.safeDispatchEvent('timer:changed', { detail: { roomId: this.id, change } })
    this.#expire()
    this.#saveMessages()
    this.#expiry.schedule()
  }

  /** Drops the messages past their timer, here and (saved) in the vault, and says which. */
  #expire(): void {
    const ids = this.#messages.expire(Date.now())
    if (ids.length === 0) return
    this.safeDispatchEvent('message:expired', { detail: { roomId: this.id, ids } })
    this.#saveMessages()
  }

  /** Replies to message `parentId`: its thread (the thread of its root, when it is itself a reply) gets one more. */
  async reply(parentId: string, text: string, options: AbortOptions = {}): Promise<RoomSendResult> {
    return this.send(text, { ...options, parentId })
  }

  /** Adds this wallet's reaction `emoji` (an emoji, at most `MAX_REACTION_GRAPHEMES` characters) to message `id`. */
  async react(id: string, emoji: string, options: AbortOptions = {}): Promise<RoomSendResult> {
    return this.#sendChange({ kind: 'react', emoji: checkReaction(emoji), remove: false }, id, options)
  }

  /** Takes this wallet's reaction `emoji` to message `id` back. */
  async unreact(id: string, emoji: string, options: AbortOptions = {}): Promise<RoomSendResult> {
    return this.#sendChange({ kind: 'react', emoji: checkReaction(emoji), remove: true }, id, options)
  }

  /** A new text for message `id`, which this wallet sent: members see it edited, with every version. */
  async edit(id: string, text: string, options: AbortOptions = {}): Promise<RoomSendResult> {
    checkText(text)
    this.#checkOwn(id, 'edit')
    const mentions = mentionsToSend(text)
    return this.#sendChange({ kind: 'edit', body: text, ...(mentions === undefined ? {} : { mentions }) }, id, options)
  }

  /** Deletes message `id`, which this wallet sent: honest members drop its text, from their vaults too. */
  async delete(id: string, options: AbortOptions = {}): Promise<RoomSendResult> {
    this.#checkOwn(id, 'delete')
    return this.#sendChange({ kind: 'delete' }, id, options)
  }

  /** Message `id` as this device knows it now (reactions, versions, deleted, thread), if it is here. */
  message(id: string): MessageState | undefined {
    return this.#messages.get(id)
  }

  /** The replies in the thread whose root is `rootId`, oldest first. */
  thread(rootId: string): MessageState[] {
    return this.#messages.thread(rootId)
  }

  /**
   * The messages this device keeps of the room (the newest `MAX_MESSAGE_STATES`, in the vault too), in the order
   * they came: what an app's own list may have missed (a reload just after one came, before the app wrote it)
   * and a restart's catch-up does not deliver again.
   */
  keptMessages(): MessageState[] {
    return this.#messages.list()
  }

  /**
   * The person is typing (`true`: repeat it as they type, it goes out every `TYPING_SEND_INTERVAL_MS` at most) or
   * cleared or sent the composer (`false`). Returns whether a record went out; none while typing is turned off.
   */
  typing(typing: boolean): boolean {
    return this.#started ? this.#signals.typing(typing) : false
  }

  /**
   * The person read the room up to message `id`: members see it ("seen by"), and this wallet's other devices mark
   * the room read. Coalesced over `READ_SEND_DELAY_MS`; nothing while receipts are turned off.
   */
  markRead(id: string): void {
    checkMessageId(id, 'id')
    if (this.#started) this.#signals.read(id)
  }

  /** Each member wallet's latest read position heard (this wallet's other devices' included). */
  readPositions(): ReadSignal[] {
    return this.#signals.reads()
  }

  /**
   * Sends a call signal (`here`, `leave`, or an `offer` or `answer` for one device) to the room, in a `call` record under
   * this device's sender key: every member reads it (every member may join a call), members' devices a `to` does not
   * name drop it, and relays forward it without storing it. Not turned off by the typing or receipts settings. Throws
   * (with what to do) when the signal is malformed or the room cannot send now: not joined, muted, read-only or locked,
   * or no relay or peer carries it.
   */
  async sendCallSignal(signal: CallSignalInput, options: AbortOptions = {}): Promise<void> {
    const full = callSignalOf(signal)
    if (!this.#started) throw new NotStartedError('join the room before calling', { hint: 'await room.start() first' })
    this.#throwIfRestricted()
    options.signal?.throwIfAborted()
    await this.#untilCarried(options)
    // Presence first: a neighbour that has not seen our certificate would hold the signal back.
    if (this.#needsAnnounce) await this.#announce()
    await this.#signals.sendCall(full)
  }

  /**
   * Refuses to edit or delete another wallet's message. One this device does not have (a command run on a fresh
   * device) goes out: every receiver checks the sender itself.
   */
  #checkOwn(id: string, what: 'edit' | 'delete'): void {
    checkMessageId(id, 'id')
    if (this.#messages.isAuthor(id, this.#c.self.verified.address) !== false) return
    throw new InvalidInputError(`cannot ${what} another wallet's message`, {
      details: { id },
      hint: `only its sender may ${what} it`,
    })
  }

  async #sendChange(
    edit: Exclude<MessageEdit, { kind: 'reply' }>,
    target: string,
    options: AbortOptions,
  ): Promise<RoomSendResult> {
    checkMessageId(target, 'id')
    const envelope: Envelope =
      edit.kind === 'react'
        ? { v: 1, kind: 'react', target, emoji: edit.emoji, ...(edit.remove ? { remove: true as const } : {}) }
        : edit.kind === 'edit'
          ? {
              v: 1,
              kind: 'edit',
              target,
              body: edit.body,
              ...(edit.mentions === undefined ? {} : { mentions: edit.mentions }),
            }
          : { v: 1, kind: 'delete', target }
    return this.#settling(async () => {
      const result = await this.#publish(envelope, options)
      const self = this.#c.self
      this.#fold({
        ...edit,
        id: result.id,
        target,
        sender: self.verified.address,
        senderPeerId: self.peerId,
        sentAtMs: result.sentAtMs,
      })
      return result
    })
  }

  /** Encrypts `envelope` under our sender key and publishes it as one `message` record, whatever its kind. */
  /** `fileCommitment`: the record's commitment to the file `envelope` shares (`files/commitment.ts`). */
  async #publish(envelope: Envelope, options: AbortOptions, fileCommitment?: string): Promise<RoomSendResult> {
    if (!this.#started) throw new NotStartedError('join the room before sending')
    // Honest members and relays would drop it: say why, and what to do, rather than send into nothing.
    this.#throwIfRestricted()
    options.signal?.throwIfAborted()
    await this.#untilCarried(options)
    // Presence first: a neighbour that has not seen our certificate would hold the message back.
    if (this.#needsAnnounce) await this.#announce()
    // Then our sender key (a new epoch when one is due) to every member that lacks it, so the
    // message is readable on arrival: the members away the stores know of included.
    await this.#untilMembersLearned(options)
    // The stores' moderation log came with them: a mute or lock set while this device was away stops it here too.
    this.#throwIfRestricted()
    this.#keys.rotateIfDue()
    await this.#distributeKeys()
    options.signal?.throwIfAborted()
    // Bounded like the record's field (wire.ts): a clock pushed to the bound by a hostile record stays there.
    this.#lamport = Math.min(this.#lamport + 1, MAX_LAMPORT_CLOCK)
    const header = {
      room: this.id,
      lamport: this.#lamport,
      deps: this.#recent.slice(-CAUSAL_HISTORY_LENGTH),
      sentAtMs: this.#now(),
    }
    const ct = await this.#keys.encrypt(utf8.encode(JSON.stringify(envelope)), header)
    const record: MessageRecord = {
      v: WIRE_VERSION,
      type: 'message',
      ...header,
      ...(fileCommitment === undefined ? {} : { fileCommitment }),
      payload: { enc: 'sender-key', ct },
    }
    const bytes = encodeRecord(record)
    const id = messageIdOf(bytes)
    this.#rememberSeen(id)
    this.#remember(id)
    this.#position.advance(header.lamport, id)
    const recipients = await this.#publishToSomeone(bytes, options)
    const others = [...this.#members.values()].filter((member) => member.peerId !== this.#c.self.peerId)
    this.#deliveries.sent(
      id,
      others.map((member) => member.address),
    )
    this.#outgoing.add(
      id,
      bytes,
      others.map((member) => member.peerId),
    )
    await this.#c.drained?.(this.topic, options)
    return withCiphertextHash({ id, sentAtMs: header.sentAtMs, record: bytes, delivery: { recipients } }, ct)
  }

  /**
   * gossipsub counts a neighbour once its subscription has arrived, but sends only over its own outbound stream
   * to it, which may open a moment later: seen in CI after a relay restart under load, the subscription came in
   * first and the message went to nobody, with nothing to send it again for a heartbeat interval or more. So a
   * message published to nobody is published again (the same bytes under a new gossip seqno; receivers drop
   * copies by id), backing off from {@link PUBLISH_RETRY_MIN_MS}, until a neighbour takes it or
   * {@link SEND_NEIGHBOUR_WAIT_MS} has passed (then the outgoing buffer's re-publishing is what is left).
   */
  async #publishToSomeone(bytes: Uint8Array, options: AbortOptions): Promise<PeerId[]> {
    const deadline = Date.now() + SEND_NEIGHBOUR_WAIT_MS
    for (let delayMs = PUBLISH_RETRY_MIN_MS; ; delayMs = Math.min(delayMs * 2, PUBLISH_RETRY_MAX_MS)) {
      const { recipients } = await this.#c.pubsub.publish(this.topic, bytes)
      if (recipients.length > 0 || Date.now() + delayMs > deadline || options.signal?.aborted === true) {
        return recipients
      }
      await sleep(delayMs, options.signal).catch(() => undefined)
    }
  }

  /** This device's messages and their acknowledgement by the members (`outgoing-buffer.ts`). */
  get outgoing(): OutgoingStats {
    return this.#outgoing.stats
  }

  /**
   * How far this device's message `id` got: the member wallets present when it was sent, and those whose device
   * acknowledged it (`message:delivered` as it changes). Undefined for one this device did not send since it
   * started, or one of more than `MAX_SENT_KEPT` ago.
   */
  delivery(id: string): MessageDelivery | undefined {
    return this.#deliveries.get(id)
  }

  #onAcknowledged(id: string, peerId: string): void {
    const address = (this.#members.get(peerId) ?? this.#absent.get(peerId))?.address
    if (address === undefined) return
    const delivery = this.#deliveries.acknowledged(id, address)
    if (delivery !== undefined)
      this.safeDispatchEvent('message:delivered', { detail: { ...delivery, address, peerId } })
  }

  /** Received messages as they arrive; ends when `signal` aborts or the room stops. */
  messages(options: AbortOptions = {}): AsyncIterable<RoomMessage> {
    return eventStream<RoomMessage>(
      this,
      { event: 'message:received', endEvent: 'room:stopped', ended: !this.#started },
      options,
    )
  }

  readonly #onMessage = (event: CustomEvent<Message>): void => {
    const message = event.detail
    if (message.topic !== this.topic) return
    const accepted = this.#gatekeeper.accepted(message)
    if (accepted !== undefined) this.#handle(accepted)
  }

  readonly #onSubscriptionChange = (event: CustomEvent<SubscriptionChangeData>): void => {
    // Nobody carries the room any more: what is said meanwhile is for the next catch-up.
    if (this.#c.pubsub.getSubscribers(this.topic).length === 0) this.#position.notLive()
    if (event.detail.subscriptions.some((s) => s.topic === this.topic && s.subscribe)) {
      this.#needsAnnounce = true
      this.#scheduleAnnounce()
    }
  }

  #handle(accepted: AcceptedRecord): void {
    // Applied by the gatekeeper's moderation log as it was validated (`#onModeration`).
    if (accepted.type === 'moderation') return
    if (accepted.type === 'presence') {
      this.#onPresence(accepted.record, accepted.certificate, accepted.from, accepted.source)
      return
    }
    if (accepted.type === 'typing' || accepted.type === 'read' || accepted.type === 'call') {
      void this.#signals.receive(accepted)
      return
    }
    // What a member's message names, it holds: ours among them need not be sent again.
    if (accepted.type === 'message') this.#outgoing.acknowledgeIds(accepted.from, accepted.record.deps)
    if (this.#heldLive !== undefined && this.#heldLive.length < MAX_HELD_LIVE_RECORDS) {
      this.#heldLive.push(accepted)
      if (accepted.type === 'message') this.#heldLiveIds.add(accepted.id)
      return
    }
    if (accepted.type === 'keys') {
      void this.#onKeys(accepted.from, accepted.record)
      return
    }
    if (!this.#markSeen(accepted)) return
    const delivering = this.#decryptAndDeliver(accepted)
    this.#delivering.add(delivering)
    const done = (): void => void this.#delivering.delete(delivering)
    delivering.then(done, done)
  }

  /**
   * Records a message as handled; false when it was already (a replay, or live and stored alike).
   * Gap repair follows its `deps` unless `followDeps` is false.
   */
  #markSeen(accepted: MessageAccepted, followDeps = true): boolean {
    if (this.#seenIds.has(accepted.id)) return false
    this.#rememberSeen(accepted.id)
    this.#received.add(accepted.id)
    this.#lamport = Math.max(this.#lamport, accepted.record.lamport)
    this.#remember(accepted.id)
    this.#position.advance(accepted.record.lamport, accepted.id)
    this.#gaps?.saw(accepted.id, followDeps ? accepted.record.deps : [])
    return true
  }

  #rememberSeen(id: string): void {
    this.#seenIds.add(id)
    if (this.#seenIds.size > MAX_REMEMBERED_MESSAGE_IDS) this.#seenIds.delete(this.#seenIds.values().next().value!)
  }

  /**
   * Resolves once no gap in this room is open: every message a later one named and this device lacked was
   * filled or reported lost (`history:gap`), and what filled them was delivered. A command that prints history
   * and exits waits for this.
   */
  async gapsSettled(options: AbortOptions = {}): Promise<void> {
    await this.#gaps?.settled(options)
    // What filled them is decrypted and delivered (`message:received`) by now.
    await Promise.allSettled([...this.#delivering])
  }

  /**
   * Hands every message this room takes to gap repair (`history/gap-repair.ts`), which fetches
   * what their `deps` name and this device lacks, and fills it through {@link GapSink.fill}.
   */
  watchGaps(create: (sink: GapSink) => GapWatcher): void {
    this.#gaps?.stop()
    this.#gaps = create({
      topics: [this.topic],
      known: (id) => this.#seenIds.has(id),
      fill: async (message, receivedAtMs) => {
        const accepted = await this.#gatekeeper.revalidate(message)
        if (accepted?.type !== 'message') return 'rejected'
        if (this.#seenIds.has(accepted.id)) return 'had'
        if (receivedAtMs < this.#gapHorizonMs) {
          this.#rememberSeen(accepted.id)
          return 'had'
        }
        this.#handle(accepted)
        // Acknowledged now, not at the next presence: its sender re-publishes what stays unacknowledged for
        // two presence intervals, about what a repair takes (the grace, then a fetch), and a copy re-published
        // to us is one more the network carries for nothing.
        this.#scheduleAnnounce()
        return 'delivered'
      },
      report: (gap) => this.safeDispatchEvent('history:gap', { detail: { roomId: this.id, ...gap } }),
    })
  }

  /**
   * Where the presence the relays kept goes (`history/catch-up.ts`: `learnRoomMembers`, and
   * catch-up's first step). The first sink a room opens (on join) holds its sends back until
   * every stored presence is learned, at most {@link STORED_MEMBERS_WAIT_MS}, so that its first
   * key is sealed to the members away too; later ones (a relay came back) hold nothing.
   */
  membersSink(): RoomMembersSink {
    let learned = (): void => {}
    if (!this.#storedMembersOpened) {
      this.#storedMembersOpened = true
      const { promise, resolve } = Promise.withResolvers<void>()
      this.#storedMembers = promise
      learned = resolve
    }
    return {
      roomId: this.id,
      topic: this.topic,
      self: this.#c.self.peerId,
      accept: async (message) => {
        const accepted = await this.#gatekeeper.revalidate(message)
        // Why a store's record went unread is otherwise silent: its sender's certificate unknown, or refused.
        if (accepted === undefined) {
          this.#c.log.debug('stored record not accepted', { room: this.id, from: message.from.toString() })
        }
        return accepted
      },
      learn: (accepted, source) => this.#learnStored(accepted, source),
      learned,
    }
  }

  /**
   * A member's presence as a relay's store kept it (its latest, within retention). One that left
   * for good while we were away (a member saved before a restart) gets none of our keys from now
   * on. One neither here nor known absent is a member away we never met (issue 12): absent since
   * its presence (never later than now), while that is within {@link ABSENT_MEMBER_KEYS_MS} and
   * {@link MAX_ABSENT_MEMBERS} has room, once its bundle verifies — so a sender that never met it
   * seals its key to it, and it reads what was said on return. The record passed the room's own
   * checks (signature, certificate, manifest, gate), so a store can leave a member out but invent
   * none, and the bundle is checked against the certificate whoever serves it.
   */
  async #learnStored(accepted: Extract<AcceptedRecord, { type: 'presence' }>, source: PeerId): Promise<void> {
    const { record, certificate, from } = accepted
    if (from === this.#c.self.peerId) return
    if (record.leaving === true && record.forever === true) {
      const member = this.#members.get(from) ?? this.#absent.get(from)
      if (member !== undefined) this.#removeMember(member, 'gone')
      return
    }
    await this.#learnBundle(record, certificate, from, source, true)
    const sinceMs = Math.min(record.atMs, Date.now())
    const known = this.#isMember(from)
    if (known || !this.#keys.hasMember(from) || sinceMs < Date.now() - ABSENT_MEMBER_KEYS_MS || this.#absent.full)
      return
    this.#absent.add({ address: certificate.address, peerId: from, lastSeenMs: sinceMs }, sinceMs)
  }

  /**
   * What catch-up (`history/catch-up.ts`) works through: this room's own gatekeeper, keys and
   * delivery. With `holdLive` (a room just joined) live messages wait until
   * {@link RoomHistorySink.end}, so what was missed comes first and in order; without it (a room
   * already live whose relay came back) they keep flowing, since a slow or unreachable store must
   * never stall the conversation, and what the catch-up finds is delivered as it comes.
   */
  historySink(options: { holdLive?: boolean } = {}): RoomHistorySink {
    const holdLive = options.holdLive ?? true
    if (holdLive) this.#heldLive ??= []
    let holdTimer: ReturnType<typeof setTimeout> | undefined
    const members = this.membersSink()
    // Caught up as of now once this catch-up completes; not before.
    const openedAtMs = this.#now()
    const position = this.#position.get()
    this.#position.notLive()
    // A first catch-up reads all the stores hold: what its oldest messages name is past retention, not a gap.
    const followDeps = position.lamport > 0 || position.ids.length > 0
    return {
      ...members,
      begin: () => {
        // Held at most CATCH_UP_HOLD_LIVE_MS from here: a catch-up that crawls or fails slowly must not silence the room.
        if (!holdLive || holdTimer !== undefined) return
        holdTimer = setTimeout(() => {
          this.#c.log.info('live messages released before the catch-up ended', { room: this.id })
          this.#releaseHeld(false)
        }, CATCH_UP_HOLD_LIVE_MS)
      },
      position: () => this.#position.get(),
      keys: (accepted) => this.#onKeys(accepted.from, accepted.record, { stored: true }),
      signal: (accepted) => this.#signals.receive(accepted),
      deliver: async (accepted) =>
        this.#markSeen(accepted, followDeps) ? this.#decryptAndDeliver(accepted, { fromHistory: true }) : 'seen',
      progress: (progress) => this.safeDispatchEvent('history:progress', { detail: progress }),
      caughtUp: (untilMs) =>
        untilMs === undefined ? this.#position.caughtUp(openedAtMs, true) : this.#position.caughtUp(untilMs, false),
      end: (cutShort = false) => {
        clearTimeout(holdTimer)
        members.learned()
        this.#releaseHeld(cutShort)
      },
    }
  }

  /** Delivers the live records held for a catch-up (its keys first, then its messages in order) and holds no more. */
  #releaseHeld(cutShort: boolean): void {
    const all = this.#heldLive ?? []
    this.#heldLive = undefined
    this.#heldLiveIds.clear()
    const keys = all.filter((accepted) => accepted.type === 'keys')
    const held = all.filter((accepted) => accepted.type === 'message')
    held.sort((a, b) => a.record.lamport - b.record.lamport || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    void (async () => {
      for (const accepted of keys) await this.#onKeys(accepted.from, accepted.record)
      for (const accepted of held) {
        // A catch-up cut short (its relays' connections died mid-answer) installed no key for what it did not
        // read. A copy that arrived live meanwhile (a sender re-publishing) is left to the next catch-up, which
        // reads it with its key from the stores, in order; here it would wait for a key its sender need not send
        // again, and past MAX_PENDING_MESSAGES show as unreadable for good.
        if (cutShort && !this.#keys.hasKeyFor(accepted.from, accepted.record.payload.ct)) continue
        if (this.#markSeen(accepted)) await this.#decryptAndDeliver(accepted)
      }
    })()
  }

  /**
   * `fromHistory`: a catch-up's, which waits for no key; `heldSinceMs`: held for its key since then;
   * `late`: reported undecryptable before, tried again with a key that arrived since (silently).
   */
  #decryptAndDeliver(
    accepted: MessageAccepted,
    how: { fromHistory?: boolean; heldSinceMs?: number; late?: boolean } = {},
  ): Promise<HistoryDelivery> {
    return this.#settling(() => this.#openAndDeliver(accepted, how))
  }

  async #openAndDeliver(
    accepted: MessageAccepted,
    how: { fromHistory?: boolean; heldSinceMs?: number; late?: boolean },
  ): Promise<HistoryDelivery> {
    const { record, certificate, from, id, bytes } = accepted
    const fromHistory = how.fromHistory === true || how.late === true
    const heldSinceMs = how.heldSinceMs
    let envelope: Envelope
    try {
      const plaintext = await this.#keys.decrypt(from, record.payload.ct, record)
      const parsed = envelopeSchema.safeParse(JSON.parse(utf8.decode(plaintext)))
      if (!parsed.success)
        throw new InvalidInputError(`the decrypted envelope is malformed (${firstIssue(parsed.error, 'envelope')})`)
      envelope = parsed.data
      // The record's file commitment and the manifest must agree: a file the anchored record does not commit to is
      // not shown as shared (`files/commitment.ts`; only a lying sender sends one).
      const problem = fileCommitmentProblem({
        commitment: record.fileCommitment,
        file: envelope.kind === 'text' ? envelope.file : undefined,
      })
      if (problem !== undefined) throw new InvalidInputError(`the message's file does not check: ${problem}`)
    } catch (err) {
      this.#c.log.debug('message not decrypted', {
        room: this.id,
        id,
        from,
        how,
        error: String(err),
        details: (err as { details?: unknown }).details,
      })
      // One the catch-up read that also came live while it ran is live: its key may still be on its way (the
      // sender seals it once our bundle reached it, and it is held with the live records meanwhile).
      if (isMissingKey(err) && (!fromHistory || this.#heldLiveIds.has(id))) {
        this.#awaitKey(accepted, { sinceMs: heldSinceMs })
        return 'delivered'
      }
      if (isBeforeChainStart(err) && !fromHistory) {
        // Our key for it came from a later message on (its sender restarted or rotated before it answered
        // our `want`, which it answers from where it first sealed the epoch to us): asking it again brings
        // the same; the stores may hold the first one.
        this.#awaitKey(accepted, { sinceMs: heldSinceMs, earlier: true })
        return 'delivered'
      }
      const reason =
        err instanceof DuplicateMessageError
          ? SENT_BEFORE_KEY
          : isMissingKey(err)
            ? 'its sender key was never sealed to this device (sent before it joined, or while it was not a member)'
            : err instanceof Error
              ? `${err.name}: ${err.message}`
              : String(err)
      const forWantOfKey = isMissingKey(err) || isBeforeChainStart(err)
      if (how.late === true) {
        if (forWantOfKey) this.#parkLate(accepted)
        if (isBeforeChainStart(err)) this.#askStores()
      } else {
        this.#undecryptable(accepted, reason, { late: forWantOfKey })
        // A catch-up's message without its key: the keys record may have reached the stores after
        // this catch-up read them (keys are asked for first); the next one brings it.
        if (forWantOfKey && how.fromHistory === true) this.#askStores()
        // And its sender, a member here or away, is asked as for a live one: the distribution may be in no store at
        // all (it went through a relay that keeps none and died with it), and the live copies of its re-publish and
        // of the message may have passed before the relay that came back had us in its mesh (relay-restart test).
        if (isMissingKey(err) && how.fromHistory === true && this.#isMember(from)) this.#askFor(from)
      }
      return 'undecryptable'
    }
    // Delivered at last, if it waited for its key (withdrawn meanwhile); otherwise a no-op.
    this.#position.advance(record.lamport, id)
    if (envelope.kind !== 'text') {
      // Handed over as a change, not a list item; a later text may name it.
      this.#arrivals.delivered(id, record.deps, id, sequenceOf(from, record))
      const change: MessageChange = {
        ...changeOf(envelope, (dropped) => this.#droppedMentions(id, dropped)),
        id,
        sender: certificate.address,
        senderPeerId: from,
        sentAtMs: record.sentAtMs,
      }
      this.safeDispatchEvent('change:received', {
        detail: withCiphertextHash(
          {
            roomId: this.id,
            change,
            lamport: record.lamport,
            deps: record.deps,
            receivedAtMs: Date.now(),
            record: bytes,
          },
          record.payload.ct,
        ),
      })
      this.#fold(change)
      return 'delivered'
    }
    const { mentions, dropped } = acceptMentions(envelope.mentions, envelope.body)
    this.#droppedMentions(id, dropped)
    const { state, outcomes, expired } = this.#messages.text({
      id,
      sender: certificate.address,
      senderPeerId: from,
      sentAtMs: record.sentAtMs,
      body: envelope.body,
      parentId: envelope.parent,
      mentions,
      file: envelope.file,
      receivedAtMs: Date.now(),
    })
    // Past its disappearing timer on arrival (a catch-up after being away): never shown.
    if (expired) return 'delivered'
    this.#expiry.added(this.#messages.expiresAtMs(id))
    this.safeDispatchEvent('message:received', {
      detail: withCiphertextHash(
        {
          roomId: this.id,
          id,
          sender: certificate.address,
          senderPeerId: from,
          kind: envelope.kind,
          // Deleted before it arrived (a catch-up delivers in any order): its text is not shown, even once.
          text: state.deleted ? '' : envelope.body,
          parentId: envelope.parent,
          mentions: state.deleted ? [] : mentions,
          ...(state.deleted || envelope.file === undefined ? {} : { file: envelope.file }),
          sentAtMs: record.sentAtMs,
          lamport: record.lamport,
          deps: record.deps,
          before: this.#arrivals.delivered(id, record.deps, id, sequenceOf(from, record)),
          receivedAtMs: Date.now(),
          record: bytes,
        },
        record.payload.ct,
      ),
    })
    this.#report(outcomes)
    return 'delivered'
  }

  /** Mentions a received message listed and its text does not show: not kept (`mentions.ts`), said in the log. */
  #droppedMentions(id: string, dropped: DroppedMention[]): void {
    if (dropped.length > 0) this.#c.log.debug('mentions dropped', { room: this.id, id, dropped })
  }

  /** A reaction, edit or delete, received or sent: folded into its message's state (or kept until it comes). */
  #fold(change: MessageChange): void {
    this.#report([this.#messages.change(change)])
  }

  #report(outcomes: ChangeOutcome[]): void {
    let changed = false
    for (const outcome of outcomes) {
      if (outcome.status === 'applied') {
        this.safeDispatchEvent('message:updated', { detail: { roomId: this.id, ...outcome.update } })
      } else if (outcome.status === 'refused') {
        this.#c.log.debug('message change refused', { room: this.id, reason: outcome.reason })
        this.safeDispatchEvent('change:refused', { detail: { change: outcome.change, reason: outcome.reason } })
      }
      changed ||= outcome.status !== 'ignored'
    }
    if (outcomes.length === 0 || changed) this.#saveMessages()
  }

  /** Saves the room's history (`#saveHistory`) off the caller's path; a failed save is logged. */
  #saveMessages(): void {
    this.#saveHistory().catch((err: unknown) =>
      this.#c.log.warn('room history not saved', { room: this.id, error: String(err) }),
    )
  }

  /**
   * Saves the message states, the history position and the sender keys as one entry (`room-store.ts`). The position
   * and the keys saved are those last taken with no message unsettled — counted in the position, its key used, but
   * not yet in the states (decrypting, or being sent): saved then, a restart's catch-up would skip it, or fetch it
   * with its key gone, while the states, which the app rebuilds its list from, never got it. The states are saved as
   * they are: ahead of the position, a message is delivered once more and kept once. `installed`: a sender key
   * chain was just installed, saved at once and as it is now — the messages read with it wait for this save, so
   * they are unsettled but have used no key of it (another sender's message decrypting at that instant is the one
   * a restart could then find its key gone for).
   */
  #saveHistory(options: { installed?: boolean } = {}): Promise<void> {
    const vault = this.#c.vault
    if (vault === undefined) return Promise.resolve()
    if (options.installed === true) this.#keysInstalled = true
    return saveRoomHistory(
      vault,
      this.id,
      () => {
        if (this.#unsettled === 0) this.#positionToSave = this.#position.get()
        if (this.#unsettled === 0 || this.#keysInstalled) this.#keysToSave = this.#keys.record()
        this.#keysInstalled = false
        return { states: this.#messages.serialize(), position: this.#positionToSave, keys: this.#keysToSave }
      },
      options.installed === true ? 0 : undefined,
    )
  }

  /** Runs `work`, which takes a message's place in the position and then its state: see {@link #saveHistory}. */
  async #settling<T>(work: () => Promise<T>): Promise<T> {
    this.#unsettled += 1
    try {
      return await work()
    } finally {
      this.#unsettled -= 1
      if (this.#unsettled === 0) this.#saveMessages()
    }
  }

  /** Holds a message until its key arrives; `sinceMs` (a message held before) keeps its first wait. */
  #awaitKey(accepted: MessageAccepted, options: { sinceMs?: number | undefined; earlier?: boolean } = {}): void {
    const held = this.#awaitingKey.get(accepted.from) ?? []
    if (held.length >= MAX_PENDING_MESSAGES) {
      this.#undecryptable(accepted, 'too many messages waiting for this sender key', { late: true })
      return
    }
    const earlier = options.earlier === true
    held.push({ accepted, sinceMs: options.sinceMs ?? Date.now(), earlier })
    // Held in memory only: a restart before its key comes must fetch it again.
    this.#position.withdraw(accepted.id)
    this.#awaitingKey.set(accepted.from, held)
    if (earlier) this.#askStores()
    // Ask the sender for its key: it may have sent it before we were listening.
    else this.#askFor(accepted.from)
  }

  /** At most once per {@link UNDECRYPTABLE_AFTER_MS}: what is held waits that long anyway. */
  #askStores(): void {
    if (this.#c.askStores === undefined || Date.now() - this.#storesAskedAtMs < UNDECRYPTABLE_AFTER_MS) return
    this.#storesAskedAtMs = Date.now()
    this.#c.askStores()
  }

  /** Whether `peerId` is a member present or counted away: one that can answer a `want`, now or on return. */
  #isMember(peerId: string): boolean {
    return this.#members.has(peerId) || this.#absent.get(peerId) !== undefined
  }

  /** Names `from` in our presence's `want` (sent soon): it distributes its key to us again. */
  #askFor(from: string): void {
    if (this.#want.has(from)) return
    this.#want.add(from)
    this.#needsAnnounce = true
    this.#scheduleAnnounce()
  }

  /**
   * `late`: for want of a key, which may still come (a `want` answered late, a store's keys record
   * read by a later catch-up): the message is kept, and opened then (`message:received` follows).
   */
  #undecryptable(accepted: MessageAccepted, reason: string, options: { late?: boolean } = {}): void {
    if (options.late === true) this.#parkLate(accepted)
    this.safeDispatchEvent('message:undecryptable', {
      detail: withCiphertextHash(
        {
          roomId: this.id,
          id: accepted.id,
          sender: accepted.certificate.address,
          senderPeerId: accepted.from,
          sentAtMs: accepted.record.sentAtMs,
          before: this.#arrivals.delivered(
            accepted.id,
            accepted.record.deps,
            accepted.id,
            sequenceOf(accepted.from, accepted.record),
          ),
          reason,
          record: accepted.bytes,
        },
        accepted.record.payload.ct,
      ),
    })
  }

  #expireAwaitingKey(): void {
    const cutoff = Date.now() - UNDECRYPTABLE_AFTER_MS
    for (const [from, held] of this.#awaitingKey) {
      const expired = held.filter((h) => h.sinceMs < cutoff)
      if (expired.length === 0) continue
      const kept = held.filter((h) => h.sinceMs >= cutoff)
      if (kept.length === 0) this.#awaitingKey.delete(from)
      else this.#awaitingKey.set(from, kept)
      for (const { accepted, earlier } of expired) {
        this.#undecryptable(accepted, earlier ? SENT_BEFORE_KEY : 'the sender never shared its key with this device', {
          late: true,
        })
      }
    }
  }

  /**
   * `stored`: read by a catch-up. It leaves a `want` standing: it may be an earlier epoch than the one wanted (a
   * catch-up installs the keys of epochs it read no message of last, after the messages that asked), and the
   * sender's answer comes live; one more answer costs a record, a `want` dropped for nothing left the message
   * unread.
   */
  async #onKeys(from: string, record: KeysRecord, options: { stored?: boolean } = {}): Promise<void> {
    const result = await this.#keys.receive(from, record)
    if (result === 'unknown-sender') {
      const held = this.#awaitingBundle.get(from) ?? []
      if (held.length < 4) held.push(record)
      this.#awaitingBundle.set(from, held)
      return
    }
    if (result === 'no-channel') {
      // We lost the channel this key came on (restart without its state, missed opening): the
      // sender answers a `want` with a new hybrid opening.
      this.#askFor(from)
      return
    }
    if (result !== 'installed') return
    if (options.stored !== true) this.#want.delete(from)
    const held = this.#awaitingKey.get(from)
    if (held !== undefined) {
      this.#awaitingKey.delete(from)
      for (const { accepted, sinceMs } of held) await this.#decryptAndDeliver(accepted, { heldSinceMs: sinceMs })
    }
    const late = [...this.#late.values()].filter((accepted) => accepted.from === from)
    for (const accepted of late) {
      this.#late.delete(accepted.id)
      await this.#decryptAndDeliver(accepted, { late: true })
    }
  }

  #parkLate(accepted: MessageAccepted): void {
    this.#late.delete(accepted.id)
    this.#late.set(accepted.id, accepted)
    if (this.#late.size > MAX_PENDING_MESSAGES) this.#late.delete(this.#late.keys().next().value!)
  }

  /** Publishes our sender key to members that lack it; one distribution at a time. */
  async #distributeKeys(): Promise<void> {
    // Nearly every send: every member holds our epoch, nothing to seal or wait for.
    if (this.#distributing === undefined && !this.#keys.distributionDue) return
    while (this.#distributing !== undefined) await this.#distributing
    this.#distributing = (async () => {
      try {
        // Keys go only to members who pass the room's gate now (always true in ungated rooms).
        const eligible = async (peerId: string): Promise<boolean> => {
          const member = this.#members.get(peerId) ?? this.#absent.get(peerId)
          if (member === undefined || this.#gatekeeper.isBanned(member.address)) return false
          return this.#gatekeeper.isEligible(member.address)
        }
        for (const record of await this.#keys.distributions(eligible)) {
          const bytes = encodeRecord(record)
          const { recipients } = await this.#c.pubsub.publish(this.topic, bytes)
          // To nobody (cut off, and no store saw it): sealed again, from a new opening, next time.
          if (recipients.length === 0) for (const entry of record.to) this.#keys.resend(entry.peer)
          // Lost on the way, only a store's copy would open what we send next for a member (`want` brings later keys).
          else this.#outgoing.untilStored(messageIdOf(bytes), bytes)
        }
      } catch (err) {
        this.#c.log.info('sender key not distributed', { room: this.id, error: String(err) })
      }
    })()
    try {
      await this.#distributing
    } finally {
      this.#distributing = undefined
    }
  }

  #onPresence(record: PresenceRecord, certificate: VerifiedCertificate, from: string, source: PeerId): void {
    if (record.leaving === true) {
      // Signed by its key, but maybe sent again by a relay that kept it: not once it announced itself since.
      if (!this.#witness.acceptsLeave(from, record.atMs)) return
      // It said it goes: it reads what it lacks from the stores on return, nothing is re-published for it.
      this.#outgoing.forget(from)
      const member = this.#members.get(from) ?? this.#absent.get(from)
      if (member !== undefined) {
        this.#removeMember({ ...member, lastSeenMs: Date.now() }, record.forever === true ? 'gone' : 'offline')
      }
      return
    }
    this.#witness.heard(from, record.atMs, source.toString())
    const away = this.#absent.get(from)
    this.#absent.delete(from)
    if (record.every === undefined) this.#announcedEveryMs.delete(from)
    else this.#announcedEveryMs.set(from, record.every)
    const acks = record.acks === undefined ? undefined : readAckFilter(record.acks)
    if (acks !== undefined) this.#outgoing.acknowledgeFilter(from, acks)
    // Back after we counted it away: what we sent meanwhile, nothing waited for it (see `outgoing-buffer.ts`).
    if (away !== undefined) this.#outgoing.returned(from, away.lastSeenMs, acks)
    // Counted since its presence was signed: what we sent from then on must be readable by it, even what left before
    // this presence reached us, and before its bundle arrives.
    this.#keys.expectMember(from, Math.min(record.atMs, this.#now()))
    void this.#learnBundle(record, certificate, from, source)
    const member: RoomMember = { address: certificate.address, peerId: from, lastSeenMs: Date.now() }
    const isNew = !this.#members.has(from)
    this.#members.set(from, member)
    if (isNew) {
      this.#lastMemberJoinedMs = Date.now()
      this.safeDispatchEvent('member:joined', { detail: member })
      this.#progress.dispatchEvent(new Event('settle:progress'))
      // A newcomer has not heard our heartbeat yet; answer soon instead of in a full interval.
      this.#scheduleAnnounce()
    }
    this.#releasePending(from)
  }

  async #learnBundle(
    record: PresenceRecord,
    certificate: VerifiedCertificate,
    from: string,
    source: PeerId,
    fromHistory = false,
  ): Promise<void> {
    if (!this.#keys.hasMember(from)) {
      // Presence names the bundle by its hash (in the certificate): fetched once per member.
      // Peers of earlier versions still send it along.
      if (record.bundle !== undefined) await this.#c.bundles.add(from, record.bundle, certificate)
      this.#learningBundles += 1
      let bundle: string | undefined
      try {
        bundle = await this.#c.bundles.resolve(from, source)
      } finally {
        this.#learningBundles -= 1
        if (this.#learningBundles === 0) this.#progress.dispatchEvent(new Event('settle:progress'))
      }
      if (bundle === undefined || !(await this.#keys.addMember(from, bundle, certificate))) {
        // What we kept for it at the count stays (`expectMember`): its next presence, or the stores' copy of it, asks
        // again, and once the bundle is here it reads from there. Wiped here, what we sent until that next lookup
        // stayed unreadable to it (a relay that did not have the newcomer's bundle yet; test/lost-key-record.test.ts).
        return
      }
    }
    if (fromHistory) return
    if (record.want?.includes(this.#c.self.peerId) === true) this.#keys.resend(from)
    const held = this.#awaitingBundle.get(from)
    this.#awaitingBundle.delete(from)
    for (const keys of held ?? []) await this.#onKeys(from, keys)
    this.#scheduleDistribution()
  }

  /**
   * Seals our key to the newcomers whose bundles arrive within a short window in one keys record rather than one
   * each, at most one per window while bundles keep arriving (`join-answers.ts`); a message we send meanwhile distributes first (`#publish`), so none waits for this.
   */
  #scheduleDistribution(): void {
    if (this.#distributeTimer !== undefined || !this.#started) return
    const members = this.#members.size
    const spacedMs = this.#lastScheduledDistributionMs + joinAnswerWindowMs(members) - Date.now()
    this.#distributeTimer = setTimeout(
      () => {
        this.#distributeTimer = undefined
        this.#lastScheduledDistributionMs = Date.now()
        if (this.#started) void this.#distributeKeys()
      },
      Math.max(joinAnswerDelayMs(members), spacedMs),
    )
  }

  /**
   * A member went `offline` (its presence timed out, or it stopped): it is still a member, so our
   * keys stay sealed to it for a while (`absent-members.ts`) and it reads what was sent meanwhile
   * when it comes back. A member `gone` (left the room for good, failed the gate, or absent too
   * long) must not read what follows: our key rotates without it.
   */
  #removeMember(member: RoomMember, how: 'offline' | 'gone'): void {
    const wasPresent = this.#members.delete(member.peerId)
    this.#announcedEveryMs.delete(member.peerId)
    // Away before we could seal to it: it reads what we sent meanwhile from the state sealed once its bundle comes.
    this.#keys.forgetExpected(member.peerId)
    if (how === 'offline') {
      for (const dropped of this.#absent.add(member)) this.#removeMember(dropped, 'gone')
    } else {
      this.#outgoing.forget(member.peerId)
      this.#absent.delete(member.peerId)
      // Asked of it no more: it will not answer, and a `want` names only the first MAX_KEY_REQUESTS_PER_PRESENCE.
      this.#want.delete(member.peerId)
      this.#witness.forget(member.peerId)
      this.#keys.removeMember(member.peerId)
    }
    if (wasPresent) this.safeDispatchEvent('member:left', { detail: member })
    void this.#distributeKeys()
  }

  #holdUntilCertified(message: SignedMessage, source: PeerId): void {
    const from = message.from.toString()
    if (this.#pendingCount >= MAX_PENDING_MESSAGES) return
    const held = this.#pending.get(from) ?? []
    held.push(message)
    this.#pending.set(from, held)
    this.#pendingCount += 1
    if (this.#fetching.has(from)) return
    this.#fetching.add(from)
    void this.#c
      .fetchCertificate(source, from)
      .then(async (certificate) => {
        if (certificate !== undefined) await this.#c.registry.add(from, certificate)
      })
      .catch((err: unknown) => this.#c.log.debug('certificate fetch failed', { from, error: String(err) }))
      .finally(() => {
        this.#fetching.delete(from)
        this.#releasePending(from)
      })
  }

  #releasePending(from: string): void {
    const held = this.#pending.get(from)
    if (held === undefined) return
    if (this.#c.registry.get(from) === undefined && this.#fetching.has(from)) return
    this.#pending.delete(from)
    this.#pendingCount -= held.length
    void (async () => {
      // In order: a gated room may ask the chain about the sender once, then answer from cache.
      for (const message of held) {
        const accepted = await this.#gatekeeper.revalidate(message)
        if (accepted !== undefined) this.#handle(accepted)
      }
    })()
  }

  #remember(id: string): void {
    this.#recent.push(id)
    if (this.#recent.length > CAUSAL_HISTORY_LENGTH) this.#recent = this.#recent.slice(-CAUSAL_HISTORY_LENGTH)
  }

  /** How often we announce ourselves in this room now (`presence-interval.ts`): stretched in a large room. */
  #intervalMs(): number {
    return presenceIntervalFor({
      baseMs: this.#presenceIntervalMs,
      // Ourselves included: the room's size as `members()` gives it.
      members: this.#members.size + (this.#members.has(this.#c.self.peerId) ? 0 : 1),
      fullRateMembers: this.#presenceFullRateMembers,
    })
  }

  /** Whether this tick of the presence timer (every base interval) sends our presence. */
  #presenceDue(): boolean {
    const intervalMs = this.#intervalMs()
    if (intervalMs <= this.#presenceIntervalMs) return true
    // Within what the last one announced, whatever the room grew to since; a tick early rather than late.
    const dueMs = Math.min(intervalMs, this.#everyMs ?? this.#presenceIntervalMs) - this.#presenceIntervalMs / 2
    return Date.now() - this.#lastAnnounceMs >= dueMs
  }

  #expireMembers(): void {
    const nowMs = Date.now()
    for (const [peerId, member] of this.#members) {
      if (peerId === this.#c.self.peerId) continue
      // Each by the interval it announced: a newcomer that counts few members yet must not time out the others.
      const timeoutMs = presenceTimeoutFor({
        timeoutMs: this.#presenceTimeoutMs,
        announcedEveryMs: this.#announcedEveryMs.get(peerId),
      })
      if (member.lastSeenMs < nowMs - timeoutMs) this.#removeMember(member, 'offline')
    }
    for (const member of this.#absent.expire()) this.#removeMember(member, 'gone')
  }

  /**
   * Our presence soon, for newcomers (and acks, `want`): at most one per window (`join-answers.ts`) while joins keep
   * arriving, since one presence to the topic answers every newcomer.
   */
  #scheduleAnnounce(): void {
    if (this.#announceTimer !== undefined || !this.#started) return
    const members = this.#members.size
    const spacedMs = this.#lastAnnounceMs + joinAnswerWindowMs(members) - Date.now()
    this.#announceTimer = setTimeout(
      () => {
        this.#announceTimer = undefined
        void this.#announce()
      },
      Math.max(joinAnswerDelayMs(members), spacedMs),
    )
  }

  async #announce(options: { leaving?: boolean; forever?: boolean } = {}): Promise<void> {
    if (!this.#started) return
    const acks = this.#received.filter()
    const everyMs = Math.min(this.#intervalMs(), MAX_PRESENCE_INTERVAL_MS)
    this.#lastAnnounceMs = Date.now()
    this.#everyMs = everyMs
    const record: PresenceRecord = {
      v: WIRE_VERSION,
      type: 'presence',
      room: this.id,
      cert: this.#c.self.certificate,
      manifest: this.manifest,
      ...(this.#want.size > 0 ? { want: [...this.#want].slice(0, MAX_KEY_REQUESTS_PER_PRESENCE) } : {}),
      ...(acks === undefined ? {} : { acks }),
      atMs: this.#now(),
      // Said only when stretched: a small room's presence stays as it was, for every peer and relay.
      ...(everyMs > this.#presenceIntervalMs ? { every: everyMs } : {}),
      ...(options.leaving === true ? { leaving: true } : {}),
      ...(options.forever === true ? { forever: true } : {}),
    }
    try {
      const { recipients } = await this.#c.pubsub.publish(this.topic, encodeRecord(record))
      if (recipients.length > 0) this.#needsAnnounce = false
    } catch (err) {
      this.#c.log.debug('presence not published', { room: this.id, error: String(err) })
    }
  }
}

function checkText(text: string): void {
  if (utf8.encode(text).byteLength > MAX_TEXT_BYTES) {
    throw new InvalidInputError('message is too long', {
      details: { max: MAX_TEXT_BYTES },
      hint: 'split it into several messages',
    })
  }
}

function checkMessageId(id: string, field: string): void {
  if (!/^[0-9a-f]{64}$/.test(id)) {
    throw new InvalidInputError(`${field} is not a room message id`, {
      details: { [field]: id },
      hint: 'a message id is 64 hex digits (listen --json prints it)',
    })
  }
}

function checkReaction(emoji: string): string {
  if (!isReaction(emoji)) {
    throw new InvalidInputError('not a reaction', {
      details: { emoji },
      hint: `react with an emoji (at most ${MAX_REACTION_GRAPHEMES} characters, no spaces)`,
    })
  }
  return emoji
}

/** What a reaction, edit or delete envelope changes, and of which message. */
function changeOf(
  envelope: Exclude<Envelope, { kind: 'text' }>,
  onDropped: (dropped: DroppedMention[]) => void,
): Exclude<MessageEdit, { kind: 'reply' }> & { target: string } {
  const { target } = envelope
  if (envelope.kind === 'react')
    return { kind: 'react', target, emoji: envelope.emoji, remove: envelope.remove === true }
  if (envelope.kind === 'edit') {
    const { mentions, dropped } = acceptMentions(envelope.mentions, envelope.body)
    onDropped(dropped)
    return { kind: 'edit', target, body: envelope.body, ...(mentions.length === 0 ? {} : { mentions }) }
  }
  return { kind: 'delete', target }
}

/** Where a message stands in its sending device's own order (`late-arrivals.ts`). */
function sequenceOf(from: string, record: { lamport: number; sentAtMs: number }) {
  return { sender: from, clock: record.lamport, sentAtMs: record.sentAtMs }
}

/** Addresses compare in any letter case: a moderation event's target, a certificate's checksummed address. */
function sameWallet(wallet: string): (address: string) => boolean {
  const lower = wallet.toLowerCase()
  return (address) => address.toLowerCase() === lower
}
