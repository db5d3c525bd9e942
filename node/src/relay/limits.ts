/**
 * The relay's limits on its libp2p side: inbound connections per IP, per peer, being opened at once and in all, new
 * connections per second per IP, and circuit reservations per IP and in all. Built on libp2p's own mechanisms — a
 * connection gater (`denyInboundConnection`, `denyInboundEncryptedConnection`, `denyInboundRelayReservation`) and the
 * circuit relay server's reservation store — so that every refusal is ours, counted by reason and logged boundedly
 * (`refusals.ts`); libp2p's own connection-manager limits are set just above ours, as a backstop that never refuses
 * first (what it refuses, nobody could count).
 *
 * A reservation lives while its holder stays connected: it is released when the holder's last connection closes (as
 * go-libp2p's relay does), and after `reservationTtlMs` without a refresh. Throw-away PeerIds that reserve and leave
 * so hold no slot.
 *
 * An "IP" is an IPv4 address or an IPv6 /64 (`clientAddressKey`). Addresses that carry many clients — loopback
 * (the relay's own machine: a local TLS proxy, the operator's tools) and every address the operator names as a
 * proxy or a shared NAT (`--http-trusted-proxy`, `--colocation-whitelist`) — are not capped as one client: the
 * per-IP limits skip them, while the per-peer, pending and total limits still hold for everyone behind them.
 *
 * A device the record limits (`record-rates.ts`) find flooding is banned here: disconnected, and its PeerId refused
 * once Noise names it, for a while. Flooders with fresh PeerIds from one address are banned by address too: once
 * `floodBansPerIp` of its devices are banned at the same time, the address's connections are refused for as long —
 * except an address that carries many clients (loopback, a named proxy or NAT), where one flooder must not cost every
 * client behind it.
 */
import type { CircuitRelayService } from '@libp2p/circuit-relay-v2'
import type { ConnectionGater, Libp2p, MultiaddrConnection, PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Logger } from '@securechat/sdk/logger'
import {
  RELAY_CONNECTION_RATE_MAX_IPS,
  RELAY_CONNECTIONS_PER_IP_PER_SECOND,
  RELAY_MAX_BANNED_PEERS,
  RELAY_MAX_CONNECTIONS,
  RELAY_MAX_CONNECTIONS_PER_IP,
  RELAY_MAX_CONNECTIONS_PER_PEER,
  RELAY_MAX_PENDING_CONNECTIONS,
  RELAY_MAX_RESERVATIONS,
  RELAY_MAX_RESERVATIONS_PER_IP,
  RELAY_MAX_UNREAD_BYTES_PER_PEER,
  RELAY_RECORD_FLOOD_BANS_PER_IP,
  RELAY_RESERVATION_TTL_MS,
} from '../constants.ts'
import { canonicalIp, clientAddressKey } from './http/addresses.ts'
import { RateLimiter } from './rate-limit.ts'
import { type RefusalReason, Refusals } from './refusals.ts'

/** Every field optional; defaults in constants.ts. */
export interface RelayLimitsInit {
  /** Inbound connections, open or being opened, at most. */
  maxConnections?: number
  maxConnectionsPerIp?: number
  maxConnectionsPerPeer?: number
  /** Bytes of gossip a neighbour may leave unread before its connection is aborted (`unread-bytes.ts`). */
  maxUnreadBytesPerPeer?: number
  /** Inbound connections being opened (transport up, handshake not done) at most. */
  maxPendingConnections?: number
  /** New inbound connections per second one IP may open, on average; its burst is `maxConnectionsPerIp`. */
  connectionRatePerIp?: number
  /** Circuit relay reservations at most. */
  maxReservations?: number
  maxReservationsPerIp?: number
  /** A reservation not refreshed in this long is released (its holder's client refreshes it before). */
  reservationTtlMs?: number
  /** Devices of one IP banned at once (as flooders) that ban the IP too, for as long. */
  floodBansPerIp?: number
  /** Exact IPs that carry many clients (a proxy, a shared NAT): not capped as one client. Loopback always is. */
  manyClientAddresses?: readonly string[]
}

export interface RelayLimitsStats {
  /** Refusals since start, by reason. */
  refused: Readonly<Record<RefusalReason, number>>
  /** Inbound connections open or being opened. */
  inboundConnections: number
  /** Of those, being opened. */
  pendingConnections: number
  reservations: number
}

/** The relay's own machine: whatever connects from there (a local TLS proxy) may carry many clients. */
const LOOPBACK = ['127.0.0.1', '::1']

/** Where an inbound connection comes from. */
interface Source {
  ip: string
  /** `clientAddressKey(ip)`: what per-IP limits count by. */
  key: string
}

interface Tracked {
  /** Undefined for an address without an IP. */
  source: Source | undefined
  peer?: string
}

export class RelayLimits {
  readonly #limits: Required<Omit<RelayLimitsInit, 'manyClientAddresses'>>
  readonly #manyClients: ReadonlySet<string>
  readonly #refusals: Refusals
  readonly #rate: RateLimiter
  /** Inbound multiaddr connections from `denyInboundConnection` until they close. */
  readonly #inbound = new Map<MultiaddrConnection, Tracked>()
  readonly #pending = new Set<MultiaddrConnection>()
  readonly #perIp = new Map<string, number>()
  readonly #perPeer = new Map<string, Set<MultiaddrConnection>>()
  /** Banned PeerIds → until when (ms since epoch), oldest ban first. */
  readonly #banned = new Map<string, number>()
  /** Per IP key: until when each of its devices' bans lasts (ms since epoch), oldest IP first. */
  readonly #bansPerIp = new Map<string, number[]>()
  /** Banned IP keys → until when, oldest ban first. */
  readonly #bannedIps = new Map<string, number>()
  #libp2p: Libp2p | undefined
  #relay: CircuitRelayService | undefined

  constructor(init: RelayLimitsInit & { log: Logger }) {
    this.#limits = {
      maxConnections: init.maxConnections ?? RELAY_MAX_CONNECTIONS,
      maxConnectionsPerIp: init.maxConnectionsPerIp ?? RELAY_MAX_CONNECTIONS_PER_IP,
      maxConnectionsPerPeer: init.maxConnectionsPerPeer ?? RELAY_MAX_CONNECTIONS_PER_PEER,
      maxUnreadBytesPerPeer: init.maxUnreadBytesPerPeer ?? RELAY_MAX_UNREAD_BYTES_PER_PEER,
      maxPendingConnections: init.maxPendingConnections ?? RELAY_MAX_PENDING_CONNECTIONS,
      connectionRatePerIp: init.connectionRatePerIp ?? RELAY_CONNECTIONS_PER_IP_PER_SECOND,
      maxReservations: init.maxReservations ?? RELAY_MAX_RESERVATIONS,
      maxReservationsPerIp: init.maxReservationsPerIp ?? RELAY_MAX_RESERVATIONS_PER_IP,
      reservationTtlMs: init.reservationTtlMs ?? RELAY_RESERVATION_TTL_MS,
      floodBansPerIp: init.floodBansPerIp ?? RELAY_RECORD_FLOOD_BANS_PER_IP,
    }
    for (const [field, value] of Object.entries(this.#limits)) {
      if (!(value > 0) || !Number.isFinite(value)) {
        throw new RangeError(`relay limit ${field} must be a positive number, got ${value}`)
      }
    }
    this.#manyClients = new Set([...LOOPBACK, ...(init.manyClientAddresses ?? [])].map(canonicalIp))
    this.#refusals = new Refusals({ log: init.log })
    this.#rate = new RateLimiter({
      perSecond: this.#limits.connectionRatePerIp,
      burst: this.#limits.maxConnectionsPerIp,
      maxClients: RELAY_CONNECTION_RATE_MAX_IPS,
    })
  }

  /** Bytes of gossip a neighbour may leave unread before its connection is aborted. */
  get maxUnreadBytesPerPeer(): number {
    return this.#limits.maxUnreadBytesPerPeer
  }

  /** Counts and logs the refusals of every limit; the record limits refuse through it too. */
  get refusals(): Refusals {
    return this.#refusals
  }

  /**
   * Disconnects `peer` and refuses its connections for `forMs`, counted as `reason` (the disconnection and each
   * refused reconnection). Connections the relay dialled (a linked relay) are closed too: a relay that floods is cut.
   */
  ban(peer: string, forMs: number, reason: RefusalReason, fields: Record<string, unknown> = {}): void {
    this.#banned.delete(peer)
    this.#banned.set(peer, Date.now() + forMs)
    if (this.#banned.size > RELAY_MAX_BANNED_PEERS) this.#banned.delete(this.#banned.keys().next().value as string)
    const source = this.#sourceOfPeer(peerIdFromString(peer))
    this.#refuse(reason, peer, { ...fields, ...(source === undefined ? {} : { ip: source.key }), bannedForMs: forMs })
    if (source !== undefined && !this.#manyClients.has(source.ip)) this.#strikeIp(source.key, forMs)
    void this.#libp2p?.hangUp(peerIdFromString(peer)).catch(() => undefined)
  }

  /** Counts a ban of one of `key`'s devices; the one that makes `floodBansPerIp` in force bans the address. */
  #strikeIp(key: string, forMs: number): void {
    const nowMs = Date.now()
    const bans = (this.#bansPerIp.get(key) ?? []).filter((untilMs) => untilMs > nowMs)
    bans.push(nowMs + forMs)
    this.#bansPerIp.delete(key)
    this.#bansPerIp.set(key, bans)
    if (this.#bansPerIp.size > RELAY_MAX_BANNED_PEERS)
      this.#bansPerIp.delete(this.#bansPerIp.keys().next().value as string)
    if (bans.length < this.#limits.floodBansPerIp || this.#isIpBanned(key)) return
    this.#bannedIps.set(key, nowMs + forMs)
    if (this.#bannedIps.size > RELAY_MAX_BANNED_PEERS)
      this.#bannedIps.delete(this.#bannedIps.keys().next().value as string)
    this.#refuse('record-flood-per-ip', key, { bannedDevices: bans.length, bannedForMs: forMs })
  }

  #isIpBanned(key: string): boolean {
    const until = this.#bannedIps.get(key)
    if (until === undefined) return false
    if (until > Date.now()) return true
    this.#bannedIps.delete(key)
    return false
  }

  /**
   * Where a connection comes from as the per-IP limits count it: its IP key, and whether the address carries many
   * clients (loopback, `manyClientAddresses`) and is not to be limited as one; undefined for an address without an IP.
   */
  clientAddress(address: Multiaddr): { key: string; manyClients: boolean } | undefined {
    const source = sourceOf(address)
    return source === undefined ? undefined : { key: source.key, manyClients: this.#manyClients.has(source.ip) }
  }

  /** Whether `peer` is banned now. */
  isBanned(peer: string): boolean {
    const until = this.#banned.get(peer)
    if (until === undefined) return false
    if (until > Date.now()) return true
    this.#banned.delete(peer)
    return false
  }

  /** The connection gater that enforces these limits; give it to libp2p. */
  readonly gater: ConnectionGater = {
    denyInboundConnection: (maConn) => this.#denyConnection(maConn),
    denyInboundEncryptedConnection: (peer, maConn) => this.#denyPeer(peer, maConn),
    denyInboundUpgradedConnection: (_peer, maConn) => {
      this.#pending.delete(maConn)
      return false
    },
    denyInboundRelayReservation: (peer) => this.#denyReservation(peer),
  }

  /**
   * libp2p's connection manager options: its own limits sit above ours, so ours refuse (and count) first. Its total
   * leaves room for the relay's own dials (linked relays); its per-host rate (`inboundConnectionThreshold`) is ours
   * per IP instead, because its would cap a proxy's many clients as one.
   */
  connectionManagerOptions(): {
    maxConnections: number
    maxIncomingPendingConnections: number
    inboundConnectionThreshold: number
  } {
    const { maxConnections, maxPendingConnections } = this.#limits
    return {
      maxConnections: maxConnections + maxPendingConnections,
      maxIncomingPendingConnections: 2 * maxPendingConnections,
      inboundConnectionThreshold: Number.MAX_SAFE_INTEGER,
    }
  }

  /** The circuit relay server's reservation options (its total is a backstop too: ours refuses first). */
  reservationOptions(): { maxReservations: number; reservationTtl: number; applyDefaultLimit: true } {
    return {
      maxReservations: this.#limits.maxReservations,
      reservationTtl: this.#limits.reservationTtlMs,
      // Relayed connections keep libp2p's default limits (2 min / 128 KiB): enough to set up direct WebRTC.
      applyDefaultLimit: true,
    }
  }

  /** Called once the relay's libp2p node exists. */
  start(libp2p: Libp2p, relay: CircuitRelayService): void {
    this.#libp2p = libp2p
    this.#relay = relay
    libp2p.addEventListener('peer:disconnect', this.#onPeerDisconnect)
    this.#refusals.start()
  }

  /** Idempotent. */
  stop(): void {
    this.#libp2p?.removeEventListener('peer:disconnect', this.#onPeerDisconnect)
    this.#libp2p = undefined
    this.#relay = undefined
    this.#refusals.stop()
  }

  stats(): RelayLimitsStats {
    return {
      refused: this.#refusals.counts(),
      inboundConnections: this.#inbound.size,
      pendingConnections: this.#pending.size,
      reservations: this.#relay?.reservations.size ?? 0,
    }
  }

  #denyConnection(maConn: MultiaddrConnection): boolean {
    const source = sourceOf(maConn.remoteAddr)
    const offender = source?.key ?? maConn.remoteAddr.toString()
    const { maxConnections, maxPendingConnections, maxConnectionsPerIp } = this.#limits
    if (this.#inbound.size >= maxConnections) return this.#refuse('connections-total', offender)
    if (this.#pending.size >= maxPendingConnections) return this.#refuse('pending-connections', offender)
    if (source !== undefined && !this.#manyClients.has(source.ip)) {
      const { key } = source
      if (this.#isIpBanned(key)) return this.#refuse('record-flood-per-ip', offender)
      if ((this.#perIp.get(key) ?? 0) >= maxConnectionsPerIp) return this.#refuse('connections-per-ip', offender)
      // After the count: a connection refused anyway takes no token.
      if (!this.#rate.take(key).allowed) return this.#refuse('connection-rate-per-ip', offender)
    }
    this.#inbound.set(maConn, { source })
    this.#pending.add(maConn)
    if (source !== undefined) this.#perIp.set(source.key, (this.#perIp.get(source.key) ?? 0) + 1)
    maConn.addEventListener('close', () => this.#forget(maConn), { once: true })
    return false
  }

  #denyPeer(peer: PeerId, maConn: MultiaddrConnection): boolean {
    const tracked = this.#inbound.get(maConn)
    // Not ours to count: closed while the handshake ran (libp2p drops it anyway).
    if (tracked === undefined) return false
    const id = peer.toString()
    if (this.isBanned(id))
      return this.#refuse('record-flood', id, tracked.source === undefined ? {} : { ip: tracked.source.key })
    const connections = this.#perPeer.get(id) ?? new Set()
    if (connections.size >= this.#limits.maxConnectionsPerPeer) {
      return this.#refuse('connections-per-peer', id, tracked.source === undefined ? {} : { ip: tracked.source.key })
    }
    connections.add(maConn)
    this.#perPeer.set(id, connections)
    tracked.peer = id
    return false
  }

  #denyReservation(peer: PeerId): boolean {
    const reservations = this.#relay?.reservations
    // A refresh of a reservation the peer holds is never refused.
    if (reservations === undefined || reservations.has(peer)) return false
    const source = this.#sourceOfPeer(peer)
    const offender = source?.key ?? peer.toString()
    if (reservations.size >= this.#limits.maxReservations) return this.#refuse('reservations-total', offender)
    if (source !== undefined && !this.#manyClients.has(source.ip)) {
      let fromIp = 0
      for (const reservation of reservations.values()) {
        if (sourceOf(reservation.addr)?.key === source.key) fromIp += 1
      }
      if (fromIp >= this.#limits.maxReservationsPerIp) return this.#refuse('reservations-per-ip', offender)
    }
    return false
  }

  /** Where a peer's connection comes from (its first tracked inbound one, else any). */
  #sourceOfPeer(peer: PeerId): Source | undefined {
    for (const maConn of this.#perPeer.get(peer.toString()) ?? []) {
      const source = this.#inbound.get(maConn)?.source
      if (source !== undefined) return source
    }
    for (const connection of this.#libp2p?.getConnections(peer) ?? []) {
      const source = sourceOf(connection.remoteAddr)
      if (source !== undefined) return source
    }
    return undefined
  }

  #refuse(reason: RefusalReason, offender: string, fields: Record<string, unknown> = {}): true {
    this.#refusals.refuse(reason, offender, fields)
    return true
  }

  #forget(maConn: MultiaddrConnection): void {
    const tracked = this.#inbound.get(maConn)
    if (tracked === undefined) return
    this.#inbound.delete(maConn)
    this.#pending.delete(maConn)
    if (tracked.source !== undefined) {
      const { key } = tracked.source
      const left = (this.#perIp.get(key) ?? 1) - 1
      if (left > 0) this.#perIp.set(key, left)
      else this.#perIp.delete(key)
    }
    if (tracked.peer !== undefined) {
      const connections = this.#perPeer.get(tracked.peer)
      connections?.delete(maConn)
      if (connections?.size === 0) this.#perPeer.delete(tracked.peer)
    }
  }

  /** A reservation is of no use without a connection to its holder: release it with the last one. */
  readonly #onPeerDisconnect = (event: CustomEvent<PeerId>): void => {
    const reservations = this.#relay?.reservations
    const reservation = reservations?.get(event.detail)
    if (reservations === undefined || reservation === undefined)
      return // Its expiry timer would otherwise fire later and delete a newer reservation of the same peer.
    ;(reservation.signal as AbortSignal & { clear?: () => void }).clear?.()
    reservations.delete(event.detail)
  }
}

/** The canonical IP a multiaddr starts with (`/ip4/…`, `/ip6/…`) and its key; undefined for any other address. */
function sourceOf(address: Multiaddr): Source | undefined {
  const first = address.getComponents()[0]
  if (first === undefined || (first.name !== 'ip4' && first.name !== 'ip6') || first.value === undefined) {
    return undefined
  }
  const ip = canonicalIp(first.value)
  return { ip, key: clientAddressKey(ip) }
}
