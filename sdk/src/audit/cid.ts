/**
 * The CID of a leaf list without an IPFS node, for whoever anchors without one (the web app): a list of at most
 * {@link LEAF_LIST_CHUNK_BYTES} is a single raw block on IPFS, so its CID is CIDv1, codec `raw`, sha256 of the
 * bytes — the CID a relay's Helia gives the same bytes when it publishes them (`cid.test.ts` checks that).
 */
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { create as createDigest } from 'multiformats/hashes/digest'
import { sha256 } from '../crypto/primitives.ts'
import { InvalidInputError } from '../errors.ts'
import { LEAF_LIST_CHUNK_BYTES } from './constants.ts'

/** Multihash code of sha2-256. */
const SHA2_256 = 0x12

/**
 * The CID (base32 text) that publishing `bytes` on IPFS gives them. Throws {@link InvalidInputError} when they are
 * empty or larger than one chunk ({@link LEAF_LIST_CHUNK_BYTES}): such a list is not one block, and its CID
 * depends on the importer's layout.
 */
export function leafListCid(bytes: Uint8Array): string {
  if (bytes.byteLength === 0 || bytes.byteLength > LEAF_LIST_CHUNK_BYTES) {
    throw new InvalidInputError(
      `leafListCid: expected 1 to ${LEAF_LIST_CHUNK_BYTES} bytes (one IPFS block), got ${bytes.byteLength}`,
      { hint: 'anchor fewer messages in one batch' },
    )
  }
  return CID.createV1(raw.code, createDigest(SHA2_256, sha256(bytes))).toString()
}

/** Whether two CIDs (text, any base) name the same content address. False when either does not parse. */
export function sameCid(a: string, b: string): boolean {
  try {
    return CID.parse(a).equals(CID.parse(b))
  } catch {
    return false
  }
}
