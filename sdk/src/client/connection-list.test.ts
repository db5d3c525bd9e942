import { generateKeyPair } from '@libp2p/crypto/keys'
import { afterEach, describe, expect, it } from 'vitest'
import { createSecureChatLibp2p, type SecureChatLibp2p } from './libp2p.ts'

const stops: Array<() => unknown> = []

afterEach(async () => {
  await Promise.all(stops.splice(0).map(async (stop) => stop()))
})

async function node(): Promise<SecureChatLibp2p> {
  const libp2p = await createSecureChatLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
  })
  stops.push(() => libp2p.stop())
  return libp2p
}

describe('listConnectionsInOnePass', () => {
  it('behavior: every node lists all its connections, each once, and a peer’s own as before', async () => {
    const [hub, a, b, c] = await Promise.all([node(), node(), node(), node()])
    for (const peer of [a, b, c]) await peer.dial(hub.getMultiaddrs()[0]!)
    // A second connection from one peer (a device back on a new connection before the old one closed).
    await a.dial(hub.getMultiaddrs()[0]!, { force: true })
    await expect.poll(() => hub.getConnections().length).toBe(4)
    const listed = hub.getConnections()
    expect(new Set(listed.map((connection) => connection.id)).size).toBe(4)
    expect(listed.map((connection) => connection.remotePeer.toString()).sort()).toEqual(
      [a, a, b, c].map((peer) => peer.peerId.toString()).sort(),
    )
    expect(hub.getConnections(a.peerId)).toHaveLength(2)
    expect(hub.getConnections(b.peerId)).toHaveLength(1)
    // The node's own listing, not libp2p's (whose cost grows with the square of the connections: connection-list.ts).
    const manager = (hub as unknown as { components: { connectionManager: object } }).components.connectionManager
    expect(Object.hasOwn(manager, 'getConnections')).toBe(true)
    await b.stop()
    await expect.poll(() => hub.getConnections().length).toBe(3)
  })
})
