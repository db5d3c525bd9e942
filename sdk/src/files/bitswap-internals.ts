/**
 * What files read of @helia/bitswap 4's internals (4.0.19), in one place: its want list and network, reached through
 * Helia's block broker. `bitswapInternalsOf` checks their shape and gives undefined when they are not what this
 * expects (another version), so that every use falls back to bitswap as it is.
 */
import type { PeerId } from '@libp2p/interface'
import type { Helia } from 'helia'
import { base64 } from 'multiformats/bases/base64'
import type { CID } from 'multiformats/cid'

/** An answer of one peer to a want sent to it alone: the block, or that it has none (`has: false`). */
export interface PeerAnswer {
  has: boolean
  block?: Uint8Array
}

export interface BitswapWantList {
  /** Our wants sent to every peer, keyed by the multihash in base64; `cancel` once the block came. */
  wants: Map<string, { cancel: boolean }>
  /** Per connected bitswap peer, the keys of the wants sent to it (a `PeerMap`). */
  peers: Iterable<[PeerId, { has(key: string): boolean }]>
  /** Every block that arrives, from whom, checked against the CID computed from its bytes. */
  addEventListener(type: 'block', listener: (event: CustomEvent<{ cid: CID; sender: PeerId }>) => void): void
  /** Sends `WANT_BLOCK` (asking for `DONT_HAVE`) to `peer` alone; resolves on its answer, rejects on `signal`. */
  wantSessionBlock(cid: CID, peer: PeerId, options: { signal?: AbortSignal }): Promise<PeerAnswer>
}

export interface BitswapNetwork {
  sendMessage(peer: PeerId, message: unknown): Promise<void>
}

export interface BitswapInternals {
  /** Helia's block broker for bitswap: `retrieve` is what a block missing from the blockstore is fetched by. */
  broker: { retrieve(cid: CID, options: RetrieveOptions): Promise<Uint8Array> }
  wantList: BitswapWantList
  network: BitswapNetwork
}

/** What Helia hands a block broker's `retrieve` (`providers`, peers to ask first, as `peerId.toCID()`). */
export interface RetrieveOptions {
  signal?: AbortSignal
  providers?: unknown[]
  [option: string]: unknown
}

/** @helia/bitswap's internals under `helia`, or undefined when they are not the shape this module knows. */
export function bitswapInternalsOf(helia: Helia): BitswapInternals | undefined {
  const brokers = (helia as unknown as { blockBrokers?: Array<{ name?: string; bitswap?: unknown }> }).blockBrokers
  const broker = brokers?.find((b) => b.name === 'bitswap') as
    | (BitswapInternals['broker'] & { bitswap?: { wantList?: BitswapWantList; network?: BitswapNetwork } })
    | undefined
  const wantList = broker?.bitswap?.wantList
  const network = broker?.bitswap?.network
  if (
    broker === undefined ||
    typeof broker.retrieve !== 'function' ||
    !(wantList?.wants instanceof Map) ||
    typeof wantList.peers?.[Symbol.iterator] !== 'function' ||
    typeof wantList.addEventListener !== 'function' ||
    typeof wantList.wantSessionBlock !== 'function' ||
    typeof network?.sendMessage !== 'function'
  ) {
    return undefined
  }
  return { broker, wantList, network }
}

/**
 * Tells `peer` we no longer want `cid`: it drops the want from its ledger, where it would otherwise stay (no expiry)
 * and send us the block the moment it got one. The shape (and keys) of @helia/bitswap's `QueuedBitswapMessage`: its
 * send queue merges it into a message already waiting for that peer, where it replaces a want of the same block.
 */
export function sendCancel(network: BitswapNetwork, peer: PeerId, cid: CID): void {
  const cancel = { cid: cid.bytes, priority: 1, cancel: true, sendDontHave: false }
  const message = {
    full: false,
    pendingBytes: 0,
    wantlist: new Map([[base64.encode(cid.multihash.bytes), cancel]]),
    blocks: new Map(),
    blockPresences: new Map(),
  }
  network.sendMessage(peer, message).catch(() => {})
}
