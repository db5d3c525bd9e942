/**
 * A device's encryption keys and the public key bundle it publishes.
 *
 * Secret side ({@link DeviceKeys}), per device (= per PeerId):
 * - `identityKey`: long-term X25519 key pair (PQXDH's IK; static-static DH of the hybrid channel);
 * - `kemKey`: long-term X-Wing (ML-KEM-768 + X25519) key pair, the recipient key of the hybrid
 *   channel that carries sender keys (`hybrid-kem.ts`);
 * - `signedPrekeys`: X25519 signed prekeys (PQXDH's SPK), newest last; older ones are kept for
 *   {@link PREVIOUS_SIGNED_PREKEYS_KEPT} rotations so in-flight initial messages still work;
 * - `pqPrekeys`: ML-KEM-768 signed last-resort prekeys (PQXDH's PQSPK), newest last, same rule;
 * - `oneTimePrekeys`: X25519 one-time prekeys (PQXDH's OPK), each deleted after one use.
 *
 * One-time PQ prekeys (PQXDH's PQOPK) are not used: the bundle is published whole on a
 * leaderless network (no server hands out each one-time key once), and at 1,184 bytes each
 * they would make every bundle large. PQXDH explicitly allows the last-resort PQ prekey alone.
 *
 * Public side ({@link KeyBundle}) and its canonical encoding (integers big-endian):
 *
 * ```
 * version u8 (1)
 * identityKey (32) || kemKey (1216)
 * signedPrekey: id u32 || createdAtMs u64 || publicKey (32)
 * pqPrekey:     id u32 || createdAtMs u64 || publicKey (1184)
 * oneTimePrekeys: count u16 || (id u32 || publicKey (32)) * count, ids strictly increasing
 * signature: length u16 || bytes
 * ```
 *
 * The signature covers `u16 len(label) || label || everything above except the signature`,
 * label {@link BUNDLE_SIGNATURE_LABEL}. It is made by a caller-supplied signer — the networking
 * layer signs with the device's libp2p PeerId Ed25519 key — and checked with a caller-supplied
 * verifier. This replaces PQXDH's Sig(IK_B, Encode(SPK_B)) (XEdDSA by the identity key): the
 * wallet's session certificate names the PeerId, so a PeerId signature chains the prekeys to the
 * wallet just as an identity-key signature would.
 *
 * {@link bundleHash} commits to the long-term part only (version, identity key, KEM key): the
 * session certificate carries it, so a relay cannot swap those keys, and rotating or
 * replenishing prekeys does not need a new wallet signature (the PeerId signature covers them).
 */

import {
  BUNDLE_CLOCK_SKEW_MS,
  MAX_ONE_TIME_PREKEYS_PER_BUNDLE,
  ML_KEM_768_PUBLIC_KEY_BYTES,
  ML_KEM_768_SEED_BYTES,
  ONE_TIME_PREKEY_BATCH_SIZE,
  PREVIOUS_SIGNED_PREKEYS_KEPT,
  SIGNED_PREKEY_MAX_AGE_MS,
  X25519_KEY_BYTES,
  XWING_PUBLIC_KEY_BYTES,
  XWING_SECRET_KEY_BYTES,
} from './constants.ts'
import { ByteReader, ByteWriter, utf8Encode } from './encoding.ts'
import { InvalidKeyError, InvalidSignatureError } from './errors.ts'
import {
  equalBytes,
  type KeyPair,
  type MlKem768KeyPair,
  mlKem768Keygen,
  sha256,
  x25519Keygen,
  xwingKeygen,
} from './primitives.ts'

/** Domain-separation label of the bundle signature input. */
export const BUNDLE_SIGNATURE_LABEL = utf8Encode('SecureChat/key-bundle/v1')
/** Domain-separation label of {@link bundleHash}. */
export const BUNDLE_HASH_LABEL = utf8Encode('SecureChat/key-bundle-hash/v1')

/** Curve-type byte of PQXDH's Encode(PK) for X25519 (libsignal's DJB type). */
export const X25519_KEY_TYPE = 0x05

/** PQXDH's Encode(PK): the curve-type byte, then the 32-byte little-endian u-coordinate. */
export function encodeIdentityKey(publicKey: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + publicKey.length)
  out[0] = X25519_KEY_TYPE
  out.set(publicKey, 1)
  return out
}

const BUNDLE_VERSION = 1
const DEVICE_KEYS_VERSION = 1
const MAX_SIGNATURE_BYTES = 1024
const MAX_PREKEY_ID = 0xffff_ffff

export interface SignedPrekey {
  readonly id: number
  readonly keyPair: KeyPair
  readonly createdAtMs: number
}

export interface PqPrekey {
  readonly id: number
  readonly keyPair: MlKem768KeyPair
  readonly createdAtMs: number
}

export interface OneTimePrekey {
  readonly id: number
  readonly keyPair: KeyPair
}

/** A device's secret keys. Immutable: every change returns a new object. Store only wrapped. */
export interface DeviceKeys {
  readonly identityKey: KeyPair
  readonly kemKey: KeyPair
  /** Newest last; the newest is published. */
  readonly signedPrekeys: readonly SignedPrekey[]
  /** Newest last; the newest is published. */
  readonly pqPrekeys: readonly PqPrekey[]
  readonly oneTimePrekeys: readonly OneTimePrekey[]
  /** Next prekey id to assign (ids are unique across all prekey kinds of a device). */
  readonly nextPrekeyId: number
}

/**
 * The long-term part of {@link DeviceKeys} that rooms and DMs use, with the public bundle that
 * announces it (as the client holds them). Secret: never logged.
 */
export interface DeviceEncryptionKeys {
  identityKey: KeyPair
  kemKey: KeyPair
  /** The encoded, PeerId-signed public bundle that presence records carry (base64url). */
  bundle: string
}

export interface PublicPrekey {
  readonly id: number
  readonly publicKey: Uint8Array
}

export interface PublicSignedPrekey extends PublicPrekey {
  readonly createdAtMs: number
}

/** The public key bundle a device publishes. */
export interface KeyBundle {
  readonly version: number
  readonly identityKey: Uint8Array
  readonly kemKey: Uint8Array
  readonly signedPrekey: PublicSignedPrekey
  readonly pqPrekey: PublicSignedPrekey
  readonly oneTimePrekeys: readonly PublicPrekey[]
  readonly signature: Uint8Array
}

declare const verifiedBrand: unique symbol
/** A bundle whose signature (and, when asked, hash and freshness) {@link verifyKeyBundle} checked. */
export type VerifiedKeyBundle = KeyBundle & { readonly [verifiedBrand]: true }

/** Signs the bundle's signature input, e.g. with the libp2p PeerId key. */
export type BundleSigner = (message: Uint8Array) => Promise<Uint8Array>
/** Verifies a bundle signature for the expected signer (the bundle owner's PeerId). */
export type BundleVerifier = (message: Uint8Array, signature: Uint8Array) => Promise<boolean>

// ---------------------------------------------------------------------------------------------
// Device keys
// ---------------------------------------------------------------------------------------------

function takeIds(deviceKeys: { nextPrekeyId: number }, count: number): number[] {
  const first = deviceKeys.nextPrekeyId
  if (first + count > MAX_PREKEY_ID) throw new RangeError('prekey ids exhausted: generate new device keys')
  return Array.from({ length: count }, (_, i) => first + i)
}

async function newOneTimePrekeys(ids: number[]): Promise<OneTimePrekey[]> {
  return Promise.all(ids.map(async (id) => ({ id, keyPair: await x25519Keygen() })))
}

/** Fresh device keys: identity and KEM keys, one signed prekey of each kind, one-time prekeys. */
export async function generateDeviceKeys(
  params: { nowMs?: number; oneTimePrekeyCount?: number } = {},
): Promise<DeviceKeys> {
  const nowMs = params.nowMs ?? Date.now()
  const count = params.oneTimePrekeyCount ?? ONE_TIME_PREKEY_BATCH_SIZE
  const [spkId, pqId, ...otpIds] = takeIds({ nextPrekeyId: 1 }, 2 + count) as [number, number, ...number[]]
  return {
    identityKey: await x25519Keygen(),
    kemKey: xwingKeygen(),
    signedPrekeys: [{ id: spkId, keyPair: await x25519Keygen(), createdAtMs: nowMs }],
    pqPrekeys: [{ id: pqId, keyPair: mlKem768Keygen(), createdAtMs: nowMs }],
    oneTimePrekeys: await newOneTimePrekeys(otpIds),
    nextPrekeyId: 1 + 2 + count,
  }
}

/**
 * New signed prekeys of both kinds become current; the previous ones are kept for
 * {@link PREVIOUS_SIGNED_PREKEYS_KEPT} rotations, older ones are deleted. Call every
 * `SIGNED_PREKEY_ROTATION_MS`.
 */
export async function rotateSignedPrekeys(params: { deviceKeys: DeviceKeys; nowMs?: number }): Promise<DeviceKeys> {
  const { deviceKeys } = params
  const nowMs = params.nowMs ?? Date.now()
  const [spkId, pqId] = takeIds(deviceKeys, 2) as [number, number]
  const keep = PREVIOUS_SIGNED_PREKEYS_KEPT + 1
  return {
    ...deviceKeys,
    signedPrekeys: [
      ...deviceKeys.signedPrekeys,
      { id: spkId, keyPair: await x25519Keygen(), createdAtMs: nowMs },
    ].slice(-keep),
    pqPrekeys: [...deviceKeys.pqPrekeys, { id: pqId, keyPair: mlKem768Keygen(), createdAtMs: nowMs }].slice(-keep),
    nextPrekeyId: deviceKeys.nextPrekeyId + 2,
  }
}

/** Adds `count` fresh one-time prekeys (default {@link ONE_TIME_PREKEY_BATCH_SIZE}). */
export async function addOneTimePrekeys(params: { deviceKeys: DeviceKeys; count?: number }): Promise<DeviceKeys> {
  const { deviceKeys } = params
  const count = params.count ?? ONE_TIME_PREKEY_BATCH_SIZE
  const ids = takeIds(deviceKeys, count)
  return {
    ...deviceKeys,
    oneTimePrekeys: [...deviceKeys.oneTimePrekeys, ...(await newOneTimePrekeys(ids))],
    nextPrekeyId: deviceKeys.nextPrekeyId + count,
  }
}

/** The device keys without the one-time prekey `id` (after it was used once). */
export function removeOneTimePrekey(deviceKeys: DeviceKeys, id: number): DeviceKeys {
  return { ...deviceKeys, oneTimePrekeys: deviceKeys.oneTimePrekeys.filter((k) => k.id !== id) }
}

/**
 * Device keys as bytes, for the encrypted vault (secret: never store or send unwrapped).
 * ML-KEM keys are stored as their 64-byte seed and re-derived on decode.
 */
export function encodeDeviceKeys(deviceKeys: DeviceKeys): Uint8Array {
  const w = new ByteWriter(4096)
  w.u8(DEVICE_KEYS_VERSION)
  w.raw(deviceKeys.identityKey.secretKey).raw(deviceKeys.identityKey.publicKey)
  w.raw(deviceKeys.kemKey.secretKey).raw(deviceKeys.kemKey.publicKey)
  w.u32(deviceKeys.nextPrekeyId)
  w.u8(deviceKeys.signedPrekeys.length)
  for (const k of deviceKeys.signedPrekeys) {
    w.u32(k.id).u64(k.createdAtMs).raw(k.keyPair.secretKey).raw(k.keyPair.publicKey)
  }
  w.u8(deviceKeys.pqPrekeys.length)
  for (const k of deviceKeys.pqPrekeys) w.u32(k.id).u64(k.createdAtMs).raw(k.keyPair.seed)
  w.u16(deviceKeys.oneTimePrekeys.length)
  for (const k of deviceKeys.oneTimePrekeys) w.u32(k.id).raw(k.keyPair.secretKey).raw(k.keyPair.publicKey)
  return w.finish()
}

/** Inverse of {@link encodeDeviceKeys}; throws `MalformedMessageError`. */
export function decodeDeviceKeys(bytes: Uint8Array): DeviceKeys {
  const r = new ByteReader(bytes, 'device keys')
  const version = r.u8('version')
  if (version !== DEVICE_KEYS_VERSION) r.fail('version', 'unsupported', { received: version })
  const x25519Pair = (field: string): KeyPair => ({
    secretKey: r.raw(X25519_KEY_BYTES, `${field}.secretKey`),
    publicKey: r.raw(X25519_KEY_BYTES, `${field}.publicKey`),
  })
  const identityKey = x25519Pair('identityKey')
  const kemKey = {
    secretKey: r.raw(XWING_SECRET_KEY_BYTES, 'kemKey.secretKey'),
    publicKey: r.raw(XWING_PUBLIC_KEY_BYTES, 'kemKey.publicKey'),
  }
  const nextPrekeyId = r.u32('nextPrekeyId')
  const signedPrekeys: SignedPrekey[] = []
  for (let i = r.u8('signedPrekeys'); i > 0; i--) {
    const id = r.u32('signedPrekey.id')
    const createdAtMs = r.u64('signedPrekey.createdAtMs')
    signedPrekeys.push({ id, createdAtMs, keyPair: x25519Pair('signedPrekey') })
  }
  const pqPrekeys: PqPrekey[] = []
  for (let i = r.u8('pqPrekeys'); i > 0; i--) {
    const id = r.u32('pqPrekey.id')
    const createdAtMs = r.u64('pqPrekey.createdAtMs')
    pqPrekeys.push({ id, createdAtMs, keyPair: mlKem768Keygen(r.raw(ML_KEM_768_SEED_BYTES, 'pqPrekey.seed')) })
  }
  const oneTimePrekeys: OneTimePrekey[] = []
  for (let i = r.u16('oneTimePrekeys'); i > 0; i--) {
    oneTimePrekeys.push({ id: r.u32('oneTimePrekey.id'), keyPair: x25519Pair('oneTimePrekey') })
  }
  r.end()
  if (signedPrekeys.length === 0 || pqPrekeys.length === 0) r.fail('signedPrekeys', 'at least one of each kind')
  return { identityKey, kemKey, signedPrekeys, pqPrekeys, oneTimePrekeys, nextPrekeyId }
}

// ---------------------------------------------------------------------------------------------
// Public bundle
// ---------------------------------------------------------------------------------------------

function writeBundleBody(w: ByteWriter, bundle: Omit<KeyBundle, 'signature'>): void {
  w.u8(bundle.version)
  w.raw(bundle.identityKey).raw(bundle.kemKey)
  w.u32(bundle.signedPrekey.id).u64(bundle.signedPrekey.createdAtMs).raw(bundle.signedPrekey.publicKey)
  w.u32(bundle.pqPrekey.id).u64(bundle.pqPrekey.createdAtMs).raw(bundle.pqPrekey.publicKey)
  w.u16(bundle.oneTimePrekeys.length)
  for (const k of bundle.oneTimePrekeys) w.u32(k.id).raw(k.publicKey)
}

/** The exact bytes the bundle signature covers. */
export function bundleSignatureInput(bundle: Omit<KeyBundle, 'signature'>): Uint8Array {
  const w = new ByteWriter(4096)
  w.bytes16(BUNDLE_SIGNATURE_LABEL)
  writeBundleBody(w, bundle)
  return w.finish()
}

/**
 * SHA-256 of `u16 len(label) || label || version u8 || identityKey || kemKey` — what the session
 * certificate commits to (its `resources`).
 */
export function bundleHash(bundle: Pick<KeyBundle, 'version' | 'identityKey' | 'kemKey'>): Uint8Array {
  return sha256(
    new ByteWriter(1300)
      .bytes16(BUNDLE_HASH_LABEL)
      .u8(bundle.version)
      .raw(bundle.identityKey)
      .raw(bundle.kemKey)
      .finish(),
  )
}

/** Publishes the newest signed prekeys and every one-time prekey of `deviceKeys`, signed by `sign`. */
export async function createKeyBundle(params: { deviceKeys: DeviceKeys; sign: BundleSigner }): Promise<KeyBundle> {
  const { deviceKeys, sign } = params
  const spk = deviceKeys.signedPrekeys.at(-1)
  const pq = deviceKeys.pqPrekeys.at(-1)
  if (spk === undefined || pq === undefined) throw new InvalidKeyError('device keys have no signed prekey')
  if (deviceKeys.oneTimePrekeys.length > MAX_ONE_TIME_PREKEYS_PER_BUNDLE) {
    throw new RangeError(`at most ${MAX_ONE_TIME_PREKEYS_PER_BUNDLE} one-time prekeys per bundle`)
  }
  const body = {
    version: BUNDLE_VERSION,
    identityKey: deviceKeys.identityKey.publicKey,
    kemKey: deviceKeys.kemKey.publicKey,
    signedPrekey: { id: spk.id, createdAtMs: spk.createdAtMs, publicKey: spk.keyPair.publicKey },
    pqPrekey: { id: pq.id, createdAtMs: pq.createdAtMs, publicKey: pq.keyPair.publicKey },
    oneTimePrekeys: [...deviceKeys.oneTimePrekeys]
      .sort((a, b) => a.id - b.id)
      .map((k) => ({ id: k.id, publicKey: k.keyPair.publicKey })),
  }
  return { ...body, signature: await sign(bundleSignatureInput(body)) }
}

/** The canonical encoding of a bundle (see the module doc). */
export function encodeKeyBundle(bundle: KeyBundle): Uint8Array {
  const w = new ByteWriter(2600 + bundle.oneTimePrekeys.length * 36)
  writeBundleBody(w, bundle)
  w.bytes16(bundle.signature)
  return w.finish()
}

/** Parses a bundle from the network; throws `MalformedMessageError`. Does not verify it. */
export function decodeKeyBundle(bytes: Uint8Array): KeyBundle {
  const r = new ByteReader(bytes, 'key bundle')
  const version = r.u8('version')
  if (version !== BUNDLE_VERSION) r.fail('version', 'unsupported', { received: version })
  const identityKey = r.raw(X25519_KEY_BYTES, 'identityKey')
  const kemKey = r.raw(XWING_PUBLIC_KEY_BYTES, 'kemKey')
  const signedPrekey = {
    id: r.u32('signedPrekey.id'),
    createdAtMs: r.u64('signedPrekey.createdAtMs'),
    publicKey: r.raw(X25519_KEY_BYTES, 'signedPrekey.publicKey'),
  }
  const pqPrekey = {
    id: r.u32('pqPrekey.id'),
    createdAtMs: r.u64('pqPrekey.createdAtMs'),
    publicKey: r.raw(ML_KEM_768_PUBLIC_KEY_BYTES, 'pqPrekey.publicKey'),
  }
  const count = r.u16('oneTimePrekeys')
  if (count > MAX_ONE_TIME_PREKEYS_PER_BUNDLE) r.fail('oneTimePrekeys', 'too many', { count })
  const oneTimePrekeys: PublicPrekey[] = []
  for (let i = 0; i < count; i++) {
    const id = r.u32('oneTimePrekey.id')
    if (i > 0 && id <= oneTimePrekeys[i - 1]!.id) r.fail('oneTimePrekey.id', 'ids must be strictly increasing')
    oneTimePrekeys.push({ id, publicKey: r.raw(X25519_KEY_BYTES, 'oneTimePrekey.publicKey') })
  }
  const signature = r.bytes16('signature', MAX_SIGNATURE_BYTES)
  r.end()
  return { version, identityKey, kemKey, signedPrekey, pqPrekey, oneTimePrekeys, signature }
}

/**
 * Verifies a bundle before use: the signature with `verify` (throws `InvalidSignatureError`);
 * when `expectedBundleHash` is given (from the owner's session certificate), that
 * {@link bundleHash} matches (throws `InvalidKeyError`); and that the signed prekeys are not
 * older than `maxAgeMs` (default {@link SIGNED_PREKEY_MAX_AGE_MS}) nor from the future beyond
 * {@link BUNDLE_CLOCK_SKEW_MS} (throws `InvalidKeyError`).
 */
export async function verifyKeyBundle(params: {
  bundle: KeyBundle
  verify: BundleVerifier
  expectedBundleHash?: Uint8Array
  nowMs?: number
  maxAgeMs?: number
}): Promise<VerifiedKeyBundle> {
  const { bundle, verify, expectedBundleHash } = params
  const nowMs = params.nowMs ?? Date.now()
  const maxAgeMs = params.maxAgeMs ?? SIGNED_PREKEY_MAX_AGE_MS
  let valid: boolean
  try {
    valid = await verify(bundleSignatureInput(bundle), bundle.signature)
  } catch (cause) {
    throw new InvalidSignatureError('key bundle signature could not be verified', { cause })
  }
  if (!valid) throw new InvalidSignatureError('key bundle signature does not verify')
  if (expectedBundleHash !== undefined && !equalBytes(bundleHash(bundle), expectedBundleHash)) {
    throw new InvalidKeyError('key bundle does not match the hash in the session certificate', {
      details: { reason: 'bundle-hash-mismatch' },
      hint: 'A relay or peer may have swapped the keys: fetch the bundle from elsewhere.',
    })
  }
  for (const [field, prekey] of [
    ['signedPrekey', bundle.signedPrekey],
    ['pqPrekey', bundle.pqPrekey],
  ] as const) {
    if (prekey.createdAtMs > nowMs + BUNDLE_CLOCK_SKEW_MS || nowMs - prekey.createdAtMs > maxAgeMs) {
      throw new InvalidKeyError(`${field} is stale or from the future`, {
        details: { reason: 'prekey-age', field, createdAtMs: prekey.createdAtMs, nowMs, maxAgeMs },
        hint: 'Fetch a newer bundle; the owner rotates its prekeys periodically.',
      })
    }
  }
  return bundle as VerifiedKeyBundle
}
