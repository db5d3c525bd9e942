/** A node as the file tests run one: a real libp2p node on loopback with the files' Helia over a memory blockstore. */
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PeerId } from '@libp2p/interface'
import { createSecureChatLibp2p, type SecureChatLibp2p } from '@securechat/sdk/client'
import { createFilesHelia } from '@securechat/sdk/files'
import { MemoryBlockstore } from 'blockstore-core'
import type { Helia } from 'helia'
import type { CID } from 'multiformats/cid'
import { afterAll } from 'vitest'

export interface FilesPeer {
  libp2p: SecureChatLibp2p
  helia: Helia
  blockstore: MemoryBlockstore
  /** Stops Helia, then libp2p; once, however often it is called. */
  stop(): Promise<void>
}

export async function startFilesPeer(): Promise<FilesPeer> {
  const libp2p = await createSecureChatLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
  })
  const blockstore = new MemoryBlockstore()
  const helia = await createFilesHelia({ libp2p, blockstore })
  let stopped: Promise<void> | undefined
  return {
    libp2p,
    helia,
    blockstore,
    stop() {
      stopped ??= helia.stop().then(() => libp2p.stop())
      return stopped
    },
  }
}

/** Call at a test file's top level: the function it returns starts a peer, and every one started stops after the file. */
export function filesPeersStoppedAfterAll(): () => Promise<FilesPeer> {
  const peers: FilesPeer[] = []
  afterAll(async () => {
    await Promise.allSettled(peers.map((peer) => peer.stop()))
  })
  return async () => {
    const peer = await startFilesPeer()
    peers.push(peer)
    return peer
  }
}

/** What the file tests read of @helia/bitswap 4's internals: ledgers of peers' wants, whom ours go to, arrivals. */
export interface BitswapInternals {
  /** A ledger per peer that sent us wants (or any bitswap message). */
  peerWantLists: { wantListForPeer(peer: PeerId): unknown[] | undefined; ledgerForPeer(peer: PeerId): unknown }
  wantList: {
    /** The connected peers that speak files' bitswap: whom wants go to. */
    peers: { size: number }
    /** Every block as it arrives, copies included. */
    addEventListener(type: 'block', listener: (event: CustomEvent<{ cid: CID; block: Uint8Array }>) => void): void
  }
}

export function bitswapOf(peer: Pick<FilesPeer, 'helia'>): BitswapInternals {
  const brokers = (peer.helia as unknown as { blockBrokers: Array<{ name: string; bitswap: unknown }> }).blockBrokers
  return brokers.find((b) => b.name === 'bitswap')!.bitswap as BitswapInternals
}
