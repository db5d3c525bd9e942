/**
 * Leaf lists on IPFS: a Helia node (blocks over bitswap) on a libp2p node the caller already runs — a relay's
 * or a client's — so whoever is connected to a relay can fetch the leaf lists it published, with no second
 * network identity, port or discovery. Content is addressed by CID and checked against the anchored root on
 * arrival, so the node it comes from needs no trust.
 */
import { withBitswap } from '@helia/bitswap'
import { unixfs } from '@helia/unixfs'
import type { Libp2p } from '@libp2p/interface'
import type { Helia, HeliaInit } from 'helia'
import { CID } from 'multiformats/cid'
import { withTimeout } from '../async.ts'
import { concatBytes } from '../crypto/primitives.ts'
import { InvalidInputError } from '../errors.ts'
import { createHeliaLight } from '../files/helia-light.node.ts'
import type { AbortOptions } from '../types.ts'
import { type AuditBatch, decodeLeafList, encodeLeafList } from './batch.ts'
import { LEAF_LIST_FETCH_TIMEOUT_MS, MAX_LEAF_LIST_BYTES } from './constants.ts'
import { LeafListUnavailableError } from './errors.ts'

export interface AuditIpfsInit {
  /** A started libp2p node; it stays the caller's (stopping the IPFS node leaves it running). */
  libp2p: Libp2p
  /** Where blocks live; in memory when absent (a relay passes a filesystem store in its data dir). */
  blockstore?: HeliaInit['blockstore']
  datastore?: HeliaInit['datastore']
}

export interface AuditIpfs {
  readonly helia: Helia
  /** Adds `bytes` (CIDv1, raw leaves), pins them and returns the CID. The same bytes always give the same CID. */
  publish(bytes: Uint8Array, options?: AbortOptions): Promise<string>
  /**
   * Fetches `cid` from the local store or, over bitswap, from connected peers. Gives up after
   * `timeoutMs` (default {@link LEAF_LIST_FETCH_TIMEOUT_MS}) or `signal` with {@link LeafListUnavailableError}.
   */
  fetch(cid: string, options?: AbortOptions & { maxBytes?: number; timeoutMs?: number }): Promise<Uint8Array>
  /** Stops bitswap and Helia; the libp2p node keeps running. Idempotent. */
  stop(): Promise<void>
}

export async function createAuditIpfs(init: AuditIpfsInit): Promise<AuditIpfs> {
  const helia = createHeliaLight({
    ...(init.blockstore === undefined ? {} : { blockstore: init.blockstore }),
    ...(init.datastore === undefined ? {} : { datastore: init.datastore }),
  })
  // helia 7's libp2p mixin always creates its own node; bitswap only needs `helia.libp2p`, so we lend it ours.
  Object.defineProperty(helia, 'libp2p', { value: init.libp2p, enumerable: true })
  withBitswap(helia as Parameters<typeof withBitswap>[0])
  await helia.start()
  const fs = unixfs(helia)
  let stopped: Promise<void> | undefined
  return {
    helia,
    async publish(bytes, options = {}) {
      const cid = await fs.addBytes(bytes, { cidVersion: 1, rawLeaves: true, ...signalOf(options) })
      if (!(await helia.pins.isPinned(cid, signalOf(options)))) {
        // Local blocks, and no signal: Helia's pin walk turns an abort mid-walk into an unhandled rejection
        // (`files/pin-file.ts`, pinLocalDag, says how).
        const walk: Parameters<Helia['pins']['add']>[1] & { offline: boolean } = { offline: true }
        for await (const _ of helia.pins.add(cid, walk)) {
          // drain: pinning walks the DAG
        }
      }
      return cid.toString()
    },
    async fetch(cid, options = {}) {
      let parsed: CID
      try {
        parsed = CID.parse(cid)
      } catch (cause) {
        throw new InvalidInputError(`not a CID: ${JSON.stringify(cid)}`, { cause })
      }
      const maxBytes = options.maxBytes ?? MAX_LEAF_LIST_BYTES
      const signal = withTimeout(options.signal, options.timeoutMs ?? LEAF_LIST_FETCH_TIMEOUT_MS)
      const chunks: Uint8Array[] = []
      let size = 0
      try {
        for await (const chunk of fs.cat(parsed, { signal })) {
          size += chunk.byteLength
          if (size > maxBytes) throw new LeafListUnavailableError(`${cid} is larger than ${maxBytes} bytes`)
          chunks.push(chunk)
        }
      } catch (cause) {
        if (cause instanceof LeafListUnavailableError) throw cause
        throw new LeafListUnavailableError(`could not fetch ${cid} from IPFS`, {
          details: { cid },
          hint: 'connect to the relay that anchored the batch (its address is in the room invite)',
          cause,
        })
      }
      return concatBytes(...chunks)
    },
    stop() {
      stopped ??= helia.stop().then(() => undefined)
      return stopped
    },
  }
}

function signalOf(options: AbortOptions): AbortOptions {
  return options.signal === undefined ? {} : { signal: options.signal }
}

/** Publishes a batch's leaf list; returns its CID. */
export function publishLeafList(ipfs: AuditIpfs, batch: AuditBatch, options: AbortOptions = {}): Promise<string> {
  return ipfs.publish(encodeLeafList(batch), options)
}

/** Fetches the leaf list under `cid` and rebuilds its batch, checking it against the anchored `root`. */
export async function fetchLeafList(
  ipfs: Pick<AuditIpfs, 'fetch'>,
  params: { cid: string; root: string },
  options: AbortOptions & { timeoutMs?: number } = {},
): Promise<AuditBatch> {
  const bytes = await ipfs.fetch(params.cid, options)
  return decodeLeafList(bytes, {
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    expectedRoot: params.root,
  })
}
