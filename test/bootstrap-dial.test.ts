/**
 * A start reaches a relay that is there but slow to answer: a relay busy with many handshakes at once (fifty devices
 * behind one NAT reconnecting) lets the first dial time out, and the start tries again rather than fail. A relay
 * that is not there at all still fails the start at once. Real relay, real client; the slowness is a TCP proxy in
 * front of the relay that takes the first connection and never answers it.
 */
import { once } from 'node:events'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createClient } from '@securechat/sdk/client'
import { walletSigner } from '@securechat/sdk/identity'
import { Wallet } from 'ethers'
import { afterEach, describe, expect, it } from 'vitest'
import { DEFAULT_CLI_DOMAIN, DEVNET_CHAIN_ID } from '../node/src/constants.ts'
import { RelayNode } from '../node/src/relay/relay.ts'

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** A proxy to `port` that holds its first `silent` connections open without a byte either way. */
async function slowProxy(port: number, silent: number): Promise<{ port: number; held: () => number }> {
  const sockets: Socket[] = []
  let held = 0
  const server: Server = createServer((socket) => {
    sockets.push(socket)
    if (held < silent) {
      held++
      return
    }
    const upstream = connect(port, '127.0.0.1')
    sockets.push(upstream)
    socket.pipe(upstream).pipe(socket)
    const close = (): void => {
      socket.destroy()
      upstream.destroy()
    }
    socket.on('error', close).on('close', close)
    upstream.on('error', close).on('close', close)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  cleanups.push(async () => {
    for (const socket of sockets) socket.destroy()
    server.close()
  })
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('the proxy has no TCP port')
  return { port: address.port, held: () => held }
}

function client(bootstrap: string) {
  const started = createClient({
    signer: walletSigner({ type: 'eoa', signer: new Wallet(Wallet.createRandom().privateKey) }),
    domain: DEFAULT_CLI_DOMAIN,
    chainId: DEVNET_CHAIN_ID,
    bootstrap: [bootstrap],
  })
  cleanups.push(() => started.stop())
  return started
}

describe("a start's first relay", () => {
  it('behavior: a relay whose first connection times out is dialled again, and the start succeeds', async () => {
    const relay = new RelayNode({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'] })
    await relay.start()
    cleanups.push(() => relay.stop())
    const relayPort = Number(relay.multiaddrs[0]!.match(/\/tcp\/(\d+)\//)![1])
    const proxy = await slowProxy(relayPort, 1)
    const device = client(`/ip4/127.0.0.1/tcp/${proxy.port}/p2p/${relay.peerId}`)
    await device.start()
    expect(proxy.held()).toBe(1)
    expect(device.libp2p.getConnections().map((c) => c.remotePeer.toString())).toContain(relay.peerId)
  }, 60_000)

  it('error: a relay address where nothing listens fails the start in its first round', async () => {
    const privateKey = await generateKeyPair('Ed25519')
    const probe = new RelayNode({ privateKey, listen: ['/ip4/127.0.0.1/tcp/0'] })
    await probe.start()
    const address = probe.multiaddrs[0]!
    await probe.stop()
    await expect(client(address).start()).rejects.toMatchObject({
      name: 'UnreachableError',
      details: { rounds: 1 },
    })
  })
})
