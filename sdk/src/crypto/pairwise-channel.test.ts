import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { CHANNEL_MAX_SKIPPED_STEPS } from './constants.ts'
import {
  ChannelNotFoundError,
  CryptoError,
  DecryptionFailedError,
  DuplicateMessageError,
  MalformedMessageError,
  SkippedKeyLimitError,
} from './errors.ts'
import { generateDeviceKeys } from './key-bundle.ts'
import {
  acceptChannel,
  deserializeInboundChannel,
  type InboundChannel,
  type OutboundChannel,
  openChannel,
} from './pairwise-channel.ts'

const text = (s: string) => new TextEncoder().encode(s)
const binding = { senderId: '12D3KooWAlice', recipientId: '12D3KooWBob', context: 'sender-key-channel:room-1' }
const [alice, bob, mallory] = await Promise.all([
  generateDeviceKeys({ oneTimePrekeyCount: 0 }),
  generateDeviceKeys({ oneTimePrekeyCount: 0 }),
  generateDeviceKeys({ oneTimePrekeyCount: 0 }),
])

async function pair(plaintext = text('epoch 0')): Promise<{ out: OutboundChannel; inb: InboundChannel }> {
  const { channel: out, opening } = await openChannel({
    ...binding,
    senderIdentityKey: alice.identityKey,
    recipientIdentityKey: bob.identityKey.publicKey,
    recipientKemKey: bob.kemKey.publicKey,
    plaintext,
  })
  const { channel: inb, plaintext: opened } = await acceptChannel({
    ...binding,
    recipientIdentityKey: bob.identityKey,
    recipientKemKey: bob.kemKey,
    senderIdentityKey: alice.identityKey.publicKey,
    opening,
  })
  expect(opened).toEqual(plaintext)
  return { out, inb }
}

/** The opening alone (its channel is not used further). */
async function seal(params: Parameters<typeof openChannel>[0]): Promise<Uint8Array> {
  return (await openChannel(params)).opening
}

async function unseal(
  params: Omit<Parameters<typeof acceptChannel>[0], 'opening'> & { sealed: Uint8Array },
): Promise<Uint8Array> {
  const { sealed, ...rest } = params
  return (await acceptChannel({ ...rest, opening: sealed })).plaintext
}

describe('pairwise channel (hybrid opening, then an HKDF chain)', () => {
  it('behavior: an opening carries its first message; its size is the X-Wing ciphertext plus one AEAD', async () => {
    const sealed = await seal({
      ...binding,
      senderIdentityKey: alice.identityKey,
      recipientIdentityKey: bob.identityKey.publicKey,
      recipientKemKey: bob.kemKey.publicKey,
      plaintext: text('chain key'),
    })
    expect(sealed.length).toBe(2 + 1120 + 9 + 16)
    const opened = await unseal({
      ...binding,
      recipientIdentityKey: bob.identityKey,
      recipientKemKey: bob.kemKey,
      senderIdentityKey: alice.identityKey.publicKey,
      sealed,
    })
    expect(opened).toEqual(text('chain key'))
  })

  it('error: another sender, a claimed identity without its secret, another recipient or another binding cannot open', async () => {
    const sealFrom = (senderIdentityKey: typeof alice.identityKey) =>
      seal({
        ...binding,
        senderIdentityKey,
        recipientIdentityKey: bob.identityKey.publicKey,
        recipientKemKey: bob.kemKey.publicKey,
        plaintext: text('x'),
      })
    const open = (sealed: Uint8Array, overrides: Partial<Parameters<typeof acceptChannel>[0]> = {}) =>
      unseal({
        ...binding,
        recipientIdentityKey: bob.identityKey,
        recipientKemKey: bob.kemKey,
        senderIdentityKey: alice.identityKey.publicKey,
        sealed,
        ...overrides,
      })
    // Mallory encapsulates to Bob (anyone can) but is not Alice.
    await expect(open(await sealFrom(mallory.identityKey))).rejects.toBeInstanceOf(DecryptionFailedError)
    await expect(
      open(await sealFrom({ publicKey: alice.identityKey.publicKey, secretKey: mallory.identityKey.secretKey })),
    ).rejects.toBeInstanceOf(DecryptionFailedError)
    const genuine = await sealFrom(alice.identityKey)
    await expect(
      open(genuine, { recipientIdentityKey: mallory.identityKey, recipientKemKey: mallory.kemKey }),
    ).rejects.toBeInstanceOf(DecryptionFailedError)
    await expect(open(genuine, { senderId: '12D3KooWMallory' })).rejects.toBeInstanceOf(DecryptionFailedError)
    await expect(open(genuine, { recipientId: '12D3KooWCarol' })).rejects.toBeInstanceOf(DecryptionFailedError)
    await expect(open(genuine, { context: 'sender-key-channel:room-2' })).rejects.toBeInstanceOf(DecryptionFailedError)
    await expect(open(genuine.subarray(0, 500))).rejects.toBeInstanceOf(MalformedMessageError)
    expect(await open(genuine)).toEqual(text('x'))
  })

  it('error: tampering — any flipped bit of an opening is a named error, never a crash', async () => {
    const sealed = await seal({
      ...binding,
      senderIdentityKey: alice.identityKey,
      recipientIdentityKey: bob.identityKey.publicKey,
      recipientKemKey: bob.kemKey.publicKey,
      plaintext: text('chain key'),
    })
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: sealed.length * 8 - 1 }), async (bit) => {
        const copy = sealed.slice()
        copy[bit >> 3]! ^= 1 << (bit & 7)
        await expect(
          unseal({
            ...binding,
            recipientIdentityKey: bob.identityKey,
            recipientKemKey: bob.kemKey,
            senderIdentityKey: alice.identityKey.publicKey,
            sealed: copy,
          }),
        ).rejects.toBeInstanceOf(CryptoError)
      }),
      { numRuns: 60 },
    )
  })

  it('behavior: an opening then wrapped entries round-trip, each a step further; wraps are short', async () => {
    const { out, inb } = await pair()
    expect(out.id).toEqual(inb.id)
    for (let step = 1; step <= 3; step++) {
      const wrapped = await out.wrap(text(`epoch ${step}`))
      expect(wrapped.length).toBe(1 + 1 + 16 + 4 + 7 + 16)
      expect(await inb.unwrap({ binding, wrapped })).toEqual(text(`epoch ${step}`))
      expect(inb.nextStep).toBe(step + 1)
    }
  })

  it('security: a replayed or reordered (older) step is refused and changes nothing', async () => {
    const { out, inb } = await pair()
    const first = await out.wrap(text('one'))
    const second = await out.wrap(text('two'))
    await inb.unwrap({ binding, wrapped: second })
    await expect(inb.unwrap({ binding, wrapped: first })).rejects.toThrow(DuplicateMessageError)
    await expect(inb.unwrap({ binding, wrapped: second })).rejects.toThrow(DuplicateMessageError)
    expect(await inb.unwrap({ binding, wrapped: await out.wrap(text('three')) })).toEqual(text('three'))
  })

  it('security: a stolen state opens no entry already delivered (forward secrecy of past wraps)', async () => {
    const { out, inb } = await pair()
    const past = [await out.wrap(text('a')), await out.wrap(text('b'))]
    for (const wrapped of past) await inb.unwrap({ binding, wrapped })
    // What a thief copies from the device or vault: the receiver's state after delivery.
    const stolen = deserializeInboundChannel(inb.serialize())
    for (const wrapped of past) await expect(stolen.unwrap({ binding, wrapped })).rejects.toThrow(DuplicateMessageError)
    // Rewriting the step field to a future step is refused by the AEAD (keys differ per step).
    const forged = past[1]!.slice()
    new DataView(forged.buffer).setUint32(18, stolen.nextStep)
    await expect(stolen.unwrap({ binding, wrapped: forged })).rejects.toThrow(DecryptionFailedError)
    expect(await stolen.unwrap({ binding, wrapped: await out.wrap(text('c')) })).toEqual(text('c'))
  })

  it('security: another identity, recipient or room is refused', async () => {
    const { out, inb } = await pair()
    const wrapped = await out.wrap(text('k'))
    for (const other of [
      { ...binding, senderId: '12D3KooWMallory' },
      { ...binding, recipientId: '12D3KooWCarol' },
      { ...binding, context: 'sender-key-channel:room-2' },
    ]) {
      await expect(inb.unwrap({ binding: other, wrapped })).rejects.toThrow(DecryptionFailedError)
    }
    const { channel: _, opening } = await openChannel({
      ...binding,
      senderIdentityKey: mallory.identityKey,
      recipientIdentityKey: bob.identityKey.publicKey,
      recipientKemKey: bob.kemKey.publicKey,
      plaintext: text('forged'),
    })
    // Mallory claims to be Alice: the static X25519 DH differs, so the opening does not open.
    await expect(
      acceptChannel({
        ...binding,
        recipientIdentityKey: bob.identityKey,
        recipientKemKey: bob.kemKey,
        senderIdentityKey: alice.identityKey.publicKey,
        opening,
      }),
    ).rejects.toThrow(DecryptionFailedError)
    await expect(
      acceptChannel({
        ...binding,
        context: 'sender-key-channel:room-2',
        recipientIdentityKey: bob.identityKey,
        recipientKemKey: bob.kemKey,
        senderIdentityKey: mallory.identityKey.publicKey,
        opening,
      }),
    ).rejects.toThrow(DecryptionFailedError)
    expect(await inb.unwrap({ binding, wrapped })).toEqual(text('k'))
  })

  it('behavior: another channel is ChannelNotFoundError; too far ahead is SkippedKeyLimitError', async () => {
    const { out, inb } = await pair()
    const other = await pair()
    await expect(inb.unwrap({ binding, wrapped: await other.out.wrap(text('x')) })).rejects.toThrow(
      ChannelNotFoundError,
    )
    const far = await out.wrap(text('far'))
    new DataView(far.buffer).setUint32(18, CHANNEL_MAX_SKIPPED_STEPS + 2)
    await expect(inb.unwrap({ binding, wrapped: far })).rejects.toThrow(SkippedKeyLimitError)
    await expect(inb.unwrap({ binding, wrapped: text('junk') })).rejects.toThrow(MalformedMessageError)
    expect(inb.nextStep).toBe(1)
  })

  it('property: any delivery order opens exactly the steps ahead of the receiver, lost ones stepped over', async () => {
    const { out, inb } = await pair()
    const entries = await Promise.all(Array.from({ length: 8 }, (_, i) => out.wrap(text(`e${i}`))))
    const runs = await fc.sample(fc.shuffledSubarray([0, 1, 2, 3, 4, 5, 6, 7]), 20)
    for (const order of runs) {
      const receiver = deserializeInboundChannel(inb.serialize())
      let highest = 0
      for (const i of order) {
        const wrapped = entries[i]!
        if (i + 1 > highest) {
          expect(await receiver.unwrap({ binding, wrapped })).toEqual(text(`e${i}`))
          highest = i + 1
        } else {
          await expect(receiver.unwrap({ binding, wrapped })).rejects.toThrow(DuplicateMessageError)
        }
        expect(receiver.nextStep).toBe(highest + 1)
      }
    }
  })

  it('property: a flipped byte anywhere in a wrapped entry is refused and leaves the state as it was', async () => {
    const { out, inb } = await pair()
    const wrapped = await out.wrap(text('chain key'))
    await fc.assert(
      fc.asyncProperty(fc.nat(wrapped.length - 1), fc.integer({ min: 1, max: 255 }), async (at, mask) => {
        const bad = wrapped.slice()
        bad[at] = bad[at]! ^ mask
        await expect(inb.unwrap({ binding, wrapped: bad })).rejects.toThrow()
        expect(inb.nextStep).toBe(1)
      }),
      { numRuns: 60 },
    )
    expect(await inb.unwrap({ binding, wrapped })).toEqual(text('chain key'))
  })

  it('behavior: the state survives serialize/deserialize; concurrent unwraps of one step succeed once', async () => {
    const { out, inb } = await pair()
    const restored = deserializeInboundChannel(inb.serialize())
    const wrapped = await out.wrap(text('once'))
    const results = await Promise.allSettled([
      restored.unwrap({ binding, wrapped }),
      restored.unwrap({ binding, wrapped }),
    ])
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected'])
    expect(() => deserializeInboundChannel(restored.serialize().subarray(1))).toThrow(MalformedMessageError)
  })
})
