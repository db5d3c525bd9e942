/**
 * Pairwise channel: one hybrid X25519 + ML-KEM-768 agreement (`hybrid-kem.ts`) opens a one-way
 * channel from a sender to one recipient; every later message on it costs symmetric crypto only.
 * Rooms carry each sender-key rotation to each member over it (docs/architecture.md, Rooms: sender
 * keys), so a rotation to N members costs N HKDF + AES-GCM instead of N X-Wing encapsulations.
 *
 * Key schedule (Signal-style KDF chain on HKDF-SHA-256):
 *
 * ```
 * (key, ct, TH) = hybridEncapsulate(S → R, binding)     -- X-Wing + X25519(IK_S, IK_R), see hybrid-kem.ts
 * id    = TH[0..16]                                     -- names the channel; TH binds both identity
 *                                                           keys, R's KEM key, ct, both ids, context
 * B     = SHA-256( u16 len || "SecureChat/pairwise-channel/v1"
 *                  || u16 len || senderId || u16 len || recipientId || u16 len || context )
 * CK_0  = HKDF(IKM = key, salt = TH, info = CHANNEL_ROOT_INFO, L = 32)
 * CK_n+1 || K_n || N_n = HKDF(IKM = CK_n, info = CHANNEL_STEP_INFO, L = 32 + 32 + 12)
 * AD_n  = version u8 || id (16) || step u32 || B
 * ```
 *
 * Entries (the message for step n is AES-256-GCM(K_n, N_n, plaintext, AD_n) || tag):
 *
 * ```
 * opening:  version u8 (1) || kind u8 (0) || ct (1120) || AEAD(step 0)        -- opens a channel
 * wrapped:  version u8 (1) || kind u8 (1) || id (16) || step u32 || AEAD(step n), n ≥ 1
 * ```
 *
 * Both sides delete CK_n once step n is used: state at step n+1 cannot derive K_0..K_n, so a
 * stolen channel state (device or vault) opens no entry already delivered (forward secrecy of
 * past wraps). A receiver accepts only steps ahead of its own (`step ≥ next`), moving at most
 * {@link CHANNEL_MAX_SKIPPED_STEPS} forward and keeping no skipped keys: a replayed or reordered
 * older entry is refused (`DuplicateMessageError`), one too far ahead too (`SkippedKeyLimitError`),
 * one on a channel it does not hold throws `ChannelNotFoundError` (the sender must open a new
 * channel). State changes only after the AEAD verified.
 *
 * Properties: confidentiality of the channel rests on the opening's X-Wing (PQ/T hybrid) and is
 * kept by the one-way chain; authentication of the opening is X25519(IK_S, IK_R) (classical, as in
 * hybrid-kem.ts), of later entries possession of the chain (only S and R hold it). The binding B
 * is checked by the receiver against its own expectation (sender, recipient, room), so an entry
 * replayed under another identity or room is refused. No post-compromise healing: a stolen state
 * reads later entries until the sender opens a new channel (bundle change, restart, re-seal).
 */

import {
  AES_256_GCM_KEY_BYTES,
  AES_GCM_NONCE_BYTES,
  CHANNEL_ID_BYTES,
  CHANNEL_MAX_SKIPPED_STEPS,
  SHARED_SECRET_BYTES,
  XWING_CIPHERTEXT_BYTES,
} from './constants.ts'
import { ByteReader, ByteWriter, utf8Encode } from './encoding.ts'
import {
  ChannelNotFoundError,
  DecryptionFailedError,
  DuplicateMessageError,
  MalformedMessageError,
  SkippedKeyLimitError,
} from './errors.ts'
import { type HybridBinding, hybridDecapsulate, hybridEncapsulate } from './hybrid-kem.ts'
import { aesGcmOpen, aesGcmSeal, equalBytes, hkdfSha256, type KeyPair, sha256, wipe } from './primitives.ts'

export const CHANNEL_LABEL = utf8Encode('SecureChat/pairwise-channel/v1')
export const CHANNEL_ROOT_INFO = utf8Encode('SecureChat_PairwiseChannel_Root_v1')
export const CHANNEL_STEP_INFO = utf8Encode('SecureChat_PairwiseChannel_Step_HKDF-SHA-256_AES-256-GCM_v1')
const VERSION = 1
const KIND_OPENING = 0
const KIND_WRAPPED = 1
const STATE_VERSION = 1
/** The largest step a channel reaches (u32 on the wire); the sender opens a new channel then. */
const MAX_STEP = 0xffff_ffff

function bindingHash(binding: HybridBinding): Uint8Array {
  return sha256(
    new ByteWriter(256)
      .bytes16(CHANNEL_LABEL)
      .string16(binding.senderId)
      .string16(binding.recipientId)
      .string16(binding.context)
      .finish(),
  )
}

function associatedData(id: Uint8Array, step: number, binding: Uint8Array): Uint8Array {
  return new ByteWriter(1 + CHANNEL_ID_BYTES + 4 + 32).u8(VERSION).raw(id).u32(step).raw(binding).finish()
}

/** One chain step: the next chain key and this step's AEAD key and nonce. Wipes nothing. */
function stepKeys(chainKey: Uint8Array): { next: Uint8Array; key: Uint8Array; nonce: Uint8Array } {
  const okm = hkdfSha256({
    ikm: chainKey,
    info: CHANNEL_STEP_INFO,
    length: SHARED_SECRET_BYTES + AES_256_GCM_KEY_BYTES + AES_GCM_NONCE_BYTES,
  })
  return {
    next: okm.slice(0, SHARED_SECRET_BYTES),
    key: okm.slice(SHARED_SECRET_BYTES, SHARED_SECRET_BYTES + AES_256_GCM_KEY_BYTES),
    nonce: okm.slice(SHARED_SECRET_BYTES + AES_256_GCM_KEY_BYTES),
  }
}

function rootKey(sharedKey: Uint8Array, th: Uint8Array): Uint8Array {
  const root = hkdfSha256({ ikm: sharedKey, salt: th, info: CHANNEL_ROOT_INFO, length: SHARED_SECRET_BYTES })
  wipe(sharedKey)
  return root
}

/** The sender's end of a channel: kept in memory only (a restarted sender opens new channels). */
export class OutboundChannel {
  readonly id: Uint8Array
  readonly #binding: Uint8Array
  #chainKey: Uint8Array
  #step: number

  /** @internal use {@link openChannel} */
  constructor(id: Uint8Array, binding: Uint8Array, chainKey: Uint8Array, step: number) {
    this.id = id
    this.#binding = binding
    this.#chainKey = chainKey
    this.#step = step
  }

  /** The step the next {@link wrap} uses. */
  get step(): number {
    return this.#step
  }

  /** Whether the channel can still wrap (its step counter is not exhausted, not disposed). */
  get usable(): boolean {
    return this.#step < MAX_STEP && this.#chainKey.length > 0
  }

  /** Encrypts `plaintext` at the current step and moves the chain on (the step's keys are wiped). */
  async wrap(plaintext: Uint8Array): Promise<Uint8Array> {
    const sealed = await this.#seal(plaintext)
    return new ByteWriter(1 + 1 + CHANNEL_ID_BYTES + 4 + sealed.step.length)
      .u8(VERSION)
      .u8(KIND_WRAPPED)
      .raw(this.id)
      .u32(sealed.n)
      .raw(sealed.step)
      .finish()
  }

  /** @internal the AEAD of one step; the chain moves before the await, so wraps never share a step. */
  async #seal(plaintext: Uint8Array): Promise<{ n: number; step: Uint8Array }> {
    if (!this.usable) throw new RangeError('pairwise channel exhausted or disposed: open a new one')
    const n = this.#step
    const { next, key, nonce } = stepKeys(this.#chainKey)
    wipe(this.#chainKey)
    this.#chainKey = next
    this.#step = n + 1
    try {
      const step = await aesGcmSeal({
        key,
        nonce,
        plaintext,
        associatedData: associatedData(this.id, n, this.#binding),
      })
      return { n, step }
    } finally {
      wipe(key, nonce)
    }
  }

  /** Wipes the chain key; the channel cannot wrap any more. */
  dispose(): void {
    wipe(this.#chainKey)
    this.#chainKey = new Uint8Array(0)
  }

  /** @internal the opening entry's AEAD at step 0. */
  static async open(channel: OutboundChannel, plaintext: Uint8Array): Promise<Uint8Array> {
    return (await channel.#seal(plaintext)).step
  }
}

/** The recipient's end of a channel. Its {@link serialize} output is secret (vault only). */
export class InboundChannel {
  readonly id: Uint8Array
  readonly #binding: Uint8Array
  #chainKey: Uint8Array
  #next: number
  #queue: Promise<unknown> = Promise.resolve()

  /** @internal use {@link acceptChannel} or {@link deserializeInboundChannel} */
  constructor(id: Uint8Array, binding: Uint8Array, chainKey: Uint8Array, next: number) {
    this.id = id
    this.#binding = binding
    this.#chainKey = chainKey
    this.#next = next
  }

  /** The lowest step this end still accepts. */
  get nextStep(): number {
    return this.#next
  }

  /**
   * Opens a wrapped entry from `binding.senderId` to us. Throws `ChannelNotFoundError` (another
   * channel), `DuplicateMessageError` (a step already used or stepped over: replay, reorder),
   * `SkippedKeyLimitError`, `DecryptionFailedError` (wrong binding, tampered) or
   * `MalformedMessageError`; the state is unchanged unless it returns.
   */
  unwrap(params: { binding: HybridBinding; wrapped: Uint8Array }): Promise<Uint8Array> {
    const run = this.#queue.then(() => this.#unwrap(params))
    this.#queue = run.catch(() => undefined)
    return run
  }

  async #unwrap(params: { binding: HybridBinding; wrapped: Uint8Array }): Promise<Uint8Array> {
    const entry = parseChannelEntry(params.wrapped)
    if (entry.kind !== 'wrapped') throw new MalformedMessageError('an opening entry is not a wrapped one')
    if (!equalBytes(entry.id, this.id)) throw new ChannelNotFoundError(undefined, { details: { step: entry.step } })
    if (!equalBytes(bindingHash(params.binding), this.#binding)) {
      throw new DecryptionFailedError('pairwise channel bound to another sender, recipient or context')
    }
    if (entry.step < this.#next) {
      throw new DuplicateMessageError('pairwise channel step already used', {
        details: { step: entry.step, next: this.#next },
      })
    }
    if (entry.step - this.#next > CHANNEL_MAX_SKIPPED_STEPS) {
      throw new SkippedKeyLimitError('pairwise channel step too far ahead', {
        details: { step: entry.step, next: this.#next, max: CHANNEL_MAX_SKIPPED_STEPS },
      })
    }
    let chainKey = this.#chainKey
    for (let n = this.#next; n < entry.step; n++) {
      const { next, key, nonce } = stepKeys(chainKey)
      wipe(key, nonce)
      if (chainKey !== this.#chainKey) wipe(chainKey)
      chainKey = next
    }
    const { next, key, nonce } = stepKeys(chainKey)
    if (chainKey !== this.#chainKey) wipe(chainKey)
    try {
      const plaintext = await aesGcmOpen({
        key,
        nonce,
        ciphertext: entry.sealed,
        associatedData: associatedData(this.id, entry.step, this.#binding),
      })
      wipe(this.#chainKey)
      this.#chainKey = next
      this.#next = entry.step + 1
      return plaintext
    } catch (err) {
      wipe(next)
      throw err
    } finally {
      wipe(key, nonce)
    }
  }

  /** `version u8 || id (16) || binding (32) || next u32 || chainKey (32)`: secret. */
  serialize(): Uint8Array {
    return new ByteWriter(1 + CHANNEL_ID_BYTES + 32 + 4 + SHARED_SECRET_BYTES)
      .u8(STATE_VERSION)
      .raw(this.id)
      .raw(this.#binding)
      .u32(this.#next)
      .raw(this.#chainKey)
      .finish()
  }

  /** Wipes the chain key (the channel is forgotten). */
  dispose(): void {
    wipe(this.#chainKey)
  }
}

/** Restores {@link InboundChannel.serialize}; throws `MalformedMessageError`. */
export function deserializeInboundChannel(bytes: Uint8Array): InboundChannel {
  const r = new ByteReader(bytes, 'pairwise channel state')
  const version = r.u8('version')
  if (version !== STATE_VERSION) r.fail('version', 'unsupported', { received: version })
  const id = r.raw(CHANNEL_ID_BYTES, 'id').slice()
  const binding = r.raw(32, 'binding').slice()
  const next = r.u32('next')
  const chainKey = r.raw(SHARED_SECRET_BYTES, 'chainKey').slice()
  r.end()
  return new InboundChannel(id, binding, chainKey, next)
}

type ChannelEntry =
  | { kind: 'opening'; cipherText: Uint8Array; sealed: Uint8Array }
  | { kind: 'wrapped'; id: Uint8Array; step: number; sealed: Uint8Array }

function parseChannelEntry(bytes: Uint8Array): ChannelEntry {
  const r = new ByteReader(bytes, 'pairwise channel entry')
  const version = r.u8('version')
  if (version !== VERSION) r.fail('version', 'unsupported', { received: version })
  const kind = r.u8('kind')
  if (kind === KIND_OPENING)
    return { kind: 'opening', cipherText: r.raw(XWING_CIPHERTEXT_BYTES, 'ct'), sealed: r.rest() }
  if (kind !== KIND_WRAPPED) r.fail('kind', 'unknown', { received: kind })
  const id = r.raw(CHANNEL_ID_BYTES, 'id')
  const step = r.u32('step')
  if (step === 0) r.fail('step', 'step 0 is the opening')
  return { kind: 'wrapped', id, step, sealed: r.rest() }
}

/**
 * Sender side: a fresh hybrid agreement to the recipient, opening a channel whose first message
 * (step 0) is `plaintext`. Returns the channel (for later {@link OutboundChannel.wrap}s) and the
 * opening entry to send.
 */
export async function openChannel(
  params: HybridBinding & {
    senderIdentityKey: KeyPair
    recipientIdentityKey: Uint8Array
    recipientKemKey: Uint8Array
    plaintext: Uint8Array
  },
): Promise<{ channel: OutboundChannel; opening: Uint8Array }> {
  const { sharedKey, cipherText, transcriptHash: th } = await hybridEncapsulate(params)
  const channel = new OutboundChannel(th.slice(0, CHANNEL_ID_BYTES), bindingHash(params), rootKey(sharedKey, th), 0)
  const sealed = await OutboundChannel.open(channel, params.plaintext)
  const opening = new ByteWriter(2 + cipherText.length + sealed.length)
    .u8(VERSION)
    .u8(KIND_OPENING)
    .raw(cipherText)
    .raw(sealed)
    .finish()
  return { channel, opening }
}

/**
 * Recipient side of {@link openChannel}: returns the channel (next step 1) and the opening's
 * plaintext. Throws `DecryptionFailedError` when sender, recipient, binding or bytes differ.
 */
export async function acceptChannel(
  params: HybridBinding & {
    recipientIdentityKey: KeyPair
    recipientKemKey: KeyPair
    senderIdentityKey: Uint8Array
    opening: Uint8Array
  },
): Promise<{ channel: InboundChannel; plaintext: Uint8Array }> {
  const entry = parseChannelEntry(params.opening)
  if (entry.kind !== 'opening') throw new MalformedMessageError('a wrapped entry does not open a channel')
  const { sharedKey, transcriptHash: th } = await hybridDecapsulate({ ...params, cipherText: entry.cipherText })
  const id = th.slice(0, CHANNEL_ID_BYTES)
  const binding = bindingHash(params)
  const chainKey = rootKey(sharedKey, th)
  const { next, key, nonce } = stepKeys(chainKey)
  wipe(chainKey)
  try {
    const plaintext = await aesGcmOpen({
      key,
      nonce,
      ciphertext: entry.sealed,
      associatedData: associatedData(id, 0, binding),
    })
    return { channel: new InboundChannel(id, binding, next, 1), plaintext }
  } catch (err) {
    wipe(next)
    throw err
  } finally {
    wipe(key, nonce)
  }
}
