import type { PeerId } from '@libp2p/interface'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import { DIRECT_DIAL_DEFER_MS, DIRECT_DIAL_MAX_BACKOFF_MS, DIRECT_DIAL_TIMEOUT_MS } from '../constants.ts'
import type { Logger } from '../logger.ts'
import type { SecureChatLibp2p } from './libp2p.ts'

/** The protocol a circuit relay server speaks; only such peers can carry the WebRTC signalling. */
const RELAY_HOP_PROTOCOL = '/libp2p/circuit/relay/0.2.0/hop'

/** The listen addresses that let a browser be reached through its relays and then directly. */
export const DIRECT_LISTEN_ADDRESSES = ['/p2p-circuit', '/webrtc']

/**
 * Upgrades relayed room neighbours to direct WebRTC connections (libp2p 3 does
 * not dial discovered peers by itself). A room's presence is the discovery: when a member
 * appears, the peer with the smaller PeerId dials `<relay>/p2p-circuit/webrtc/p2p/<member>`
 * through each relay it is connected to (the other side only if that did not happen), so two
 * browsers do not race two connections. A direct connection that closes while the member is
 * still present (a page reload) is dialled again the same way. Gossip
 * then flows over the direct connection (gossipsub runs with `runOnLimitedConnection: false`),
 * and keeps flowing when every relay goes away.
 */
export class DirectConnections {
  readonly #libp2p: SecureChatLibp2p
  readonly #log: Logger
  /** Failed dials per peer: a peer's relay reservation may lag its presence, and a Node peer has no WebRTC. */
  readonly #failures = new Map<string, number>()
  readonly #retries = new Map<string, ReturnType<typeof setTimeout>>()
  readonly #dialing = new Set<string>()
  #stopped = false

  /** Room neighbours we want a direct connection to (from `upgrade` until `forget`). */
  readonly #wanted = new Set<string>()

  constructor(libp2p: SecureChatLibp2p, log: Logger) {
    this.#libp2p = libp2p
    this.#log = log
    libp2p.addEventListener('connection:close', this.#onClose)
  }

  /** `peer` left every room we share: stop trying to reach it directly. */
  forget(peer: string): void {
    this.#wanted.delete(peer)
    clearTimeout(this.#retries.get(peer))
    this.#retries.delete(peer)
    this.#failures.delete(peer)
  }

  readonly #onClose = (event: CustomEvent<{ remotePeer: { toString(): string }; limits?: unknown }>): void => {
    const peer = event.detail.remotePeer.toString()
    if (event.detail.limits !== undefined || !this.#wanted.has(peer)) return
    // A page reload or a network change closed it while the member is still in the room.
    this.#schedule(peer, 1_000, { deferred: false })
  }

  /** True when `peer` is connected over a direct (not relayed) connection. */
  isDirect(peer: string): boolean {
    return this.#libp2p.getConnections().some((c) => c.remotePeer.toString() === peer && c.limits === undefined)
  }

  /**
   * Dials `peer` directly over WebRTC through a relay, unless connected already. The smaller
   * PeerId dials at once; the other side dials only if no connection came after
   * {@link DIRECT_DIAL_DEFER_MS} (the smaller side may not have seen it arrive: a reloaded page
   * keeps its PeerId, so its presence is no news to the others).
   */
  async upgrade(peer: string, options: { deferred?: boolean } = {}): Promise<void> {
    const self = this.#libp2p.peerId.toString()
    if (this.#stopped || peer === self) return
    this.#wanted.add(peer)
    if (this.isDirect(peer) || this.#dialing.has(peer)) return
    if (self > peer && options.deferred !== true) {
      this.#schedule(peer, DIRECT_DIAL_DEFER_MS, { deferred: true })
      return
    }
    this.#dialing.add(peer)
    try {
      const addresses = await this.#relayPaths(peer)
      // No relay connected right now (one restarting): try again as after a failed dial.
      if (addresses.length === 0) {
        this.#retryLater(peer)
        return
      }
      for (const address of addresses) {
        try {
          await this.#libp2p.dial(address, { signal: AbortSignal.timeout(DIRECT_DIAL_TIMEOUT_MS) })
          this.#log.info('direct connection', { peer })
          this.#failures.delete(peer)
          return
        } catch (err) {
          this.#log.debug('direct dial failed', { peer, address: address.toString(), error: String(err) })
        }
      }
      this.#retryLater(peer)
    } finally {
      this.#dialing.delete(peer)
    }
  }

  /** Cancels pending retries; the connections themselves belong to libp2p. Idempotent. */
  stop(): void {
    this.#stopped = true
    this.#libp2p.removeEventListener('connection:close', this.#onClose)
    for (const timer of this.#retries.values()) clearTimeout(timer)
    this.#retries.clear()
  }

  /** Backs off 1 s, 2 s, 4 s … up to {@link DIRECT_DIAL_MAX_BACKOFF_MS}, then gives up until the member rejoins. */
  #retryLater(peer: string): void {
    const failures = (this.#failures.get(peer) ?? 0) + 1
    this.#failures.set(peer, failures)
    const delay = 1_000 * 2 ** (failures - 1)
    if (this.#stopped || delay > DIRECT_DIAL_MAX_BACKOFF_MS) {
      this.#failures.delete(peer)
      return
    }
    this.#schedule(peer, delay, { deferred: true })
  }

  #schedule(peer: string, delayMs: number, options: { deferred: boolean }): void {
    clearTimeout(this.#retries.get(peer))
    this.#retries.set(
      peer,
      setTimeout(() => {
        this.#retries.delete(peer)
        void this.upgrade(peer, options)
      }, delayMs),
    )
  }

  /**
   * `<relay>/p2p-circuit/webrtc/p2p/<peer>` for every relay we hold a direct connection to; a
   * relay is a peer that identified itself with the relay protocol, not any direct neighbour
   * (another browser we already reach over WebRTC cannot relay).
   */
  async #relayPaths(peer: string): Promise<Multiaddr[]> {
    const relays = new Map<string, Multiaddr>()
    for (const connection of this.#libp2p.getConnections()) {
      if (connection.limits !== undefined) continue
      const relayId: PeerId = connection.remotePeer
      if (relayId.toString() === peer || relays.has(relayId.toString())) continue
      const known = await this.#libp2p.peerStore.get(relayId).catch(() => undefined)
      if (known?.protocols.includes(RELAY_HOP_PROTOCOL) !== true) continue
      const address = connection.remoteAddr
      const base = address.getComponents().some((c) => c.name === 'p2p')
        ? address
        : address.encapsulate(`/p2p/${relayId}`)
      relays.set(relayId.toString(), base)
    }
    return [...relays.values()].map((base) => multiaddr(`${base.toString()}/p2p-circuit/webrtc/p2p/${peer}`))
  }
}
