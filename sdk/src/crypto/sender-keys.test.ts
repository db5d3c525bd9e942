import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  SENDER_KEY_MAX_EPOCHS_PER_SENDER,
  SENDER_KEY_MAX_FORWARD_JUMP,
  SENDER_KEY_MAX_SKIPPED_MESSAGE_KEYS,
  SENDER_KEY_ROTATION_MESSAGES,
  SENDER_KEY_ROTATION_MS,
} from './constants.ts'
import { ByteWriter } from './encoding.ts'
import {
  CryptoError,
  DecryptionFailedError,
  DuplicateMessageError,
  InvalidKeyError,
  MalformedMessageError,
  SenderKeyNotFoundError,
  SkippedKeyLimitError,
} from './errors.ts'
import {
  createInboundSenderKeys,
  createOutboundSenderKey,
  decodeSenderKeyDistribution,
  deserializeInboundSenderKeys,
  deserializeOutboundSenderKey,
  encodeSenderKeyDistribution,
  type InboundSenderKeys,
  type OutboundSenderKey,
  parseSenderKeyMessage,
  type SenderKeyDistribution,
  type SenderKeyInit,
} from './sender-keys.ts'

const text = (s: string) => new TextEncoder().encode(s)
const ROOM = 'room-1'
const ALICE = '12D3KooWAlice'

function setup(init: SenderKeyInit = {}) {
  const alice = createOutboundSenderKey({ roomId: ROOM, senderId: ALICE, init })
  const bob = createInboundSenderKeys({ roomId: ROOM, init })
  expect(bob.install({ distribution: alice.exportForMember(), from: ALICE })).toBe(true)
  return { alice, bob }
}

function withHeader(message: Uint8Array, epoch: number, iteration: number): Uint8Array {
  const copy = message.slice()
  const view = new DataView(copy.buffer)
  view.setUint32(1, epoch)
  view.setUint32(5, iteration)
  return copy
}

async function expectRejectedUnchanged(
  store: InboundSenderKeys,
  promise: () => Promise<unknown>,
  type: new (...args: never[]) => Error = CryptoError,
) {
  const before = store.serialize()
  await expect(promise()).rejects.toBeInstanceOf(type)
  expect(store.serialize()).toEqual(before)
}

describe('sender keys', () => {
  it('behavior: messages decrypt in order and out of order, once each; keys are deleted after use', async () => {
    const { alice, bob } = setup()
    const sent = await Promise.all([0, 1, 2, 3, 4].map((i) => alice.encrypt({ plaintext: text(`m${i}`) })))
    expect(parseSenderKeyMessage(sent[3]!).header).toEqual({ epoch: alice.epoch, iteration: 3 })
    expect(await bob.decrypt({ senderId: ALICE, message: sent[0]! })).toEqual(text('m0'))
    expect(await bob.decrypt({ senderId: ALICE, message: sent[4]! })).toEqual(text('m4'))
    expect(bob.skippedKeyCount(ALICE, alice.epoch)).toBe(3)
    for (const i of [2, 1, 3]) expect(await bob.decrypt({ senderId: ALICE, message: sent[i]! })).toEqual(text(`m${i}`))
    expect(bob.skippedKeyCount(ALICE, alice.epoch)).toBe(0)
    for (const m of sent) {
      await expectRejectedUnchanged(bob, () => bob.decrypt({ senderId: ALICE, message: m }), DuplicateMessageError)
    }
  })

  it('behavior: the room message is version, epoch, iteration, then ciphertext and tag', async () => {
    const { alice } = setup()
    const m = await alice.encrypt({ plaintext: text('hello') })
    expect(m.length).toBe(9 + 5 + 16)
    expect(m[0]).toBe(1)
  })

  it('error: a ciphertext replayed into another room, attributed to another sender or with another message id fails', async () => {
    const { alice, bob } = setup()
    const messageId = text('msg-42')
    const m = await alice.encrypt({ plaintext: text('x'), messageId })
    // Even a receiver holding the very same chain under another room or sender cannot open it.
    const d = alice.exportForMember()
    const otherRoom = createInboundSenderKeys({ roomId: 'room-2' })
    otherRoom.install({ distribution: { ...d, roomId: 'room-2', iteration: 0 }, from: ALICE })
    await expectRejectedUnchanged(
      otherRoom,
      () => otherRoom.decrypt({ senderId: ALICE, message: m, messageId }),
      DecryptionFailedError,
    )
    const sameRoom = createInboundSenderKeys({ roomId: ROOM })
    sameRoom.install({ distribution: { ...d, senderId: 'mallory', iteration: 0 }, from: 'mallory' })
    await expectRejectedUnchanged(
      sameRoom,
      () => sameRoom.decrypt({ senderId: 'mallory', message: m, messageId }),
      DecryptionFailedError,
    )
    await expectRejectedUnchanged(
      bob,
      () => bob.decrypt({ senderId: ALICE, message: m, messageId: text('msg-43') }),
      DecryptionFailedError,
    )
    await expectRejectedUnchanged(bob, () => bob.decrypt({ senderId: ALICE, message: m }), DecryptionFailedError)
    expect(await bob.decrypt({ senderId: ALICE, message: m, messageId })).toEqual(text('x'))
  })

  it('error: a distribution for another room or from someone else than its sender is an InvalidKeyError', () => {
    const { alice, bob } = setup()
    const d = alice.exportForMember()
    expect(() => bob.install({ distribution: { ...d, roomId: 'room-2' }, from: ALICE })).toThrow(InvalidKeyError)
    expect(() => bob.install({ distribution: d, from: '12D3KooWMallory' })).toThrow(InvalidKeyError)
  })

  it('behavior: a distribution never rewinds a chain — reinstalling an epoch is ignored', async () => {
    const { alice, bob } = setup()
    const m0 = await alice.encrypt({ plaintext: text('0') })
    await bob.decrypt({ senderId: ALICE, message: m0 })
    const before = bob.serialize()
    expect(bob.install({ distribution: { ...alice.exportForMember(), iteration: 0 }, from: ALICE })).toBe(false)
    expect(bob.serialize()).toEqual(before)
    await expect(bob.decrypt({ senderId: ALICE, message: m0 })).rejects.toBeInstanceOf(DuplicateMessageError)
  })

  it('behavior: an earlier distribution of an epoch held adds the keys below the installed start, never re-opens one read', async () => {
    const alice = createOutboundSenderKey({ roomId: ROOM, senderId: ALICE })
    const bob = createInboundSenderKeys({ roomId: ROOM })
    const start = alice.exportForMember()
    const early = [await alice.encrypt({ plaintext: text('0') }), await alice.encrypt({ plaintext: text('1') })]
    // The current state (an answer to a request) arrives first: the earlier messages are behind it.
    expect(bob.install({ distribution: alice.exportForMember(), from: ALICE })).toBe(true)
    const m2 = await alice.encrypt({ plaintext: text('2') })
    expect(await bob.decrypt({ senderId: ALICE, message: m2 })).toEqual(text('2'))
    // Below the installed start: the key was never here, which the error says (a room waits for the start).
    await expect(bob.decrypt({ senderId: ALICE, message: early[0]! })).rejects.toMatchObject({
      name: 'DuplicateMessageError',
      details: { beforeStart: true },
    })
    // Then the epoch's start (read from a store): the chain reads from there.
    expect(bob.install({ distribution: start, from: ALICE })).toBe(true)
    expect(bob.skippedKeyCount(ALICE, start.epoch)).toBe(2)
    // Saved and restored with its start, so a restart in between loses nothing.
    const restored = deserializeInboundSenderKeys(bob.serialize())
    expect(await restored.decrypt({ senderId: ALICE, message: early[1]! })).toEqual(text('1'))
    expect(await restored.decrypt({ senderId: ALICE, message: early[0]! })).toEqual(text('0'))
    // What was read stays a duplicate (not one from before the start), and the same start again changes nothing.
    await expect(restored.decrypt({ senderId: ALICE, message: m2 })).rejects.toBeInstanceOf(DuplicateMessageError)
    await expect(restored.decrypt({ senderId: ALICE, message: m2 })).rejects.not.toHaveProperty('details.beforeStart')
    await expect(restored.decrypt({ senderId: ALICE, message: early[0]! })).rejects.toBeInstanceOf(
      DuplicateMessageError,
    )
    const before = restored.serialize()
    expect(restored.install({ distribution: start, from: ALICE })).toBe(false)
    expect(restored.serialize()).toEqual(before)
    expect(await restored.decrypt({ senderId: ALICE, message: await alice.encrypt({ plaintext: text('3') }) })).toEqual(
      text('3'),
    )
  })

  it('behavior: an earlier start stays within the bounds — oldest keys dropped past maxSkippedMessageKeys, nothing added past maxForwardJump', async () => {
    const alice = createOutboundSenderKey({ roomId: ROOM, senderId: ALICE })
    const start = alice.exportForMember()
    const sent: Uint8Array[] = []
    for (let i = 0; i < 5; i++) sent.push(await alice.encrypt({ plaintext: text(String(i)) }))
    const current = alice.exportForMember()
    const skipBound = createInboundSenderKeys({ roomId: ROOM, init: { maxSkippedMessageKeys: 3 } })
    skipBound.install({ distribution: current, from: ALICE })
    expect(skipBound.install({ distribution: start, from: ALICE })).toBe(true)
    expect(skipBound.skippedKeyCount(ALICE, start.epoch)).toBe(3)
    await expect(skipBound.decrypt({ senderId: ALICE, message: sent[1]! })).rejects.toBeInstanceOf(
      DuplicateMessageError,
    )
    expect(await skipBound.decrypt({ senderId: ALICE, message: sent[2]! })).toEqual(text('2'))
    const jumpBound = createInboundSenderKeys({ roomId: ROOM, init: { maxForwardJump: 4 } })
    jumpBound.install({ distribution: current, from: ALICE })
    const before = jumpBound.serialize()
    expect(jumpBound.install({ distribution: start, from: ALICE })).toBe(false)
    expect(jumpBound.serialize()).toEqual(before)
  })

  it('behavior: a state saved before chains kept their start (version 1) loads, and adds no earlier keys', async () => {
    const alice = createOutboundSenderKey({ roomId: ROOM, senderId: ALICE })
    const start = alice.exportForMember()
    const m0 = await alice.encrypt({ plaintext: text('0') })
    const current = alice.exportForMember()
    const v1 = new ByteWriter(256)
      .u8(1)
      .string16(ROOM)
      .u32(1)
      .string16(ALICE)
      .u8(1)
      .u32(current.epoch)
      .u32(current.iteration)
      .raw(current.chainKey)
      .u32(0)
      .finish()
    const bob = deserializeInboundSenderKeys(v1)
    expect(await bob.decrypt({ senderId: ALICE, message: await alice.encrypt({ plaintext: text('1') }) })).toEqual(
      text('1'),
    )
    expect(bob.install({ distribution: start, from: ALICE })).toBe(false)
    await expect(bob.decrypt({ senderId: ALICE, message: m0 })).rejects.toBeInstanceOf(DuplicateMessageError)
    const corrupt = bob.serialize()
    // start (after the version, room, sender count, sender, epoch count and epoch) past the iteration
    new DataView(corrupt.buffer, corrupt.byteOffset).setUint32(1 + 2 + ROOM.length + 4 + 2 + ALICE.length + 1 + 4, 9)
    expect(() => deserializeInboundSenderKeys(corrupt)).toThrow(MalformedMessageError)
  })

  it(`error: a jump past SENDER_KEY_MAX_FORWARD_JUMP (${SENDER_KEY_MAX_FORWARD_JUMP}) is a SkippedKeyLimitError; an unknown epoch is SenderKeyNotFoundError`, async () => {
    const { alice, bob } = setup()
    const m = await alice.encrypt({ plaintext: text('x') })
    await expectRejectedUnchanged(
      bob,
      () => bob.decrypt({ senderId: ALICE, message: withHeader(m, alice.epoch, SENDER_KEY_MAX_FORWARD_JUMP + 1) }),
      SkippedKeyLimitError,
    )
    await expectRejectedUnchanged(
      bob,
      () => bob.decrypt({ senderId: ALICE, message: withHeader(m, (alice.epoch + 7) >>> 0, 0) }),
      SenderKeyNotFoundError,
    )
    await expectRejectedUnchanged(
      bob,
      () => bob.decrypt({ senderId: 'someone-else', message: m }),
      SenderKeyNotFoundError,
    )
    await expectRejectedUnchanged(
      bob,
      () => bob.decrypt({ senderId: ALICE, message: m.subarray(0, 20) }),
      MalformedMessageError,
    )
  })

  it('behavior: a jump of exactly the bound decrypts and keeps only the newest skipped keys', async () => {
    const init = { maxForwardJump: 50, maxSkippedMessageKeys: 10 }
    const { alice, bob } = setup(init)
    const sent: Uint8Array[] = []
    for (let i = 0; i <= 50; i++) sent.push(await alice.encrypt({ plaintext: text(`m${i}`) }))
    expect(await bob.decrypt({ senderId: ALICE, message: sent[50]! })).toEqual(text('m50'))
    expect(bob.skippedKeyCount(ALICE, alice.epoch)).toBe(10)
    await expectRejectedUnchanged(
      bob,
      () => bob.decrypt({ senderId: ALICE, message: sent[39]! }),
      DuplicateMessageError,
    )
    expect(await bob.decrypt({ senderId: ALICE, message: sent[40]! })).toEqual(text('m40'))
  })

  it('behavior: forward secrecy — captured states cannot decrypt messages sent before the capture', async () => {
    const { alice, bob } = setup()
    const before: Uint8Array[] = []
    for (let i = 0; i < 10; i++) before.push(await alice.encrypt({ plaintext: text(`secret ${i}`) }))
    for (const m of before) await bob.decrypt({ senderId: ALICE, message: m })
    // A receiver's captured state:
    const capturedBob = deserializeInboundSenderKeys(bob.serialize())
    for (const m of before) {
      await expect(capturedBob.decrypt({ senderId: ALICE, message: m })).rejects.toBeInstanceOf(DuplicateMessageError)
    }
    // The sender's captured state: its chain key is already past every message sent.
    const capturedAlice = deserializeOutboundSenderKey(alice.serialize())
    const thief = createInboundSenderKeys({ roomId: ROOM })
    thief.install({ distribution: capturedAlice.exportForMember(), from: ALICE })
    for (const m of before) {
      await expect(thief.decrypt({ senderId: ALICE, message: m })).rejects.toBeInstanceOf(DuplicateMessageError)
    }
    // A new member only reads from the iteration of its distribution on.
    const after = await alice.encrypt({ plaintext: text('after') })
    expect(await thief.decrypt({ senderId: ALICE, message: after })).toEqual(text('after'))
  })

  it('behavior: removal — after rotation the removed member cannot decrypt, remaining members can, in-flight old messages still work', async () => {
    const { alice, bob } = setup()
    const eve = createInboundSenderKeys({ roomId: ROOM })
    eve.install({ distribution: alice.exportForMember(), from: ALICE })
    const old = await alice.encrypt({ plaintext: text('before removal') })
    const oldEpoch = alice.epoch
    const next = alice.rotate() // Eve removed: the new distribution goes to Bob only
    expect(next.epoch).toBe((oldEpoch + 1) >>> 0)
    expect(next.iteration).toBe(0)
    bob.install({ distribution: next, from: ALICE })
    const secret = await alice.encrypt({ plaintext: text('after removal') })
    await expect(eve.decrypt({ senderId: ALICE, message: secret })).rejects.toBeInstanceOf(SenderKeyNotFoundError)
    expect(await bob.decrypt({ senderId: ALICE, message: secret })).toEqual(text('after removal'))
    expect(await bob.decrypt({ senderId: ALICE, message: old })).toEqual(text('before removal'))
    expect(bob.epochs(ALICE)).toEqual([oldEpoch, next.epoch])
    bob.forgetSender(ALICE)
    expect(bob.epochs(ALICE)).toEqual([])
  })

  it(`behavior: rotation is due after SENDER_KEY_ROTATION_MESSAGES (${SENDER_KEY_ROTATION_MESSAGES}) messages or SENDER_KEY_ROTATION_MS`, async () => {
    const t0 = 1_700_000_000_000
    const alice = createOutboundSenderKey({ roomId: ROOM, senderId: ALICE, nowMs: t0 })
    expect(alice.needsRotation(t0)).toBe(false)
    expect(alice.needsRotation(t0 + SENDER_KEY_ROTATION_MS)).toBe(true)
    for (let i = 0; i < SENDER_KEY_ROTATION_MESSAGES - 1; i++) await alice.encrypt({ plaintext: new Uint8Array(1) })
    expect(alice.needsRotation(t0)).toBe(false)
    await alice.encrypt({ plaintext: new Uint8Array(1) })
    expect(alice.needsRotation(t0)).toBe(true)
    alice.rotate(t0 + 1)
    expect(alice.needsRotation(t0 + 1)).toBe(false)
  })

  it(`behavior: at most SENDER_KEY_MAX_EPOCHS_PER_SENDER (${SENDER_KEY_MAX_EPOCHS_PER_SENDER}) epochs are kept per sender`, () => {
    const { alice, bob } = setup()
    const first = alice.epoch
    for (let i = 0; i < SENDER_KEY_MAX_EPOCHS_PER_SENDER; i++)
      bob.install({ distribution: alice.rotate(), from: ALICE })
    expect(bob.epochs(ALICE)).toHaveLength(SENDER_KEY_MAX_EPOCHS_PER_SENDER)
    expect(bob.epochs(ALICE)).not.toContain(first)
  })

  it('behavior: distributions and states round-trip through bytes; malformed bytes are MalformedMessageError', async () => {
    const { alice, bob } = setup()
    const d = alice.exportForMember()
    expect(decodeSenderKeyDistribution(encodeSenderKeyDistribution(d))).toEqual(d)
    expect(() => decodeSenderKeyDistribution(encodeSenderKeyDistribution(d).subarray(1))).toThrow(MalformedMessageError)
    const m = await alice.encrypt({ plaintext: text('x') })
    const alice2 = deserializeOutboundSenderKey(alice.serialize())
    expect(alice2.iteration).toBe(1)
    const bob2 = deserializeInboundSenderKeys(bob.serialize())
    expect(await bob2.decrypt({ senderId: ALICE, message: await alice2.encrypt({ plaintext: text('y') }) })).toEqual(
      text('y'),
    )
    expect(await bob2.decrypt({ senderId: ALICE, message: m })).toEqual(text('x'))
    expect(() => deserializeInboundSenderKeys(bob.serialize().subarray(2))).toThrow(MalformedMessageError)
  })

  it('error: tampering — any flipped bit of a room message is a named error, never a crash, and changes nothing', async () => {
    const { alice, bob } = setup()
    await bob.decrypt({ senderId: ALICE, message: await alice.encrypt({ plaintext: text('warm-up') }) })
    const message = await alice.encrypt({ plaintext: text('the real one'), messageId: text('id') })
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: message.length * 8 - 1 }), async (bit) => {
        const copy = message.slice()
        copy[bit >> 3]! ^= 1 << (bit & 7)
        await expectRejectedUnchanged(bob, () => bob.decrypt({ senderId: ALICE, message: copy, messageId: text('id') }))
      }),
      { numRuns: 100 },
    )
    expect(await bob.decrypt({ senderId: ALICE, message, messageId: text('id') })).toEqual(text('the real one'))
  })
})

// ---------------------------------------------------------------------------------------------
// Property tests against an exact reference model
// ---------------------------------------------------------------------------------------------

type Command =
  | { kind: 'send' }
  | { kind: 'deliver'; pick: number }
  | { kind: 'drop'; pick: number }
  | { kind: 'duplicate'; pick: number }
  | { kind: 'tamper'; pick: number; bit: number }
  | { kind: 'restartSender' }
  | { kind: 'restartReceiver' }
  | { kind: 'rotate' }
  | { kind: 'distribute' }
  | { kind: 'reinstall' }

const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ kind: 'send' as const }) },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('deliver' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('drop' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('duplicate' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('tamper' as const), pick: fc.nat(), bit: fc.nat() }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'restartSender' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'restartReceiver' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'rotate' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'distribute' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reinstall' as const }) },
)

interface Sent {
  readonly bytes: Uint8Array
  readonly plaintext: Uint8Array
  readonly messageId: Uint8Array
  readonly epoch: number
  readonly iteration: number
}

/** What the receiver should know about one epoch. */
interface ModelChain {
  next: number
  skipped: number[] // oldest first
}

async function runModel(commands: Command[], init: Required<Omit<SenderKeyInit, 'rotationMessages' | 'rotationMs'>>) {
  let sender: OutboundSenderKey = createOutboundSenderKey({ roomId: ROOM, senderId: ALICE, init })
  let receiver: InboundSenderKeys = createInboundSenderKeys({ roomId: ROOM, init })
  const model = new Map<number, ModelChain>() // installed epochs, in install order
  const pending: SenderKeyDistribution[] = []
  let lastInstalled = sender.exportForMember()
  const install = (d: SenderKeyDistribution) => {
    expect(receiver.install({ distribution: d, from: ALICE })).toBe(true)
    model.set(d.epoch, { next: d.iteration, skipped: [] })
    if (model.size > init.maxEpochsPerSender) model.delete(model.keys().next().value as number)
    lastInstalled = d
  }
  install(lastInstalled)
  const inFlight: Sent[] = []
  const delivered: Sent[] = []
  let counter = 0

  /** The outcome the model predicts for delivering `m` (and its effect, applied on success). */
  const predict = (m: Sent): { ok: true; apply: () => void } | { ok: false; error: new (...a: never[]) => Error } => {
    const chain = model.get(m.epoch)
    if (chain === undefined) return { ok: false, error: SenderKeyNotFoundError }
    if (m.iteration < chain.next) {
      const at = chain.skipped.indexOf(m.iteration)
      if (at < 0) return { ok: false, error: DuplicateMessageError }
      return { ok: true, apply: () => chain.skipped.splice(at, 1) }
    }
    if (m.iteration - chain.next > init.maxForwardJump) return { ok: false, error: SkippedKeyLimitError }
    return {
      ok: true,
      apply: () => {
        for (let i = chain.next; i < m.iteration; i++) chain.skipped.push(i)
        chain.skipped.splice(0, Math.max(0, chain.skipped.length - init.maxSkippedMessageKeys))
        chain.next = m.iteration + 1
      },
    }
  }

  const deliver = async (m: Sent) => {
    const expected = predict(m)
    if (expected.ok) {
      expect(await receiver.decrypt({ senderId: ALICE, message: m.bytes, messageId: m.messageId })).toEqual(m.plaintext)
      expected.apply()
      delivered.push(m)
    } else {
      await expectRejectedUnchanged(
        receiver,
        () => receiver.decrypt({ senderId: ALICE, message: m.bytes, messageId: m.messageId }),
        expected.error,
      )
      // Its distribution may still arrive: keep it for later.
      if (expected.error === SenderKeyNotFoundError && pending.some((d) => d.epoch === m.epoch)) inFlight.push(m)
    }
  }

  for (const c of commands) {
    switch (c.kind) {
      case 'send': {
        const plaintext = text(`message ${counter}`)
        const messageId = text(`id-${counter++}`)
        const epoch = sender.epoch
        const iteration = sender.iteration
        inFlight.push({ bytes: await sender.encrypt({ plaintext, messageId }), plaintext, messageId, epoch, iteration })
        break
      }
      case 'deliver':
        if (inFlight.length > 0) await deliver(inFlight.splice(c.pick % inFlight.length, 1)[0]!)
        break
      case 'drop':
        if (inFlight.length > 0) inFlight.splice(c.pick % inFlight.length, 1)
        break
      case 'duplicate': {
        if (delivered.length === 0) break
        const m = delivered[c.pick % delivered.length]!
        const expected = model.has(m.epoch) ? DuplicateMessageError : SenderKeyNotFoundError
        await expectRejectedUnchanged(
          receiver,
          () => receiver.decrypt({ senderId: ALICE, message: m.bytes, messageId: m.messageId }),
          expected,
        )
        break
      }
      case 'tamper': {
        if (inFlight.length === 0) break
        const m = inFlight[c.pick % inFlight.length]!
        const copy = m.bytes.slice()
        const bit = c.bit % (copy.length * 8)
        copy[bit >> 3]! ^= 1 << (bit & 7)
        await expectRejectedUnchanged(receiver, () =>
          receiver.decrypt({ senderId: ALICE, message: copy, messageId: m.messageId }),
        )
        break
      }
      case 'restartSender':
        sender = deserializeOutboundSenderKey(sender.serialize(), init)
        break
      case 'restartReceiver':
        receiver = deserializeInboundSenderKeys(receiver.serialize(), init)
        break
      case 'rotate':
        pending.push(sender.rotate())
        break
      case 'distribute': {
        const d = pending.shift()
        if (d !== undefined) install(d)
        break
      }
      case 'reinstall': {
        // A distribution of an epoch still held changes nothing (no rewind).
        if (!model.has(lastInstalled.epoch)) break
        const before = receiver.serialize()
        expect(receiver.install({ distribution: lastInstalled, from: ALICE })).toBe(false)
        expect(receiver.serialize()).toEqual(before)
        break
      }
    }
    for (const [epoch, chain] of model) {
      expect(receiver.skippedKeyCount(ALICE, epoch)).toBe(chain.skipped.length)
      expect(chain.skipped.length).toBeLessThanOrEqual(init.maxSkippedMessageKeys)
    }
    expect(receiver.epochs(ALICE)).toEqual([...model.keys()])
  }
  while (pending.length > 0) install(pending.shift()!)
  for (const m of inFlight.splice(0)) await deliver(m)
}

describe('sender key properties (exact reference model)', () => {
  const commands = fc.array(command, { minLength: 20, maxLength: 100, size: 'max' })

  it('behavior: with the default bounds every delivered message decrypts exactly once; duplicates, tampering, restarts and rotations behave', async () => {
    const init = {
      maxSkippedMessageKeys: SENDER_KEY_MAX_SKIPPED_MESSAGE_KEYS,
      maxForwardJump: SENDER_KEY_MAX_FORWARD_JUMP,
      maxEpochsPerSender: SENDER_KEY_MAX_EPOCHS_PER_SENDER,
    }
    await fc.assert(
      fc.asyncProperty(commands, (cs) => runModel(cs, init)),
      { numRuns: 60 },
    )
  }, 120_000)

  it('behavior: with small bounds the skipped-key bound holds, jumps past the bound are rejected, evicted keys never decrypt', async () => {
    const init = { maxSkippedMessageKeys: 3, maxForwardJump: 4, maxEpochsPerSender: 2 }
    await fc.assert(
      fc.asyncProperty(commands, (cs) => runModel(cs, init)),
      { numRuns: 80 },
    )
  }, 120_000)
})
