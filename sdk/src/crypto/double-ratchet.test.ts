import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MAX_FORWARD_JUMP, MAX_SKIPPED_MESSAGE_KEYS } from './constants.ts'
import {
  createInitiatorSession,
  createResponderSession,
  type DoubleRatchetInit,
  type DoubleRatchetSession,
  deserializeSession,
  encodeRatchetHeader,
  parseRatchetMessage,
} from './double-ratchet.ts'
import {
  CryptoError,
  DecryptionFailedError,
  DuplicateMessageError,
  InvalidStateError,
  MalformedMessageError,
  SkippedKeyLimitError,
} from './errors.ts'
import { randomBytes, x25519Keygen } from './primitives.ts'

const text = (s: string) => new TextEncoder().encode(s)

async function sessionPair(init: DoubleRatchetInit = {}) {
  const sharedSecret = randomBytes(32)
  const prekey = await x25519Keygen()
  const associatedData = randomBytes(80)
  const alice = await createInitiatorSession({
    sharedSecret,
    remoteRatchetPublicKey: prekey.publicKey,
    associatedData,
    init,
  })
  const bob = createResponderSession({ sharedSecret, ratchetKeyPair: prekey, associatedData, init })
  return { alice, bob, sharedSecret, prekey, associatedData }
}

/** Calls `fn` and checks that it throws an error of `type` and leaves `session`'s state unchanged. */
async function expectRejectedUnchanged(
  session: DoubleRatchetSession,
  promise: () => Promise<unknown>,
  type: new (...args: never[]) => Error = CryptoError,
) {
  const before = session.serialize()
  await expect(promise()).rejects.toBeInstanceOf(type)
  expect(session.serialize()).toEqual(before)
}

describe('Double Ratchet', () => {
  it('behavior: a conversation in both directions decrypts, with DH ratchet steps', async () => {
    const { alice, bob } = await sessionPair()
    expect(bob.canSend).toBe(false)
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 3; i++) {
        const m = await alice.encrypt(text(`a${round}.${i}`))
        expect(new TextDecoder().decode(await bob.decrypt(m))).toBe(`a${round}.${i}`)
      }
      expect(bob.canSend).toBe(true)
      const r = await bob.encrypt(text(`b${round}`))
      expect(new TextDecoder().decode(await alice.decrypt(r))).toBe(`b${round}`)
    }
    expect(alice.skippedKeyCount).toBe(0)
    expect(bob.skippedKeyCount).toBe(0)
  })

  it('behavior: out-of-order messages across ratchet steps decrypt once each, and skipped keys are deleted', async () => {
    const { alice, bob } = await sessionPair()
    const a1 = [await alice.encrypt(text('a1')), await alice.encrypt(text('a2')), await alice.encrypt(text('a3'))]
    expect(await bob.decrypt(a1[2]!)).toEqual(text('a3'))
    expect(bob.skippedKeyCount).toBe(2)
    const b1 = await bob.encrypt(text('b1'))
    await alice.decrypt(b1)
    const a2 = await alice.encrypt(text('a4')) // new chain, pn = 3
    expect(await bob.decrypt(a2)).toEqual(text('a4'))
    expect(await bob.decrypt(a1[0]!)).toEqual(text('a1'))
    expect(await bob.decrypt(a1[1]!)).toEqual(text('a2'))
    expect(bob.skippedKeyCount).toBe(0)
  })

  it('behavior: the message header is version, ratchet key, pn and n; the rest is ciphertext and tag', async () => {
    const { alice } = await sessionPair()
    const m = await alice.encrypt(text('hello'))
    expect(m.length).toBe(41 + 5 + 16)
    const { header } = parseRatchetMessage(m)
    expect(header.pn).toBe(0)
    expect(header.n).toBe(0)
    expect(encodeRatchetHeader(header)).toEqual(m.subarray(0, 41))
  })

  it('behavior: concurrent decrypts of reordered messages all succeed (operations are serialised)', async () => {
    const { alice, bob } = await sessionPair()
    const messages = await Promise.all(Array.from({ length: 10 }, (_, i) => alice.encrypt(text(`m${i}`))))
    const shuffled = [...messages].reverse()
    const out = await Promise.all(shuffled.map((m) => bob.decrypt(m)))
    expect(out.map((p) => new TextDecoder().decode(p))).toEqual([...Array(10).keys()].reverse().map((i) => `m${i}`))
  })

  it('error: a duplicate is a DuplicateMessageError and leaves the state unchanged', async () => {
    const { alice, bob } = await sessionPair()
    const m0 = await alice.encrypt(text('m0'))
    const m1 = await alice.encrypt(text('m1'))
    await bob.decrypt(m1)
    await bob.decrypt(m0) // from the skipped keys
    await expectRejectedUnchanged(bob, () => bob.decrypt(m0), DuplicateMessageError)
    await expectRejectedUnchanged(bob, () => bob.decrypt(m1), DuplicateMessageError)
    // and an old chain's message after a ratchet step
    await alice.decrypt(await bob.encrypt(text('b')))
    await bob.decrypt(await alice.encrypt(text('a-next')))
    await expectRejectedUnchanged(bob, () => bob.decrypt(m1), DuplicateMessageError)
  })

  it('error: the responder cannot send before the first message arrives', async () => {
    const { bob } = await sessionPair()
    await expect(bob.encrypt(text('x'))).rejects.toBeInstanceOf(InvalidStateError)
  })

  it('error: a message from a session with other associated data fails to decrypt', async () => {
    const { alice, sharedSecret, prekey } = await sessionPair()
    const other = createResponderSession({ sharedSecret, ratchetKeyPair: prekey, associatedData: randomBytes(80) })
    await expectRejectedUnchanged(
      other,
      async () => other.decrypt(await alice.encrypt(text('x'))),
      DecryptionFailedError,
    )
  })

  it(`error: a forward jump past MAX_FORWARD_JUMP (${MAX_FORWARD_JUMP}) is a SkippedKeyLimitError, on the same chain and on a new one`, async () => {
    const { alice, bob } = await sessionPair()
    const first = await alice.encrypt(text('first'))
    await bob.decrypt(first)
    const { header, ciphertext } = parseRatchetMessage(first)
    const sameChain = encodeRatchetHeader({ ...header, n: 1 + MAX_FORWARD_JUMP + 1 })
    await expectRejectedUnchanged(
      bob,
      () => bob.decrypt(new Uint8Array([...sameChain, ...ciphertext])),
      SkippedKeyLimitError,
    )
    const newChain = encodeRatchetHeader({ dh: (await x25519Keygen()).publicKey, pn: 0, n: MAX_FORWARD_JUMP + 1 })
    await expectRejectedUnchanged(
      bob,
      () => bob.decrypt(new Uint8Array([...newChain, ...ciphertext])),
      SkippedKeyLimitError,
    )
    const oldChainJump = encodeRatchetHeader({ dh: (await x25519Keygen()).publicKey, pn: MAX_FORWARD_JUMP + 2, n: 0 })
    await expectRejectedUnchanged(
      bob,
      () => bob.decrypt(new Uint8Array([...oldChainJump, ...ciphertext])),
      SkippedKeyLimitError,
    )
  })

  it(`behavior: a jump of exactly MAX_FORWARD_JUMP decrypts; only the newest MAX_SKIPPED_MESSAGE_KEYS (${MAX_SKIPPED_MESSAGE_KEYS}) keys are kept`, async () => {
    const { alice, bob } = await sessionPair()
    const sent: Uint8Array[] = []
    for (let i = 0; i <= MAX_FORWARD_JUMP; i++) sent.push(await alice.encrypt(text(`m${i}`)))
    expect(await bob.decrypt(sent[MAX_FORWARD_JUMP]!)).toEqual(text(`m${MAX_FORWARD_JUMP}`))
    expect(bob.skippedKeyCount).toBe(MAX_SKIPPED_MESSAGE_KEYS)
    // evicted: the oldest keys are gone for good
    await expectRejectedUnchanged(bob, () => bob.decrypt(sent[0]!), DuplicateMessageError)
    const oldestKept = MAX_FORWARD_JUMP - MAX_SKIPPED_MESSAGE_KEYS
    await expectRejectedUnchanged(bob, () => bob.decrypt(sent[oldestKept - 1]!), DuplicateMessageError)
    expect(await bob.decrypt(sent[oldestKept]!)).toEqual(text(`m${oldestKept}`))
    expect(await bob.decrypt(sent[MAX_FORWARD_JUMP - 1]!)).toEqual(text(`m${MAX_FORWARD_JUMP - 1}`))
    expect(bob.skippedKeyCount).toBe(MAX_SKIPPED_MESSAGE_KEYS - 2)
  }, 60_000)

  it('behavior: forward secrecy — a state captured after receiving cannot decrypt the messages received before', async () => {
    const { alice, bob } = await sessionPair()
    const before: Uint8Array[] = []
    for (let i = 0; i < 5; i++) before.push(await alice.encrypt(text(`secret ${i}`)))
    for (const m of before) await bob.decrypt(m)
    await alice.decrypt(await bob.encrypt(text('ack')))
    const capturedBob = deserializeSession(bob.serialize())
    const capturedAlice = deserializeSession(alice.serialize())
    for (const m of before) {
      await expect(capturedBob.decrypt(m)).rejects.toBeInstanceOf(DuplicateMessageError)
    }
    expect(capturedBob.skippedKeyCount).toBe(0)
    // The sender's own captured state holds no key of what it sent either.
    for (const m of before) await expect(capturedAlice.decrypt(m)).rejects.toBeInstanceOf(CryptoError)
  })

  it('behavior: serialize and deserialize mid-conversation, with skipped keys, continue the session', async () => {
    const { alice, bob } = await sessionPair()
    const m = [await alice.encrypt(text('0')), await alice.encrypt(text('1')), await alice.encrypt(text('2'))]
    await bob.decrypt(m[2]!)
    const bob2 = deserializeSession(bob.serialize())
    expect(bob2.skippedKeyCount).toBe(2)
    expect(bob2.associatedData).toEqual(bob.associatedData)
    expect(await bob2.decrypt(m[0]!)).toEqual(text('0'))
    const reply = await bob2.encrypt(text('r'))
    const alice2 = deserializeSession(alice.serialize())
    expect(await alice2.decrypt(reply)).toEqual(text('r'))
    expect(await bob2.decrypt(await alice2.encrypt(text('3')))).toEqual(text('3'))
  })

  it('error: malformed state bytes and messages are MalformedMessageError', async () => {
    const { alice, bob } = await sessionPair()
    const state = alice.serialize()
    expect(() => deserializeSession(state.subarray(0, state.length - 1))).toThrow(MalformedMessageError)
    expect(() => deserializeSession(new Uint8Array([...state, 0]))).toThrow(MalformedMessageError)
    expect(() => deserializeSession(new Uint8Array([9, ...state.subarray(1)]))).toThrow(MalformedMessageError)
    await expect(bob.decrypt(new Uint8Array(10))).rejects.toBeInstanceOf(MalformedMessageError)
    const m = await alice.encrypt(text('x'))
    m[0] = 2
    await expect(bob.decrypt(m)).rejects.toBeInstanceOf(MalformedMessageError)
  })

  it('error: tampering — any flipped bit of header or ciphertext is a named error, never a crash, and the state is unchanged', async () => {
    const { alice, bob } = await sessionPair()
    await bob.decrypt(await alice.encrypt(text('warm-up')))
    await alice.decrypt(await bob.encrypt(text('warm-up reply')))
    const message = await alice.encrypt(text('the real one'))
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: message.length * 8 - 1 }), async (bit) => {
        const copy = message.slice()
        copy[bit >> 3]! ^= 1 << (bit & 7)
        await expectRejectedUnchanged(bob, () => bob.decrypt(copy))
      }),
      { numRuns: 100 },
    )
    expect(await bob.decrypt(message)).toEqual(text('the real one'))
  })
})

// ---------------------------------------------------------------------------------------------
// Property tests: random interleavings of send, receive, reorder, drop, duplicate, restart
// ---------------------------------------------------------------------------------------------

type Party = 0 | 1
type Command =
  | { kind: 'send'; from: Party }
  | { kind: 'deliver'; to: Party; pick: number }
  | { kind: 'drop'; to: Party; pick: number }
  | { kind: 'duplicate'; to: Party; pick: number }
  | { kind: 'tamper'; to: Party; pick: number; bit: number }
  | { kind: 'restart'; who: Party }

const party = fc.constantFrom<Party>(0, 1)
const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('send' as const), from: party }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('deliver' as const), to: party, pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('drop' as const), to: party, pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('duplicate' as const), to: party, pick: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('tamper' as const), to: party, pick: fc.nat(), bit: fc.nat() }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('restart' as const), who: party }) },
)

interface Sent {
  readonly bytes: Uint8Array
  readonly plaintext: Uint8Array
}

/**
 * Runs commands against two sessions. With `strict`, every message delivered once must decrypt
 * (the limits are never reached); otherwise a delivery may fail with a bound error.
 */
async function runInterleaving(commands: Command[], init: DoubleRatchetInit, strict: boolean): Promise<void> {
  const pair = await sessionPair(init)
  const sessions: DoubleRatchetSession[] = [pair.alice, pair.bob]
  const inFlight: Sent[][] = [[], []]
  const delivered: Sent[][] = [[], []]
  const maxSkipped = init.maxSkippedMessageKeys ?? MAX_SKIPPED_MESSAGE_KEYS
  let counter = 0

  const deliver = async (to: Party, m: Sent) => {
    const session = sessions[to]!
    const before = session.serialize()
    try {
      expect(await session.decrypt(m.bytes)).toEqual(m.plaintext)
      delivered[to]!.push(m)
    } catch (err) {
      if (strict) throw err
      expect(err).toSatisfy((e) => e instanceof DuplicateMessageError || e instanceof SkippedKeyLimitError)
      expect(session.serialize()).toEqual(before)
    }
  }

  for (const c of commands) {
    switch (c.kind) {
      case 'send': {
        const session = sessions[c.from]!
        const plaintext = text(`message ${counter++}`)
        if (!session.canSend) {
          await expect(session.encrypt(plaintext)).rejects.toBeInstanceOf(InvalidStateError)
          break
        }
        inFlight[1 - c.from]!.push({ bytes: await session.encrypt(plaintext), plaintext })
        break
      }
      case 'deliver': {
        const queue = inFlight[c.to]!
        if (queue.length === 0) break
        await deliver(c.to, queue.splice(c.pick % queue.length, 1)[0]!)
        break
      }
      case 'drop': {
        const queue = inFlight[c.to]!
        if (queue.length > 0) queue.splice(c.pick % queue.length, 1)
        break
      }
      case 'duplicate': {
        const done = delivered[c.to]!
        if (done.length === 0) break
        const session = sessions[c.to]!
        await expectRejectedUnchanged(
          session,
          () => session.decrypt(done[c.pick % done.length]!.bytes),
          DuplicateMessageError,
        )
        break
      }
      case 'tamper': {
        const queue = inFlight[c.to]!
        if (queue.length === 0) break
        const copy = queue[c.pick % queue.length]!.bytes.slice()
        const bit = c.bit % (copy.length * 8)
        copy[bit >> 3]! ^= 1 << (bit & 7)
        const session = sessions[c.to]!
        await expectRejectedUnchanged(session, () => session.decrypt(copy))
        break
      }
      case 'restart':
        sessions[c.who] = deserializeSession(sessions[c.who]!.serialize(), init)
        break
    }
    for (const session of sessions) expect(session.skippedKeyCount).toBeLessThanOrEqual(maxSkipped)
  }
  // Whatever is still in flight arrives now, in order.
  for (const to of [0, 1] as const) for (const m of inFlight[to]!) await deliver(to, m)
}

describe('Double Ratchet properties', () => {
  it('behavior: every delivered message decrypts exactly once; duplicates and tampering are rejected; restarts are invisible', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 20, maxLength: 80, size: 'max' }), (commands) =>
        runInterleaving(commands, {}, true),
      ),
      { numRuns: 60 },
    )
  }, 120_000)

  it('behavior: with small bounds, skipped keys never exceed the bound, nothing is accepted twice, failures change nothing', async () => {
    const init = { maxSkippedMessageKeys: 3, maxForwardJump: 5 }
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 20, maxLength: 80, size: 'max' }), (commands) =>
        runInterleaving(commands, init, false),
      ),
      { numRuns: 60 },
    )
  }, 120_000)
})
