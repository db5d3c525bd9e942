/**
 * A throw-away libp2p peer for limit tests: a fresh PeerId, TCP bound to a chosen loopback source address
 * (`127.0.0.N`: many client addresses on one machine), Noise and Yamux, nothing else — and a circuit relay v2
 * RESERVE written by hand, so that a test reads the relay's answer instead of waiting for a reservation that never
 * comes.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayTransport, RELAY_V2_HOP_CODEC } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import type { Libp2p } from '@libp2p/interface'
import { type TCPSocketOptions, tcp } from '@libp2p/tcp'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'

/** A peer whose TCP connections leave from `sourceIp`. */
export async function throwAwayPeer(sourceIp: string): Promise<Libp2p> {
  // `localAddress` is passed on to `net.connect`, though the transport's type names only some of its options.
  const dialOpts = { localAddress: sourceIp } as TCPSocketOptions
  return createLibp2p({
    transports: [tcp({ dialOpts })],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
  })
}

/** Whether `peer` could connect to `address` (a refusal closes the connection during the handshake). */
export async function tryConnect(peer: Libp2p, address: string, options: { force?: boolean } = {}): Promise<boolean> {
  try {
    await peer.dial(multiaddr(address), { signal: AbortSignal.timeout(10_000), force: options.force ?? false })
    return true
  } catch {
    return false
  }
}

/** The circuit relay v2 status codes a RESERVE can be answered with (circuit-relay v2 spec, `Status`). */
export const HOP_STATUS = { OK: 100, RESERVATION_REFUSED: 200, PERMISSION_DENIED: 202 } as const

/**
 * Sends a HOP RESERVE to the relay `address` over `peer`'s connection and returns the status the relay answered
 * (100: reserved). The message is `HopMessage { type: RESERVE }`, field 1 varint 0; the answer's `status` is field 5.
 */
export async function reserve(peer: Libp2p, address: string): Promise<number> {
  const stream = await peer.dialProtocol(multiaddr(address), RELAY_V2_HOP_CODEC, {
    signal: AbortSignal.timeout(10_000),
  })
  const lp = lpStream(stream)
  await lp.write(Uint8Array.of(0x08, 0x00), { signal: AbortSignal.timeout(10_000) })
  const reply = (await lp.read({ signal: AbortSignal.timeout(10_000) })).subarray()
  await stream.close().catch(() => undefined)
  return hopStatus(reply)
}

/** The `status` (field 5, varint) of an encoded HopMessage; skips the other fields by wire type. */
function hopStatus(bytes: Uint8Array): number {
  let at = 0
  const varint = (): number => {
    let value = 0
    for (let shift = 0; ; shift += 7) {
      const byte = bytes[at++]
      if (byte === undefined) throw new Error('truncated HopMessage')
      value += (byte & 0x7f) * 2 ** shift
      if ((byte & 0x80) === 0) return value
    }
  }
  while (at < bytes.length) {
    const tag = varint()
    const [field, wire] = [Math.floor(tag / 8), tag & 7]
    if (wire === 0) {
      const value = varint()
      if (field === 5) return value
    } else if (wire === 2) {
      const length = varint()
      at += length
    } else {
      throw new Error(`unexpected wire type ${wire} in HopMessage`)
    }
  }
  throw new Error('HopMessage without a status')
}

/**
 * An honest peer behind NAT as libp2p builds one: the circuit relay transport listening on `/p2p-circuit`, so it
 * reserves a slot on the relay it connects to by itself. Resolves once its circuit address exists (the slot is
 * reserved), with TCP leaving from `sourceIp`.
 */
export async function reservingPeer(sourceIp: string, relayAddress: string): Promise<Libp2p> {
  const dialOpts = { localAddress: sourceIp } as TCPSocketOptions
  const peer = await createLibp2p({
    addresses: { listen: ['/p2p-circuit'] },
    transports: [tcp({ dialOpts }), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() },
  })
  const reserved = new Promise<void>((resolve) => {
    const check = (): void => {
      if (!peer.getMultiaddrs().some((address) => address.toString().includes('/p2p-circuit'))) return
      peer.removeEventListener('self:peer:update', check)
      resolve()
    }
    peer.addEventListener('self:peer:update', check)
  })
  try {
    await peer.dial(multiaddr(relayAddress), { signal: AbortSignal.timeout(10_000) })
    await raceTimeout(reserved, 20_000, 'no circuit reservation within 20 s')
  } catch (err) {
    await peer.stop()
    throw err
  }
  return peer
}

function raceTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}
