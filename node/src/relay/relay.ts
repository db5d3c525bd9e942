import { type CircuitRelayService, circuitRelayServer } from '@libp2p/circuit-relay-v2'
import type { Message, SubscriptionChangeData } from '@libp2p/gossipsub'
import type { AbortOptions, PeerId, PrivateKey } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { multiaddr } from '@multiformats/multiaddr'
import {
  type BundleLookup,
  createSecureChatLibp2p,
  DepartureNotices,
  fetchCertificate,
  type GossipStreamStats,
  KeyBundleCache,
  openGossipStreamsAtOnce,
  peerScore,
  READ_BACKPRESSURE_GOSSIPSUB_OPTIONS,
  type ReadBackpressureStats,
  readWithBackpressure,
  SCORE_THRESHOLDS,
  type ScoringInit,
  type SecureChatLibp2p,
  serveCertificates,
  serveRelayHints,
} from '@securechat/sdk/client'
import { BOOTSTRAP_REDIAL_INTERVAL_MS, CERTIFICATE_FETCH_TIMEOUT_MS } from '@securechat/sdk/constants'
import type { AcceptedDmRecord } from '@securechat/sdk/dm'
import type { GateEvaluator, GateEvaluatorInit, GateReadStats } from '@securechat/sdk/gates'
import { type LoggerFactory, silentLoggerFactory } from '@securechat/sdk/logger'
import {
  type AcceptedRecord,
  type ModerationLog,
  RoomGatekeeper,
  roomIdOfTopic,
  SenderChecks,
  type SignedManifest,
} from '@securechat/sdk/rooms'
import type { VerifiedCertificate } from '@securechat/sdk/types'
import type { Provider } from 'ethers'
import { TypedEventEmitter } from 'main-event'
import {
  RELAY_MAX_CERTIFICATE_FETCHES,
  RELAY_MAX_STREAM_WINDOW_BYTES,
  RELAY_MESH_MAX_PEERS,
  RELAY_TOPIC_IDLE_MS,
} from '../constants.ts'
import { ConfigError } from '../errors.ts'
import { RelayDmTopics } from './dm-topics.ts'
import { onGossipErrors } from './gossip-errors.ts'
import { isSecureWebSocketAddress } from './http/addresses.ts'
import { LeftRooms } from './left-rooms.ts'
import { RelayLimits, type RelayLimitsInit, type RelayLimitsStats } from './limits.ts'
import { LinkedRelays, peerOf } from './linked-relays.ts'
import { roomTierRate } from './rate-tiers.ts'
import { type RecordBudget, RecordRates, type RecordRatesInit } from './record-rates.ts'
import { StaleConnections } from './stale-connections.ts'
import { type StoredRoomLog, takeUpStoredLog } from './stored-room-log.ts'
import { type TlsCredentials, tlsRenewal } from './tls.ts'
import { TopicAnnouncements } from './topic-announcements.ts'
import { budgetTopicsPerPeer } from './topic-budgets.ts'
import { UnreadBytes } from './unread-bytes.ts'

export interface RelayInit {
  privateKey: PrivateKey
  listen: string[]
  /** Public addresses to announce (for example behind a TLS proxy). */
  announce?: string[]
  /**
   * The certificate and key `/tls/ws` (or `/wss`) listen addresses serve `wss://` with; reloaded pairs go to new
   * connections. Required when `listen` has such an address.
   */
  tls?: TlsCredentials
  /** Other relays to stay connected to, so rooms span relays. */
  peers?: string[]
  /** Connections and circuit reservations per IP, per peer and in all (`limits.ts`); defaults in constants.ts. */
  limits?: RelayLimitsInit
  /** Records per second per device and topic, and when a flooder is banned (`record-rates.ts`); defaults in constants.ts. */
  recordRates?: RecordRatesInit
  /** The operator's peer-scoring choices (colocation threshold and whitelist); see sdk `scoring.ts`. */
  scoring?: ScoringInit
  /**
   * Records of one neighbour the relay handles at once before it reads that neighbour no further (sdk
   * `read-backpressure.ts`); its sdk default unless given.
   */
  readRecordsInFlight?: number
  /** How long a room stays joined once nothing keeps it (see `#leaveIdleRooms`); {@link RELAY_TOPIC_IDLE_MS} by default. */
  roomIdleMs?: number
  /** To verify contract wallets (ERC-1271) in certificates and read token gates. */
  provider?: Provider
  /**
   * Reads token gates. Default: one over `provider`, started and stopped with the relay. Without
   * either, the relay forwards nothing in gated rooms (fail closed) and says so in its log.
   */
  gates?: GateEvaluator
  /** Settings of the gate evaluator made over `provider` (`--gate-head-read-interval-ms`); none apply to `gates`. */
  gateEvaluator?: GateEvaluatorInit
  logger?: LoggerFactory
}

/** Rooms one subscription frame may name and still be logged a line each (a device joins a few at once). */
const ROOM_SUBSCRIPTIONS_LOGGED_APART = 4

/**
 * Which records of a room count against a device's chat messages, which against its control records, and which
 * against its signals: typing, read and call records never take a chat message's token (`record-rates.ts`).
 */
const ROOM_BUDGETS: Record<AcceptedRecord['type'], RecordBudget> = {
  message: 'messages',
  presence: 'control',
  keys: 'control',
  typing: 'signals',
  read: 'signals',
  call: 'signals',
  moderation: 'control',
}

/** A room record the relay accepted and forwarded: the gossip message as signed, and what it holds. */
export interface AcceptedGossip {
  /** The gossip message exactly as received (`from`, `seqno`, `signature`, `data`). */
  message: Message
  record: AcceptedRecord
}

export interface RelayEvents {
  /**
   * Every room record the relay accepted, once per record (the anchorer builds audit leaves from them). Fired on
   * gossipsub's event: listeners stay synchronous and cheap.
   */
  'record:accepted': CustomEvent<AcceptedGossip>
  /** Every record the relay accepted on a DM topic, once (the message store keeps them). Listeners stay cheap. */
  'dm-record:accepted': CustomEvent<AcceptedDmGossip>
  /**
   * Every room or DM record a validator rejected, once per record, with why — the log says it only once per sender and
   * interval. Listeners stay cheap: a flood fires it per record.
   */
  'record:rejected': CustomEvent<{ from: string; reason: string }>
  /** A client's key bundle, fetched and verified against its certificate (the message store keeps it). */
  'bundle:verified': CustomEvent<{ peerId: string; bundle: string }>
}

/** Bundles kept beyond the relay's memory (the message store's): a hint the asker verifies, like any answer. */
export type StoredBundles = (peerId: string, options: AbortOptions) => Promise<string | undefined>

export interface AcceptedDmGossip {
  /** The gossip message exactly as received. */
  message: Message
  record: AcceptedDmRecord
}

export interface RelayStats {
  rooms: number
  connections: number
  accepted: number
  rejected: number
  /** Valid records dropped (`Ignore`) because their sender fails the room's token gate. */
  gateDropped: number
  /** Valid records dropped (`Ignore`) because the gate could not be read (no chain, RPC down). */
  gateUnavailable: number
  /**
   * The newest block the token gate followed the chain to, and what it read there (no chain: undefined). Every
   * gated record is judged at a head read after it arrived (docs/token-gates.md).
   */
  gate: { head: number | undefined; reads: GateReadStats } | undefined
  /** Since `start()`; 0 while stopped. */
  uptimeMs: number
  /** What the connection and reservation limits hold and refused. */
  limits: RelayLimitsStats
  /**
   * Gossip peers whose score is below each of gossipsub's thresholds ({@link SCORE_THRESHOLDS}): below `gossip` the
   * relay sends them no gossip, below `publish` nothing at all, below `graylist` it ignores everything they send.
   * Flooders of invalid records land below `graylist` within a few records, devices over their record rate below
   * `publish` (record-rates.ts).
   */
  scoredOut: Record<ScoreThreshold, number>
  /** Neighbours the relay reads no further now, and how often it stopped reading one, since start (sdk `read-backpressure.ts`). */
  reads: ReadBackpressureStats
  /**
   * Gossip streams to neighbours being opened now, and opened since start (sdk `gossip-streams.ts`): the relay sends a
   * neighbour nothing until its stream to it is open.
   */
  gossipStreams: GossipStreamStats
}

/** The gossipsub thresholds `/metrics` counts peers below. */
export type ScoreThreshold = 'gossip' | 'publish' | 'graylist'

/**
 * Whether the relay forwards anything. Gossipsub forwards a record to a peer through the mesh
 * (score ≥ 0) or announces it by gossip (score ≥ the gossip threshold); a peer below the gossip
 * threshold gets nothing. So a relay forwards nothing when it holds peers subscribed to its
 * room topics and every one of them scores below that threshold — what gossipsub's default
 * colocation penalty did to everyone behind one address. One room's peers all scored out is
 * not enough (an attacker alone in its own room would make the relay look broken).
 */
export type RelayHealth =
  | { ok: true; roomPeers: number }
  | { ok: false; reason: 'stopped' }
  | { ok: false; reason: 'forwards-nothing'; roomPeers: number; hint: string }

export type RelayLibp2p = SecureChatLibp2p & { services: { relay: CircuitRelayService } }

/** A room topic the relay joined. */
interface RoomTopic {
  gatekeeper: RoomGatekeeper
  /** Since when nothing keeps the room (see `#leaveIdleRooms`), if so. */
  idleSinceMs: number | undefined
  /** When a member's presence last passed, or a peer last subscribed. */
  heardAtMs: number
  /** Peers that sent their own presence here over their own connection: this relay's clients in the room. */
  clients: Set<string>
}

/**
 * A community relay node: helps peers reach each other (circuit relay v2, gossip forwarding)
 * and validates every room record exactly like a peer, so forged or uncertified records die
 * here. It holds no room keys and reads nothing.
 */
export class RelayNode extends TypedEventEmitter<RelayEvents> {
  readonly #init: RelayInit
  readonly #log
  readonly #checks: SenderChecks
  readonly #rooms = new Map<string, RoomTopic>()
  /** What rooms left while idle had learnt (`left-rooms.ts`). */
  readonly #leftRooms = new LeftRooms<{ manifest: SignedManifest | undefined; moderation: ModerationLog }>()
  #libp2p: RelayLibp2p | undefined
  #readStats: (() => ReadBackpressureStats) | undefined
  #gossipStreamStats: (() => GossipStreamStats) | undefined
  #timer: ReturnType<typeof setInterval> | undefined
  #startedAtMs: number | undefined
  readonly #limits: RelayLimits
  readonly #recordRates: RecordRates
  #accepted = 0
  #rejected = 0
  #gateDropped = 0
  #gateUnavailable = 0
  /** Direct messages (issue #3): inbox and device-pair topics, in `dm-topics.ts`. */
  #dm: RelayDmTopics | undefined
  /** Clients' key bundles, fetched on demand for peers that ask (`KeyBundleCache`). */
  #bundles: KeyBundleCache | undefined
  /** Where bundles come from that the cache lacks (a member away, a relay restarted): see {@link serveStoredBundles}. */
  #storedBundles: StoredBundles | undefined
  /** Where a room's manifest and moderation log come from after a restart: see {@link serveStoredRoomLog}. */
  #storedRoomLog: StoredRoomLog | undefined
  /** The `--peer` relays, told to clients so they have somewhere to fail over to (`linked-relays.ts`). */
  #linked: LinkedRelays | undefined
  #departures: DepartureNotices | undefined
  /** Which peers the relay tells of the topics it carries: their subscribers and other relays (`topic-announcements.ts`). */
  #announcements: TopicAnnouncements | undefined
  #stale: StaleConnections | undefined
  #unread: UnreadBytes | undefined
  /** The `--peer` addresses, dialled and redialled; {@link setPeers} changes them. */
  #peers: string[]
  /** Certificates asked of a neighbour for senders not verified here yet, by sender ({@link #fetchSender}). */
  readonly #certificateFetches = new Map<string, Promise<VerifiedCertificate | undefined>>()

  constructor(init: RelayInit) {
    super()
    this.#init = init
    this.#peers = [...(init.peers ?? [])]
    this.#log = (init.logger ?? silentLoggerFactory)('securechat:node:relay')
    this.#checks = new SenderChecks(init)
    this.#limits = new RelayLimits({ ...init.limits, log: this.#log })
    this.#recordRates = new RecordRates({ ...init.recordRates, limits: this.#limits })
  }

  /** The relay's connection limits and its one count of refusals; services that limit (the store) refuse through it. */
  get limits(): RelayLimits {
    return this.#limits
  }

  /** The token-gate evaluator, if the relay has a chain. */
  get gates(): GateEvaluator | undefined {
    return this.#checks.gates
  }

  get libp2p(): RelayLibp2p {
    if (this.#libp2p === undefined) throw new Error('relay not started')
    return this.#libp2p
  }

  get peerId(): string {
    return this.libp2p.peerId.toString()
  }

  get multiaddrs(): string[] {
    return this.libp2p.getMultiaddrs().map((ma) => ma.toString())
  }

  stats(): RelayStats {
    const gates = this.#checks.gates
    return {
      rooms: this.#rooms.size,
      connections: this.#libp2p?.getConnections().length ?? 0,
      accepted: this.#accepted,
      rejected: this.#rejected,
      gateDropped: this.#gateDropped,
      gateUnavailable: this.#gateUnavailable,
      gate: gates === undefined ? undefined : { head: gates.head, reads: gates.stats() },
      uptimeMs: this.#startedAtMs === undefined ? 0 : Date.now() - this.#startedAtMs,
      limits: this.#limits.stats(),
      scoredOut: this.#scoredOut(),
      reads: this.#readStats?.() ?? { pausedPeers: 0, pauses: 0 },
      gossipStreams: this.#gossipStreamStats?.() ?? { opening: 0, opened: 0 },
    }
  }

  #scoredOut(): Record<ScoreThreshold, number> {
    const below = { gossip: 0, publish: 0, graylist: 0 }
    const pubsub = this.#libp2p?.services.pubsub
    if (pubsub === undefined) return below
    for (const peer of pubsub.getPeers()) {
      const score = peerScore(pubsub, peer.toString())
      if (score < SCORE_THRESHOLDS.gossipThreshold) below.gossip += 1
      if (score < SCORE_THRESHOLDS.publishThreshold) below.publish += 1
      if (score < SCORE_THRESHOLDS.graylistThreshold) below.graylist += 1
    }
    return below
  }

  /** See {@link RelayHealth}. */
  health(): RelayHealth {
    const libp2p = this.#libp2p
    if (libp2p === undefined) return { ok: false, reason: 'stopped' }
    const pubsub = libp2p.services.pubsub
    const peers = new Set<string>()
    for (const topic of this.#rooms.keys()) for (const peer of pubsub.getSubscribers(topic)) peers.add(peer.toString())
    if (peers.size === 0 || [...peers].some((peer) => peerScore(pubsub, peer) >= SCORE_THRESHOLDS.gossipThreshold)) {
      return { ok: true, roomPeers: peers.size }
    }
    return {
      ok: false,
      reason: 'forwards-nothing',
      roomPeers: peers.size,
      hint:
        'Every peer in a room scores below the gossip threshold, so the relay forwards them nothing. ' +
        'If they sent invalid records or flooded, that is as it should be: securechat_refused_total says which. ' +
        'If they are honest people sharing one address (a proxy or a NAT), raise --colocation-threshold or put the address in --colocation-whitelist.',
    }
  }

  async start(): Promise<void> {
    if (this.#libp2p !== undefined) return
    const init = this.#init
    const secure = init.listen.filter(isSecureWebSocketAddress)
    if (secure.length > 0 && init.tls === undefined) {
      throw new ConfigError(`listening on ${secure.join(', ')} needs a TLS certificate`, {
        details: { listen: secure },
        hint: 'pass --tls-cert <fullchain.pem> and --tls-key <privkey.pem>, or listen on /ws behind a TLS proxy',
      })
    }
    const limits = this.#limits
    const libp2p = (await listening(
      init.listen,
      createSecureChatLibp2p({
        privateKey: init.privateKey,
        listen: init.listen,
        announce: init.announce ?? [],
        // A device flooding over its own connection pays in score (record-rates.ts); whoever forwards it does not.
        scoring: { ...init.scoring, penalty: this.#recordRates.penalty },
        transports: [tcp(), webSockets(init.tls === undefined ? {} : { https: { ...init.tls.certificate } })],
        connectionGater: limits.gater,
        connectionManager: limits.connectionManagerOptions(),
        // Relays are well connected and trusted by their clients: peer exchange helps peers find each other. A relay is
        // its clients' hub: every member of a room stays in its mesh and gets each record pushed (RELAY_MESH_MAX_PEERS).
        // A neighbour is read no faster than its records are handled (after that, yamux holds it back on its side of the
        // connection), and what it may send past that is one small stream window.
        gossipsub: { doPX: true, Dhi: RELAY_MESH_MAX_PEERS, ...READ_BACKPRESSURE_GOSSIPSUB_OPTIONS },
        maxStreamWindowBytes: RELAY_MAX_STREAM_WINDOW_BYTES,
        services: {
          // Relayed connections keep libp2p's default limits (2 min / 128 KiB): enough to set up direct WebRTC,
          // and gossip then leaves the relayed link (docs/architecture.md, Networking).
          relay: circuitRelayServer({ reservations: limits.reservationOptions() }),
          ...(init.tls === undefined ? {} : { tlsRenewal: tlsRenewal(init.tls) }),
        },
      }),
    )) as RelayLibp2p
    this.#libp2p = libp2p
    // Records gossipsub refuses before any validator (a bad gossip signature) are counted and logged as the
    // validators' refusals are, by the neighbour that sent them (`gossip-errors.ts`).
    onGossipErrors(libp2p.services.pubsub, (from, error, topic) =>
      this.#reject(from, `gossip ${error.replaceAll('_', ' ')}`, { topic }),
    )
    // The relays named with --peer tell of every topic their network carries; a client's budget would lose most.
    budgetTopicsPerPeer(libp2p.services.pubsub, (peer) => this.#linked?.names(peer) === true)
    this.#readStats = readWithBackpressure(libp2p.services.pubsub, {
      ...(init.readRecordsInFlight === undefined ? {} : { recordsInFlight: init.readRecordsInFlight }),
      // The devices of one wallet share the relay's attention as they share a record budget (record-rates.ts).
      groupOf: (peer) => {
        const wallet = this.#recordRates.walletOf(peer)
        return wallet === undefined ? peer : `wallet ${wallet}`
      },
    }).stats
    // Every member's gossip stream is opened as it connects, not after every member that connected before it.
    this.#gossipStreamStats = openGossipStreamsAtOnce(libp2p.services.pubsub).stats
    this.#startedAtMs = Date.now()
    limits.start(libp2p, libp2p.services.relay)
    const pubsub = libp2p.services.pubsub
    this.#announcements = new TopicAnnouncements({ libp2p, pubsub })
    // Before the listeners that join rooms and DM topics for a subscriber: it tells a subscriber only of topics the
    // relay carried before its subscription; joining tells it of the others.
    this.#announcements.start()
    // A device back on a new connection (its network changed) while its old one still seems open: the old one is
    // checked, and closed if dead, so that its gossip moves to the new one (`stale-connections.ts`).
    this.#stale = new StaleConnections({ libp2p, log: this.#log })
    this.#stale.start()
    // A neighbour that reads none of its gossip holds a bounded amount of the relay's memory, then is cut.
    this.#unread = new UnreadBytes({
      libp2p,
      protocols: pubsub.protocols,
      maxBytes: limits.maxUnreadBytesPerPeer,
      onCut: (connection, queuedBytes) =>
        limits.refusals.refuse('unread-bytes', connection.remotePeer.toString(), {
          queuedBytes,
          address: connection.remoteAddr.toString(),
        }),
    })
    this.#unread.start()
    pubsub.addEventListener('subscription-change', this.#onSubscriptionChange)
    pubsub.addEventListener('message', this.#onMessage)
    // Presence names members' key bundles by hash: the relay answers for its clients, fetching
    // each bundle from its owner once (`KeyBundleCache`), as peers do.
    const bundles = new KeyBundleCache({
      libp2p,
      certificate: (peerId) => this.#checks.registry.get(peerId),
      log: this.#log,
      onVerified: (peerId, bundle) => this.safeDispatchEvent('bundle:verified', { detail: { peerId, bundle } }),
    })
    this.#bundles = bundles
    // A member away, or one whose presence passed before a restart: the store's copy, if any.
    const lookup: BundleLookup = async (peerId, asker, options) =>
      (await bundles.lookup(peerId, asker, options)) ??
      (await this.#storedBundles?.(peerId, options).catch(() => undefined))
    await serveCertificates(libp2p, (peerId) => this.#checks.registry.getRaw(peerId), this.#log, lookup)
    const linked = new LinkedRelays({ libp2p, peers: this.#peers })
    linked.start()
    this.#linked = linked
    await serveRelayHints(libp2p, async () => linked.list(), this.#log)
    // Who went, told to the clients sharing its topics at once (`departures.ts`).
    this.#departures = new DepartureNotices({ libp2p, pubsub, log: this.#log })
    await this.#departures.start()
    this.#checks.start()
    this.#dm = new RelayDmTopics({
      pubsub,
      registry: this.#checks.registry,
      log: this.#log,
      idleMs: RELAY_TOPIC_IDLE_MS,
      checkIntervalMs: BOOTSTRAP_REDIAL_INTERVAL_MS,
      onAccepted: (message, record) => {
        this.#accepted += 1
        this.safeDispatchEvent('dm-record:accepted', { detail: { message, record } })
      },
      onRejected: (from, reason) => this.#reject(from, reason, { dm: true }),
      recordRates: this.#recordRates,
    })
    this.#dm.start()
    this.#timer = setInterval(() => {
      this.#leaveIdleRooms()
      void this.#dialPeers()
    }, BOOTSTRAP_REDIAL_INTERVAL_MS)
    await this.#dialPeers()
  }

  /**
   * Links to `peers` from now on instead (the operator changed `--peer` and sent SIGHUP): new ones are dialled at once,
   * removed ones are no longer redialled nor named to clients, and the relay hangs up on them. Returns what changed.
   */
  async setPeers(peers: readonly string[]): Promise<{ added: string[]; removed: string[] }> {
    const added = peers.filter((address) => !this.#peers.includes(address))
    const removed = this.#peers.filter((address) => !peers.includes(address))
    this.#peers = [...new Set(peers)]
    const unlinked = this.#linked?.setPeers(this.#peers) ?? []
    const libp2p = this.#libp2p
    if (libp2p !== undefined) {
      await Promise.all(unlinked.map((peer) => libp2p.hangUp(peerIdFromString(peer)).catch(() => undefined)))
      await this.#dialPeers()
    }
    return { added, removed }
  }

  /** The moderation log of a room topic the relay joined, once it knows the room's manifest (what its anchoring counts). */
  moderationLog(topic: string): ModerationLog | undefined {
    return this.#rooms.get(topic)?.gatekeeper.moderation
  }

  /**
   * Whether `peer` is this relay's own client in the room of `topic`: its presence passed the room's checks (token
   * gate included) here, over its own connection, and it is still subscribed. What a file pin asks of a room member.
   */
  isRoomClient(topic: string, peer: string): boolean {
    return this.#rooms.get(topic)?.clients.has(peer) === true
  }

  /** Whether this relay serves the room of `topic` (joined it and knows its manifest's checks). */
  servesRoom(topic: string): boolean {
    return this.#rooms.has(topic)
  }

  /** Whether the relay holds a verified certificate of `peer` (a device it met on a room or DM topic). */
  isCertified(peer: string): boolean {
    return this.#checks.registry.get(peer) !== undefined
  }

  /** The verified key bundle of a client this relay holds in memory, if any; fetches nothing. */
  heldBundle(peerId: string): string | undefined {
    return this.#bundles?.held(peerId)
  }

  /**
   * Answers bundle requests the relay's memory cannot from `stored` too (the message store sets it
   * to the bundles it keeps beside presence; undefined stops that).
   */
  serveStoredBundles(stored: StoredBundles | undefined): void {
    this.#storedBundles = stored
  }

  /**
   * Takes up each room's manifest and moderation log from `stored` as the relay joins the room (the message store
   * sets it; undefined stops that) — and at once for the rooms joined before it was set. Without it a relay restarted
   * on its data dir knew no event of a room's log and ignored every later one (`stored-room-log.ts`).
   */
  serveStoredRoomLog(stored: StoredRoomLog | undefined): void {
    this.#storedRoomLog = stored
    for (const [topic, room] of this.#rooms) this.#takeUpStoredLog(topic, room.gatekeeper)
  }

  #takeUpStoredLog(topic: string, gatekeeper: RoomGatekeeper): void {
    const stored = this.#storedRoomLog
    if (stored === undefined) return
    const joined = (): boolean => this.#rooms.get(topic)?.gatekeeper === gatekeeper
    takeUpStoredLog(stored, topic, gatekeeper, joined)
      .then((events) => {
        if (events !== undefined && events > 0) {
          this.#log.info('took up the room’s moderation log from the store', { room: gatekeeper.roomId, events })
        }
      })
      .catch((err: unknown) => {
        this.#log.warn('could not read the room’s moderation log from the store', {
          room: gatekeeper.roomId,
          error: String(err),
          hint: 'until it has the log, this relay ignores the room’s later moderation events: check the store (--store), then restart the relay',
        })
      })
  }

  /** Stops listening and closes every connection. Idempotent. */
  async stop(): Promise<void> {
    clearInterval(this.#timer)
    this.#timer = undefined
    this.#checks.stop()
    this.#limits.stop()
    this.#dm?.stop()
    this.#dm = undefined
    this.#linked?.stop()
    this.#linked = undefined
    this.#departures?.stop()
    this.#departures = undefined
    this.#announcements?.stop()
    this.#announcements = undefined
    this.#stale?.stop()
    this.#stale = undefined
    this.#unread?.stop()
    this.#unread = undefined
    this.#startedAtMs = undefined
    const libp2p = this.#libp2p
    this.#libp2p = undefined
    if (libp2p === undefined) return
    libp2p.services.pubsub.removeEventListener('subscription-change', this.#onSubscriptionChange)
    libp2p.services.pubsub.removeEventListener('message', this.#onMessage)
    await libp2p.stop()
    this.#rooms.clear()
  }

  /**
   * Joins the rooms a peer subscribes to, and says so: a line a room for the few a device joins at once, one line
   * for a frame that names more — one peer's single frame naming 900 made-up rooms wrote 1,800 lines (an outside
   * probe). Topics that name no room (not 64 hex digits) are neither joined nor written to the log.
   */
  readonly #onSubscriptionChange = (event: CustomEvent<SubscriptionChangeData>): void => {
    const peer = event.detail.peerId.toString()
    const rooms: string[] = []
    for (const { topic, subscribe } of event.detail.subscriptions) {
      const room = subscribe ? roomIdOfTopic(topic) : undefined
      if (room === undefined) continue
      this.#joinTopic(topic)
      rooms.push(room)
    }
    if (rooms.length > ROOM_SUBSCRIPTIONS_LOGGED_APART) {
      this.#log.info('peer subscribed to rooms', {
        event: 'room:subscribed',
        rooms: rooms.length,
        first: rooms.slice(0, ROOM_SUBSCRIPTIONS_LOGGED_APART),
        peer,
      })
      return
    }
    for (const room of rooms) this.#log.info('peer subscribed to room', { event: 'room:subscribed', room, peer })
  }

  readonly #onMessage = (event: CustomEvent<Message>): void => {
    const room = this.#rooms.get(event.detail.topic)
    const accepted = room?.gatekeeper.accepted(event.detail)
    if (room === undefined || accepted === undefined) return
    this.#accepted += 1
    if (accepted.type === 'presence') {
      room.heardAtMs = Date.now()
      this.#bundles?.noteSource(accepted.from, accepted.source)
      // A client of this relay: its bundle is here before the members it joins ask for it.
      if (accepted.source.toString() === accepted.from) {
        room.clients.add(accepted.from)
        this.#bundles?.prefetch(accepted.from)
      }
    }
    this.safeDispatchEvent('record:accepted', { detail: { message: event.detail, record: accepted } })
  }

  /**
   * A record a room or DM validator rejected: counted, and logged once per sender and interval with the first one's
   * `detail` (`refusals.ts`) — a flood of invalid records costs a line, not a line per record.
   */
  #reject(from: string, detail: string, fields: Record<string, unknown>): void {
    this.#rejected += 1
    this.#limits.refusals.refuse('invalid-record', from, { ...fields, detail })
    this.safeDispatchEvent('record:rejected', { detail: { from, reason: detail } })
  }

  #joinTopic(topic: string): void {
    const existing = this.#rooms.get(topic)
    if (existing !== undefined) {
      existing.idleSinceMs = undefined
      existing.heardAtMs = Date.now()
      return
    }
    const roomId = roomIdOfTopic(topic)
    if (roomId === undefined) return
    const libp2p = this.libp2p
    let warnedNoChain = false
    // A room left while idle is joined again with what it had learnt: its manifest and its moderation log, which
    // no member sends again — without them a muted or banned member's records were forwarded and stored here again.
    const left = this.#leftRooms.take(topic)
    const gatekeeper = new RoomGatekeeper({
      roomId,
      ...(left?.manifest === undefined ? {} : { manifest: left.manifest }),
      ...(left?.moderation === undefined ? {} : { moderation: left.moderation }),
      registry: this.#checks.registry,
      ...(this.#checks.gates === undefined ? {} : { gates: this.#checks.gates }),
      onGateDropped: (from, address, reason) => {
        if (reason === 'ineligible') this.#gateDropped += 1
        else this.#gateUnavailable += 1
        this.#log.debug('record dropped by the token gate', { room: roomId, from, address, reason })
        if (this.#checks.gates === undefined && !warnedNoChain) {
          warnedNoChain = true
          this.#log.warn('a token-gated room passes through this relay, which has no chain to check it', {
            room: roomId,
            hint: 'start the relay with --rpc <JSON-RPC URL> so it can forward the room; until then it forwards nothing there',
          })
        }
      },
      onUnknownSender: (message, source) => this.#fetchSender(message.from.toString(), source),
      // Counted and logged once per sender and interval, as a refusal: what a banned member still sends is the
      // operator's to see, not to read a line a record of.
      onSanctionDropped: (from, address, sanction) =>
        this.#limits.refusals.refuse('sanctioned-record', from, { room: roomId, address, sanction }),
      onRejected: (from, reason) => this.#reject(from, reason, { room: roomId }),
    })
    this.#rooms.set(topic, { gatekeeper, idleSinceMs: undefined, heardAtMs: Date.now(), clients: new Set() })
    // Never held here since the start (a restart): the store's copy, if the relay keeps one.
    if (left === undefined) this.#takeUpStoredLog(topic, gatekeeper)
    libp2p.services.pubsub.topicValidators.set(
      topic,
      this.#recordRates.guard(
        gatekeeper.validate,
        gatekeeper,
        ROOM_BUDGETS,
        roomTierRate(gatekeeper, this.#checks.gates),
      ),
    )
    libp2p.services.pubsub.subscribe(topic)
    this.#log.debug('joined room topic', { room: roomId })
  }

  /**
   * Fetches the certificate of a sender this relay has not verified yet from the peer that forwarded its record (which
   * did), once per sender at a time; the sender's records wait for it (`RoomGatekeeper`). At most
   * {@link RELAY_MAX_CERTIFICATE_FETCHES} at once: beyond, a record from an unknown sender is dropped (`Ignore`) as
   * before. Dropped at once, a sender key sealed right after its sender's first presence was lost whenever it
   * overtook that presence (gossip checks records' signatures concurrently) — for good with no store to re-publish
   * it for (test/relay-network.test.ts, relays leaving a room).
   */
  #fetchSender(from: string, source: PeerId): Promise<VerifiedCertificate | undefined> | undefined {
    const under = this.#certificateFetches.get(from)
    if (under !== undefined) return under
    const libp2p = this.#libp2p
    if (libp2p === undefined || this.#certificateFetches.size >= RELAY_MAX_CERTIFICATE_FETCHES) return undefined
    const fetched = fetchCertificate(libp2p, source, from, {
      signal: AbortSignal.timeout(CERTIFICATE_FETCH_TIMEOUT_MS),
    })
      .then(async (certificate) => {
        if (certificate === undefined) return undefined
        const added = await this.#checks.registry.add(from, certificate)
        return added.status === 'valid' ? added.certificate : undefined
      })
      .catch(() => undefined)
      .finally(() => this.#certificateFetches.delete(from))
    this.#certificateFetches.set(from, fetched)
    return fetched
  }

  /**
   * Leaves a room once nothing kept it for the idle time. Its own clients subscribed keep it (a background browser
   * tab may announce itself rarely); other subscribers — linked relays, which subscribe to each other's rooms — keep
   * it only while members are heard in it: otherwise a network of relays would keep every room it ever carried,
   * each relay held by the others. A relay between two others with no client in the room still hears the members
   * on either side, so it stays.
   */
  #leaveIdleRooms(): void {
    const libp2p = this.#libp2p
    if (libp2p === undefined) return
    const now = Date.now()
    const idleMs = this.#init.roomIdleMs ?? RELAY_TOPIC_IDLE_MS
    for (const [topic, room] of this.#rooms) {
      const subscribers = new Set(libp2p.services.pubsub.getSubscribers(topic).map(String))
      for (const client of room.clients) if (!subscribers.has(client)) room.clients.delete(client)
      if (room.clients.size > 0 || (subscribers.size > 0 && now - room.heardAtMs < idleMs)) {
        room.idleSinceMs = undefined
        continue
      }
      room.idleSinceMs ??= now
      if (now - room.idleSinceMs >= idleMs) {
        libp2p.services.pubsub.unsubscribe(topic)
        libp2p.services.pubsub.topicValidators.delete(topic)
        this.#rooms.delete(topic)
        const { manifest, moderation } = room.gatekeeper
        if (moderation !== undefined) this.#leftRooms.remember(topic, { manifest, moderation })
        this.#log.info('left idle room topic', { room: room.gatekeeper.roomId })
      }
    }
  }

  async #dialPeers(): Promise<void> {
    const libp2p = this.#libp2p
    if (libp2p === undefined) return
    for (const address of this.#peers) {
      const ma = multiaddr(address)
      const peer = peerOf(address)
      // One peer's connections: libp2p builds the list of every connection in the square of their number.
      if (peer !== undefined && libp2p.getConnections(peerIdFromString(peer)).length > 0) continue
      try {
        await libp2p.dial(ma, { signal: AbortSignal.timeout(BOOTSTRAP_REDIAL_INTERVAL_MS * 2) })
        this.#log.info('connected to peer relay', { address })
      } catch (err) {
        this.#log.debug('peer relay not reachable', { address, error: String(err) })
      }
    }
  }
}

/**
 * The node `starting` makes, or, when it could not listen on any of `listen` (libp2p's `UnsupportedListenAddressesError`,
 * which tells an operator to change a transport manager setting), a ConfigError that names the addresses and the likely
 * cause.
 */
async function listening<T>(listen: readonly string[], starting: Promise<T>): Promise<T> {
  try {
    return await starting
  } catch (err) {
    if ((err as Error).name !== 'UnsupportedListenAddressesError') throw err
    throw new ConfigError(`the relay could not listen on ${listen.join(', ')}`, {
      cause: err,
      details: { listen },
      hint: 'is another process using that port? Choose another with --listen',
    })
  }
}
