/**
 * Relay hints (`/securechat/relays/1.0.0`): a relay tells whoever asks which relays it links to, so a client told
 * of one relay learns the others and has somewhere to go when its relay dies.
 *
 *   the asker opens a stream; the relay writes one length-prefixed JSON frame and closes it:
 *   { v: 1, relays: [{ peer: <PeerId>, addrs: [<multiaddr>, …] }, …] }
 *
 * Bounded on both sides ({@link MAX_RELAY_HINTS} relays of {@link MAX_RELAY_HINT_ADDRESSES} addresses of at most
 * {@link MAX_RELAY_HINT_ADDRESS_CHARS} characters, {@link MAX_RELAY_HINTS_BYTES} a frame) and parsed with zod. A hint
 * is trusted with nothing but a dial: every address kept ends in `/p2p/<peer>`, so the connection's Noise handshake
 * proves the relay is the one named, and whatever it then says is checked like any peer's.
 *
 * Why not a libp2p mechanism: identify describes only the peer that answers it (its own addresses and protocols);
 * gossipsub's peer exchange names mesh peers of one topic, and only when it prunes; pubsub peer discovery adds a
 * topic every peer announces itself on, on a timer, which relays would have to carry for everyone; a DHT is a
 * large machinery for a list of a few relays, and rendezvous has no maintained js-libp2p implementation.
 */
import type { Libp2p, PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { z } from 'zod'
import {
  MAX_RELAY_HINT_ADDRESS_CHARS,
  MAX_RELAY_HINT_ADDRESSES,
  MAX_RELAY_HINTS,
  MAX_RELAY_HINTS_BYTES,
  RELAY_HINTS_PROTOCOL,
  RELAY_HINTS_TIMEOUT_MS,
} from '../constants.ts'
import { utf8 } from '../encoding.ts'
import { peerIdTextSchema } from '../json-records.ts'
import type { Logger } from '../logger.ts'
import type { AbortOptions } from '../types.ts'

/** A relay another relay links to, and where to dial it. */
export interface RelayHint {
  /** Its PeerId. */
  peer: string
  /** Multiaddrs to dial it at. */
  addrs: string[]
}

const hintsSchema = z
  .object({
    v: z.literal(1),
    relays: z
      .array(
        z
          .object({
            peer: peerIdTextSchema,
            addrs: z.array(z.string().min(1).max(MAX_RELAY_HINT_ADDRESS_CHARS)).min(1).max(MAX_RELAY_HINT_ADDRESSES),
          })
          .strict(),
      )
      .max(MAX_RELAY_HINTS),
  })
  .strict()

/** Answers {@link RELAY_HINTS_PROTOCOL} with what `linked` lists, cut to the protocol's bounds. */
export async function serveRelayHints(
  libp2p: Libp2p,
  linked: (options: AbortOptions) => Promise<RelayHint[]>,
  log: Logger,
): Promise<void> {
  await libp2p.handle(
    RELAY_HINTS_PROTOCOL,
    async (stream) => {
      const signal = AbortSignal.timeout(RELAY_HINTS_TIMEOUT_MS)
      try {
        const relays = (await linked({ signal }))
          .map(({ peer, addrs }) => ({
            peer,
            addrs: addrs
              .filter((addr) => addr.length <= MAX_RELAY_HINT_ADDRESS_CHARS)
              .slice(0, MAX_RELAY_HINT_ADDRESSES),
          }))
          .filter(({ addrs }) => addrs.length > 0)
          .slice(0, MAX_RELAY_HINTS)
        const lp = lpStream(stream, { maxDataLength: MAX_RELAY_HINTS_BYTES })
        await lp.write(utf8.encode(JSON.stringify({ v: 1, relays })), { signal })
        await stream.close({ signal })
      } catch (err) {
        log.debug('relay hints not sent', { error: String(err) })
        stream.abort(err instanceof Error ? err : new Error(String(err)))
      }
    },
    { runOnLimitedConnection: false },
  )
}

/**
 * Asks `relay` which relays it links to: each with its addresses that parse, name no circuit and name that relay
 * (a missing `/p2p/` is added), neither `relay` itself nor this node. Empty when it does not answer or sends
 * anything malformed or out of bounds.
 */
export async function fetchRelayHints(libp2p: Libp2p, relay: PeerId, options: AbortOptions = {}): Promise<RelayHint[]> {
  const signal = options.signal ?? AbortSignal.timeout(RELAY_HINTS_TIMEOUT_MS)
  let frame: unknown
  try {
    const stream = await libp2p.dialProtocol(relay, RELAY_HINTS_PROTOCOL, { signal })
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_RELAY_HINTS_BYTES })
      frame = JSON.parse(utf8.decode((await lp.read({ signal })).subarray()))
      await stream.close({ signal })
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)))
      return []
    }
  } catch {
    return []
  }
  const parsed = hintsSchema.safeParse(frame)
  if (!parsed.success) return []
  const skip = new Set([relay.toString(), libp2p.peerId.toString()])
  const hints: RelayHint[] = []
  for (const { peer, addrs } of parsed.data.relays) {
    if (skip.has(peer) || hints.some((hint) => hint.peer === peer) || !isPeerId(peer)) continue
    const dialable = [...new Set(addrs.map((addr) => dialableAddress(addr, peer)))].filter(
      (addr): addr is string => addr !== undefined,
    )
    if (dialable.length > 0) hints.push({ peer, addrs: dialable })
  }
  return hints
}

/** `address` ending in `/p2p/<peer>`; undefined when it is no multiaddr, goes through a circuit, or names another peer. */
function dialableAddress(address: string, peer: string): string | undefined {
  try {
    const components = multiaddr(address).getComponents()
    if (components.some((c) => c.name === 'p2p-circuit')) return undefined
    const named = components.filter((c) => c.name === 'p2p')
    if (named.length > 1 || (named.length === 1 && named[0]!.value !== peer)) return undefined
    const bare = components.filter((c) => c.name !== 'p2p')
    return bare.length === 0 ? undefined : `${multiaddr(bare).toString()}/p2p/${peer}`
  } catch {
    return undefined
  }
}

/** Whether `text` is a PeerId (multiaddr does not check the one it carries). */
function isPeerId(text: string): boolean {
  try {
    peerIdFromString(text)
    return true
  } catch {
    return false
  }
}
