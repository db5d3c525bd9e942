/**
 * Micro-benchmarks of the crypto core, for `npm run bench`. Single-threaded, in-process, no
 * networking: they measure the cryptographic cost per message and per handshake only.
 *
 * - sender keys: encrypt + decrypt of a 200-byte room message, one sender, one receiver;
 * - Double Ratchet: encrypt + decrypt of a 200-byte DM, one direction (symmetric ratchet only)
 *   and alternating directions (a DH ratchet step on every message);
 * - handshake: PQXDH (X25519 + ML-KEM-768, both sides, with a one-time prekey) against the same
 *   four X25519 agreements and KDF without the KEM (X3DH-like), which is the `baseline`;
 * - pairwise channel: one step (a sender-key rotation to one member) against the hybrid opening
 *   (the `baseline`, what each rotation cost before channels).
 */

import { createInitiatorSession, createResponderSession, type DoubleRatchetSession } from './double-ratchet.ts'
import { createKeyBundle, generateDeviceKeys, verifyKeyBundle } from './key-bundle.ts'
import { acceptChannel, openChannel } from './pairwise-channel.ts'
import { PQXDH_INFO, pqxdhInitiate, pqxdhRespond } from './pqxdh.ts'
import {
  concatBytes,
  ed25519Keygen,
  ed25519Sign,
  ed25519Verify,
  hkdfSha256,
  randomBytes,
  x25519Keygen,
  x25519SharedSecret,
} from './primitives.ts'
import { createInboundSenderKeys, createOutboundSenderKey } from './sender-keys.ts'

export interface BenchResult {
  name: string
  unit: string
  value: number
  baseline?: number
  ratio?: number
}

const MESSAGE_BYTES = 200

async function timeIt(iterations: number, run: (i: number) => Promise<unknown>): Promise<number> {
  const start = performance.now()
  for (let i = 0; i < iterations; i++) await run(i)
  return performance.now() - start
}

const rate = (iterations: number, ms: number) => Math.round((iterations / ms) * 1000)
const round = (value: number, digits = 3) => Number(value.toFixed(digits))

export async function benchCrypto(options: { messages?: number; handshakes?: number } = {}): Promise<BenchResult[]> {
  const messages = options.messages ?? 2000
  const handshakes = options.handshakes ?? 100
  const results: BenchResult[] = []
  const plaintext = randomBytes(MESSAGE_BYTES)

  // Sender keys
  {
    const outbound = createOutboundSenderKey({ roomId: 'bench-room', senderId: 'bench-sender' })
    const inbound = createInboundSenderKeys({ roomId: 'bench-room' })
    inbound.install({ distribution: outbound.exportForMember(), from: 'bench-sender' })
    const messageId = randomBytes(16)
    const ms = await timeIt(messages, async () => {
      const m = await outbound.encrypt({ plaintext, messageId })
      await inbound.decrypt({ senderId: 'bench-sender', message: m, messageId })
    })
    results.push({ name: 'sender keys encrypt+decrypt (200 B)', unit: 'msgs/s', value: rate(messages, ms) })
  }

  // Double Ratchet
  const pair = async (): Promise<[DoubleRatchetSession, DoubleRatchetSession]> => {
    const sharedSecret = randomBytes(32)
    const prekey = await x25519Keygen()
    const associatedData = randomBytes(72)
    const alice = await createInitiatorSession({
      sharedSecret,
      remoteRatchetPublicKey: prekey.publicKey,
      associatedData,
    })
    const bob = createResponderSession({ sharedSecret, ratchetKeyPair: prekey, associatedData })
    await bob.decrypt(await alice.encrypt(plaintext))
    return [alice, bob]
  }
  {
    const [alice, bob] = await pair()
    const ms = await timeIt(messages, async () => bob.decrypt(await alice.encrypt(plaintext)))
    results.push({
      name: 'double ratchet encrypt+decrypt, one direction (200 B)',
      unit: 'msgs/s',
      value: rate(messages, ms),
    })
  }
  {
    const [alice, bob] = await pair()
    const ms = await timeIt(messages, async (i) => {
      const [from, to] = i % 2 === 0 ? [bob, alice] : [alice, bob]
      return to.decrypt(await from.encrypt(plaintext))
    })
    results.push({
      name: 'double ratchet encrypt+decrypt, alternating (DH step per message, 200 B)',
      unit: 'msgs/s',
      value: rate(messages, ms),
    })
  }

  // Handshakes
  {
    const peer = ed25519Keygen()
    const alice = await generateDeviceKeys({ oneTimePrekeyCount: 0 })
    const bob = await generateDeviceKeys({ oneTimePrekeyCount: 1 })
    const bundle = await verifyKeyBundle({
      bundle: await createKeyBundle({
        deviceKeys: bob,
        sign: async (message) => ed25519Sign({ message, secretKey: peer.secretKey }),
      }),
      verify: async (message, signature) => ed25519Verify({ signature, message, publicKey: peer.publicKey }),
    })
    const pqxdhMs = await timeIt(handshakes, async () => {
      const a = await pqxdhInitiate({ identityKey: alice.identityKey, bundle, initiatorId: 'a', responderId: 'b' })
      await pqxdhRespond({ deviceKeys: bob, header: a.header, initiatorId: 'a', responderId: 'b' })
    })
    // The same four agreements and KDF, without ML-KEM: X25519 alone.
    const f = new Uint8Array(32).fill(0xff)
    const spk = bob.signedPrekeys[0]!.keyPair
    const opk = bob.oneTimePrekeys[0]!.keyPair
    const dh = (secretKey: Uint8Array, publicKey: Uint8Array) => x25519SharedSecret({ secretKey, publicKey })
    const x25519Ms = await timeIt(handshakes, async () => {
      const ek = await x25519Keygen()
      const initiator = [
        await dh(alice.identityKey.secretKey, spk.publicKey),
        await dh(ek.secretKey, bob.identityKey.publicKey),
        await dh(ek.secretKey, spk.publicKey),
        await dh(ek.secretKey, opk.publicKey),
      ]
      hkdfSha256({ ikm: concatBytes(f, ...initiator), info: PQXDH_INFO, length: 32 })
      const responder = [
        await dh(spk.secretKey, alice.identityKey.publicKey),
        await dh(bob.identityKey.secretKey, ek.publicKey),
        await dh(spk.secretKey, ek.publicKey),
        await dh(opk.secretKey, ek.publicKey),
      ]
      hkdfSha256({ ikm: concatBytes(f, ...responder), info: PQXDH_INFO, length: 32 })
    })
    const pq = pqxdhMs / handshakes
    const classic = x25519Ms / handshakes
    results.push({ name: 'handshake X25519 only (both sides)', unit: 'ms', value: round(classic) })
    results.push({
      name: 'handshake PQXDH X25519+ML-KEM-768 (both sides)',
      unit: 'ms',
      value: round(pq),
      baseline: round(classic),
      ratio: round(pq / classic, 2),
    })

    // The pairwise channel that carries sender keys: its hybrid opening, then one chain step.
    const distribution = randomBytes(160)
    const binding = { senderId: 'a', recipientId: 'b', context: 'sender-key-channel:bench-room' }
    const open = () =>
      openChannel({
        ...binding,
        senderIdentityKey: alice.identityKey,
        recipientIdentityKey: bob.identityKey.publicKey,
        recipientKemKey: bob.kemKey.publicKey,
        plaintext: distribution,
      })
    const accept = (opening: Uint8Array) =>
      acceptChannel({
        ...binding,
        recipientIdentityKey: bob.identityKey,
        recipientKemKey: bob.kemKey,
        senderIdentityKey: alice.identityKey.publicKey,
        opening,
      })
    const openMs = await timeIt(handshakes, async () => accept((await open()).opening))
    const { channel: outbound, opening } = await open()
    const { channel: inbound } = await accept(opening)
    const steps = handshakes * 20
    const stepMs = await timeIt(steps, async () =>
      inbound.unwrap({ binding, wrapped: await outbound.wrap(distribution) }),
    )
    results.push({
      name: 'pairwise channel step wrap+unwrap (sender key rotation, one member)',
      unit: 'ops/s',
      value: rate(steps, stepMs),
      baseline: rate(handshakes, openMs),
      ratio: round(rate(steps, stepMs) / rate(handshakes, openMs), 1),
    })
  }
  return results
}
