/**
 * The Double Ratchet, as Signal specifies it (https://signal.org/docs/specifications/doubleratchet/,
 * revision 4), without header encryption, on X25519, HKDF-SHA-256, HMAC-SHA-256 and AES-256-GCM.
 *
 * - GENERATE_DH / DH: X25519 (`primitives.ts`); an all-zero DH output is rejected.
 * - KDF_RK(rk, dh_out): HKDF-SHA-256 with salt = rk, IKM = dh_out, info = {@link ROOT_KDF_INFO},
 *   64 bytes: new root key || new chain key.
 * - KDF_CK(ck): HMAC-SHA-256(ck, 0x01) = message key, HMAC-SHA-256(ck, 0x02) = next chain key.
 * - ENCRYPT(mk, plaintext, AD || header): HKDF-SHA-256(zero salt, IKM = mk, info =
 *   {@link MESSAGE_KDF_INFO}) gives an AES-256-GCM key (32) and nonce (12); the AEAD's associated
 *   data is `u32 len(AD) || AD || header` (the spec's CONCAT, unambiguous thanks to the prefix).
 *   AD is the session's associated data from PQXDH (both identity keys and both peer ids).
 *
 * Wire format of a message (all integers big-endian):
 *
 * ```
 * header (41 bytes) = version u8 (1) || dh (32, sender's current ratchet public key)
 *                     || pn u32 (messages in the sender's previous sending chain) || n u32
 * message           = header || AES-256-GCM ciphertext || tag (16)
 * ```
 *
 * Bounds (libsignal's): at most {@link MAX_SKIPPED_MESSAGE_KEYS} stored skipped message keys over
 * all chains (oldest evicted first); a single jump of a receiving chain of at most
 * {@link MAX_FORWARD_JUMP} messages, beyond which `SkippedKeyLimitError`. A message whose key is
 * gone (already decrypted, or evicted) is a `DuplicateMessageError`.
 *
 * Decryption is transactional: it works on a copy of the state and commits only after the AEAD
 * verified, so a forged, tampered or duplicate message leaves the session exactly as it was.
 * Operations on one session run one at a time, in call order.
 */

import { bytesToHex } from '@noble/hashes/utils.js'
import { expandMessageKey, stepChain } from './chain.ts'
import {
  AES_GCM_TAG_BYTES,
  MAX_FORWARD_JUMP,
  MAX_PREVIOUS_RECEIVING_CHAINS,
  MAX_SKIPPED_MESSAGE_KEYS,
  SHARED_SECRET_BYTES,
  X25519_KEY_BYTES,
} from './constants.ts'
import { ByteReader, ByteWriter, utf8Encode } from './encoding.ts'
import {
  DecryptionFailedError,
  DuplicateMessageError,
  InvalidStateError,
  MalformedMessageError,
  SkippedKeyLimitError,
} from './errors.ts'
import {
  aesGcmOpen,
  aesGcmSeal,
  assertKeyBytes,
  equalBytes,
  hkdfSha256,
  type KeyPair,
  wipe,
  x25519Keygen,
  x25519SharedSecret,
} from './primitives.ts'

/** HKDF info of KDF_RK. */
export const ROOT_KDF_INFO = utf8Encode('SecureChat_DoubleRatchet_RootKey_v1')
/** HKDF info expanding a message key into an AES-256-GCM key and nonce. */
export const MESSAGE_KDF_INFO = utf8Encode('SecureChat_DoubleRatchet_MessageKey_v1')

const MESSAGE_VERSION = 1
const STATE_VERSION = 1
/** Size of an encoded header. */
export const RATCHET_HEADER_BYTES = 1 + X25519_KEY_BYTES + 4 + 4
const MAX_COUNTER = 0xffff_ffff

/** Optional limits; every field defaults to the constant named in its doc. */
export interface DoubleRatchetInit {
  /** Default {@link MAX_SKIPPED_MESSAGE_KEYS}. */
  maxSkippedMessageKeys?: number
  /** Default {@link MAX_FORWARD_JUMP}. */
  maxForwardJump?: number
}

/** A decoded message header. */
export interface RatchetHeader {
  /** The sender's current ratchet public key. */
  readonly dh: Uint8Array
  /** Number of messages in the sender's previous sending chain. */
  readonly pn: number
  /** Message number in the current sending chain. */
  readonly n: number
}

/** One end of a Double Ratchet session. */
export interface DoubleRatchetSession {
  /** Encrypts the next message: `header || ciphertext`. */
  encrypt(plaintext: Uint8Array): Promise<Uint8Array>
  /**
   * Decrypts a message. Throws `MalformedMessageError`, `DecryptionFailedError`,
   * `DuplicateMessageError`, `SkippedKeyLimitError` or `InvalidKeyError`, and then the state is
   * unchanged.
   */
  decrypt(message: Uint8Array): Promise<Uint8Array>
  /** The committed state as bytes (secret: store only wrapped, see docs/architecture.md, Local vault). */
  serialize(): Uint8Array
  /** The session's associated data (bound into every message). */
  readonly associatedData: Uint8Array
  /** Skipped message keys currently stored. */
  readonly skippedKeyCount: number
  /** False for a responder until the initiator's first message arrived. */
  readonly canSend: boolean
}

interface SkippedKey {
  readonly dh: Uint8Array
  readonly n: number
  readonly messageKey: Uint8Array
}

interface PreviousChain {
  readonly dh: Uint8Array
  /** The chain's next message number when it was replaced. */
  readonly nextN: number
}

interface RatchetState {
  dhs: KeyPair
  dhr: Uint8Array | null
  rk: Uint8Array
  cks: Uint8Array | null
  ckr: Uint8Array | null
  ns: number
  nr: number
  pn: number
  readonly ad: Uint8Array
  previousChains: PreviousChain[]
  /** Insertion-ordered: the first entry is the oldest and is evicted first. */
  skipped: Map<string, SkippedKey>
}

/** A state before its first message: no receiving chain, counters at zero, nothing skipped. */
function freshState(keys: Pick<RatchetState, 'dhs' | 'dhr' | 'rk' | 'cks'>, associatedData: Uint8Array): RatchetState {
  return { ...keys, ckr: null, ns: 0, nr: 0, pn: 0, ad: associatedData.slice(), previousChains: [], skipped: new Map() }
}

function cloneState(s: RatchetState): RatchetState {
  // Byte arrays are never modified in place, so sharing them between copies is safe.
  return { ...s, previousChains: [...s.previousChains], skipped: new Map(s.skipped) }
}

function skippedId(dh: Uint8Array, n: number): string {
  return `${bytesToHex(dh)}:${n}`
}

function kdfRootKey(rk: Uint8Array, dhOut: Uint8Array): { rk: Uint8Array; ck: Uint8Array } {
  const out = hkdfSha256({ ikm: dhOut, salt: rk, info: ROOT_KDF_INFO, length: 2 * SHARED_SECRET_BYTES })
  return { rk: out.slice(0, SHARED_SECRET_BYTES), ck: out.slice(SHARED_SECRET_BYTES) }
}

export function encodeRatchetHeader(header: RatchetHeader): Uint8Array {
  return new ByteWriter(RATCHET_HEADER_BYTES).u8(MESSAGE_VERSION).raw(header.dh).u32(header.pn).u32(header.n).finish()
}

/** Splits a message into its header and ciphertext; throws `MalformedMessageError`. */
export function parseRatchetMessage(message: Uint8Array): { header: RatchetHeader; ciphertext: Uint8Array } {
  const reader = new ByteReader(message, 'double ratchet message')
  const version = reader.u8('version')
  if (version !== MESSAGE_VERSION) reader.fail('version', 'unsupported', { received: version })
  const dh = reader.raw(X25519_KEY_BYTES, 'dh')
  const pn = reader.u32('pn')
  const n = reader.u32('n')
  // Senders stop one short of the maximum (see encrypt), so the next expected number fits a u32.
  if (n === MAX_COUNTER) reader.fail('n', 'out of range')
  if (reader.remaining < AES_GCM_TAG_BYTES) reader.fail('ciphertext', 'shorter than the tag')
  return { header: { dh, pn, n }, ciphertext: reader.rest() }
}

function aeadAssociatedData(ad: Uint8Array, headerBytes: Uint8Array): Uint8Array {
  return new ByteWriter(4 + ad.length + headerBytes.length).bytes32(ad).raw(headerBytes).finish()
}

class RatchetSession implements DoubleRatchetSession {
  #state: RatchetState
  readonly #maxSkipped: number
  readonly #maxJump: number
  #tail: Promise<unknown> = Promise.resolve()

  constructor(state: RatchetState, init: DoubleRatchetInit) {
    this.#maxSkipped = init.maxSkippedMessageKeys ?? MAX_SKIPPED_MESSAGE_KEYS
    this.#maxJump = init.maxForwardJump ?? MAX_FORWARD_JUMP
    if (!Number.isInteger(this.#maxSkipped) || this.#maxSkipped < 0) {
      throw new RangeError(`maxSkippedMessageKeys must be a non-negative integer, got ${this.#maxSkipped}`)
    }
    if (!Number.isInteger(this.#maxJump) || this.#maxJump < 0) {
      throw new RangeError(`maxForwardJump must be a non-negative integer, got ${this.#maxJump}`)
    }
    this.#state = state
    this.#evict(this.#state)
  }

  get associatedData(): Uint8Array {
    return this.#state.ad.slice()
  }

  get skippedKeyCount(): number {
    return this.#state.skipped.size
  }

  get canSend(): boolean {
    return this.#state.cks !== null
  }

  /** Runs operations one at a time so that no two of them start from the same state. */
  #serial<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(operation)
    this.#tail = result.catch(() => undefined)
    return result
  }

  encrypt(plaintext: Uint8Array): Promise<Uint8Array> {
    return this.#serial(async () => {
      const s = cloneState(this.#state)
      if (s.cks === null) {
        throw new InvalidStateError('cannot send before the first message of the initiator was received', {
          hint: 'Responders send only after decrypting the initial message.',
        })
      }
      if (s.ns >= MAX_COUNTER) {
        throw new InvalidStateError('sending chain exhausted', { hint: 'Start a new session.' })
      }
      const { chainKey, messageKey } = stepChain(s.cks)
      s.cks = chainKey
      const headerBytes = encodeRatchetHeader({ dh: s.dhs.publicKey, pn: s.pn, n: s.ns })
      s.ns += 1
      const { key, nonce } = expandMessageKey(messageKey, MESSAGE_KDF_INFO)
      const ciphertext = await aesGcmSeal({
        key,
        nonce,
        plaintext,
        associatedData: aeadAssociatedData(s.ad, headerBytes),
      })
      wipe(messageKey, key, nonce)
      this.#state = s
      const out = new Uint8Array(headerBytes.length + ciphertext.length)
      out.set(headerBytes)
      out.set(ciphertext, headerBytes.length)
      return out
    })
  }

  decrypt(message: Uint8Array): Promise<Uint8Array> {
    return this.#serial(async () => {
      const { header, ciphertext } = parseRatchetMessage(message)
      const headerBytes = message.subarray(0, RATCHET_HEADER_BYTES)
      const s = cloneState(this.#state)

      // TrySkippedMessageKeys
      const id = skippedId(header.dh, header.n)
      const stored = s.skipped.get(id)
      if (stored !== undefined) {
        const plaintext = await this.#open(s.ad, stored.messageKey, headerBytes, ciphertext)
        s.skipped.delete(id)
        this.#state = s
        wipe(stored.messageKey) // no state references it any more
        return plaintext
      }

      if (s.dhr !== null && equalBytes(header.dh, s.dhr)) {
        // An initiator's first remote key (the responder's prekey) never sends: no receiving chain.
        if (s.ckr === null) throw new DecryptionFailedError('no receiving chain for this ratchet key')
        if (header.n < s.nr) throw this.#duplicate(header)
        this.#checkJump(header.n - s.nr, header)
      } else {
        if (s.previousChains.some((chain) => equalBytes(chain.dh, header.dh))) throw this.#duplicate(header)
        // A new ratchet public key: check both jumps before doing any work.
        if (s.ckr !== null) this.#checkJump(header.pn - s.nr, header)
        this.#checkJump(header.n, header)
        this.#skipMessageKeys(s, header.pn)
        await this.#dhRatchet(s, header)
      }
      this.#skipMessageKeys(s, header.n)
      const { chainKey, messageKey } = stepChain(s.ckr!)
      s.ckr = chainKey
      s.nr += 1
      let plaintext: Uint8Array
      try {
        plaintext = await this.#open(s.ad, messageKey, headerBytes, ciphertext)
      } finally {
        wipe(messageKey)
      }
      this.#evict(s)
      this.#state = s
      return plaintext
    })
  }

  serialize(): Uint8Array {
    const s = this.#state
    const w = new ByteWriter(512 + s.skipped.size * 72)
    w.u8(STATE_VERSION)
    w.raw(s.dhs.secretKey).raw(s.dhs.publicKey)
    writeOptionalKey(w, s.dhr)
    w.raw(s.rk)
    writeOptionalKey(w, s.cks)
    writeOptionalKey(w, s.ckr)
    w.u32(s.ns).u32(s.nr).u32(s.pn)
    w.bytes32(s.ad)
    w.u8(s.previousChains.length)
    for (const chain of s.previousChains) w.raw(chain.dh).u32(chain.nextN)
    w.u32(s.skipped.size)
    for (const key of s.skipped.values()) w.raw(key.dh).u32(key.n).raw(key.messageKey)
    return w.finish()
  }

  #checkJump(jump: number, header: RatchetHeader): void {
    if (jump > this.#maxJump) {
      throw new SkippedKeyLimitError(undefined, {
        details: { n: header.n, pn: header.pn, jump, maxForwardJump: this.#maxJump },
      })
    }
  }

  #duplicate(header: RatchetHeader): DuplicateMessageError {
    return new DuplicateMessageError(undefined, { details: { n: header.n } })
  }

  /** The spec's SkipMessageKeys; `until` was checked against the jump bound by the caller. */
  #skipMessageKeys(s: RatchetState, until: number): void {
    if (s.ckr === null || s.dhr === null) return
    let ck = s.ckr
    // Keys older than the last `maxSkipped` would be evicted at once: derive but do not store them.
    const storeFrom = until - this.#maxSkipped
    while (s.nr < until) {
      const step = stepChain(ck)
      ck = step.chainKey
      if (s.nr >= storeFrom) {
        s.skipped.set(skippedId(s.dhr, s.nr), { dh: s.dhr, n: s.nr, messageKey: step.messageKey })
      }
      s.nr += 1
    }
    s.ckr = ck
    this.#evict(s)
  }

  #evict(s: RatchetState): void {
    while (s.skipped.size > this.#maxSkipped) {
      const oldest = s.skipped.keys().next().value as string
      s.skipped.delete(oldest)
    }
  }

  /** The spec's DHRatchet. */
  async #dhRatchet(s: RatchetState, header: RatchetHeader): Promise<void> {
    if (s.dhr !== null) {
      s.previousChains.push({ dh: s.dhr, nextN: s.nr })
      if (s.previousChains.length > MAX_PREVIOUS_RECEIVING_CHAINS) s.previousChains.shift()
    }
    s.pn = s.ns
    s.ns = 0
    s.nr = 0
    s.dhr = header.dh
    const received = kdfRootKey(s.rk, await x25519SharedSecret({ secretKey: s.dhs.secretKey, publicKey: s.dhr }))
    s.rk = received.rk
    s.ckr = received.ck
    s.dhs = await x25519Keygen()
    const sending = kdfRootKey(s.rk, await x25519SharedSecret({ secretKey: s.dhs.secretKey, publicKey: s.dhr }))
    s.rk = sending.rk
    s.cks = sending.ck
  }

  async #open(
    ad: Uint8Array,
    messageKey: Uint8Array,
    headerBytes: Uint8Array,
    ciphertext: Uint8Array,
  ): Promise<Uint8Array> {
    const { key, nonce } = expandMessageKey(messageKey, MESSAGE_KDF_INFO)
    try {
      return await aesGcmOpen({ key, nonce, ciphertext, associatedData: aeadAssociatedData(ad, headerBytes) })
    } finally {
      wipe(key, nonce)
    }
  }
}

function writeOptionalKey(w: ByteWriter, key: Uint8Array | null): void {
  if (key === null) w.u8(0)
  else w.u8(1).raw(key)
}

function readOptionalKey(r: ByteReader, field: string): Uint8Array | null {
  return r.flag(field) ? r.raw(SHARED_SECRET_BYTES, field) : null
}

/**
 * The initiator's session (Alice): the spec's RatchetInitAlice. `sharedSecret` is PQXDH's SK,
 * `remoteRatchetPublicKey` the responder's signed prekey, `associatedData` PQXDH's AD.
 */
export async function createInitiatorSession(params: {
  sharedSecret: Uint8Array
  remoteRatchetPublicKey: Uint8Array
  associatedData: Uint8Array
  init?: DoubleRatchetInit
}): Promise<DoubleRatchetSession> {
  const { sharedSecret, remoteRatchetPublicKey, associatedData, init = {} } = params
  assertKeyBytes(sharedSecret, SHARED_SECRET_BYTES, 'shared secret')
  assertKeyBytes(remoteRatchetPublicKey, X25519_KEY_BYTES, 'remote ratchet public key')
  const dhs = await x25519Keygen()
  const { rk, ck } = kdfRootKey(
    sharedSecret,
    await x25519SharedSecret({ secretKey: dhs.secretKey, publicKey: remoteRatchetPublicKey }),
  )
  return new RatchetSession(freshState({ dhs, dhr: remoteRatchetPublicKey.slice(), rk, cks: ck }, associatedData), init)
}

/**
 * The responder's session (Bob): the spec's RatchetInitBob. `ratchetKeyPair` is the signed
 * prekey the initiator used. It can send once it decrypted the initiator's first message.
 */
export function createResponderSession(params: {
  sharedSecret: Uint8Array
  ratchetKeyPair: KeyPair
  associatedData: Uint8Array
  init?: DoubleRatchetInit
}): DoubleRatchetSession {
  const { sharedSecret, ratchetKeyPair, associatedData, init = {} } = params
  assertKeyBytes(sharedSecret, SHARED_SECRET_BYTES, 'shared secret')
  assertKeyBytes(ratchetKeyPair.secretKey, X25519_KEY_BYTES, 'ratchet secret key')
  assertKeyBytes(ratchetKeyPair.publicKey, X25519_KEY_BYTES, 'ratchet public key')
  return new RatchetSession(
    freshState(
      {
        dhs: { publicKey: ratchetKeyPair.publicKey.slice(), secretKey: ratchetKeyPair.secretKey.slice() },
        dhr: null,
        rk: sharedSecret.slice(),
        cks: null,
      },
      associatedData,
    ),
    init,
  )
}

/** Restores a session from {@link DoubleRatchetSession.serialize}; throws `MalformedMessageError`. */
export function deserializeSession(bytes: Uint8Array, init: DoubleRatchetInit = {}): DoubleRatchetSession {
  const r = new ByteReader(bytes, 'double ratchet state')
  const version = r.u8('version')
  if (version !== STATE_VERSION) r.fail('version', 'unsupported', { received: version })
  const dhs = {
    secretKey: r.raw(X25519_KEY_BYTES, 'dhs.secretKey'),
    publicKey: r.raw(X25519_KEY_BYTES, 'dhs.publicKey'),
  }
  const dhr = readOptionalKey(r, 'dhr')
  const rk = r.raw(SHARED_SECRET_BYTES, 'rk')
  const cks = readOptionalKey(r, 'cks')
  const ckr = readOptionalKey(r, 'ckr')
  const ns = r.u32('ns')
  const nr = r.u32('nr')
  const pn = r.u32('pn')
  const ad = r.bytes32('ad', 1 << 16)
  const chainCount = r.u8('previousChains')
  if (chainCount > MAX_PREVIOUS_RECEIVING_CHAINS) r.fail('previousChains', 'too many', { chainCount })
  const previousChains: PreviousChain[] = []
  for (let i = 0; i < chainCount; i++) {
    previousChains.push({ dh: r.raw(X25519_KEY_BYTES, 'previousChains.dh'), nextN: r.u32('previousChains.nextN') })
  }
  const skippedCount = r.u32('skipped')
  if (skippedCount * (X25519_KEY_BYTES + 4 + SHARED_SECRET_BYTES) > r.remaining) r.fail('skipped', 'truncated')
  const skipped = new Map<string, SkippedKey>()
  for (let i = 0; i < skippedCount; i++) {
    const dh = r.raw(X25519_KEY_BYTES, 'skipped.dh')
    const n = r.u32('skipped.n')
    const messageKey = r.raw(SHARED_SECRET_BYTES, 'skipped.messageKey')
    skipped.set(skippedId(dh, n), { dh, n, messageKey })
  }
  r.end()
  if (ckr !== null && dhr === null) {
    throw new MalformedMessageError('double ratchet state has a receiving chain without a ratchet key')
  }
  return new RatchetSession({ dhs, dhr, rk, cks, ckr, ns, nr, pn, ad, previousChains, skipped }, init)
}
