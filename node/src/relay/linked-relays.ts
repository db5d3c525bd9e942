import type { IdentifyResult, Libp2p, PeerId } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import type { RelayHint } from '@securechat/sdk/client'
import { MAX_RELAY_HINTS } from '@securechat/sdk/constants'

export interface LinkedRelaysInit {
  libp2p: Libp2p
  /** The relays named with `--peer`. */
  peers: readonly string[]
}

/**
 * The relays this relay links to, as it tells its clients (`/securechat/relays/1.0.0`): the ones its operator named
 * with `--peer` — those connected first, each with its `--peer` address and the addresses it identified with. Only
 * those: a peer that merely connects and says it is a relay is not passed on to every client (anyone could).
 */
export class LinkedRelays {
  readonly #libp2p: Libp2p
  /** `--peer` addresses by the PeerId they name, or by the address itself until a connection tells its PeerId. */
  readonly #peers = new Map<string, string>()
  /** Addresses each `--peer` relay identified with, by PeerId, while it is connected. */
  readonly #identified = new Map<string, string[]>()

  constructor(init: LinkedRelaysInit) {
    this.#libp2p = init.libp2p
    for (const address of init.peers) this.#peers.set(peerOf(address) ?? bare(address), address)
  }

  /**
   * The relays named with `--peer` from now on (SIGHUP): kept ones keep what they identified with, new ones are told
   * once they are; returns the PeerIds of the removed ones known by PeerId, whose connections the relay closes.
   */
  setPeers(peers: readonly string[]): string[] {
    const wanted = new Set(peers)
    const removed: string[] = []
    for (const [key, address] of this.#peers) {
      if (wanted.has(address)) continue
      this.#peers.delete(key)
      this.#identified.delete(key)
      // Keys are PeerIds, or a bare address (starting with `/`) not yet identified.
      if (!key.startsWith('/')) removed.push(key)
    }
    const kept = new Set(this.#peers.values())
    for (const address of peers) if (!kept.has(address)) this.#peers.set(peerOf(address) ?? bare(address), address)
    return removed
  }

  start(): void {
    this.#libp2p.addEventListener('peer:identify', this.#onIdentify)
    this.#libp2p.addEventListener('peer:disconnect', this.#onDisconnect)
  }

  stop(): void {
    this.#libp2p.removeEventListener('peer:identify', this.#onIdentify)
    this.#libp2p.removeEventListener('peer:disconnect', this.#onDisconnect)
    this.#identified.clear()
  }

  /** Whether `peer` (a PeerId) is a relay named with `--peer`. */
  names(peer: string): boolean {
    return this.#peers.has(peer)
  }

  list(): RelayHint[] {
    const connected: RelayHint[] = []
    const others: RelayHint[] = []
    for (const [key, address] of this.#peers) {
      const identified = this.#identified.get(key)
      if (identified !== undefined) connected.push({ peer: key, addrs: [...new Set([address, ...identified])] })
      else if (peerOf(address) !== undefined) others.push({ peer: key, addrs: [address] })
    }
    return [...connected, ...others].slice(0, MAX_RELAY_HINTS)
  }

  readonly #onIdentify = (event: CustomEvent<IdentifyResult>): void => {
    const { peerId, listenAddrs, connection } = event.detail
    const id = peerId.toString()
    // A `--peer` address without `/p2p/`: the connection dialled to it tells whose it is.
    const dialled = bare(connection.remoteAddr.toString())
    const address = this.#peers.get(dialled)
    if (address !== undefined) {
      this.#peers.delete(dialled)
      this.#peers.set(id, address)
    }
    if (!this.#peers.has(id)) return
    this.#identified.set(
      id,
      listenAddrs.map((ma) => ma.toString()),
    )
  }

  readonly #onDisconnect = (event: CustomEvent<PeerId>): void => {
    this.#identified.delete(event.detail.toString())
  }
}

/** The PeerId an address names, if any. */
export function peerOf(address: string): string | undefined {
  try {
    return multiaddr(address)
      .getComponents()
      .findLast((c) => c.name === 'p2p')?.value
  } catch {
    return undefined
  }
}

/** The address without a trailing `/p2p/<PeerId>`. */
function bare(address: string): string {
  return address.replace(/\/p2p\/[^/]+$/, '')
}
