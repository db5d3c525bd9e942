/**
 * Key bundles on demand. Room presence carries no bundle (about 3.5 KB, repeated every heartbeat):
 * the session certificate commits to its hash, and whoever needs it fetches it once over
 * {@link CERTIFICATE_PROTOCOL} (`certificate-exchange.ts`), from the neighbour that forwarded the
 * member's presence. Relays and peers answer the same way: their own bundle, one they hold
 * (verified), or one they fetch at that moment from the member itself when connected to it, or
 * else from the neighbour that forwarded the member's presence to them (never the asker; each
 * hop has half the time left, so a chain of them ends quickly).
 * Every bundle is verified before it is kept or used (PeerId signature, hash in the certificate).
 */
import type { Libp2p, PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { setNewest } from '../bounded-map.ts'
import { MAX_BUNDLE_SOURCES, MAX_CACHED_CERTIFICATES } from '../constants.ts'
import { decodeKeyBundle, verifyKeyBundle } from '../crypto/key-bundle.ts'
import { hexToBytes } from '../crypto/primitives.ts'
import { base64urlDecode } from '../encoding.ts'
import type { Logger } from '../logger.ts'
import type { AbortOptions, VerifiedCertificate } from '../types.ts'
import { fetchBundle } from './certificate-exchange.ts'

export interface KeyBundleCacheInit {
  libp2p: Libp2p
  /** The valid certificate of a PeerId, if known: a bundle must match its `bundleHash`. */
  certificate: (peerId: string) => VerifiedCertificate | undefined
  /** This node's own bundle (base64url), read when asked (it changes when prekeys rotate). */
  own?: { peerId: string; bundle: () => string }
  log: Logger
  /** Default {@link MAX_CACHED_CERTIFICATES}. */
  maxEntries?: number
  /** Told of every bundle this cache keeps once verified (a relay's store keeps them for members away). */
  onVerified?: (peerId: string, text: string) => void
}

/** Verified key bundles by PeerId, bounded (oldest first out), fetched once per member. */
export class KeyBundleCache {
  readonly #init: KeyBundleCacheInit
  readonly #max: number
  readonly #bundles = new Map<string, string>()
  readonly #inflight = new Map<string, Promise<string | undefined>>()
  /**
   * The neighbours that last forwarded each member's presence, newest first. More than one: relays linked in a ring
   * get a member's presence by either way round, and the neighbour that forwarded it last may be the one asking.
   */
  readonly #sources = new Map<string, PeerId[]>()

  constructor(init: KeyBundleCacheInit) {
    this.#init = init
    this.#max = init.maxEntries ?? MAX_CACHED_CERTIFICATES
  }

  /** Keeps `text` as the bundle of `peerId` when it verifies against `certificate`; returns whether it did. */
  async add(peerId: string, text: string, certificate: VerifiedCertificate): Promise<boolean> {
    if (this.#bundles.get(peerId) === text) return true
    if (!(await verifies(peerId, text, certificate))) return false
    setNewest(this.#bundles, peerId, text, this.#max)
    this.#init.onVerified?.(peerId, text)
    return true
  }

  /** The verified bundle of `peerId` this cache holds, if any; fetches nothing. */
  held(peerId: string): string | undefined {
    return this.#bundles.get(peerId)
  }

  /** Remembers that `source` forwarded the presence of `peerId`: it can be asked for the bundle. */
  noteSource(peerId: string, source: PeerId): void {
    if (source.toString() === peerId) return
    const others = (this.#sources.get(peerId) ?? []).filter((known) => !known.equals(source))
    setNewest(this.#sources, peerId, [source, ...others].slice(0, MAX_BUNDLE_SOURCES), this.#max)
  }

  /**
   * Starts fetching the bundle of a member this node is connected to, if it holds none: a relay
   * does so on a client's first presence, so that members asking for it do not wait for a
   * second hop. Nothing happens for a member without a bundle hash or without a connection.
   */
  prefetch(peerId: string): void {
    if (this.#bundles.has(peerId) || this.#inflight.has(peerId)) return
    if (this.#init.certificate(peerId)?.bundleHash === undefined) return
    void this.#resolve(peerId, this.#connected(peerId), {})
  }

  /**
   * The verified bundle of `about`: held, or fetched from `ask`. One fetch per PeerId at a time;
   * undefined when none verifies.
   */
  resolve(about: string, ask: PeerId, options: AbortOptions = {}): Promise<string | undefined> {
    this.noteSource(about, ask)
    return this.#resolve(about, ask, options)
  }

  /**
   * What this node answers when `asker` asks for the bundle of `peerId`: held, or fetched now
   * from `peerId` itself when connected to it, else from the neighbour that forwarded its
   * presence last, other than the asker (see the module doc).
   */
  readonly lookup = (peerId: string, asker: PeerId, options: AbortOptions = {}): Promise<string | undefined> => {
    const forwarder = this.#sources.get(peerId)?.find((source) => !source.equals(asker))
    return this.#resolve(peerId, this.#connected(peerId) ?? forwarder, options)
  }

  #resolve(about: string, source: PeerId | undefined, options: AbortOptions): Promise<string | undefined> {
    const own = this.#init.own
    if (own !== undefined && about === own.peerId) return Promise.resolve(own.bundle())
    const held = this.#bundles.get(about)
    const certificate = this.#init.certificate(about)
    if (certificate?.bundleHash === undefined) return Promise.resolve(undefined)
    if (held !== undefined) return Promise.resolve(held)
    const inflight = this.#inflight.get(about)
    if (inflight !== undefined) return inflight
    if (source === undefined) return Promise.resolve(undefined)
    const fetched = (async () => {
      try {
        // fetchBundle gives up after CERTIFICATE_FETCH_TIMEOUT_MS unless the caller says otherwise.
        const text = await fetchBundle(this.#init.libp2p, source, about, options)
        if (text === undefined) return undefined
        return (await this.add(about, text, certificate)) ? text : undefined
      } catch (err) {
        this.#init.log.debug('key bundle fetch failed', { about, from: source.toString(), error: String(err) })
        return undefined
      } finally {
        this.#inflight.delete(about)
      }
    })()
    this.#inflight.set(about, fetched)
    return fetched
  }

  /**
   * `peerId` if this node has a connection to it. Asked of that one peer, not of the list of every connection: that
   * list, made on each presence (a relay prefetches on every presence of a client whose bundle it does not hold), held
   * a relay with 2,000 clients at a whole core when libp2p still built it in the square of the connections
   * (docs/benchmarks.md; `connection-list.ts`), and costs their number still.
   */
  #connected(peerId: string): PeerId | undefined {
    let peer: PeerId
    try {
      peer = peerIdFromString(peerId)
    } catch {
      return undefined
    }
    return this.#init.libp2p.getConnections(peer)[0]?.remotePeer
  }
}

async function verifies(peerId: string, text: string, certificate: VerifiedCertificate): Promise<boolean> {
  if (certificate.bundleHash === undefined) return false
  try {
    const publicKey = peerIdFromString(peerId).publicKey
    if (publicKey === undefined) return false
    await verifyKeyBundle({
      bundle: decodeKeyBundle(base64urlDecode(text)),
      verify: async (data, signature) => publicKey.verify(data, signature),
      expectedBundleHash: hexToBytes(certificate.bundleHash),
    })
    return true
  } catch {
    return false
  }
}
