/**
 * Room encryption with sender keys, as Signal groups and Megolm do it (docs/architecture.md, Encryption: no ordering
 * needed, unlike MLS). Each member has, per room, an outbound sender key: an epoch number and a
 * chain key. Every message steps the chain once (KDF_CK: HMAC-SHA-256 with 0x01 for the message
 * key, 0x02 for the next chain key, see `chain.ts`) and the message key is deleted after use, so a
 * captured chain key cannot read earlier messages (forward secrecy). Other members hold an
 * inbound state per (sender, epoch), installed from a distribution message that travels over
 * the pairwise hybrid channel (`hybrid-kem.ts`).
 *
 * Message key → AES-256-GCM key and nonce: HKDF-SHA-256(zero salt, IKM = message key,
 * info = {@link SENDER_KEY_MESSAGE_INFO}, 44 bytes).
 *
 * Room message (integers big-endian):
 *
 * ```
 * version u8 (1) || epoch u32 || iteration u32 || AES-256-GCM ciphertext || tag (16)
 * AEAD associated data = u16 len || "SecureChat/sender-key/v1" || u16 len || roomId
 *                        || u16 len || senderId || epoch u32 || iteration u32 || u16 len || messageId
 * ```
 *
 * The associated data binds the room, the sender and the message id: a ciphertext replayed
 * into another room, attributed to another sender, or moved to another message id (or
 * iteration) fails to decrypt. The room id and sender id are not in the message; the receiver
 * takes them from the topic and from the gossip message's `from`. There is no extra signature
 * per message: gossipsub runs with `StrictSign`, so every room message is already signed by
 * the sender's PeerId key, and the PeerId is bound to a wallet by the session certificate.
 * (Within a room, a member who holds Alice's chain key could forge messages under her sender key
 * but not under her PeerId signature, which receivers check first.)
 *
 * Distribution message (secret: send only over the pairwise hybrid channel):
 *
 * ```
 * version u8 (1) || u16 len || roomId || u16 len || senderId || epoch u32 || iteration u32 || chainKey (32)
 * ```
 *
 * A distribution carries the *current* chain key, so a new member reads nothing sent before.
 * Rotation ({@link OutboundSenderKey.rotate}) starts a fresh epoch with a random chain key:
 * after a member is removed, banned or fails the gate, every remaining sender rotates and sends
 * the new distribution only to those still eligible. Senders also rotate after
 * {@link SENDER_KEY_ROTATION_MESSAGES} messages or {@link SENDER_KEY_ROTATION_MS}.
 *
 * Receiving bounds: at most {@link SENDER_KEY_MAX_SKIPPED_MESSAGE_KEYS} skipped keys per
 * (sender, epoch), oldest evicted; a jump of more than {@link SENDER_KEY_MAX_FORWARD_JUMP}
 * iterations is a `SkippedKeyLimitError`; at most {@link SENDER_KEY_MAX_EPOCHS_PER_SENDER}
 * epochs per sender (oldest installed evicted). A failed decrypt changes nothing.
 *
 * Earlier start: a member can get a sender's current state for an epoch (an answer to its
 * request) before the distribution of that epoch's start (read later from a store). The chain
 * derives forward only, so the earlier distribution adds the message keys of the iterations
 * below the one first installed — never of one the chain already reached, which stay
 * duplicates — as skipped keys, within the same bounds.
 */

import { expandMessageKey, stepChain } from './chain.ts'
import {
  AES_GCM_TAG_BYTES,
  SENDER_KEY_MAX_EPOCHS_PER_SENDER,
  SENDER_KEY_MAX_FORWARD_JUMP,
  SENDER_KEY_MAX_SKIPPED_MESSAGE_KEYS,
  SENDER_KEY_ROTATION_MESSAGES,
  SENDER_KEY_ROTATION_MS,
  SHARED_SECRET_BYTES,
} from './constants.ts'
import { ByteReader, ByteWriter, utf8Encode } from './encoding.ts'
import {
  DuplicateMessageError,
  InvalidKeyError,
  InvalidStateError,
  SenderKeyNotFoundError,
  SkippedKeyLimitError,
} from './errors.ts'
import { aesGcmOpen, aesGcmSeal, assertKeyBytes, randomBytes, wipe } from './primitives.ts'

export const SENDER_KEY_AD_LABEL = utf8Encode('SecureChat/sender-key/v1')
export const SENDER_KEY_MESSAGE_INFO = utf8Encode('SecureChat_SenderKey_MessageKey_v1')

const MESSAGE_VERSION = 1
const DISTRIBUTION_VERSION = 1
const OUTBOUND_STATE_VERSION = 1
/** Version 2 adds each chain's start iteration; version 1 still loads (see {@link deserializeInboundSenderKeys}). */
const INBOUND_STATE_VERSION = 2
const MAX_ITERATION = 0xffff_ffff
/** Size of the room message header (version, epoch, iteration). */
export const SENDER_KEY_HEADER_BYTES = 9

/** Optional limits and rotation policy; every field defaults to the constant named in its doc. */
export interface SenderKeyInit {
  /** Default {@link SENDER_KEY_MAX_SKIPPED_MESSAGE_KEYS}. */
  maxSkippedMessageKeys?: number
  /** Default {@link SENDER_KEY_MAX_FORWARD_JUMP}. */
  maxForwardJump?: number
  /** Default {@link SENDER_KEY_MAX_EPOCHS_PER_SENDER}. */
  maxEpochsPerSender?: number
  /** Default {@link SENDER_KEY_ROTATION_MESSAGES}. */
  rotationMessages?: number
  /** Default {@link SENDER_KEY_ROTATION_MS}. */
  rotationMs?: number
}

/** What a member needs to read a sender's messages from `iteration` on. Secret. */
export interface SenderKeyDistribution {
  readonly roomId: string
  readonly senderId: string
  readonly epoch: number
  readonly iteration: number
  readonly chainKey: Uint8Array
}

/** A decoded room message header. */
export interface SenderKeyHeader {
  readonly epoch: number
  readonly iteration: number
}

export function encodeSenderKeyDistribution(d: SenderKeyDistribution): Uint8Array {
  assertKeyBytes(d.chainKey, SHARED_SECRET_BYTES, 'chain key')
  return new ByteWriter(128)
    .u8(DISTRIBUTION_VERSION)
    .string16(d.roomId)
    .string16(d.senderId)
    .u32(d.epoch)
    .u32(d.iteration)
    .raw(d.chainKey)
    .finish()
}

/** Throws `MalformedMessageError`. */
export function decodeSenderKeyDistribution(bytes: Uint8Array): SenderKeyDistribution {
  const r = new ByteReader(bytes, 'sender key distribution')
  const version = r.u8('version')
  if (version !== DISTRIBUTION_VERSION) r.fail('version', 'unsupported', { received: version })
  const d = {
    roomId: r.string16('roomId'),
    senderId: r.string16('senderId'),
    epoch: r.u32('epoch'),
    iteration: r.u32('iteration'),
    chainKey: r.raw(SHARED_SECRET_BYTES, 'chainKey'),
  }
  r.end()
  return d
}

/** Splits a room message; throws `MalformedMessageError`. */
export function parseSenderKeyMessage(message: Uint8Array): { header: SenderKeyHeader; ciphertext: Uint8Array } {
  const r = new ByteReader(message, 'room message')
  const version = r.u8('version')
  if (version !== MESSAGE_VERSION) r.fail('version', 'unsupported', { received: version })
  const epoch = r.u32('epoch')
  const iteration = r.u32('iteration')
  // Senders stop one short of the maximum (see encrypt), so the next iteration fits a u32.
  if (iteration === MAX_ITERATION) r.fail('iteration', 'out of range')
  if (r.remaining < AES_GCM_TAG_BYTES) r.fail('ciphertext', 'shorter than the tag')
  return { header: { epoch, iteration }, ciphertext: r.rest() }
}

function associatedData(params: {
  roomId: string
  senderId: string
  epoch: number
  iteration: number
  messageId: Uint8Array
}): Uint8Array {
  return new ByteWriter(128 + params.messageId.length)
    .bytes16(SENDER_KEY_AD_LABEL)
    .string16(params.roomId)
    .string16(params.senderId)
    .u32(params.epoch)
    .u32(params.iteration)
    .bytes16(params.messageId)
    .finish()
}

function header(epoch: number, iteration: number): Uint8Array {
  return new ByteWriter(SENDER_KEY_HEADER_BYTES).u8(MESSAGE_VERSION).u32(epoch).u32(iteration).finish()
}

function randomEpoch(): number {
  return new DataView(randomBytes(4).buffer).getUint32(0)
}

// ---------------------------------------------------------------------------------------------
// Outbound
// ---------------------------------------------------------------------------------------------

/** A member's own sender key for one room. */
export interface OutboundSenderKey {
  readonly roomId: string
  readonly senderId: string
  readonly epoch: number
  /** The iteration the next message will use. */
  readonly iteration: number
  readonly createdAtMs: number
  /**
   * Encrypts one room message. `messageId` (the envelope's id, if the caller has one before
   * encrypting) is bound into the associated data; the receiver must pass the same bytes.
   */
  encrypt(params: { plaintext: Uint8Array; messageId?: Uint8Array }): Promise<Uint8Array>
  /** The distribution for a member: current epoch, iteration and chain key. */
  exportForMember(): SenderKeyDistribution
  /** Whether the rotation policy (message count or age) asks for a new epoch. */
  needsRotation(nowMs?: number): boolean
  /** Starts a fresh epoch with a new random chain key; returns its distribution. */
  rotate(nowMs?: number): SenderKeyDistribution
  /** The state as bytes (secret: store only wrapped). */
  serialize(): Uint8Array
}

interface OutboundState {
  readonly epoch: number
  readonly iteration: number
  readonly chainKey: Uint8Array
  readonly createdAtMs: number
}

class Outbound implements OutboundSenderKey {
  readonly roomId: string
  readonly senderId: string
  #state: OutboundState
  readonly #rotationMessages: number
  readonly #rotationMs: number

  constructor(roomId: string, senderId: string, state: OutboundState, init: SenderKeyInit) {
    this.roomId = roomId
    this.senderId = senderId
    this.#state = state
    this.#rotationMessages = init.rotationMessages ?? SENDER_KEY_ROTATION_MESSAGES
    this.#rotationMs = init.rotationMs ?? SENDER_KEY_ROTATION_MS
  }

  get epoch(): number {
    return this.#state.epoch
  }

  get iteration(): number {
    return this.#state.iteration
  }

  get createdAtMs(): number {
    return this.#state.createdAtMs
  }

  async encrypt(params: { plaintext: Uint8Array; messageId?: Uint8Array }): Promise<Uint8Array> {
    const s = this.#state
    if (s.iteration >= MAX_ITERATION) {
      throw new InvalidStateError('sender key chain exhausted', { hint: 'Rotate the sender key.' })
    }
    // Advance synchronously before any await: concurrent calls and rotations never reuse a key.
    const { chainKey, messageKey } = stepChain(s.chainKey)
    this.#state = { ...s, iteration: s.iteration + 1, chainKey }
    const { key, nonce } = expandMessageKey(messageKey, SENDER_KEY_MESSAGE_INFO)
    try {
      const ciphertext = await aesGcmSeal({
        key,
        nonce,
        plaintext: params.plaintext,
        associatedData: associatedData({
          roomId: this.roomId,
          senderId: this.senderId,
          epoch: s.epoch,
          iteration: s.iteration,
          messageId: params.messageId ?? new Uint8Array(0),
        }),
      })
      const out = new Uint8Array(SENDER_KEY_HEADER_BYTES + ciphertext.length)
      out.set(header(s.epoch, s.iteration))
      out.set(ciphertext, SENDER_KEY_HEADER_BYTES)
      return out
    } finally {
      wipe(messageKey, key, nonce)
    }
  }

  exportForMember(): SenderKeyDistribution {
    const s = this.#state
    return {
      roomId: this.roomId,
      senderId: this.senderId,
      epoch: s.epoch,
      iteration: s.iteration,
      chainKey: s.chainKey.slice(),
    }
  }

  needsRotation(nowMs: number = Date.now()): boolean {
    const s = this.#state
    return s.iteration >= this.#rotationMessages || nowMs - s.createdAtMs >= this.#rotationMs
  }

  rotate(nowMs: number = Date.now()): SenderKeyDistribution {
    this.#state = {
      epoch: (this.#state.epoch + 1) >>> 0,
      iteration: 0,
      chainKey: randomBytes(SHARED_SECRET_BYTES),
      createdAtMs: nowMs,
    }
    return this.exportForMember()
  }

  serialize(): Uint8Array {
    const s = this.#state
    return new ByteWriter(128)
      .u8(OUTBOUND_STATE_VERSION)
      .string16(this.roomId)
      .string16(this.senderId)
      .u32(s.epoch)
      .u32(s.iteration)
      .raw(s.chainKey)
      .u64(s.createdAtMs)
      .finish()
  }
}

/**
 * A new outbound sender key for `roomId`, sent as `senderId` (the member's PeerId). The first
 * epoch number is random, so a sender that lost its state does not reuse an epoch number.
 */
export function createOutboundSenderKey(params: {
  roomId: string
  senderId: string
  nowMs?: number
  init?: SenderKeyInit
}): OutboundSenderKey {
  return new Outbound(
    params.roomId,
    params.senderId,
    {
      epoch: randomEpoch(),
      iteration: 0,
      chainKey: randomBytes(SHARED_SECRET_BYTES),
      createdAtMs: params.nowMs ?? Date.now(),
    },
    params.init ?? {},
  )
}

/** Restores {@link OutboundSenderKey.serialize}; throws `MalformedMessageError`. */
export function deserializeOutboundSenderKey(bytes: Uint8Array, init: SenderKeyInit = {}): OutboundSenderKey {
  const r = new ByteReader(bytes, 'outbound sender key')
  const version = r.u8('version')
  if (version !== OUTBOUND_STATE_VERSION) r.fail('version', 'unsupported', { received: version })
  const roomId = r.string16('roomId')
  const senderId = r.string16('senderId')
  const epoch = r.u32('epoch')
  const iteration = r.u32('iteration')
  const chainKey = r.raw(SHARED_SECRET_BYTES, 'chainKey')
  const createdAtMs = r.u64('createdAtMs')
  r.end()
  return new Outbound(roomId, senderId, { epoch, iteration, chainKey, createdAtMs }, init)
}

// ---------------------------------------------------------------------------------------------
// Inbound
// ---------------------------------------------------------------------------------------------

/** The sender keys a member holds for the other members of one room. */
export interface InboundSenderKeys {
  readonly roomId: string
  /**
   * Installs a distribution received over the pairwise channel from `from` (the authenticated
   * sender of that channel). Returns false, changing nothing, when that (sender, epoch) is
   * already installed from this iteration or an earlier one: a distribution never rewinds a
   * chain (that would re-open duplicates). One that starts earlier than the installed one adds
   * the keys of the iterations below it (never derivable before) as skipped keys, at most
   * {@link SENDER_KEY_MAX_SKIPPED_MESSAGE_KEYS} (oldest dropped), and returns true; a start
   * more than {@link SENDER_KEY_MAX_FORWARD_JUMP} earlier changes nothing.
   * An epoch evicted by newer ones is forgotten entirely, so a later distribution of it would
   * install afresh; only its own sender can send one, and the envelope layer dedupes message ids.
   * Throws `InvalidKeyError` when the distribution names another room or another sender.
   */
  install(params: { distribution: SenderKeyDistribution; from: string }): boolean
  /**
   * Decrypts a room message from `senderId` (the gossip message's verified `from`). Throws
   * `SenderKeyNotFoundError`, `DuplicateMessageError`, `SkippedKeyLimitError`,
   * `DecryptionFailedError` or `MalformedMessageError`; a failure changes nothing.
   */
  decrypt(params: { senderId: string; message: Uint8Array; messageId?: Uint8Array }): Promise<Uint8Array>
  /** Deletes every key of a sender (left, removed or banned). */
  forgetSender(senderId: string): void
  /** The epochs held for a sender, oldest installed first. */
  epochs(senderId: string): number[]
  /** Skipped keys stored for a (sender, epoch). */
  skippedKeyCount(senderId: string, epoch: number): number
  /** The state as bytes (secret: store only wrapped). */
  serialize(): Uint8Array
}

interface InboundChain {
  readonly epoch: number
  /**
   * The iteration the chain was installed from: keys below it were never derivable here, so an
   * earlier distribution may add them (0 for a state saved before this was kept: nothing added).
   */
  readonly start: number
  /** The next iteration the chain key derives. */
  readonly iteration: number
  readonly chainKey: Uint8Array
  /** iteration → message key, insertion-ordered (oldest first). */
  readonly skipped: ReadonlyMap<number, Uint8Array>
}

class Inbound implements InboundSenderKeys {
  readonly roomId: string
  readonly #senders: Map<string, InboundChain[]>
  readonly #maxSkipped: number
  readonly #maxJump: number
  readonly #maxEpochs: number
  #tail: Promise<unknown> = Promise.resolve()

  constructor(roomId: string, senders: Map<string, InboundChain[]>, init: SenderKeyInit) {
    this.roomId = roomId
    this.#senders = senders
    this.#maxSkipped = init.maxSkippedMessageKeys ?? SENDER_KEY_MAX_SKIPPED_MESSAGE_KEYS
    this.#maxJump = init.maxForwardJump ?? SENDER_KEY_MAX_FORWARD_JUMP
    this.#maxEpochs = init.maxEpochsPerSender ?? SENDER_KEY_MAX_EPOCHS_PER_SENDER
    for (const [name, value] of [
      ['maxSkippedMessageKeys', this.#maxSkipped],
      ['maxForwardJump', this.#maxJump],
      ['maxEpochsPerSender', this.#maxEpochs],
    ] as const) {
      if (!Number.isInteger(value) || value < (name === 'maxEpochsPerSender' ? 1 : 0)) {
        throw new RangeError(`${name} out of range: ${value}`)
      }
    }
    // A state saved under larger limits is trimmed to these (oldest first).
    for (const chains of senders.values()) {
      chains.splice(0, Math.max(0, chains.length - this.#maxEpochs))
      for (const [i, c] of chains.entries()) {
        if (c.skipped.size <= this.#maxSkipped) continue
        chains[i] = { ...c, skipped: new Map([...c.skipped].slice(c.skipped.size - this.#maxSkipped)) }
      }
    }
  }

  install(params: { distribution: SenderKeyDistribution; from: string }): boolean {
    const { distribution: d, from } = params
    if (d.roomId !== this.roomId || d.senderId !== from) {
      throw new InvalidKeyError('sender key distribution is for another room or sender', {
        details: { reason: d.roomId !== this.roomId ? 'room-mismatch' : 'sender-mismatch' },
        hint: 'Drop it: a distribution is accepted only from its own sender, for this room.',
      })
    }
    assertKeyBytes(d.chainKey, SHARED_SECRET_BYTES, 'chain key')
    const chains = this.#senders.get(d.senderId) ?? []
    const held = chains.findIndex((c) => c.epoch === d.epoch)
    if (held >= 0) return this.#installEarlier(chains, held, d)
    chains.push({
      epoch: d.epoch,
      start: d.iteration,
      iteration: d.iteration,
      chainKey: d.chainKey.slice(),
      skipped: new Map(),
    })
    if (chains.length > this.#maxEpochs) chains.shift()
    this.#senders.set(d.senderId, chains)
    return true
  }

  /** Adds the keys of `d`'s iterations below the held chain's start (see {@link install}). */
  #installEarlier(chains: InboundChain[], index: number, d: SenderKeyDistribution): boolean {
    const chain = chains[index]!
    const gap = chain.start - d.iteration
    if (gap <= 0 || gap > this.#maxJump) return false
    const earlier = new Map<number, Uint8Array>()
    const storeFrom = chain.start - this.#maxSkipped
    let ck = d.chainKey
    for (let i = d.iteration; i < chain.start; i++) {
      const step = stepChain(ck)
      ck = step.chainKey
      if (i >= storeFrom) earlier.set(i, step.messageKey)
      else wipe(step.messageKey)
    }
    chains[index] = { ...chain, start: d.iteration, skipped: this.#withEarlier(earlier, chain.skipped) }
    return true
  }

  /** `earlier` keys (lower iterations) before `skipped`, the oldest dropped past the bound. */
  #withEarlier(earlier: ReadonlyMap<number, Uint8Array>, skipped: ReadonlyMap<number, Uint8Array>) {
    const merged = [...earlier, ...skipped]
    return new Map(merged.slice(Math.max(0, merged.length - this.#maxSkipped)))
  }

  decrypt(params: { senderId: string; message: Uint8Array; messageId?: Uint8Array }): Promise<Uint8Array> {
    const result = this.#tail.then(() => this.#decrypt(params))
    this.#tail = result.catch(() => undefined)
    return result
  }

  async #decrypt(params: { senderId: string; message: Uint8Array; messageId?: Uint8Array }): Promise<Uint8Array> {
    const { senderId, message } = params
    const { header: h, ciphertext } = parseSenderKeyMessage(message)
    const chain = this.#senders.get(senderId)?.find((c) => c.epoch === h.epoch)
    if (chain === undefined) {
      throw new SenderKeyNotFoundError(undefined, { details: { senderId, epoch: h.epoch } })
    }
    const skipped = new Map(chain.skipped)
    let next: InboundChain
    let messageKey: Uint8Array
    let fromSkipped = false
    if (h.iteration < chain.iteration) {
      const stored = skipped.get(h.iteration)
      if (stored === undefined) {
        // Below where the chain was installed from, the key was never here: an earlier distribution
        // of the epoch (`install`) may still add it, which a caller may wait for (`beforeStart`).
        const beforeStart = h.iteration < chain.start
        throw new DuplicateMessageError(undefined, {
          details: { senderId, epoch: h.epoch, iteration: h.iteration, ...(beforeStart ? { beforeStart } : {}) },
        })
      }
      skipped.delete(h.iteration)
      messageKey = stored
      fromSkipped = true
      next = { ...chain, skipped }
    } else {
      const jump = h.iteration - chain.iteration
      if (jump > this.#maxJump) {
        throw new SkippedKeyLimitError(undefined, {
          details: { senderId, epoch: h.epoch, iteration: h.iteration, jump, maxForwardJump: this.#maxJump },
        })
      }
      let ck = chain.chainKey
      const storeFrom = h.iteration - this.#maxSkipped
      for (let i = chain.iteration; i < h.iteration; i++) {
        const step = stepChain(ck)
        ck = step.chainKey
        if (i >= storeFrom) skipped.set(i, step.messageKey)
      }
      while (skipped.size > this.#maxSkipped) skipped.delete(skipped.keys().next().value as number)
      const step = stepChain(ck)
      messageKey = step.messageKey
      next = { ...chain, iteration: h.iteration + 1, chainKey: step.chainKey, skipped }
    }
    const { key, nonce } = expandMessageKey(messageKey, SENDER_KEY_MESSAGE_INFO)
    let plaintext: Uint8Array
    try {
      plaintext = await aesGcmOpen({
        key,
        nonce,
        ciphertext,
        associatedData: associatedData({
          roomId: this.roomId,
          senderId,
          epoch: h.epoch,
          iteration: h.iteration,
          messageId: params.messageId ?? new Uint8Array(0),
        }),
      })
    } finally {
      wipe(key, nonce)
      if (!fromSkipped) wipe(messageKey) // a stored key stays usable until a decrypt succeeds
    }
    // Commit: replace this chain if it is still installed (it may have been forgotten meanwhile,
    // or given an earlier start: the same chain key, with keys below its old start to keep).
    const chains = this.#senders.get(senderId)
    const index = chains?.findIndex((c) => c.epoch === chain.epoch && c.chainKey === chain.chainKey) ?? -1
    if (index >= 0) {
      const now = chains![index]!
      if (now === chain) chains![index] = next
      else {
        const earlier = new Map([...now.skipped].filter(([i]) => i < chain.start))
        chains![index] = { ...next, start: now.start, skipped: this.#withEarlier(earlier, next.skipped) }
      }
    }
    if (fromSkipped) wipe(messageKey)
    return plaintext
  }

  forgetSender(senderId: string): void {
    this.#senders.delete(senderId)
  }

  epochs(senderId: string): number[] {
    return (this.#senders.get(senderId) ?? []).map((c) => c.epoch)
  }

  skippedKeyCount(senderId: string, epoch: number): number {
    return this.#senders.get(senderId)?.find((c) => c.epoch === epoch)?.skipped.size ?? 0
  }

  serialize(): Uint8Array {
    const w = new ByteWriter(1024)
    w.u8(INBOUND_STATE_VERSION).string16(this.roomId).u32(this.#senders.size)
    for (const [senderId, chains] of this.#senders) {
      w.string16(senderId).u8(chains.length)
      for (const c of chains) {
        w.u32(c.epoch).u32(c.start).u32(c.iteration).raw(c.chainKey).u32(c.skipped.size)
        for (const [iteration, key] of c.skipped) w.u32(iteration).raw(key)
      }
    }
    return w.finish()
  }
}

/** An empty inbound store for `roomId`. */
export function createInboundSenderKeys(params: { roomId: string; init?: SenderKeyInit }): InboundSenderKeys {
  return new Inbound(params.roomId, new Map(), params.init ?? {})
}

/**
 * Restores {@link InboundSenderKeys.serialize}; throws `MalformedMessageError`. A version 1 state
 * (no start iterations) loads with start 0: what it read before is unknown, so no earlier
 * distribution adds keys to its chains.
 */
export function deserializeInboundSenderKeys(bytes: Uint8Array, init: SenderKeyInit = {}): InboundSenderKeys {
  const r = new ByteReader(bytes, 'inbound sender keys')
  const version = r.u8('version')
  if (version !== INBOUND_STATE_VERSION && version !== 1) r.fail('version', 'unsupported', { received: version })
  const roomId = r.string16('roomId')
  const senders = new Map<string, InboundChain[]>()
  for (let s = r.u32('senders'); s > 0; s--) {
    const senderId = r.string16('senderId')
    if (senders.has(senderId)) r.fail('senderId', 'duplicate sender')
    const chains: InboundChain[] = []
    for (let c = r.u8('epochs'); c > 0; c--) {
      const epoch = r.u32('epoch')
      const start = version === 1 ? 0 : r.u32('start')
      const iteration = r.u32('iteration')
      if (start > iteration) r.fail('start', 'after the iteration')
      const chainKey = r.raw(SHARED_SECRET_BYTES, 'chainKey')
      const count = r.u32('skipped')
      if (count * (4 + SHARED_SECRET_BYTES) > r.remaining) r.fail('skipped', 'truncated')
      const skipped = new Map<number, Uint8Array>()
      for (let k = 0; k < count; k++) skipped.set(r.u32('skipped.iteration'), r.raw(SHARED_SECRET_BYTES, 'skipped.key'))
      chains.push({ epoch, start, iteration, chainKey, skipped })
    }
    senders.set(senderId, chains)
  }
  r.end()
  return new Inbound(roomId, senders, init)
}
