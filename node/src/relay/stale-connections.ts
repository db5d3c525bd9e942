/**
 * A device that comes back on a new connection while the relay still holds its old one: its network changed (a phone
 * from Wi-Fi to mobile data, a laptop to another network), and the old connection, from an address the device no
 * longer has, is dead — nothing comes back on it, nothing says it closed; the relay's ping would find out within
 * `PING_INTERVAL_MS` and `PING_TIMEOUT_MS` (up to 50 s). Meanwhile gossipsub keeps writing to the device on the old
 * connection's stream (it opens one outbound stream per peer, and none on a new connection while one exists), so the
 * device hears nothing of its rooms and DMs, its relay never learns it subscribed — a call's offers and answers go
 * nowhere (`test/web-call-netchange.test.ts`). Even once the ping cut the old connection, gossipsub opened no stream
 * on the new one: the device stayed deaf for good.
 *
 * So when a peer opens a connection while older ones to it are open, each older one is pinged on itself
 * (`pingConnection`) within `STALE_CONNECTION_PING_TIMEOUT_MS`; one that does not answer is closed, and gossipsub is told of the
 * new connection again (its topology callback, as libp2p calls it for each new connection), which now opens its
 * stream there and sends the relay's subscriptions. Two live connections (two relays that dialled each other at once)
 * both answer and are left alone.
 */
import type { Connection } from '@libp2p/interface'
import { pingConnection, type SecureChatLibp2p } from '@securechat/sdk/client'
import { STALE_CONNECTION_PING_TIMEOUT_MS } from '@securechat/sdk/constants'
import type { Logger } from '@securechat/sdk/logger'

/** gossipsub's callback for a new connection of a peer (`@libp2p/gossipsub`'s topology `onConnect`). */
interface PeerConnected {
  onPeerConnected?(peerId: Connection['remotePeer'], connection: Connection): void
}

export class StaleConnections {
  readonly #libp2p: SecureChatLibp2p
  readonly #log: Logger
  readonly #timeoutMs: number
  /** Peers whose older connections are being checked now. */
  readonly #checking = new Set<string>()
  #running = false

  constructor(init: { libp2p: SecureChatLibp2p; log: Logger; timeoutMs?: number }) {
    this.#libp2p = init.libp2p
    this.#log = init.log
    this.#timeoutMs = init.timeoutMs ?? STALE_CONNECTION_PING_TIMEOUT_MS
  }

  start(): void {
    if (this.#running) return
    this.#running = true
    this.#libp2p.addEventListener('connection:open', this.#onOpen)
  }

  stop(): void {
    this.#running = false
    this.#libp2p.removeEventListener('connection:open', this.#onOpen)
  }

  readonly #onOpen = (event: CustomEvent<Connection>): void => {
    const peer = event.detail.remotePeer.toString()
    if (this.#checking.has(peer)) return
    const older = this.#older(event.detail)
    if (older.length === 0) return
    this.#checking.add(peer)
    void this.#check(older).finally(() => this.#checking.delete(peer))
  }

  /** The open connections to `connection`'s peer opened before it. */
  #older(connection: Connection): Connection[] {
    return this.#libp2p
      .getConnections(connection.remotePeer)
      .filter((c) => c !== connection && c.status === 'open' && c.timeline.open <= connection.timeline.open)
  }

  async #check(older: Connection[]): Promise<void> {
    const dead = (
      await Promise.all(older.map(async (c) => ((await pingConnection(c, this.#timeoutMs)) ? undefined : c)))
    ).filter((c): c is Connection => c !== undefined && c.status === 'open')
    if (dead.length === 0 || !this.#running) return
    const peerId = dead[0]!.remotePeer
    for (const connection of dead) {
      this.#log.info('an older connection of a peer that connected again did not answer: closed', {
        event: 'connection:stale',
        peerId: peerId.toString(),
        remoteAddr: connection.remoteAddr.toString(),
      })
      connection.abort(new Error('the peer connected again and this connection did not answer a ping'))
    }
    // Its gossip stream closes with the dead connection (a turn later); gossipsub then opens one on a live one.
    await new Promise((resolve) => setTimeout(resolve, 0))
    const live = this.#libp2p.getConnections(peerId).filter((c) => c.status === 'open')
    const newest = live.sort((a, b) => b.timeline.open - a.timeline.open)[0]
    if (newest === undefined || !this.#running) return
    ;(this.#libp2p.services.pubsub as unknown as PeerConnected).onPeerConnected?.(peerId, newest)
  }
}
