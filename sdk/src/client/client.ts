import { generateKeyPair } from '@libp2p/crypto/keys'
import type { ConnectionGater, PeerId, PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import type { Provider } from 'ethers'
import { CERTIFICATE_FETCH_TIMEOUT_MS } from '../constants.ts'
import type { DeviceEncryptionKeys } from '../crypto/key-bundle.ts'
import type { Conversation } from '../dm/conversation.ts'
import { DirectMessages, type DirectMessagesInit } from '../dm/direct-messages.ts'
import {
  GateUnavailableError,
  InvalidCertificateError,
  InvalidInputError,
  NotEligibleError,
  NotStartedError,
  UnreachableError,
} from '../errors.ts'
import { explainGateResult, type GateEvaluator } from '../gates/evaluator.ts'
import { hasRateTiers } from '../gates/rate-tiers.ts'
import { conditionsOf, describeGateRule, type GateRule } from '../gates/rule.ts'
import { catchUp, learnRoomMembers, libp2pHistorySource } from '../history/catch-up.ts'
import { STORE_PROTOCOL } from '../history/constants.ts'
import { catchUpDms, storedRecords } from '../history/dm-catch-up.ts'
import { GapRepair } from '../history/gap-repair.ts'
import { libp2pGapSource } from '../history/gap-source.ts'
import { RecentRecords, serveRecentRecords } from '../history/recent-records.ts'
import { libp2pStoredIds } from '../history/stored-ids.ts'
import { certificateSchema, createCertificate, verifyCertificateOffline } from '../identity/certificate.ts'
import type { WalletSigner } from '../identity/signer.ts'
import { type LoggerFactory, silentLoggerFactory } from '../logger.ts'
import type { RoomHistorySink } from '../rooms/history-sink.ts'
import { decodeInvite, encodeInvite } from '../rooms/invite.ts'
import { createManifest, type RoomAccess, type SignedManifest, verifyManifest } from '../rooms/manifest.ts'
import { Room } from '../rooms/room.ts'
import {
  flushRoomEntries,
  forgetRoom,
  loadHistoryPosition,
  loadMessageStates,
  loadModerationLog,
  loadRoomKeys,
  loadSavedRooms,
  saveJoinedRoom,
} from '../rooms/room-store.ts'
import { SenderChecks } from '../rooms/sender-checks.ts'
import { checkSessionAccepted } from '../rooms/session-accepted.ts'
import { SearchIndexer } from '../search/search-indexer.ts'
import { DEFAULT_SIGNAL_SETTINGS, type SignalSettings } from '../signals.ts'
import type {
  AbortOptions,
  Address,
  HistoryProgress,
  SavedRoom,
  SessionCertificate,
  VerifiedCertificate,
} from '../types.ts'
import { DEVICE_ENTRIES, loadDevice, saveDevice } from '../vault/device.ts'
import { DeviceKeyring } from '../vault/keyring.ts'
import type { Vault } from '../vault/vault.ts'
import { dialBootstrap } from './bootstrap-dial.ts'
import { fetchCertificate, serveCertificates } from './certificate-exchange.ts'
import { ClientFiles, type ClientFilesInit } from './client-files.ts'
import { followDepartures } from './departures.ts'
import { DIRECT_LISTEN_ADDRESSES, DirectConnections } from './direct-connections.ts'
import { gossipDrained } from './gossip-drain.ts'
import { KeyBundleCache } from './key-bundles.ts'
import { createSecureChatLibp2p, type SecureChatLibp2p } from './libp2p.ts'
import type { PublishPacingInit } from './publish-pacing.ts'
import { RelayPool } from './relays.ts'
import { type ShareFileOptions, type ShareFileResult, shareFile } from './share-file.ts'
import { TierPace } from './tier-pacing.ts'

export interface ClientInit {
  signer: WalletSigner
  /** The device key (its PeerId). Generated when absent; persist it to keep one identity. */
  privateKey?: PrivateKey
  /**
   * Relay multiaddrs to dial and keep dialling. The relay hints of invites joined are added to them, and relays
   * identified on the network, or named by those relays as the relays they link to, are kept in reserve
   * (`client.relays`, `relays.ts`, `relay-hints.ts`).
   */
  bootstrap?: string[]
  listen?: string[]
  /**
   * SIWE domain the certificate is signed for: a web app's `location.host`. No default: it must be one the
   * rooms it joins accept (their manifest's `domains`).
   */
  domain: string
  uri?: string
  /** Chain the wallet signs for. No default: one the rooms it joins accept (their manifest's `chainIds`). */
  chainId: number
  /** A certificate signed earlier for this device key: reused while valid (no new prompt). */
  certificate?: SessionCertificate
  certificateLifetimeMs?: number
  /** JSON-RPC provider, to verify contract wallets (ERC-1271) and read token gates. */
  provider?: Provider
  /**
   * Reads token gates (docs/architecture.md, Token gates). Default: one over `provider`, started and
   * stopped with the client; an evaluator passed here is started and stopped by its owner.
   */
  gates?: GateEvaluator
  logger?: LoggerFactory
  /** Tests and devnets on loopback only: browsers refuse private addresses by default. */
  connectionGater?: ConnectionGater
  /**
   * How fast this device publishes to one topic (`publish-pacing.ts`): by default half the relays' default limit,
   * and in a gated room with rate tiers half its tier's rate (`tier-pacing.ts`). Raise it only for relays whose
   * operator raised `--records-per-second` for this device's use (a bulk import).
   */
  publishPacing?: Omit<PublishPacingInit, 'topicPace'> & {
    /** false: the default pace in tiered rooms too — a device standing for one without this sdk (relay limit tests). */
    byTier?: boolean
  }
  presenceIntervalMs?: number
  /** A member not heard from for this long is shown as left; default three presence intervals. */
  presenceTimeoutMs?: number
  /** Members up to which a room's presence is not stretched (`rooms/presence-interval.ts`): tests and devnets. */
  presenceFullRateMembers?: number
  /**
   * This device's wall clock, read for the times its room records state (a message's `sentAtMs`,
   * presence's `atMs`). Default `Date.now`. Only the stamps: libp2p's timers keep the process clock.
   */
  now?: () => number
  /**
   * An open vault (`@securechat/sdk/vault`): the device key, its encryption keys, the certificate,
   * DM sessions, joined rooms and their sender keys load from it and are saved to it on every change. The caller closes it after
   * `stop()`. Without one, the device lives as long as the client.
   */
  vault?: Vault
  /** Options of direct messages (`client.dms`). */
  directMessages?: DirectMessagesInit
  /** Read receipts and typing indicators, sent and shown (`signals.ts`); both on by default. `setSignalSettings` changes them. */
  signals?: Partial<SignalSettings>
  /**
   * Browsers: be reachable through relays and upgrade room neighbours to direct WebRTC
   * (see {@link DirectConnections}). `iceServers: []` on loopback, where STUN is unreachable.
   */
  directConnections?: { iceServers?: RTCIceServer[] }
  /** Where shared and fetched files' blocks live (`client.files`); in memory when absent. */
  files?: ClientFilesInit
}

export interface CreateRoomParams {
  name: string
  access?: RoomAccess
  /** SIWE domains whose certificates the room accepts; this client's domain by default. */
  domains?: string[]
  /** Chains whose certificates the room accepts; this client's chain by default. */
  chainIds?: number[]
}

/**
 * A SecureChat peer: a libp2p node, a wallet-signed session certificate, and joined rooms.
 */
export class SecureChatClient {
  readonly #init: ClientInit
  readonly #files: ClientFiles
  readonly #log
  #libp2p: SecureChatLibp2p | undefined
  #self: { peerId: string; certificate: SessionCertificate; verified: VerifiedCertificate } | undefined
  readonly #checks: SenderChecks
  readonly #rooms = new Map<string, Room>()
  #signals: SignalSettings
  /** The pace of each gated room with rate tiers this device is in, by topic (`tier-pacing.ts`). */
  readonly #tierPaces = new Map<string, TierPace>()
  #relays: RelayPool | undefined
  /** The relays whose departure notices this client reads. */
  readonly #departuresFrom = new Set<string>()
  #device: DeviceEncryptionKeys | undefined
  /** Key bundles of others, verified, fetched on demand (`key-bundles.ts`). */
  #bundles: KeyBundleCache | undefined
  #keyring: DeviceKeyring | undefined
  #dms: DirectMessages | undefined
  #search: SearchIndexer | undefined
  #direct: DirectConnections | undefined
  /** Catch-ups running, by room: a call meanwhile shares the running one. */
  readonly #catchingUp = new Map<string, Promise<HistoryProgress>>()
  /** Rooms whose running catch-up holds live messages back until it ends (the first since joining). */
  readonly #holdingLive = new Set<string>()
  /** Rooms a relay came (back) for while their catch-up ran: asked again after it, unless it completed. */
  readonly #catchUpAgain = new Set<string>()
  /** Rooms joined and not caught up yet (`catchUp: 'later'`): live messages wait in this sink until {@link catchUp}. */
  readonly #joinSinks = new Map<string, RoomHistorySink>()
  /** Room records received lately, for peers that missed one (gap repair). */
  readonly #recent = new RecentRecords()

  constructor(init: ClientInit) {
    assertSigningTerms(init)
    this.#init = init
    this.#signals = { ...DEFAULT_SIGNAL_SETTINGS, ...init.signals }
    this.#log = (init.logger ?? silentLoggerFactory)('securechat:sdk:client')
    this.#files = new ClientFiles(init.files)
    this.#checks = new SenderChecks(init)
  }

  /** The token-gate evaluator (from `provider` or `gates`), if any. */
  get gates(): GateEvaluator | undefined {
    return this.#checks.gates
  }

  get libp2p(): SecureChatLibp2p {
    if (this.#libp2p === undefined) throw new NotStartedError('the client is not started')
    return this.#libp2p
  }

  get peerId(): PeerId {
    return this.libp2p.peerId
  }

  get address(): Address {
    if (this.#self === undefined) throw new NotStartedError('the client is not started')
    return this.#self.verified.address
  }

  get certificate(): SessionCertificate {
    if (this.#self === undefined) throw new NotStartedError('the client is not started')
    return this.#self.certificate
  }

  /** The relays this client knows and keeps connected (`relays.ts`). */
  get relays(): RelayPool {
    if (this.#relays === undefined) throw new NotStartedError('the client is not started')
    return this.#relays
  }

  /** Direct (WebRTC) connections to room neighbours, when `directConnections` is set. */
  get directConnections(): DirectConnections | undefined {
    return this.#direct
  }

  get rooms(): Room[] {
    return [...this.#rooms.values()]
  }

  /** Room `id` when it runs on this device (joined, not left or stopped). */
  room(id: string): Room | undefined {
    return this.#rooms.get(id)
  }

  /**
   * With a vault, this device's search index across its rooms and DMs (`@securechat/sdk/search`), kept up to date
   * as messages come, edits and deletes included: `client.search?.search('words')`. It opens in the background
   * after {@link start}; a search waits for it.
   */
  get search(): SearchIndexer | undefined {
    return this.#search
  }

  /**
   * Signs in (one wallet signature, unless a valid certificate is supplied) while libp2p starts
   * and dials the bootstrap relays. Throws {@link UnreachableError} when none answers, and stops
   * the node again if the wallet refuses.
   */
  async start(options: AbortOptions = {}): Promise<void> {
    if (this.#libp2p !== undefined) return
    const init = this.#init
    // With a vault, the device (key, encryption keys, certificate) is the one stored there.
    const stored = init.vault === undefined ? undefined : await loadDevice(init.vault, init.privateKey)
    const storedCertificate =
      init.vault === undefined || stored?.privateKey === undefined
        ? undefined
        : await init.vault.getJson(DEVICE_ENTRIES.certificate, certificateSchema)
    const privateKey = stored?.privateKey ?? init.privateKey ?? (await generateKeyPair('Ed25519'))
    const peerId = peerIdFromPrivateKey(privateKey).toString()
    const keyring = await DeviceKeyring.open({
      privateKey,
      ...(stored?.deviceKeys === undefined ? {} : { deviceKeys: stored.deviceKeys }),
      ...(init.vault === undefined ? {} : { vault: init.vault }),
    })
    const device = { keys: keyring.encryption, bundleHash: keyring.bundleHash }
    // A person may take seconds over the wallet's prompt: the node starts and reaches its relays meanwhile.
    const network = this.#startNetwork(privateKey, options)
    network.catch(() => {}) // awaited below, after the signature; no unhandled rejection meanwhile
    let certificate: SessionCertificate
    let verified: ReturnType<typeof verifyCertificateOffline>
    let libp2p: SecureChatLibp2p
    try {
      certificate = await this.#signIn(peerId, device.bundleHash, options, storedCertificate)
      verified = verifyCertificateOffline({ certificate, peerId })
      if (init.vault !== undefined) {
        await saveDevice(init.vault, { privateKey, deviceKeys: keyring.keys })
        await init.vault.putJson(DEVICE_ENTRIES.certificate, certificate)
      }
      // A start that reached no relay leaves nothing running, so it can simply be tried again.
      libp2p = await network
    } catch (err) {
      await network.then((started) => started.stop()).catch(() => {})
      throw err
    }
    this.#keyring = keyring
    // Opened in the background (seconds at tens of thousands of messages): a start does not wait for it, a search
    // does. A failure is logged, not worth failing a start for: the next start opens it again.
    if (init.vault !== undefined) this.#search = SearchIndexer.start(init.vault, { log: this.#log })
    // A contract wallet's certificate needs the chain; others verify it the same way.
    const self = { peerId, certificate, verified: verified.certificate }
    this.#device = device.keys
    this.#checks.registry.addOffline(peerId, certificate)
    this.#libp2p = libp2p
    if (init.directConnections !== undefined) {
      this.#direct = new DirectConnections(libp2p, (init.logger ?? silentLoggerFactory)('securechat:sdk:direct'))
    }
    this.#self = self
    const bundles = new KeyBundleCache({
      libp2p,
      certificate: (id) => this.#checks.registry.get(id),
      own: { peerId, bundle: () => device.keys.bundle },
      log: this.#log,
    })
    this.#bundles = bundles
    await serveCertificates(
      libp2p,
      (id) => (id === peerId ? certificate : this.#checks.registry.getRaw(id)),
      this.#log,
      bundles.lookup,
    )
    // What the room's peers missed, from what we received (gap repair's second source).
    await serveRecentRecords(libp2p, this.#recent, this.#log)
    libp2p.services.pubsub.addEventListener('message', (event) => this.#recent.add(event.detail))
    const relays = new RelayPool({ libp2p, log: this.#log, named: init.bootstrap ?? [] })
    this.#relays = relays
    // What passed through a relay that died and not through the others comes back from the others' stores.
    relays.addEventListener('relay:lost', () => {
      for (const room of this.#rooms.values()) this.#relayChanged(room)
      this.#dms?.catchUpSoon()
    })
    // Who went, as soon as a relay (or our own connection to them) sees it (`departures.ts`).
    relays.addEventListener('relay:connected', (event) => this.#followDepartures(libp2p, event.detail.peerId))
    libp2p.addEventListener('peer:disconnect', (event) => {
      const peer = event.detail.toString()
      for (const room of this.#rooms.values()) room.departed(peer, peer)
    })
    relays.start()
    for (const relay of relays.connected()) this.#followDepartures(libp2p, relay)
    // A relay that keeps history (back) in reach: what was said meanwhile is fetched from it.
    libp2p.addEventListener('peer:identify', (event) => {
      if (!event.detail.protocols.includes(STORE_PROTOCOL)) return
      for (const room of this.#rooms.values()) this.#relayChanged(room)
      this.#dms?.catchUpSoon()
    })
    this.#checks.start()
  }

  /** Reads `relay`'s departure notices (`departures.ts`) while its connection lasts; once per relay at a time. */
  #followDepartures(libp2p: SecureChatLibp2p, relay: string): void {
    if (this.#departuresFrom.has(relay)) return
    this.#departuresFrom.add(relay)
    void followDepartures(libp2p, peerIdFromString(relay), (notice) => {
      for (const room of this.#rooms.values()) if (room.topic === notice.topic) room.departed(notice.peer, relay)
    }).finally(() => this.#departuresFrom.delete(relay))
  }

  async stop(): Promise<void> {
    await this.#files.stop()
    this.#relays?.stop()
    this.#relays = undefined
    this.#checks.stop()
    await this.#dms?.stop()
    this.#dms = undefined
    await Promise.all([...this.#rooms.values()].map((room) => room.stop()))
    this.#rooms.clear()
    for (const pace of this.#tierPaces.values()) pace.stop()
    this.#tierPaces.clear()
    const libp2p = this.#libp2p
    this.#libp2p = undefined
    this.#direct?.stop()
    this.#direct = undefined
    await libp2p?.stop()
    // The vault is closed after a stop: the index is not left opening (its failure was logged).
    await this.#search?.ready.catch(() => {})
  }

  /** Creates a room owned by this wallet (one signature) and joins it. */
  async createRoom(params: CreateRoomParams, options: AbortOptions = {}): Promise<{ room: Room; invite: string }> {
    const manifest = await createManifest(
      {
        signer: this.#init.signer,
        name: params.name,
        ...(params.access === undefined ? {} : { access: params.access }),
        domains: params.domains ?? [this.#init.domain],
        chainIds: params.chainIds ?? [this.#init.chainId],
      },
      options,
    )
    const room = await this.joinRoom(manifest, options)
    return { room, invite: this.invite(room) }
  }

  /** An invite for `room`, carrying the relays this client uses. */
  invite(room: Room): string {
    return encodeInvite({ manifest: room.manifest, relays: this.#init.bootstrap ?? [] })
  }

  /**
   * Joins a room from an invite string or a signed manifest, verifying the manifest first, and
   * catches it up from the relays' stores ({@link catchUp}). `catchUp: 'later'` waits for the
   * caller's {@link catchUp} (to attach listeners first; live messages wait for it); `'no'` does
   * not catch up on join (a relay that reconnects still does).
   */
  async joinRoom(
    invite: string | SignedManifest,
    options: { catchUp?: 'now' | 'later' | 'no' } & AbortOptions = {},
  ): Promise<Room> {
    const libp2p = this.libp2p
    const self = this.#self!
    const decoded = typeof invite === 'string' ? decodeInvite(invite) : undefined
    const signed = decoded?.manifest ?? (invite as SignedManifest)
    const provider = this.#init.provider
    const { roomId } = await verifyManifest(signed, provider === undefined ? {} : { provider })
    options.signal?.throwIfAborted()
    checkSessionAccepted(signed.manifest, self.verified)
    const { access } = signed.manifest
    // Refused by the manifest's gate, this wallet may still pass the one the owner set since (a `gate` event in the
    // log, which only the stores can tell): the refusal waits for the catch-up below, and stands if it still fails.
    let refused: NotEligibleError | undefined
    if (access.type === 'gated') {
      await this.#checkGate(access.rule, self.verified.address, options).catch((err: unknown) => {
        if (!(err instanceof NotEligibleError)) throw err
        refused = err
      })
    }
    // With a vault, the room resumes what an earlier run saved (room-store.ts): the members' sender keys, where it
    // stood in the history, the messages' states and the moderation log. An entry it cannot read is left out (said).
    const vault = this.#init.vault
    if (vault !== undefined) await flushRoomEntries(vault, roomId)
    const stored = async <T>(load: (vault: Vault, roomId: string) => Promise<T>, unreadable?: string) =>
      vault === undefined
        ? undefined
        : load(vault, roomId).catch((err: unknown) => {
            if (unreadable !== undefined) this.#log.warn(unreadable, { roomId, error: String(err) })
            return undefined
          })
    const keys = await stored(loadRoomKeys, 'stored room keys unreadable; members will send theirs again')
    const position = await stored(loadHistoryPosition)
    const messages = await stored(loadMessageStates, 'stored message states unreadable; the room starts without them')
    const moderation = await stored(loadModerationLog, 'stored moderation log unreadable; the stores send it again')
    // The invite's relays carry the room too: kept dialled, so the room survives its first relay.
    this.#relays?.add(decoded?.relays ?? [])
    const existing = this.#rooms.get(roomId)
    if (existing !== undefined) return existing
    const gapSource = libp2pGapSource(libp2p, libp2p.services.pubsub)
    const room = new Room(
      {
        pubsub: libp2p.services.pubsub,
        registry: this.#checks.registry,
        self,
        device: this.#device!,
        ...(this.#checks.gates === undefined ? {} : { gates: this.#checks.gates }),
        fetchCertificate: (ask, about) =>
          fetchCertificate(libp2p, ask, about, { signal: AbortSignal.timeout(CERTIFICATE_FETCH_TIMEOUT_MS) }),
        bundles: this.#bundles!,
        drained: (topic, options) => gossipDrained(libp2p, libp2p.services.pubsub, topic, options),
        stored: libp2pStoredIds(libp2p),
        ...(vault === undefined ? {} : { vault }),
        ...(this.#search === undefined ? {} : { search: this.#search }),
        askStores: () => void this.#catchUpQuietly(room, { holdLive: false }),
        signalSettings: () => this.#signals,
        log: (this.#init.logger ?? silentLoggerFactory)('securechat:sdk:room'),
      },
      {
        roomId,
        manifest: signed,
        ...(keys === undefined ? {} : { keys }),
        ...(position === undefined ? {} : { position }),
        ...(messages === undefined ? {} : { messages }),
        ...(moderation === undefined ? {} : { moderation }),
        ...(this.#init.presenceIntervalMs === undefined ? {} : { presenceIntervalMs: this.#init.presenceIntervalMs }),
        ...(this.#init.presenceTimeoutMs === undefined ? {} : { presenceTimeoutMs: this.#init.presenceTimeoutMs }),
        ...(this.#init.presenceFullRateMembers === undefined
          ? {}
          : { presenceFullRateMembers: this.#init.presenceFullRateMembers }),
        ...(this.#init.now === undefined ? {} : { now: this.#init.now }),
      },
    )
    this.#rooms.set(roomId, room)
    room.addEventListener('message:expired', ({ detail }) => {
      this.#recent.drop(room.topic, detail.ids)
    })
    await this.#paceByTier(room, room.gateRule, self.verified.address, options)
    const gapLog = (this.#init.logger ?? silentLoggerFactory)('securechat:sdk:gaps')
    room.watchGaps((sink) => new GapRepair({ sink, source: gapSource, log: gapLog }))
    const direct = this.#direct
    if (direct !== undefined) {
      room.addEventListener('member:joined', (event) => void direct.upgrade(event.detail.peerId))
      room.addEventListener('member:left', (event) => {
        const peer = event.detail.peerId
        if (!this.rooms.some((other) => other.members().some((m) => m.peerId === peer))) direct.forget(peer)
      })
    }
    // Live messages wait from the start: catch-up delivers what came before them first.
    const when = options.catchUp ?? 'now'
    if (when !== 'no') this.#joinSinks.set(roomId, room.historySink())
    // Without a catch-up, still the members the stores saw: what this device sends is sealed to those away too.
    const members = when === 'no' ? room.membersSink() : undefined
    room.start()
    if (refused !== undefined) await this.#judgeByCurrentGate(room, refused, options)
    else if (when === 'now') void this.#catchUpQuietly(room)
    if (members !== undefined) {
      void learnRoomMembers(members, libp2pHistorySource(libp2p)).catch((err: unknown) =>
        this.#log.info('room members not learned from the stores', { roomId, error: String(err) }),
      )
    }
    if (vault !== undefined) {
      const relays = decoded === undefined ? (this.#init.bootstrap ?? []) : (decoded.relays ?? [])
      await saveJoinedRoom(vault, { roomId, manifest: signed, relays }).catch((err: unknown) =>
        this.#log.warn('joined room not saved to the vault', { roomId, error: String(err) }),
      )
    }
    return room
  }

  /**
   * Fetches what `room` missed from every connected relay that keeps history, validated and
   * decrypted like live gossip and delivered in order (`history:progress` reports how far).
   * One at a time per room: a call while one runs shares it. `holdLive: false` lets live messages
   * flow meanwhile (a relay came back to a live room); by default they wait and follow in order.
   */
  catchUp(room: Room, options: { holdLive?: boolean } & AbortOptions = {}): Promise<HistoryProgress> {
    const running = this.#catchingUp.get(room.id)
    if (running !== undefined) return running
    const joined = this.#joinSinks.get(room.id)
    const sink = joined ?? room.historySink({ holdLive: options.holdLive ?? true })
    this.#joinSinks.delete(room.id)
    if (joined !== undefined || (options.holdLive ?? true)) this.#holdingLive.add(room.id)
    const done = catchUp(sink, libp2pHistorySource(this.libp2p), options).finally(() => {
      this.#catchingUp.delete(room.id)
      this.#holdingLive.delete(room.id)
    })
    this.#catchingUp.set(room.id, done)
    return done
  }

  /**
   * A relay that keeps history connected (again), or one was lost: `room` catches up from the others. Not a room whose
   * first catch-up waits for its caller (`catchUp: 'later'`). While a catch-up runs, it already asked the relays it
   * could: one that ended without a complete answer (a relay that died mid-answer and came back, or identified too
   * late to be asked) runs once more after it, else what only the stores still hold would wait for the next relay change.
   * It holds live messages back as the one before did: a room never caught up since joining delivers in order.
   */
  #relayChanged(room: Room): void {
    if (this.#joinSinks.has(room.id)) return
    const running = this.#catchingUp.get(room.id)
    if (running === undefined) {
      void this.#catchUpQuietly(room, { holdLive: false })
      return
    }
    if (this.#catchUpAgain.has(room.id)) return
    this.#catchUpAgain.add(room.id)
    const holdLive = this.#holdingLive.has(room.id)
    void running
      .then((progress) => progress.failed > 0 || progress.relays === 0)
      .catch(() => true)
      .then((again) => {
        this.#catchUpAgain.delete(room.id)
        if (again && this.#rooms.get(room.id) === room) void this.#catchUpQuietly(room, { holdLive })
      })
  }

  async #catchUpQuietly(room: Room, options: { holdLive?: boolean } = {}): Promise<void> {
    try {
      await this.catchUp(room, options)
    } catch (err) {
      this.#log.info('catch-up failed', { roomId: room.id, error: String(err) })
    }
  }

  /** Rooms this device joined and has not left, from the vault (none without one); needs no start. */
  async savedRooms(): Promise<SavedRoom[]> {
    const vault = this.#init.vault
    return vault === undefined ? [] : loadSavedRooms(vault, this.#log)
  }

  /**
   * A wallet the manifest's gate refused: catches up (the log comes with the room's records) and checks the room's
   * current gate; throws `refused` (or what the current gate says) and drops the room unless this wallet passes it.
   */
  async #judgeByCurrentGate(room: Room, refused: NotEligibleError, options: AbortOptions): Promise<void> {
    try {
      await this.catchUp(room, options).catch(() => undefined)
      if (room.moderation.state.gate === undefined) throw refused
      const rule = room.gateRule
      if (rule !== undefined) await this.#checkGate(rule, this.#self!.verified.address, options)
    } catch (err) {
      await this.#dropRoom(room.id, {})
      throw err
    }
  }

  /** Throws {@link NotEligibleError} (or {@link GateUnavailableError}) unless this wallet passes `rule`. */
  async #checkGate(rule: GateRule, address: Address, options: AbortOptions): Promise<void> {
    const gates = this.#checks.gates
    if (gates === undefined) {
      const chainId = conditionsOf(rule)[0]!.chainId
      throw new GateUnavailableError(`this room is token-gated (${describeGateRule(rule)}); no chain is configured`, {
        details: { address, rule },
        hint: `pass --rpc with a JSON-RPC endpoint of chain ${chainId} (in the sdk: \`provider\`)`,
      })
    }
    const result = await gates.evaluate(rule, address, options)
    if (result.status === 'eligible') return
    const details = { address, rule, blockNumber: result.blockNumber }
    if (result.status === 'ineligible') {
      throw new NotEligibleError(explainGateResult(result), {
        details,
        hint: 'get the token into this wallet (or sign in with a wallet that holds it), or ask the room owner',
      })
    }
    throw new GateUnavailableError(explainGateResult(result), {
      details,
      ...(result.error?.hint === undefined ? {} : { hint: result.error.hint }),
      cause: result.error,
    })
  }

  // --- Files (issue #16): sdk/src/files ---

  /** This device's files: share one with `files.add` and a message, fetch one a message shares with `files.get`. */
  get files(): ClientFiles {
    return this.#files
  }

  /**
   * Shares a file in `target` (a room or a DM conversation): encrypted into blocks here, kept by the connected relays
   * that keep files (progress: `encrypting`, then `relays`), then announced by a message carrying its manifest with
   * `caption` as its text. `keptBy` names the relays that keep it; none, and it is available while this device is.
   */
  async shareFile(
    target: Room | Conversation,
    source: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
    meta: { name: string; type: string },
    options: ShareFileOptions = {},
  ): Promise<ShareFileResult> {
    return await shareFile(
      {
        libp2p: this.libp2p,
        files: this.files,
        dmTopic: (peer) => this.dms.pairTopic(peer),
        log: this.#log,
      },
      target,
      source,
      meta,
      options,
    )
  }

  // --- Direct messages (issue #3): sdk/src/dm ---

  /** Direct messages of this device; started on first use (subscribes to this wallet's inbox). */
  get dms(): DirectMessages {
    if (this.#dms === undefined) {
      const libp2p = this.libp2p
      const gapSource = libp2pGapSource(libp2p, libp2p.services.pubsub)
      const gapLog = (this.#init.logger ?? silentLoggerFactory)('securechat:sdk:gaps')
      this.#dms = new DirectMessages(
        {
          pubsub: libp2p.services.pubsub,
          registry: this.#checks.registry,
          self: this.#self!,
          keyring: this.#keyring!,
          ...(this.#init.vault === undefined ? {} : { vault: this.#init.vault }),
          ...(this.#search === undefined ? {} : { search: this.#search }),
          log: (this.#init.logger ?? silentLoggerFactory)('securechat:sdk:dm'),
          history: {
            catchUp: (sink, options) => catchUpDms(sink, libp2pHistorySource(libp2p), options),
            records: (topic, types, options) => storedRecords(libp2pHistorySource(libp2p), topic, types, options),
            held: async (topic, ids, options) =>
              new Set((await gapSource.fetch(topic, ids, options)).map(({ record }) => record.id)),
          },
          gaps: (sink) => new GapRepair({ sink, source: gapSource, log: gapLog }),
          signalSettings: () => this.#signals,
        },
        this.#init.directMessages,
      )
      this.#dms.start().catch((err: unknown) => this.#log.warn('direct messages did not start', { error: String(err) }))
    }
    return this.#dms
  }

  /** Whether this device tells and shows read receipts and typing, in every room and DM. */
  get signalSettings(): SignalSettings {
    return { ...this.#signals }
  }

  /** Turns read receipts or typing indicators on or off, from now on, in every room and DM (`signals.ts`). */
  setSignalSettings(settings: Partial<SignalSettings>): void {
    this.#signals = { ...this.#signals, ...settings }
  }

  /** The direct-message conversation with `address` (all of its devices). */
  dm(address: string): Conversation {
    return this.dms.conversation(address)
  }

  /** Leaves a room (its members rotate their keys) and forgets it and its sender keys in the vault. */
  async leaveRoom(roomId: string): Promise<void> {
    await this.#dropRoom(roomId, { forever: true })
    this.#search?.forget(`room:${roomId}`)
    if (this.#init.vault !== undefined) await forgetRoom(this.#init.vault, roomId)
  }

  /**
   * Stops a room without forgetting it: its place, keys and messages stay in the vault. A member a moderator kicked
   * stops announcing itself (its next presence would take it back in); `joinRoom` with the invite rejoins.
   */
  async stopRoom(roomId: string): Promise<void> {
    await this.#dropRoom(roomId, {})
  }

  async #dropRoom(roomId: string, options: { forever?: boolean }): Promise<void> {
    const room = this.#rooms.get(roomId)
    this.#rooms.delete(roomId)
    this.#joinSinks.delete(roomId)
    if (room !== undefined) {
      this.#recent.forget(room.topic)
      this.#tierPaces.get(room.topic)?.stop()
      this.#tierPaces.delete(room.topic)
    }
    await room?.stop(options)
  }

  /** In a gated room whose rule has rate tiers, this device publishes at its tier's pace (`tier-pacing.ts`). */
  async #paceByTier(room: Room, rule: GateRule | undefined, address: string, options: AbortOptions): Promise<void> {
    const gates = this.#checks.gates
    if (gates === undefined || rule === undefined || !hasRateTiers(rule) || this.#tierPaces.has(room.topic)) return
    const pace = new TierPace({ gates, rule, address })
    this.#tierPaces.set(room.topic, pace)
    await pace.start(options)
  }

  async #signIn(
    peerId: string,
    bundleHash: string,
    options: AbortOptions,
    fromVault?: SessionCertificate,
  ): Promise<SessionCertificate> {
    const init = this.#init
    const reuse = fromVault ?? init.certificate
    if (reuse !== undefined) {
      try {
        const stored = verifyCertificateOffline({ certificate: reuse, peerId })
        const sameTerms =
          fromVault === undefined ||
          (stored.certificate.domain === init.domain && stored.certificate.chainId === init.chainId)
        if (stored.certificate.bundleHash === bundleHash && sameTerms) return reuse
        this.#log.info('stored certificate names other encryption keys, signing a new one')
      } catch (err) {
        if (!(err instanceof InvalidCertificateError)) throw err
        this.#log.info('stored certificate is no longer valid, signing a new one', { reason: err.reason })
      }
    }
    return createCertificate(
      {
        signer: init.signer,
        peerId,
        domain: init.domain,
        chainId: init.chainId,
        bundleHash,
        ...(init.uri === undefined ? {} : { uri: init.uri }),
        ...(init.certificateLifetimeMs === undefined ? {} : { lifetimeMs: init.certificateLifetimeMs }),
      },
      options,
    )
  }

  /** Starts this device's libp2p node and dials the bootstrap relays; stops it again if none answers. */
  async #startNetwork(privateKey: PrivateKey, options: AbortOptions): Promise<SecureChatLibp2p> {
    const init = this.#init
    const direct = init.directConnections
    const listen = [...(init.listen ?? []), ...(direct === undefined ? [] : DIRECT_LISTEN_ADDRESSES)]
    const libp2p = await createSecureChatLibp2p({
      privateKey,
      listen,
      ...(init.connectionGater === undefined ? {} : { connectionGater: init.connectionGater }),
      publishPacing: {
        ...(init.publishPacing?.perSecond === undefined ? {} : { perSecond: init.publishPacing.perSecond }),
        ...(init.publishPacing?.burst === undefined ? {} : { burst: init.publishPacing.burst }),
        ...(init.publishPacing?.byTier === false ? {} : { topicPace: (topic) => this.#tierPaces.get(topic)?.pace }),
      },
      ...(direct?.iceServers === undefined ? {} : { iceServers: direct.iceServers }),
      // Gossip must not settle on the relayed connection, or it stops when the relay goes away.
      ...(direct === undefined ? {} : { gossipsub: { runOnLimitedConnection: false } }),
    })
    try {
      // Before any dial: the relays learn from identify that this node serves files' blocks (`client-files.ts`).
      await this.#files.start(libp2p)
      const addresses = init.bootstrap ?? []
      if (addresses.length > 0) await dialBootstrap(libp2p, addresses, { ...options, log: this.#log })
    } catch (err) {
      await this.#files.stop()
      await libp2p.stop()
      throw err
    }
    return libp2p
  }
}

/** The sdk assumes no chain or app (no devnet default): whoever creates a client states what its wallet signs for. */
function assertSigningTerms(init: ClientInit): void {
  if (typeof init.domain !== 'string' || init.domain.length === 0) {
    throw new InvalidInputError('createClient: domain is missing (the SIWE domain the certificate is signed for)', {
      details: { domain: init.domain },
      hint: "pass domain: a web app's location.host, or one the room's manifest lists (manifest.domains)",
    })
  }
  if (!Number.isSafeInteger(init.chainId) || init.chainId <= 0) {
    throw new InvalidInputError('createClient: chainId is missing (the chain the wallet signs the certificate for)', {
      details: { chainId: init.chainId },
      hint: "pass chainId: the chain your wallet is on, one the room's manifest lists (manifest.chainIds)",
    })
  }
}

export function createClient(init: ClientInit): SecureChatClient {
  return new SecureChatClient(init)
}
