import { generateKeyPair } from '@libp2p/crypto/keys'
import { type Message, TopicValidatorResult } from '@libp2p/gossipsub'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { Wallet } from 'ethers'
import { describe, expect, it } from 'vitest'
import { x25519Keygen } from '../crypto/primitives.ts'
import { utf8 } from '../encoding.ts'
import { createCertificate } from '../identity/certificate.ts'
import { CertificateRegistry } from '../identity/registry.ts'
import { walletSigner } from '../identity/signer.ts'
import type { SessionCertificate } from '../types.ts'
import { DM_INBOX_TOPIC_PREFIX, DM_MAX_RECEIPT_IDS, DM_TOPIC_PREFIX } from './constants.ts'
import { DmGatekeeper } from './gatekeeper.ts'
import { inboxId, inboxTopic, pairTopic, parseDmTopic } from './topics.ts'
import { type DmRecord, decodeDmRecord, dmEnvelopeSchema, encodeDmRecord } from './wire.ts'

async function device(wallet = Wallet.createRandom()) {
  const key = await generateKeyPair('Ed25519')
  const peerId = peerIdFromPrivateKey(key)
  const cert = await createCertificate({
    signer: walletSigner({ type: 'eoa', signer: wallet }),
    peerId: peerId.toString(),
    domain: 'localhost',
    chainId: 31337,
    bundleHash: '00'.repeat(32),
  })
  return { wallet, peerId, cert }
}

function gossip(from: Awaited<ReturnType<typeof device>>, topic: string, record: DmRecord | string): Message {
  const data = typeof record === 'string' ? utf8.encode(record) : encodeDmRecord(record)
  return {
    type: 'signed',
    from: from.peerId,
    topic,
    data,
    sequenceNumber: 1n,
    signature: new Uint8Array(64),
    key: from.peerId.publicKey!,
  }
}

const bundle = 'AAAA'
const deviceRecord = (inbox: string, cert: SessionCertificate): DmRecord => ({
  v: 1,
  type: 'device',
  inbox,
  cert,
  bundle,
  atMs: 1,
})

describe('DM topics', () => {
  it('behavior: an inbox id ignores the address spelling; pair topics are the same from both sides', async () => {
    const wallet = Wallet.createRandom()
    expect(inboxId(wallet.address.toLowerCase())).toBe(inboxId(wallet.address))
    expect(inboxTopic(wallet.address)).toBe(`${DM_INBOX_TOPIC_PREFIX}${inboxId(wallet.address)}`)
    expect(parseDmTopic(inboxTopic(wallet.address))).toEqual({ kind: 'inbox', inbox: inboxId(wallet.address) })

    const [a, b, c] = await Promise.all([x25519Keygen(), x25519Keygen(), x25519Keygen()])
    const ab = await pairTopic({
      selfIdentityKey: a,
      selfPeerId: 'A',
      remoteIdentityKey: b.publicKey,
      remotePeerId: 'B',
    })
    const ba = await pairTopic({
      selfIdentityKey: b,
      selfPeerId: 'B',
      remoteIdentityKey: a.publicKey,
      remotePeerId: 'A',
    })
    const ac = await pairTopic({
      selfIdentityKey: a,
      selfPeerId: 'A',
      remoteIdentityKey: c.publicKey,
      remotePeerId: 'C',
    })
    expect(ab).toBe(ba)
    expect(ab).not.toBe(ac)
    expect(ab.startsWith(DM_TOPIC_PREFIX)).toBe(true)
    expect(parseDmTopic(ab)?.kind).toBe('pair')
    expect(parseDmTopic(`${DM_TOPIC_PREFIX}not-hex`)).toBeUndefined()
  })
})

describe('DM wire records', () => {
  it('behavior: unknown versions and types are not ours to judge; damaged records are malformed', () => {
    expect(decodeDmRecord(utf8.encode('{"v":2,"type":"msg"}'))).toEqual({ status: 'unknown' })
    expect(decodeDmRecord(utf8.encode('{"v":1,"type":"later"}'))).toEqual({ status: 'unknown' })
    expect(decodeDmRecord(utf8.encode('{"v":1,"type":"msg","sid":"zz"}')).status).toBe('malformed')
    expect(decodeDmRecord(utf8.encode('not json')).status).toBe('malformed')
    expect(decodeDmRecord(Uint8Array.of(0xff, 0xfe)).status).toBe('malformed')
  })

  it('error: an envelope with unknown fields or kinds is refused', () => {
    const ok = { v: 1, kind: 'text', id: 'ab'.repeat(16), body: 'hi', sentAtMs: 1 }
    expect(dmEnvelopeSchema.safeParse(ok).success).toBe(true)
    expect(dmEnvelopeSchema.safeParse({ ...ok, extra: 1 }).success).toBe(false)
    expect(dmEnvelopeSchema.safeParse({ ...ok, kind: 'file' }).success).toBe(false)
  })

  it('error: a receipt names 1 to DM_MAX_RECEIPT_IDS message ids, nothing else', () => {
    const ids = (n: number) => Array.from({ length: n }, (_, i) => i.toString(16).padStart(32, '0'))
    const receipt = (value: unknown) => dmEnvelopeSchema.safeParse({ v: 1, kind: 'receipt', ids: value }).success
    expect(receipt(ids(1))).toBe(true)
    expect(receipt(ids(DM_MAX_RECEIPT_IDS))).toBe(true)
    expect(receipt(ids(DM_MAX_RECEIPT_IDS + 1))).toBe(false)
    expect(receipt([])).toBe(false)
    expect(receipt(['not-an-id'])).toBe(false)
    expect(dmEnvelopeSchema.safeParse({ v: 2, kind: 'receipt', ids: ids(1) }).success).toBe(false)
    expect(dmEnvelopeSchema.safeParse({ v: 1, kind: 'receipt', ids: ids(1), text: 'x' }).success).toBe(false)
  })
})

describe('DM gatekeeper', () => {
  it('behavior: accepts a device announcing itself on its own inbox', async () => {
    const alice = await device()
    const keeper = new DmGatekeeper({ registry: new CertificateRegistry() })
    const message = gossip(
      alice,
      inboxTopic(alice.wallet.address),
      deviceRecord(inboxId(alice.wallet.address), alice.cert),
    )
    expect(keeper.validate(alice.peerId, message)).toBe(TopicValidatorResult.Accept)
    expect(keeper.accepted(message)).toMatchObject({ type: 'device', from: alice.peerId.toString() })
  })

  it("error: rejects a device on another wallet's inbox, records on the wrong kind of topic, and bad certificates", async () => {
    const [alice, bob] = await Promise.all([device(), device()])
    const reasons: string[] = []
    const keeper = new DmGatekeeper({ registry: new CertificateRegistry(), onRejected: (_f, r) => reasons.push(r) })
    const bobInbox = inboxId(bob.wallet.address)
    const pair = `${DM_TOPIC_PREFIX}${'ab'.repeat(32)}`
    const cases: Array<[Message, string]> = [
      [gossip(alice, inboxTopic(bob.wallet.address), deviceRecord(bobInbox, alice.cert)), "another wallet's inbox"],
      [gossip(alice, pair, deviceRecord(bobInbox, alice.cert)), 'device on a pair topic'],
      [
        gossip(alice, inboxTopic(bob.wallet.address), {
          v: 1,
          type: 'msg',
          sid: 'ab'.repeat(16),
          cert: alice.cert,
          ct: 'AA',
        }),
        'msg on an inbox topic',
      ],
      [
        gossip(alice, inboxTopic(bob.wallet.address), {
          v: 1,
          type: 'init',
          inbox: bobInbox,
          to: alice.peerId.toString(),
          cert: alice.cert,
          bundle,
          msg: 'AA',
        }),
        'init addressed to its sender',
      ],
      // Bob's certificate names Bob's PeerId, not Alice's.
      [
        gossip(alice, inboxTopic(bob.wallet.address), deviceRecord(bobInbox, bob.cert)),
        'certificate of another device',
      ],
      [gossip(alice, pair, '{"v":1,"type":"msg"}'), 'malformed'],
    ]
    for (const [message, what] of cases) {
      expect(await keeper.validate(alice.peerId, message), what).toBe(TopicValidatorResult.Reject)
    }
    expect(reasons).toHaveLength(cases.length)
  })

  it("behavior: a certificate outside the receiver's domains or chains is ignored, not rejected", async () => {
    const alice = await device()
    const keeper = new DmGatekeeper({
      registry: new CertificateRegistry(),
      policy: { domains: ['chat.example'], chainIds: [1] },
    })
    const message = gossip(
      alice,
      inboxTopic(alice.wallet.address),
      deviceRecord(inboxId(alice.wallet.address), alice.cert),
    )
    expect(keeper.validate(alice.peerId, message)).toBe(TopicValidatorResult.Ignore)
    expect(keeper.accepted(message)).toBeUndefined()
    // A relay charges an ignored record to its type's rate budget, read from here.
    expect(keeper.typeOf(message)).toBe('device')
  })
})
