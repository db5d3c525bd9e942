import type { Connection, IdentifyResult, PeerId } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { TypedEventEmitter } from 'main-event'
import {
  BOOTSTRAP_REDIAL_INTERVAL_MS,
  MAX_LEARNED_RELAYS,
  MAX_RELAY_HINT_ADDRESSES,
  RELAY_CHECK_TIMEOUT_MS,
  RELAY_CONNECTIONS_TARGET,
  RELAY_GOSSIP_GRACE_MS,
  RELAY_HINTS_PROTOCOL,
  RELAY_HINTS_REFRESH_MS,
  RELAY_REFUSED_BACKOFF_MAX_MS,
  RELAY_REFUSED_BACKOFF_MIN_MS,
  RELAY_REFUSED_WITHIN_MS,
} from '../constants.ts'
import { STORE_PROTOCOL } from '../history/constants.ts'
import type { Logger } from '../logger.ts'
import { pingConnection } from './connection-ping.ts'
import type { SecureChatLibp2p } from './libp2p.ts'
import { fetchRelayHints } from './relay-hints.ts'

/** What a relay serves and a client or browser peer does not: the circuit relay's hop, the message store, relay hints. */
const RELAY_PROTOCOLS = ['/libp2p/circuit/relay/0.2.0/hop', STORE_PROTOCOL, RELAY_HINTS_PROTOCOL]

/** gossipsub's protocol ids (`/meshsub/1.0.0` … `/meshsub/1.2.0`), as identify lists them. */
const GOSSIPSUB_PROTOCOL_PREFIX = '/meshsub/'

export interface RelayPoolInit {
  libp2p: SecureChatLibp2p
  log: Logger
  /** Relays named to this client (its bootstrap list): always kept dialled. */
  named?: readonly string[]
  /** Relay connections to keep when that many are known; {@link RELAY_CONNECTIONS_TARGET} by default. */
  target?: number
}

export interface RelayPoolEvents {
  /** A relay this client was connected to went away: `peerId` is the relay. */
  'relay:lost': CustomEvent<{ peerId: string; connected: number }>
  /** A relay is connected (again, or another one in its place). */
  'relay:connected': CustomEvent<{ peerId: string; connected: number }>
}

interface KnownRelay {
  /** Dialable addresses, each ending in `/p2p/<peerId>` when the PeerId is known. */
  addresses: string[]
  /** Named (bootstrap or an invite's hint): dialled whenever it is not connected. Learned: only to reach the target. */
  named: boolean
  /** When every address last failed to dial: learned relays that failed least recently are tried first. */
  failedAtMs?: number
  /** Whether it answers relay hints, and when it was last asked. */
  hints?: { askedAtMs: number }
  /** When its connection opened, while it is connected: how long it lasted tells a refusal from a relay that died. */
  connectedAtMs?: number
  /** It refused this client (hung up within {@link RELAY_REFUSED_WITHIN_MS}): not dialled before `retryAtMs`. */
  refused?: { backoffMs: number; retryAtMs: number }
}

/**
 * The relays a client knows and keeps connected: its bootstrap list and the relay hints of the invites it joins
 * (named: always redialled, as before), and relays it learned on the network — any peer it identified that serves
 * the circuit relay's hop, the message store or relay hints, and the relays those relays say they link to
 * (`relay-hints.ts`) — learned: dialled while fewer than `target` relays are connected, at most
 * {@link MAX_LEARNED_RELAYS} kept.
 * When a relay goes away the pool dials the others at once instead of at the next tick, so a client moves to
 * another relay within a dial's time; the redial tick ({@link BOOTSTRAP_REDIAL_INTERVAL_MS}) catches the rest.
 * A relay that refuses this client — its dial fails once the transport is up, or its connection closes within
 * {@link RELAY_REFUSED_WITHIN_MS} — is dialled again only after a backoff that doubles at each refusal
 * ({@link RELAY_REFUSED_BACKOFF_MIN_MS} to {@link RELAY_REFUSED_BACKOFF_MAX_MS}), so that a banned client does not
 * hammer it — and dialled when the backoff ends, not at the tick after it (a relay that restarted within
 * {@link RELAY_REFUSED_WITHIN_MS} of a client connecting looks like one that refused it); a relay that is down is not refusing (it keeps the tick) and one that dies after a lasting connection is
 * redialled at once.
 */
export class RelayPool extends TypedEventEmitter<RelayPoolEvents> {
  readonly #libp2p: SecureChatLibp2p
  readonly #log: Logger
  readonly #target: number
  /** By PeerId, or by address for an address without `/p2p/` (its PeerId is learnt once dialled). */
  readonly #known = new Map<string, KnownRelay>()
  #timer: ReturnType<typeof setInterval> | undefined
  /** Fills due when a refusal's backoff ends ({@link #refused}). */
  readonly #retries = new Set<ReturnType<typeof setTimeout>>()
  #filling: Promise<void> | undefined
  #again = false
  /** The check running now ({@link check}): a second call meanwhile shares it. */
  #checking: Promise<string[]> | undefined

  constructor(init: RelayPoolInit) {
    super()
    this.#libp2p = init.libp2p
    this.#log = init.log
    this.#target = init.target ?? RELAY_CONNECTIONS_TARGET
    this.add(init.named ?? [])
  }

  /** Names relays (an invite's hints): kept dialled from now on. Unparseable addresses are skipped. */
  add(addresses: readonly string[]): void {
    let added = false
    for (const address of addresses) {
      const key = keyOf(address)
      if (key === undefined) {
        this.#log.debug('relay address skipped: not a multiaddr', { address })
        continue
      }
      const known = this.#known.get(key)
      if (known === undefined) {
        this.#known.set(key, { addresses: [address], named: true })
        added = true
      } else {
        if (!known.addresses.includes(address)) known.addresses.push(address)
        if (!known.named) added = true
        known.named = true
      }
    }
    if (added && this.#timer !== undefined) void this.fill()
  }

  /** PeerIds of the relays this client knows. */
  known(): string[] {
    return [...this.#known.keys()]
  }

  /** Whether `peerId` is a relay this client knows. */
  isRelay(peerId: PeerId | string): boolean {
    return this.#known.has(peerId.toString())
  }

  /** PeerIds of the known relays connected now. */
  connected(): string[] {
    return this.known().filter((peerId) => this.#isConnected(peerId))
  }

  start(): void {
    if (this.#timer !== undefined) return
    this.#libp2p.addEventListener('peer:identify', this.#onIdentify)
    this.#libp2p.addEventListener('peer:connect', this.#onConnect)
    this.#libp2p.addEventListener('peer:disconnect', this.#onDisconnect)
    this.#timer = setInterval(() => void this.fill(), BOOTSTRAP_REDIAL_INTERVAL_MS)
  }

  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
    for (const retry of this.#retries) clearTimeout(retry)
    this.#retries.clear()
    this.#libp2p.removeEventListener('peer:identify', this.#onIdentify)
    this.#libp2p.removeEventListener('peer:connect', this.#onConnect)
    this.#libp2p.removeEventListener('peer:disconnect', this.#onDisconnect)
  }

  /**
   * Checks every open relay connection now, for when the network may have changed under it (the browser's `online`
   * or connection `change`, a call's connection that lost its path): a connection that does not answer a ping within
   * `timeoutMs` ({@link RELAY_CHECK_TIMEOUT_MS}) is closed, and its relay is dialled again at once — from the
   * device's address now. A WebSocket opened from an address the device no longer has is otherwise "open" until
   * libp2p's own ping gives up (up to 50 s), and what is sent on it meanwhile (a call's offer) goes nowhere. Resolves
   * with the PeerIds of the relays whose connection it closed. One check at a time: a call meanwhile shares it.
   */
  check(timeoutMs = RELAY_CHECK_TIMEOUT_MS): Promise<string[]> {
    this.#checking ??= this.#check(timeoutMs).finally(() => {
      this.#checking = undefined
    })
    return this.#checking
  }

  async #check(timeoutMs: number): Promise<string[]> {
    if (this.#timer === undefined) return []
    const open = this.#libp2p
      .getConnections()
      .filter((c) => c.status === 'open' && this.#known.has(c.remotePeer.toString()))
    const dead = await Promise.all(open.map(async (c) => ((await this.#answers(c, timeoutMs)) ? undefined : c)))
    const closed: string[] = []
    for (const connection of dead) {
      if (connection === undefined || connection.status !== 'open') continue
      const peerId = connection.remotePeer.toString()
      this.#log.info('relay connection did not answer a check: reconnecting', { peerId })
      // Not a graceful close: nothing comes back on a dead path, so it would wait for nothing.
      connection.abort(new Error('the relay connection did not answer a ping'))
      closed.push(peerId)
    }
    if (closed.length === 0 && this.#timer !== undefined) void this.fill()
    return closed
  }

  /**
   * Whether `connection` answers a ping within `timeoutMs` (on that connection: `pingConnection`). The ping protocol
   * takes one outbound stream per peer, and libp2p's own ping may hold it (waiting on this same dead path): a ping that
   * cannot open is tried again until the time is up — on a live connection the monitor's ping ends in a round trip.
   */
  async #answers(connection: Connection, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline && connection.status === 'open') {
      if (await pingConnection(connection, Math.max(1, deadline - Date.now()))) return true
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
    return connection.status !== 'open'
  }

  /**
   * Dials every named relay that is not connected, and learned ones while fewer than the target are; all at once,
   * so that a dead relay's dial does not hold up a live one's. One fill at a time: a call meanwhile runs another after it.
   */
  fill(): Promise<void> {
    if (this.#filling !== undefined) {
      this.#again = true
      return this.#filling
    }
    this.#filling = this.#fill().finally(() => {
      this.#filling = undefined
      if (this.#again && this.#timer !== undefined) {
        this.#again = false
        void this.fill()
      }
    })
    return this.#filling
  }

  async #fill(): Promise<void> {
    await this.#hangUpGossipless()
    const now = Date.now()
    const idle = [...this.#known].filter(
      ([key, relay]) => !this.#isConnected(key) && (relay.refused === undefined || relay.refused.retryAtMs <= now),
    )
    const named = idle.filter(([, relay]) => relay.named)
    const connected = this.connected()
    const room = Math.max(0, this.#target - connected.length - named.length)
    // Never failed first, then the one that failed longest ago: a dead hint does not keep a live one from its turn.
    const learned = idle
      .filter(([, relay]) => !relay.named)
      .sort(([, a], [, b]) => (a.failedAtMs ?? 0) - (b.failedAtMs ?? 0))
      .slice(0, room)
    if (connected.length < this.#target) {
      // Short of relays: those connected may link to ones this client has not heard of yet (or since).
      for (const peerId of connected) {
        const asked = this.#known.get(peerId)?.hints?.askedAtMs
        if (asked !== undefined && now - asked >= RELAY_HINTS_REFRESH_MS) void this.#askHints(peerId)
      }
    }
    await Promise.allSettled([...named, ...learned].map(([key, relay]) => this.#dial(key, relay)))
  }

  /**
   * gossipsub drops a peer whose stream to it fails and opens no new stream until the next connection: a relay
   * connection can stay open with no gossip on it, and the rooms then go quiet with the relay "connected" (seen
   * under load in test/hostile-records.test.ts). Such a connection, older than {@link RELAY_GOSSIP_GRACE_MS}, is
   * closed here, and the disconnect redials it at once.
   */
  async #hangUpGossipless(): Promise<void> {
    const gossiping = new Set(this.#libp2p.services.pubsub.getPeers().map(String))
    const now = Date.now()
    const gossipless = this.#libp2p
      .getConnections()
      .filter(
        (c) =>
          c.status === 'open' &&
          this.#known.has(c.remotePeer.toString()) &&
          !gossiping.has(c.remotePeer.toString()) &&
          now - c.timeline.open > RELAY_GOSSIP_GRACE_MS,
      )
    for (const connection of gossipless) {
      // A store-only node (no gossipsub at all) is left alone: only a relay that speaks gossip can lose it.
      const protocols = await this.#libp2p.peerStore
        .get(connection.remotePeer)
        .then((peer) => peer.protocols)
        .catch(() => [])
      if (!protocols.some((protocol) => protocol.startsWith(GOSSIPSUB_PROTOCOL_PREFIX))) continue
      this.#log.info('relay connection without gossip: reconnecting', { peerId: connection.remotePeer.toString() })
      await connection.close().catch(() => connection.abort(new Error('no gossip on this connection')))
    }
  }

  async #dial(key: string, relay: KnownRelay): Promise<void> {
    let upgrading = false
    for (const address of relay.addresses) {
      if (this.#timer === undefined) return
      try {
        const connection = await this.#libp2p.dial(multiaddr(address), {
          signal: AbortSignal.timeout(BOOTSTRAP_REDIAL_INTERVAL_MS * 2),
          // The upgrader's progress: a dial that fails after it began reached the relay, which then said no.
          onProgress: (event) => {
            if (event.type.startsWith('upgrader:')) upgrading = true
          },
        })
        this.#log.info('connected to relay', { address })
        const peerId = connection.remotePeer.toString()
        delete relay.failedAtMs
        // Its peer:connect came before its PeerId was known when it was named by address only.
        relay.connectedAtMs ??= Date.now()
        if (key !== peerId) this.#rekey(key, peerId)
        return
      } catch {
        // Down, or not reachable from here (a browser cannot dial TCP): the next address, the next tick.
      }
    }
    relay.failedAtMs = Date.now()
    if (upgrading) this.#refused(key, relay)
  }

  /** `relay` refused this client: it waits for the next backoff step before it is dialled again, then is dialled. */
  #refused(key: string, relay: KnownRelay): void {
    const backoffMs = Math.min(
      relay.refused === undefined ? RELAY_REFUSED_BACKOFF_MIN_MS : relay.refused.backoffMs * 2,
      RELAY_REFUSED_BACKOFF_MAX_MS,
    )
    const refused = { backoffMs, retryAtMs: Date.now() + backoffMs }
    relay.refused = refused
    const retry = setTimeout(() => {
      this.#retries.delete(retry)
      // Its backoff is over even if the wall clock is a millisecond behind the timer's.
      refused.retryAtMs = Math.min(refused.retryAtMs, Date.now())
      if (this.#timer !== undefined) void this.fill()
    }, backoffMs)
    this.#retries.add(retry)
    this.#log.info('relay refused this client: redialling later', { peerId: key, backoffMs })
  }

  /**
   * Keeps a relay learned on the network (identified, or named in another relay's hints) with `addresses`; true
   * when it is new. Past {@link MAX_LEARNED_RELAYS} learned, one whose dial failed makes room, or nothing is kept.
   */
  #learn(peerId: string, addresses: readonly string[]): boolean {
    const known = this.#known.get(peerId)
    if (known !== undefined) {
      for (const address of addresses) {
        if (known.named || known.addresses.length < MAX_RELAY_HINT_ADDRESSES) {
          if (!known.addresses.includes(address)) known.addresses.push(address)
        }
      }
      return false
    }
    const learned = [...this.#known].filter(([, relay]) => !relay.named)
    if (learned.length >= MAX_LEARNED_RELAYS) {
      const failed = learned.find(([key, relay]) => relay.failedAtMs !== undefined && !this.#isConnected(key))
      if (failed === undefined) return false
      this.#known.delete(failed[0])
    }
    this.#known.set(peerId, { addresses: addresses.slice(0, MAX_RELAY_HINT_ADDRESSES), named: false })
    this.#log.debug('relay learned', { peerId, addresses })
    return true
  }

  /** Asks a connected relay which relays it links to, and learns them. */
  async #askHints(peerId: string): Promise<void> {
    const relay = this.#known.get(peerId)
    if (relay === undefined || this.#timer === undefined) return
    relay.hints = { askedAtMs: Date.now() }
    const connection = this.#libp2p.getConnections().find((c) => c.remotePeer.toString() === peerId)
    if (connection === undefined) return
    const hints = await fetchRelayHints(this.#libp2p, connection.remotePeer)
    let added = false
    for (const hint of hints) added = this.#learn(hint.peer, hint.addrs) || added
    if (hints.length > 0) this.#log.debug('relay hints', { from: peerId, relays: hints.map((hint) => hint.peer) })
    if (added && this.#timer !== undefined) void this.fill()
  }

  /** An address named without `/p2p/` turned out to be `peerId`'s. */
  #rekey(key: string, peerId: string): void {
    const relay = this.#known.get(key)
    if (relay === undefined) return
    this.#known.delete(key)
    const known = this.#known.get(peerId)
    if (known === undefined) this.#known.set(peerId, relay)
    else {
      known.named ||= relay.named
      for (const address of relay.addresses) if (!known.addresses.includes(address)) known.addresses.push(address)
    }
  }

  #isConnected(key: string): boolean {
    return this.#libp2p.getConnections().some((c) => c.remotePeer.toString() === key && c.status === 'open')
  }

  readonly #onIdentify = (event: CustomEvent<IdentifyResult>): void => {
    const { peerId, protocols, listenAddrs } = event.detail
    if (!protocols.some((protocol) => RELAY_PROTOCOLS.includes(protocol))) return
    const id = peerId.toString()
    const addresses = listenAddrs.map((ma) => `${ma.toString().replace(/\/p2p\/[^/]+$/, '')}/p2p/${id}`)
    this.#learn(id, addresses)
    const relay = this.#known.get(id)
    if (relay !== undefined) {
      // Learned on a connection that opened before it was known: its age still tells a refusal from a lasting one.
      const opened = this.#libp2p
        .getConnections(peerId)
        .filter((c) => c.status === 'open')
        .map((c) => c.timeline.open)
      if (opened.length > 0) relay.connectedAtMs ??= Math.min(...opened)
    }
    // Every new connection to a relay asks again: a relay that restarted may link to others now.
    if (protocols.includes(RELAY_HINTS_PROTOCOL)) void this.#askHints(id)
  }

  readonly #onConnect = (event: CustomEvent<PeerId>): void => {
    const peerId = event.detail.toString()
    const relay = this.#known.get(peerId)
    if (relay === undefined) return
    relay.connectedAtMs = Date.now()
    this.safeDispatchEvent('relay:connected', { detail: { peerId, connected: this.connected().length } })
  }

  readonly #onDisconnect = (event: CustomEvent<PeerId>): void => {
    const peerId = event.detail.toString()
    const relay = this.#known.get(peerId)
    if (relay === undefined) return
    // Unknown (a relay learned on a connection already open, never seen connecting): as before, redialled at once.
    const lasted = relay.connectedAtMs === undefined || Date.now() - relay.connectedAtMs >= RELAY_REFUSED_WITHIN_MS
    delete relay.connectedAtMs
    // A connection that lasted is a relay that died or restarted: back to dialling it at once. One that did not
    // was the relay hanging up on this client: redialled after the backoff (fill skips it until then).
    if (lasted) delete relay.refused
    else this.#refused(peerId, relay)
    const connected = this.connected().length
    this.#log.info('relay lost', { peerId, connected })
    this.safeDispatchEvent('relay:lost', { detail: { peerId, connected } })
    // At once, not at the next tick: the room's messages have to go somewhere.
    void this.fill()
  }
}

/** The PeerId an address names, or the address itself when it names none; undefined when it is no multiaddr. */
function keyOf(address: string): string | undefined {
  try {
    return (
      multiaddr(address)
        .getComponents()
        .findLast((c) => c.name === 'p2p')?.value ?? address
    )
  } catch {
    return undefined
  }
}
