/**
 * SFrame's cipher suites and key schedule (RFC 9605 sections 4.4.2 and 4.5), on WebCrypto (`globalThis.crypto.subtle`,
 * the same in browsers, their workers and Node 24). Nothing here is implemented by us: HKDF and AES-GCM are
 * WebCrypto's; this file only feeds them the RFC's inputs.
 *
 * ```
 * sframe_secret = HKDF-Extract(salt = "", base_key)
 * sframe_key    = HKDF-Expand(sframe_secret, "SFrame 1.0 Secret key "  || KID (u64) || cipher_suite (u16), Nk)
 * sframe_salt   = HKDF-Expand(sframe_secret, "SFrame 1.0 Secret salt " || KID (u64) || cipher_suite (u16), Nn)
 * nonce         = sframe_salt XOR CTR (as Nn bytes, big-endian)
 * ```
 *
 * The labels hold the KID as 8 bytes, not the header's compact form, and the suite as 2 bytes, all big-endian; the
 * hash of HKDF is the suite's. WebCrypto's HKDF is Extract then Expand with one call, so `sframe_secret` never exists
 * apart: the RFC's vectors check what comes out of it (`sframe_key`, `sframe_salt`, the ciphertext).
 *
 * Why WebCrypto and not the sdk's `crypto/primitives.ts`: the frame key is imported once per KID as a
 * non-extractable AES-GCM `CryptoKey` for one use (encrypt or decrypt), so each frame costs one AES-GCM call and
 * no key import — primitives' AES-GCM takes raw keys and imports them per call, which suits one-off messages, not
 * fifty frames a second. HKDF-SHA-512 (suite 0x0005) is not among primitives either. This is the calls folder's
 * only contact with a crypto backend; the two belong in `primitives.ts` once it grows a cached-key AES-GCM.
 */
import { InvalidInputError } from '../errors.ts'
import { SFrameCipherSuite } from './constants.ts'

/** What a suite is made of (RFC 9605 section 4.5): its hash, key size Nk and nonce size Nn (both tags: 16 bytes). */
interface SuiteParams {
  readonly hash: 'SHA-256' | 'SHA-512'
  readonly keyBytes: number
  readonly nonceBytes: number
}

const SUITES: Readonly<Record<SFrameCipherSuite, SuiteParams>> = {
  [SFrameCipherSuite.AES_128_GCM_SHA256_128]: { hash: 'SHA-256', keyBytes: 16, nonceBytes: 12 },
  [SFrameCipherSuite.AES_256_GCM_SHA512_128]: { hash: 'SHA-512', keyBytes: 32, nonceBytes: 12 },
}

/** Both suites' AES-GCM tag: the bytes a ciphertext adds after its header. */
export const SFRAME_TAG_BYTES = 16

/** The shortest base key we accept: the 128 bits of the smaller suite's key. */
export const SFRAME_MIN_BASE_KEY_BYTES = 16

const KEY_LABEL = new TextEncoder().encode('SFrame 1.0 Secret key ')
const SALT_LABEL = new TextEncoder().encode('SFrame 1.0 Secret salt ')

/** The suite's parameters; `InvalidInputError` for a suite we do not implement. */
function suiteParams(suite: number): SuiteParams {
  const params = SUITES[suite as SFrameCipherSuite]
  if (params === undefined) {
    throw new InvalidInputError('unsupported SFrame cipher suite', {
      details: { field: 'suite', received: suite, supported: Object.values(SFrameCipherSuite) },
      hint: 'Use SFrameCipherSuite.AES_128_GCM_SHA256_128 (0x0004) or AES_256_GCM_SHA512_128 (0x0005).',
    })
  }
  return params
}

/** `label || KID (8 bytes) || cipher_suite (2 bytes)`, big-endian. */
function label(prefix: Uint8Array, kid: bigint, suite: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(prefix.length + 10)
  out.set(prefix)
  const view = new DataView(out.buffer)
  view.setBigUint64(prefix.length, kid)
  view.setUint16(prefix.length + 8, suite)
  return out
}

/**
 * `derive_key_salt` of RFC 9605 section 4.4.2: the raw `sframe_key` and `sframe_salt` of `baseKey` under `kid`.
 * Contexts wipe the key once imported; this is exported for the RFC's vectors and for checks against other
 * implementations.
 */
export async function deriveSFrameKeySalt(params: {
  suite: SFrameCipherSuite
  kid: bigint
  baseKey: Uint8Array
}): Promise<{ key: Uint8Array; salt: Uint8Array }> {
  const { suite, kid, baseKey } = params
  const { hash, keyBytes, nonceBytes } = suiteParams(suite)
  if (!(baseKey instanceof Uint8Array) || baseKey.length < SFRAME_MIN_BASE_KEY_BYTES) {
    throw new InvalidInputError(`an SFrame base key must be at least ${SFRAME_MIN_BASE_KEY_BYTES} bytes`, {
      details: {
        field: 'baseKey',
        minimum: SFRAME_MIN_BASE_KEY_BYTES,
        received: baseKey instanceof Uint8Array ? baseKey.length : typeof baseKey,
      },
    })
  }
  const subtle = globalThis.crypto.subtle
  const ikm = await subtle.importKey('raw', arrayBacked(baseKey), 'HKDF', false, ['deriveBits'])
  const expand = async (prefix: Uint8Array, bytes: number) =>
    new Uint8Array(
      await subtle.deriveBits(
        { name: 'HKDF', hash, salt: new Uint8Array(0), info: label(prefix, kid, suite) },
        ikm,
        bytes * 8,
      ),
    )
  return { key: await expand(KEY_LABEL, keyBytes), salt: await expand(SALT_LABEL, nonceBytes) }
}

/** A KID's derived state: its AES-GCM key, imported for one use, and its salt. */
export interface SFrameKeys {
  readonly kid: bigint
  readonly key: CryptoKey
  readonly salt: Uint8Array
}

/**
 * Derives `kid`'s key and salt and imports the key as a non-extractable AES-GCM `CryptoKey` usable only for `use`
 * (RFC 9605 section 4.4.1: a base key is for encryption or for decryption, never both). The raw key is wiped.
 */
export async function importSFrameKeys(params: {
  suite: SFrameCipherSuite
  kid: bigint
  baseKey: Uint8Array
  use: 'encrypt' | 'decrypt'
}): Promise<SFrameKeys> {
  const { suite, kid, baseKey, use } = params
  const { key: raw, salt } = await deriveSFrameKeySalt({ suite, kid, baseKey })
  try {
    const key = await globalThis.crypto.subtle.importKey('raw', raw as Uint8Array<ArrayBuffer>, 'AES-GCM', false, [use])
    return { kid, key, salt }
  } finally {
    raw.fill(0)
  }
}

/** `sframe_salt XOR CTR`, the counter as a big-endian integer of the nonce's length (its 8 low bytes). */
export function sframeNonce(salt: Uint8Array, counter: bigint): Uint8Array<ArrayBuffer> {
  const nonce = new Uint8Array(salt.length)
  new DataView(nonce.buffer).setBigUint64(salt.length - 8, counter)
  for (let i = 0; i < nonce.length; i++) nonce[i] = nonce[i]! ^ salt[i]!
  return nonce
}

/** AES-GCM encryption with a 128-bit tag: `ciphertext || tag`. */
export async function aeadSeal(params: {
  key: CryptoKey
  nonce: Uint8Array<ArrayBuffer>
  aad: Uint8Array<ArrayBuffer>
  plaintext: Uint8Array
}): Promise<Uint8Array> {
  const { key, nonce, aad, plaintext } = params
  const sealed = await globalThis.crypto.subtle.encrypt(
    { name: 'AES-GCM', iv: nonce, additionalData: aad, tagLength: SFRAME_TAG_BYTES * 8 },
    key,
    arrayBacked(plaintext),
  )
  return new Uint8Array(sealed)
}

/** AES-GCM decryption of `ciphertext || tag`; rejects (WebCrypto's `OperationError`) when it does not verify. */
export async function aeadOpen(params: {
  key: CryptoKey
  nonce: Uint8Array<ArrayBuffer>
  aad: Uint8Array<ArrayBuffer>
  ciphertext: Uint8Array
}): Promise<Uint8Array> {
  const { key, nonce, aad, ciphertext } = params
  const opened = await globalThis.crypto.subtle.decrypt(
    { name: 'AES-GCM', iv: nonce, additionalData: aad, tagLength: SFRAME_TAG_BYTES * 8 },
    key,
    arrayBacked(ciphertext),
  )
  return new Uint8Array(opened)
}

/** WebCrypto takes ArrayBuffer-backed views; a view of a SharedArrayBuffer is copied. */
function arrayBacked(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : new Uint8Array(bytes)
}
