/** A node as the file tests run one: a real libp2p node on loopback with the files' Helia over a memory blockstore. */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createSecureChatLibp2p, type SecureChatLibp2p } from '@securechat/sdk/client'
import { createFilesHelia } from '@securechat/sdk/files'
import { MemoryBlockstore } from 'blockstore-core'
import type { Helia } from 'helia'

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
