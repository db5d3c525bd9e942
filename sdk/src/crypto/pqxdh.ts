/**
 * PQXDH key agreement as Signal specifies it (https://signal.org/docs/specifications/pqxdh/,
 * revision 3), with curve X25519, hash SHA-256 and pqkem ML-KEM-768, followed by the Double
 * Ratchet (`double-ratchet.ts`) as the specification's section on the Double Ratchet describes.
 *
 * Initiator (Alice), with the responder's verified bundle (`key-bundle.ts`):
 *
 * ```
 * EK_A = GENERATE_DH();  (CT, SS) = ML-KEM-768.Encaps(PQSPK_B)
 * DH1 = DH(IK_A, SPK_B)  DH2 = DH(EK_A, IK_B)  DH3 = DH(EK_A, SPK_B)  [DH4 = DH(EK_A, OPK_B)]
 * SK  = KDF(DH1 || DH2 || DH3 [|| DH4] || SS)
 * KDF(KM) = HKDF-SHA-256(salt = 32 zero bytes, IKM = F || KM, info = PQXDH_INFO, L = 32),
 *           F = 32 bytes of 0xFF (the spec's F for X25519)
 * AD  = Encode(IK_A) || Encode(IK_B) || u16 len || initiatorId || u16 len || responderId
 * ```
 *
 * `Encode(PK)` is the spec's curve-type byte (0x05 for X25519, as libsignal) followed by the
 * 32-byte little-endian u-coordinate. The spec lets AD carry more identity information; ours
 * appends both peers' ids (their PeerIds), so a session cannot be presented under other peers'
 * names. SK starts the Double Ratchet (root key), with SPK_B as the responder's first ratchet
 * key, and AD becomes the session's associated data, bound into every message.
 *
 * Initial message (integers big-endian):
 *
 * ```
 * version u8 (1) || IK_A (32) || EK_A (32) || signedPrekeyId u32 || pqPrekeyId u32
 * || hasOneTimePrekey u8 (0|1) || [oneTimePrekeyId u32] || CT (1088)
 * || payload: the first Double Ratchet message (rest of the bytes)
 * ```
 *
 * Deviations, all documented: prekey signatures are made by the PeerId key over the whole
 * bundle instead of XEdDSA by IK (see `key-bundle.ts`); no one-time PQ prekeys (last-resort
 * only). Authentication is classical (X25519), secrecy hybrid — as in PQXDH itself.
 *
 * Replays: an initial message that used a one-time prekey cannot be accepted twice (the prekey
 * is deleted). One that used only the last-resort prekeys can be replayed, as the
 * specification notes; callers dedupe initial messages they already accepted (e.g. by hash).
 */

import { ML_KEM_768_CIPHERTEXT_BYTES, SHARED_SECRET_BYTES, X25519_KEY_BYTES } from './constants.ts'
import {
  createInitiatorSession,
  createResponderSession,
  type DoubleRatchetInit,
  type DoubleRatchetSession,
} from './double-ratchet.ts'
import { ByteReader, ByteWriter, utf8Encode } from './encoding.ts'
import { InvalidKeyError, PrekeyNotFoundError } from './errors.ts'
import { type DeviceKeys, encodeIdentityKey, removeOneTimePrekey, type VerifiedKeyBundle } from './key-bundle.ts'
import {
  concatBytes,
  equalBytes,
  hkdfSha256,
  type KeyPair,
  mlKem768Decapsulate,
  mlKem768Encapsulate,
  randomBytes,
  wipe,
  x25519Keygen,
  x25519SharedSecret,
} from './primitives.ts'

/** The specification's `info`: application, curve, hash and pqkem. */
export const PQXDH_INFO = utf8Encode('SecureChat_CURVE25519_SHA-256_ML-KEM-768')
const KDF_F = new Uint8Array(32).fill(0xff)
const INITIAL_MESSAGE_VERSION = 1

/** The fields of an initial message before the payload. */
export interface PqxdhHeader {
  readonly identityKey: Uint8Array
  readonly ephemeralKey: Uint8Array
  readonly signedPrekeyId: number
  readonly pqPrekeyId: number
  readonly oneTimePrekeyId: number | null
  readonly kemCiphertext: Uint8Array
}

/** What both sides derive. */
export interface PqxdhResult {
  /** SK: 32 bytes, the Double Ratchet's first root key. */
  readonly sharedSecret: Uint8Array
  /** AD: bound into every message of the session. */
  readonly associatedData: Uint8Array
}

/** AD = Encode(IK_A) || Encode(IK_B) || u16-prefixed initiator id || u16-prefixed responder id. */
export function pqxdhAssociatedData(params: {
  initiatorIdentityKey: Uint8Array
  responderIdentityKey: Uint8Array
  initiatorId: string
  responderId: string
}): Uint8Array {
  return new ByteWriter(256)
    .raw(encodeIdentityKey(params.initiatorIdentityKey))
    .raw(encodeIdentityKey(params.responderIdentityKey))
    .string16(params.initiatorId)
    .string16(params.responderId)
    .finish()
}

function kdf(keyMaterial: Uint8Array[]): Uint8Array {
  const ikm = concatBytes(KDF_F, ...keyMaterial)
  const sk = hkdfSha256({ ikm, info: PQXDH_INFO, length: SHARED_SECRET_BYTES })
  wipe(ikm, ...keyMaterial)
  return sk
}

/**
 * The initiator's side: derives SK and AD and the header of the initial message. The bundle
 * must come from {@link verifyKeyBundle} (checked signature, certificate hash and freshness).
 * A one-time prekey is picked at random from the bundle, so concurrent initiators rarely pick
 * the same one; with none left, the protocol runs without DH4.
 */
export async function pqxdhInitiate(params: {
  identityKey: KeyPair
  bundle: VerifiedKeyBundle
  initiatorId: string
  responderId: string
}): Promise<PqxdhResult & { header: PqxdhHeader }> {
  const { identityKey, bundle, initiatorId, responderId } = params
  const otks = bundle.oneTimePrekeys
  const oneTimePrekey = otks.length === 0 ? null : otks[new DataView(randomBytes(4).buffer).getUint32(0) % otks.length]!
  const ephemeral = await x25519Keygen()
  const { cipherText, sharedSecret: ss } = mlKem768Encapsulate(bundle.pqPrekey.publicKey)
  const dh = [
    await x25519SharedSecret({ secretKey: identityKey.secretKey, publicKey: bundle.signedPrekey.publicKey }),
    await x25519SharedSecret({ secretKey: ephemeral.secretKey, publicKey: bundle.identityKey }),
    await x25519SharedSecret({ secretKey: ephemeral.secretKey, publicKey: bundle.signedPrekey.publicKey }),
  ]
  if (oneTimePrekey !== null) {
    dh.push(await x25519SharedSecret({ secretKey: ephemeral.secretKey, publicKey: oneTimePrekey.publicKey }))
  }
  const sharedSecret = kdf([...dh, ss])
  wipe(ephemeral.secretKey)
  return {
    sharedSecret,
    associatedData: pqxdhAssociatedData({
      initiatorIdentityKey: identityKey.publicKey,
      responderIdentityKey: bundle.identityKey,
      initiatorId,
      responderId,
    }),
    header: {
      identityKey: identityKey.publicKey.slice(),
      ephemeralKey: ephemeral.publicKey,
      signedPrekeyId: bundle.signedPrekey.id,
      pqPrekeyId: bundle.pqPrekey.id,
      oneTimePrekeyId: oneTimePrekey?.id ?? null,
      kemCiphertext: cipherText,
    },
  }
}

/**
 * The responder's side: finds the prekeys the header names (throws `PrekeyNotFoundError`) and
 * derives SK and AD. Does not delete the one-time prekey: the caller does that (with
 * `removeOneTimePrekey`) once the initial ciphertext decrypted — {@link acceptSession} does.
 */
export async function pqxdhRespond(params: {
  deviceKeys: DeviceKeys
  header: PqxdhHeader
  initiatorId: string
  responderId: string
}): Promise<PqxdhResult & { signedPrekey: KeyPair }> {
  const { deviceKeys, header, initiatorId, responderId } = params
  const spk = deviceKeys.signedPrekeys.find((k) => k.id === header.signedPrekeyId)
  const pq = deviceKeys.pqPrekeys.find((k) => k.id === header.pqPrekeyId)
  const otk =
    header.oneTimePrekeyId === null ? null : deviceKeys.oneTimePrekeys.find((k) => k.id === header.oneTimePrekeyId)
  if (spk === undefined || pq === undefined || otk === undefined) {
    throw new PrekeyNotFoundError(undefined, {
      details: {
        signedPrekeyId: header.signedPrekeyId,
        pqPrekeyId: header.pqPrekeyId,
        oneTimePrekeyId: header.oneTimePrekeyId,
        missing: spk === undefined ? 'signedPrekey' : pq === undefined ? 'pqPrekey' : 'oneTimePrekey',
      },
    })
  }
  const ss = mlKem768Decapsulate({ cipherText: header.kemCiphertext, secretKey: pq.keyPair.secretKey })
  const dh = [
    await x25519SharedSecret({ secretKey: spk.keyPair.secretKey, publicKey: header.identityKey }),
    await x25519SharedSecret({ secretKey: deviceKeys.identityKey.secretKey, publicKey: header.ephemeralKey }),
    await x25519SharedSecret({ secretKey: spk.keyPair.secretKey, publicKey: header.ephemeralKey }),
  ]
  if (otk !== null)
    dh.push(await x25519SharedSecret({ secretKey: otk.keyPair.secretKey, publicKey: header.ephemeralKey }))
  return {
    sharedSecret: kdf([...dh, ss]),
    associatedData: pqxdhAssociatedData({
      initiatorIdentityKey: header.identityKey,
      responderIdentityKey: deviceKeys.identityKey.publicKey,
      initiatorId,
      responderId,
    }),
    signedPrekey: spk.keyPair,
  }
}

/** Encodes an initial message (header and the first Double Ratchet message). */
export function encodeInitialMessage(header: PqxdhHeader, payload: Uint8Array): Uint8Array {
  const w = new ByteWriter(1200 + payload.length)
  w.u8(INITIAL_MESSAGE_VERSION).raw(header.identityKey).raw(header.ephemeralKey)
  w.u32(header.signedPrekeyId).u32(header.pqPrekeyId)
  if (header.oneTimePrekeyId === null) w.u8(0)
  else w.u8(1).u32(header.oneTimePrekeyId)
  w.raw(header.kemCiphertext).raw(payload)
  return w.finish()
}

/** Parses an initial message; throws `MalformedMessageError`. */
export function decodeInitialMessage(bytes: Uint8Array): { header: PqxdhHeader; payload: Uint8Array } {
  const r = new ByteReader(bytes, 'PQXDH initial message')
  const version = r.u8('version')
  if (version !== INITIAL_MESSAGE_VERSION) r.fail('version', 'unsupported', { received: version })
  const identityKey = r.raw(X25519_KEY_BYTES, 'identityKey')
  const ephemeralKey = r.raw(X25519_KEY_BYTES, 'ephemeralKey')
  // X25519 ignores the top bit of a public key (RFC 7748 §5), so a flipped top bit would give the
  // same shared secrets and pass unnoticed: only canonical encodings are taken.
  if ((ephemeralKey[X25519_KEY_BYTES - 1]! & 0x80) !== 0) r.fail('ephemeralKey', 'not canonical (top bit set)', {})
  const signedPrekeyId = r.u32('signedPrekeyId')
  const pqPrekeyId = r.u32('pqPrekeyId')
  const oneTimePrekeyId = r.flag('hasOneTimePrekey') ? r.u32('oneTimePrekeyId') : null
  const kemCiphertext = r.raw(ML_KEM_768_CIPHERTEXT_BYTES, 'kemCiphertext')
  const payload = r.rest()
  return {
    header: { identityKey, ephemeralKey, signedPrekeyId, pqPrekeyId, oneTimePrekeyId, kemCiphertext },
    payload,
  }
}

/**
 * Starts a DM session: PQXDH with the responder's verified bundle, then the Double Ratchet;
 * `plaintext` travels as the first ratchet message inside the initial message.
 */
export async function initiateSession(params: {
  identityKey: KeyPair
  bundle: VerifiedKeyBundle
  initiatorId: string
  responderId: string
  plaintext: Uint8Array
  init?: DoubleRatchetInit
}): Promise<{ session: DoubleRatchetSession; initialMessage: Uint8Array }> {
  const { sharedSecret, associatedData, header } = await pqxdhInitiate(params)
  const session = await createInitiatorSession({
    sharedSecret,
    remoteRatchetPublicKey: params.bundle.signedPrekey.publicKey,
    associatedData,
    ...(params.init === undefined ? {} : { init: params.init }),
  })
  wipe(sharedSecret)
  const payload = await session.encrypt(params.plaintext)
  return { session, initialMessage: encodeInitialMessage(header, payload) }
}

/**
 * Accepts an initial message: PQXDH's responder side, then decrypts the first ratchet message.
 * Only when that decrypts does it return the new session and `deviceKeys` without the used
 * one-time prekey (the caller stores them); any failure leaves nothing changed.
 *
 * When `expectedInitiatorIdentityKey` is given (from the initiator's certificate-committed
 * bundle), a different IK_A throws `InvalidKeyError`. Otherwise the caller must check the
 * returned `initiatorIdentityKey` against the initiator's certificate before trusting the session.
 */
export async function acceptSession(params: {
  deviceKeys: DeviceKeys
  initialMessage: Uint8Array
  initiatorId: string
  responderId: string
  expectedInitiatorIdentityKey?: Uint8Array
  init?: DoubleRatchetInit
}): Promise<{
  session: DoubleRatchetSession
  plaintext: Uint8Array
  initiatorIdentityKey: Uint8Array
  deviceKeys: DeviceKeys
}> {
  const { deviceKeys, initialMessage, initiatorId, responderId, expectedInitiatorIdentityKey } = params
  const { header, payload } = decodeInitialMessage(initialMessage)
  if (expectedInitiatorIdentityKey !== undefined && !equalBytes(header.identityKey, expectedInitiatorIdentityKey)) {
    throw new InvalidKeyError("initial message's identity key is not the initiator's", {
      details: { reason: 'identity-key-mismatch', initiatorId },
    })
  }
  const { sharedSecret, associatedData, signedPrekey } = await pqxdhRespond({
    deviceKeys,
    header,
    initiatorId,
    responderId,
  })
  const session = createResponderSession({
    sharedSecret,
    ratchetKeyPair: signedPrekey,
    associatedData,
    ...(params.init === undefined ? {} : { init: params.init }),
  })
  wipe(sharedSecret)
  const plaintext = await session.decrypt(payload)
  return {
    session,
    plaintext,
    initiatorIdentityKey: header.identityKey,
    deviceKeys: header.oneTimePrekeyId === null ? deviceKeys : removeOneTimePrekey(deviceKeys, header.oneTimePrekeyId),
  }
}
