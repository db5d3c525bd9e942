/**
 * Relay hints (`/securechat/relays/1.0.0`) between real libp2p nodes: what a relay says it links to is a hint —
 * bounded, parsed with zod, cut to addresses that name the relay they claim — and what a real relay says is its
 * `--peer` relays.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { createSecureChatLibp2p, fetchRelayHints, type SecureChatLibp2p } from '@securechat/sdk/client'
import { MAX_RELAY_HINTS, MAX_RELAY_HINTS_BYTES, RELAY_HINTS_PROTOCOL } from '@securechat/sdk/constants'
import { describe, expect, it } from 'vitest'
import { RelayNode } from '../node/src/relay/relay.ts'
import { startRelay, stopAfterEach } from './helpers/stoppers.ts'

const stoppers = stopAfterEach()

async function node(): Promise<SecureChatLibp2p> {
  const libp2p = await createSecureChatLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
  })
  stoppers.push(async () => libp2p.stop())
  return libp2p
}

/** A node that answers relay hints with `frame`, as a faulty or lying relay might. */
async function lyingRelay(write: Uint8Array | ((self: string) => Uint8Array)): Promise<SecureChatLibp2p> {
  const relay = await node()
  await relay.handle(RELAY_HINTS_PROTOCOL, async (stream) => {
    const frame = typeof write === 'function' ? write(relay.peerId.toString()) : write
    const lp = lpStream(stream, { maxDataLength: frame.byteLength + 16 })
    await lp.write(frame)
    await stream.close()
  })
  return relay
}

async function otherPeerId(): Promise<string> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
}

describe('relay hints', () => {
  it('behavior: only addresses that name the relay they claim are kept; circuits, other PeerIds, the asker and the relay itself are dropped', async () => {
    const client = await node()
    const [good, other, bare] = [await otherPeerId(), await otherPeerId(), await otherPeerId()]
    const relays: Array<{ peer: string; addrs: string[] }> = [
      { peer: good, addrs: [`/ip4/10.0.0.1/tcp/4001/p2p/${good}`, `/ip4/10.0.0.1/tcp/4001/p2p/${other}`] },
      { peer: other, addrs: [`/ip4/10.0.0.2/tcp/4001/p2p/${good}/p2p-circuit/p2p/${other}`, 'not a multiaddr'] },
      { peer: bare, addrs: ['/dns4/relay.example/tcp/443/wss'] },
      { peer: 'not-a-peer-id', addrs: ['/ip4/10.0.0.3/tcp/4001'] },
      { peer: client.peerId.toString(), addrs: ['/ip4/10.0.0.4/tcp/4001'] },
    ]
    // It names itself too, first.
    const relay = await lyingRelay((self) =>
      new TextEncoder().encode(
        JSON.stringify({ v: 1, relays: [{ peer: self, addrs: ['/ip4/10.0.0.5/tcp/1'] }, ...relays] }),
      ),
    )
    await client.dial(relay.getMultiaddrs()[0]!)
    expect(await fetchRelayHints(client, relay.peerId)).toEqual([
      { peer: good, addrs: [`/ip4/10.0.0.1/tcp/4001/p2p/${good}`] },
      { peer: bare, addrs: [`/dns4/relay.example/tcp/443/wss/p2p/${bare}`] },
    ])
  })

  it('error: a frame out of bounds, malformed or too large gives nothing, and the asker goes on', async () => {
    const client = await node()
    const peer = await otherPeerId()
    const tooMany = Array.from({ length: MAX_RELAY_HINTS + 1 }, (_, i) => ({
      peer,
      addrs: [`/ip4/10.0.0.1/tcp/${4000 + i}`],
    }))
    const frames = [
      JSON.stringify({ v: 1, relays: tooMany }),
      JSON.stringify({ v: 2, relays: [] }),
      JSON.stringify({ v: 1, relays: [{ peer, addrs: [] }] }),
      JSON.stringify({ v: 1, relays: [{ peer, addrs: ['/ip4/10.0.0.1/tcp/1'], extra: true }] }),
      JSON.stringify({ v: 1, relays: [{ peer, addrs: [`/ip4/10.0.0.1/tcp/1/${'x'.repeat(300)}`] }] }),
      '{"v": 1, "relays": [',
      JSON.stringify({ v: 1, relays: [], padding: 'x'.repeat(MAX_RELAY_HINTS_BYTES) }),
    ]
    for (const frame of frames) {
      const relay = await lyingRelay(new TextEncoder().encode(frame))
      await client.dial(relay.getMultiaddrs()[0]!)
      expect(await fetchRelayHints(client, relay.peerId), frame.slice(0, 80)).toEqual([])
    }
  })

  it('behavior: a relay tells of the relays its operator linked it to (--peer), not of any peer that says it is one', async () => {
    const linked = await startRelay(stoppers)
    const stranger = await startRelay(stoppers)
    const relay = new RelayNode({
      privateKey: await generateKeyPair('Ed25519'),
      listen: ['/ip4/127.0.0.1/tcp/0'],
      peers: [linked.multiaddrs[0]!],
    })
    await relay.start()
    stoppers.push(() => relay.stop())
    // Another relay that dials this one and identifies as a relay is not passed on.
    await stranger.libp2p.dial(relay.libp2p.getMultiaddrs()[0]!)
    const client = await node()
    await client.dial(relay.libp2p.getMultiaddrs()[0]!)
    const hints = await fetchRelayHints(client, relay.libp2p.peerId)
    expect(hints.map((hint) => hint.peer)).toEqual([linked.peerId])
    expect(hints[0]!.addrs).toContain(linked.multiaddrs[0])
  })
})
