import { createCipheriv, hkdfSync } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { bytesToHex, hexToBytes } from '../crypto/primitives.ts'
import { InvalidInputError } from '../errors.ts'
import { SFRAME_MAX_CLEAR_BYTES, SFRAME_MAX_COUNTER, SFrameCipherSuite } from './constants.ts'
import { SFrameCounterExhaustedError, SFrameDecryptionError, type SFrameDecryptionFailure } from './errors.ts'
import { encodeSFrameHeader } from './header.ts'
import { createSFrameReceiver, createSFrameSender, type SFrameReceiver, type SFrameSender } from './sframe.ts'
import { deriveSFrameKeySalt, SFRAME_TAG_BYTES } from './suites.ts'
import vectors from './vectors/rfc9605.json' with { type: 'json' }

const BASE_KEY_A = hexToBytes('101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f')
const BASE_KEY_B = hexToBytes('303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f')
const KID_A = 7n
const KID_B = 300n

/** A VP8 key frame's worth of bytes: 10 of payload header, then media. */
const FRAME = Uint8Array.from({ length: 200 }, (_, i) => (i * 37 + 11) & 0xff)

async function pair(): Promise<{ sender: SFrameSender; receiver: SFrameReceiver }> {
  const sender = await createSFrameSender({ kid: KID_A, baseKey: BASE_KEY_A })
  const receiver = createSFrameReceiver()
  await receiver.addKey({ kid: KID_A, baseKey: BASE_KEY_A })
  return { sender, receiver }
}

/** The `SFrameDecryptionError` reason `promise` rejects with; fails the test on anything else. */
async function refusal(promise: Promise<unknown>): Promise<SFrameDecryptionFailure> {
  try {
    await promise
  } catch (err) {
    expect(err).toBeInstanceOf(SFrameDecryptionError)
    return (err as SFrameDecryptionError).reason
  }
  throw new Error('expected an SFrameDecryptionError, got a plaintext')
}

function flipped(bytes: Uint8Array, index: number, bit = 0): Uint8Array {
  const out = bytes.slice()
  out[index] = out[index]! ^ (1 << bit)
  return out
}

describe('SFrame vectors (RFC 9605 appendix C.3)', () => {
  for (const vector of vectors.sframe) {
    const suite = vector.cipher_suite as SFrameCipherSuite
    const kid = BigInt(vector.kid)
    const counter = BigInt(vector.ctr)
    const baseKey = hexToBytes(vector.base_key)
    const name = `suite 0x${suite.toString(16).padStart(4, '0')}`

    it(`vectors: ${name} derives sframe_key and sframe_salt`, async () => {
      const { key, salt } = await deriveSFrameKeySalt({ suite, kid, baseKey })
      expect(bytesToHex(key)).toBe(vector.sframe_key)
      expect(bytesToHex(salt)).toBe(vector.sframe_salt)
    })

    it(`vectors: ${name} encrypts pt with the metadata to ct`, async () => {
      const sender = await createSFrameSender({ suite, kid, baseKey, nextCounter: counter })
      const ct = await sender.encrypt({ plaintext: hexToBytes(vector.pt), metadata: hexToBytes(vector.metadata) })
      expect(bytesToHex(ct)).toBe(vector.ct)
      expect(sender.nextCounter).toBe(counter + 1n)
    })

    it(`vectors: ${name} decrypts ct with the metadata to pt`, async () => {
      const receiver = createSFrameReceiver({ suite })
      await receiver.addKey({ kid, baseKey })
      const opened = await receiver.decrypt({
        ciphertext: hexToBytes(vector.ct),
        metadata: hexToBytes(vector.metadata),
      })
      expect(bytesToHex(opened.plaintext)).toBe(vector.pt)
      expect(opened).toMatchObject({ kid, counter })
    })
  }

  it('vectors: the labels are the ones the RFC lists (KID as 8 bytes, suite as 2)', () => {
    for (const vector of vectors.sframe) {
      const tail = `${BigInt(vector.kid).toString(16).padStart(16, '0')}${vector.cipher_suite.toString(16).padStart(4, '0')}`
      expect(vector.sframe_key_label).toBe(bytesToHex(new TextEncoder().encode('SFrame 1.0 Secret key ')) + tail)
      expect(vector.sframe_salt_label).toBe(bytesToHex(new TextEncoder().encode('SFrame 1.0 Secret salt ')) + tail)
    }
  })
})

describe('SFrame frames', () => {
  it('behavior: a frame round-trips with 0, 1, 3 and 10 clear bytes, which stay in front unchanged', async () => {
    const { sender, receiver } = await pair()
    for (const clearBytes of [0, 1, 3, 10]) {
      const wire = await sender.encryptFrame(FRAME, { clearBytes })
      expect(bytesToHex(wire.subarray(0, clearBytes))).toBe(bytesToHex(FRAME.subarray(0, clearBytes)))
      const header = encodeSFrameHeader({ kid: KID_A, counter: sender.nextCounter - 1n })
      expect(wire.length).toBe(FRAME.length + header.length + SFRAME_TAG_BYTES)
      expect(wire.buffer.byteLength).toBe(wire.length)
      const opened = await receiver.decryptFrame(wire, { clearBytes })
      expect(bytesToHex(opened.plaintext)).toBe(bytesToHex(FRAME))
      expect(opened.plaintext.buffer.byteLength).toBe(FRAME.length)
      expect(opened.kid).toBe(KID_A)
    }
  })

  it('behavior: the media after the clear bytes is encrypted', async () => {
    const { sender } = await pair()
    const wire = await sender.encryptFrame(FRAME, { clearBytes: 10 })
    const header = encodeSFrameHeader({ kid: KID_A, counter: 0n })
    const body = wire.subarray(10 + header.length, wire.length - SFRAME_TAG_BYTES)
    expect(bytesToHex(body)).not.toBe(bytesToHex(FRAME.subarray(10)))
  })

  it("behavior: the same frame as Node's own AES-GCM and HKDF compute it from the RFC's formulas", async () => {
    const { sender } = await pair()
    await sender.encryptFrame(FRAME) // counter 0 spent: check a counter that is not zero
    const wire = await sender.encryptFrame(FRAME, { clearBytes: 3 })

    const secretLabel = (name: string) =>
      Buffer.concat([Buffer.from(`SFrame 1.0 Secret ${name} `), Buffer.from('00000000000000070004', 'hex')])
    const key = Buffer.from(hkdfSync('sha256', BASE_KEY_A, Buffer.alloc(0), secretLabel('key'), 16))
    const salt = Buffer.from(hkdfSync('sha256', BASE_KEY_A, Buffer.alloc(0), secretLabel('salt'), 12))
    const nonce = Buffer.from(salt)
    nonce[11] = nonce[11]! ^ 1 // CTR 1
    const header = Buffer.from([0x71]) // X=0, KID 7, Y=0, CTR 1
    const cipher = createCipheriv('aes-128-gcm', key, nonce)
    cipher.setAAD(Buffer.concat([header, FRAME.subarray(0, 3)]))
    const sealed = Buffer.concat([cipher.update(FRAME.subarray(3)), cipher.final(), cipher.getAuthTag()])
    const expected = Buffer.concat([FRAME.subarray(0, 3), header, sealed])

    expect(bytesToHex(wire)).toBe(expected.toString('hex'))
  })

  it('behavior: concurrent frames get distinct counters', async () => {
    const { sender, receiver } = await pair()
    const wires = await Promise.all(Array.from({ length: 20 }, () => sender.encryptFrame(FRAME)))
    const counters = await Promise.all(wires.map(async (wire) => (await receiver.decryptFrame(wire)).counter))
    expect(new Set(counters).size).toBe(20)
    expect(sender.nextCounter).toBe(20n)
  })

  it('behavior: suite 0x0005 round-trips, and does not open under 0x0004', async () => {
    const suite = SFrameCipherSuite.AES_256_GCM_SHA512_128
    const sender = await createSFrameSender({ suite, kid: KID_A, baseKey: BASE_KEY_A })
    const receiver = createSFrameReceiver({ suite })
    await receiver.addKey({ kid: KID_A, baseKey: BASE_KEY_A })
    const wire = await sender.encryptFrame(FRAME, { clearBytes: 1 })
    expect(bytesToHex((await receiver.decryptFrame(wire, { clearBytes: 1 })).plaintext)).toBe(bytesToHex(FRAME))

    const other = createSFrameReceiver({ suite: SFrameCipherSuite.AES_128_GCM_SHA256_128 })
    await other.addKey({ kid: KID_A, baseKey: BASE_KEY_A })
    expect(await refusal(other.decryptFrame(wire, { clearBytes: 1 }))).toBe('authentication')
  })

  it('behavior: frames of several senders decrypt by their KID', async () => {
    const a = await createSFrameSender({ kid: KID_A, baseKey: BASE_KEY_A })
    const b = await createSFrameSender({ kid: KID_B, baseKey: BASE_KEY_B })
    const receiver = createSFrameReceiver()
    await receiver.addKey({ kid: KID_A, baseKey: BASE_KEY_A })
    await receiver.addKey({ kid: KID_B, baseKey: BASE_KEY_B })
    expect((await receiver.decryptFrame(await b.encryptFrame(FRAME))).kid).toBe(KID_B)
    expect((await receiver.decryptFrame(await a.encryptFrame(FRAME))).kid).toBe(KID_A)
  })
})

describe('SFrame tampering', () => {
  it('error: a flipped bit anywhere in the ciphertext or tag fails authentication', async () => {
    const { sender, receiver } = await pair()
    const wire = await sender.encryptFrame(FRAME, { clearBytes: 10 })
    const headerBytes = encodeSFrameHeader({ kid: KID_A, counter: 0n }).length
    for (let i = 10 + headerBytes; i < wire.length; i += 7) {
      expect(await refusal(receiver.decryptFrame(flipped(wire, i, i % 8), { clearBytes: 10 }))).toBe('authentication')
    }
    expect(await refusal(receiver.decryptFrame(flipped(wire, wire.length - 1, 7), { clearBytes: 10 }))).toBe(
      'authentication',
    )
    // Nothing of it moved the window: the genuine frame still decrypts.
    expect((await receiver.decryptFrame(wire, { clearBytes: 10 })).counter).toBe(0n)
  })

  it('error: a flipped clear byte fails authentication', async () => {
    const { sender, receiver } = await pair()
    const wire = await sender.encryptFrame(FRAME, { clearBytes: 10 })
    for (let i = 0; i < 10; i++) {
      expect(await refusal(receiver.decryptFrame(flipped(wire, i), { clearBytes: 10 }))).toBe('authentication')
    }
  })

  it('error: a frame read with other clear bytes than it was sent with is refused', async () => {
    const { sender, receiver } = await pair()
    const wire = await sender.encryptFrame(FRAME, { clearBytes: 3 })
    for (const clearBytes of [0, 1, 10]) {
      expect(await refusal(receiver.decryptFrame(wire, { clearBytes }))).toMatch(
        /^(malformed|unknown-key|authentication)$/,
      )
    }
  })

  it('error: other metadata than the sender authenticated fails', async () => {
    const { sender, receiver } = await pair()
    const ciphertext = await sender.encrypt({ plaintext: FRAME, metadata: new Uint8Array([1, 2, 3]) })
    expect(await refusal(receiver.decrypt({ ciphertext, metadata: new Uint8Array([1, 2, 4]) }))).toBe('authentication')
    expect(await refusal(receiver.decrypt({ ciphertext }))).toBe('authentication')
  })

  it("error: a header rewritten to another CTR, or to another participant's KID, fails authentication", async () => {
    const { sender, receiver } = await pair()
    await receiver.addKey({ kid: 6n, baseKey: BASE_KEY_B })
    const wire = await sender.encryptFrame(FRAME) // header 0x70: KID 7, CTR 0
    expect(wire[0]).toBe(0x70)
    expect(await refusal(receiver.decryptFrame(flipped(wire, 0, 0)))).toBe('authentication') // CTR 1
    expect(await refusal(receiver.decryptFrame(flipped(wire, 0, 4)))).toBe('authentication') // KID 6
    expect(await refusal(receiver.decryptFrame(flipped(wire, 0, 6)))).toBe('unknown-key') // KID 3: no key
  })

  it('error: a frame sealed under another key than its KID names fails authentication', async () => {
    const receiver = createSFrameReceiver()
    await receiver.addKey({ kid: KID_A, baseKey: BASE_KEY_A })
    await receiver.addKey({ kid: KID_B, baseKey: BASE_KEY_B })
    const impostor = await createSFrameSender({ kid: KID_A, baseKey: BASE_KEY_B })
    expect(await refusal(receiver.decryptFrame(await impostor.encryptFrame(FRAME)))).toBe('authentication')
  })

  it('error: every truncation of a frame is refused', async () => {
    const { sender, receiver } = await pair()
    const wire = await sender.encryptFrame(FRAME, { clearBytes: 3 })
    for (let length = 0; length < wire.length; length++) {
      const reason = await refusal(receiver.decryptFrame(wire.subarray(0, length), { clearBytes: 3 }))
      expect(reason === 'malformed' || reason === 'authentication').toBe(true)
    }
    expect((await receiver.decryptFrame(wire, { clearBytes: 3 })).counter).toBe(0n)
  })

  it('error: a frame delivered twice is refused the second time', async () => {
    const { sender, receiver } = await pair()
    const wire = await sender.encryptFrame(FRAME)
    await receiver.decryptFrame(wire)
    expect(await refusal(receiver.decryptFrame(wire))).toBe('replayed')
  })

  it('error: the same frame decrypted twice at once is delivered once', async () => {
    const { sender, receiver } = await pair()
    const wire = await sender.encryptFrame(FRAME)
    const results = await Promise.allSettled([receiver.decryptFrame(wire), receiver.decryptFrame(wire)])
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
  })

  it('behavior: late frames inside the replay window decrypt once; older ones are refused', async () => {
    const sender = await createSFrameSender({ kid: KID_A, baseKey: BASE_KEY_A })
    const receiver = createSFrameReceiver({ replayWindowFrames: 4 })
    await receiver.addKey({ kid: KID_A, baseKey: BASE_KEY_A })
    const wires: Uint8Array[] = []
    for (let i = 0; i < 6; i++) wires.push(await sender.encryptFrame(FRAME))
    await receiver.decryptFrame(wires[5]!)
    expect((await receiver.decryptFrame(wires[2]!)).counter).toBe(2n)
    expect(await refusal(receiver.decryptFrame(wires[2]!))).toBe('replayed')
    expect(await refusal(receiver.decryptFrame(wires[1]!))).toBe('replayed') // 4 behind: too old
  })

  it('behavior: a forged frame with a far counter does not move the window', async () => {
    const { sender, receiver } = await pair()
    const genuine = await sender.encryptFrame(FRAME)
    const forged = new Uint8Array([...encodeSFrameHeader({ kid: KID_A, counter: 1_000_000n }), ...genuine.subarray(1)])
    expect(await refusal(receiver.decryptFrame(forged))).toBe('authentication')
    expect((await receiver.decryptFrame(genuine)).counter).toBe(0n)
  })

  it('property: random bytes never throw anything but SFrameDecryptionError', async () => {
    const { receiver } = await pair()
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 64 }),
        fc.integer({ min: 0, max: SFRAME_MAX_CLEAR_BYTES }),
        async (bytes, clearBytes) => {
          await refusal(receiver.decryptFrame(bytes, { clearBytes }))
          await refusal(receiver.decrypt({ ciphertext: bytes }))
        },
      ),
      { numRuns: 300 },
    )
  })

  it('property: any change to a valid frame — a bit flipped, bytes cut or appended — is refused with SFrameDecryptionError', async () => {
    const { sender, receiver } = await pair()
    const wire = await sender.encryptFrame(FRAME.subarray(0, 40), { clearBytes: 3 })
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.record({ flip: fc.nat({ max: wire.length * 8 - 1 }) }),
          fc.record({ cut: fc.nat({ max: wire.length - 1 }) }),
          fc.record({ append: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
        ),
        async (change) => {
          const changed =
            'flip' in change
              ? flipped(wire, change.flip >> 3, change.flip & 7)
              : 'cut' in change
                ? wire.subarray(0, change.cut)
                : new Uint8Array([...wire, ...change.append])
          await refusal(receiver.decryptFrame(changed, { clearBytes: 3 }))
        },
      ),
      { numRuns: 300 },
    )
  })
})

describe('SFrame keys and counters', () => {
  it('behavior: a removed KID stops decrypting', async () => {
    const { sender, receiver } = await pair()
    await receiver.decryptFrame(await sender.encryptFrame(FRAME))
    expect(receiver.removeKey(KID_A)).toBe(true)
    expect(receiver.hasKey(KID_A)).toBe(false)
    expect(await refusal(receiver.decryptFrame(await sender.encryptFrame(FRAME)))).toBe('unknown-key')
    expect(receiver.removeKey(KID_A)).toBe(false)
  })

  it('behavior: a KID removed while its frame is being decrypted does not deliver it', async () => {
    const { sender, receiver } = await pair()
    const wire = await sender.encryptFrame(FRAME)
    const pending = receiver.decryptFrame(wire)
    receiver.removeKey(KID_A)
    expect(await refusal(pending)).toBe('unknown-key')
  })

  it('behavior: a KID removed while its key is being added is not installed', async () => {
    const receiver = createSFrameReceiver()
    const adding = receiver.addKey({ kid: KID_A, baseKey: BASE_KEY_A })
    expect(receiver.removeKey(KID_A)).toBe(true)
    await adding
    expect(receiver.hasKey(KID_A)).toBe(false)
  })

  it('error: a second key for a KID already present is refused', async () => {
    const { receiver } = await pair()
    await expect(receiver.addKey({ kid: KID_A, baseKey: BASE_KEY_B })).rejects.toThrow(InvalidInputError)
  })

  it('error: the counter does not wrap: after 2^64 − 1 the sender refuses', async () => {
    const sender = await createSFrameSender({ kid: KID_A, baseKey: BASE_KEY_A, nextCounter: SFRAME_MAX_COUNTER })
    const receiver = createSFrameReceiver()
    await receiver.addKey({ kid: KID_A, baseKey: BASE_KEY_A })
    expect((await receiver.decryptFrame(await sender.encryptFrame(FRAME))).counter).toBe(SFRAME_MAX_COUNTER)
    await expect(sender.encryptFrame(FRAME)).rejects.toThrow(SFrameCounterExhaustedError)
    await expect(sender.encrypt({ plaintext: FRAME })).rejects.toThrow(SFrameCounterExhaustedError)
    expect(sender.nextCounter).toBe(SFRAME_MAX_COUNTER + 1n)
  })

  it('error: a sender refuses a counter to resume from outside 0 .. 2^64 − 1', async () => {
    await expect(
      createSFrameSender({ kid: KID_A, baseKey: BASE_KEY_A, nextCounter: SFRAME_MAX_COUNTER + 1n }),
    ).rejects.toThrow(InvalidInputError)
  })

  it('error: a base key shorter than 16 bytes, or an unknown suite, is refused', async () => {
    await expect(createSFrameSender({ kid: KID_A, baseKey: new Uint8Array(15) })).rejects.toThrow(InvalidInputError)
    await expect(
      createSFrameSender({ kid: KID_A, baseKey: BASE_KEY_A, suite: 0x0001 as SFrameCipherSuite }),
    ).rejects.toThrow(InvalidInputError)
  })

  it('error: clear bytes beyond the bound, or beyond the frame, are refused before anything is encrypted', async () => {
    const { sender } = await pair()
    await expect(sender.encryptFrame(FRAME, { clearBytes: SFRAME_MAX_CLEAR_BYTES + 1 })).rejects.toThrow(
      InvalidInputError,
    )
    await expect(sender.encryptFrame(new Uint8Array(2), { clearBytes: 3 })).rejects.toThrow(InvalidInputError)
    await expect(sender.encryptFrame(FRAME, { clearBytes: 1.5 })).rejects.toThrow(InvalidInputError)
    expect(sender.nextCounter).toBe(0n)
  })
})
