/**
 * Direct-message benchmarks, for `npm run bench` (a suite: `run()` resolves to records).
 *
 * - per-message work of the DM layer, in process, no network: envelope JSON, Double Ratchet
 *   encrypt, the `msg` record, its gossip validation (certificate check, cached as on a live
 *   node), decrypt and envelope parse — with no vault, and with both sessions saved to a file
 *   vault after every message as the client does (atomic rewrite + fsync). The baseline is the
 *   bare Double Ratchet encrypt+decrypt of the same 200 bytes, measured in the same run;
 * - end to end over libp2p on loopback: two clients and a relay in this process; the first
 *   message to a new wallet (discovery on its inbox + PQXDH), then the latency of one message
 *   at a time and the rate of a burst.
 *
 * Handshake cost (PQXDH against X25519 alone) is in the crypto suite (`sdk/src/crypto/bench.ts`).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { type Message, TopicValidatorResult } from '@libp2p/gossipsub'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { createClient, type SecureChatClient } from '@securechat/sdk/client'
import {
  createInitiatorSession,
  createResponderSession,
  type DoubleRatchetSession,
  randomBytes,
  x25519Keygen,
} from '@securechat/sdk/crypto'
import { DM_TOPIC_PREFIX, DmGatekeeper, decodeDmRecord, dmEnvelopeSchema, encodeDmRecord } from '@securechat/sdk/dm'
import { CertificateRegistry, createCertificate, walletSigner } from '@securechat/sdk/identity'
import type { DirectMessage } from '@securechat/sdk/types'
import { openVault, platformVaultBackend, VAULT_ARGON2ID_MIN, type Vault } from '@securechat/sdk/vault'
import { Wallet } from 'ethers'
import { DEFAULT_CLI_DOMAIN, DEVNET_CHAIN_ID } from '../node/src/constants.ts'
import { RelayNode } from '../node/src/relay/relay.ts'
import type { BenchRecord } from './types.ts'

const MESSAGE_BYTES = 200
const LAYER_MESSAGES = 1_000
const VAULT_MESSAGES = 200
const LATENCY_MESSAGES = 100
const BURST_MESSAGES = 300

export async function run(): Promise<BenchRecord[]> {
  return [...(await layer()), ...(await endToEnd())]
}

async function sessionPair(): Promise<[DoubleRatchetSession, DoubleRatchetSession]> {
  const sharedSecret = randomBytes(32)
  const prekey = await x25519Keygen()
  const associatedData = randomBytes(72)
  const alice = await createInitiatorSession({ sharedSecret, remoteRatchetPublicKey: prekey.publicKey, associatedData })
  const bob = createResponderSession({ sharedSecret, ratchetKeyPair: prekey, associatedData })
  await bob.decrypt(await alice.encrypt(randomBytes(MESSAGE_BYTES)))
  return [alice, bob]
}

async function layer(): Promise<BenchRecord[]> {
  const text = 'x'.repeat(MESSAGE_BYTES)
  const wallet = Wallet.createRandom()
  const key = await generateKeyPair('Ed25519')
  const from = peerIdFromPrivateKey(key)
  const cert = await createCertificate({
    signer: walletSigner({ type: 'eoa', signer: wallet }),
    peerId: from.toString(),
    domain: 'localhost',
    chainId: 31337,
    bundleHash: '00'.repeat(32),
  })
  const gatekeeper = new DmGatekeeper({ registry: new CertificateRegistry() })
  const topic = `${DM_TOPIC_PREFIX}${'ab'.repeat(32)}`

  const oneMessage = async (alice: DoubleRatchetSession, bob: DoubleRatchetSession, i: number) => {
    const envelope = { v: 1, kind: 'text', id: i.toString(16).padStart(32, '0'), body: text, sentAtMs: Date.now() }
    const ct = await alice.encrypt(new TextEncoder().encode(JSON.stringify(envelope)))
    const data = encodeDmRecord({
      v: 1,
      type: 'msg',
      sid: 'cd'.repeat(16),
      cert,
      ct: Buffer.from(ct).toString('base64url'),
    })
    const message: Message = {
      type: 'signed',
      from,
      topic,
      data,
      sequenceNumber: BigInt(i),
      signature: new Uint8Array(64),
      key: from.publicKey,
    }
    if (gatekeeper.validate(from, message) !== TopicValidatorResult.Accept) throw new Error('record refused')
    const decoded = decodeDmRecord(data)
    if (decoded.status !== 'ok' || decoded.record.type !== 'msg') throw new Error('record not decoded')
    const plaintext = await bob.decrypt(Buffer.from(decoded.record.ct, 'base64url'))
    dmEnvelopeSchema.parse(JSON.parse(new TextDecoder().decode(plaintext)))
  }

  const records: BenchRecord[] = []
  const plaintext = randomBytes(MESSAGE_BYTES)
  const [ra, rb] = await sessionPair()
  const bareMs = await timeIt(LAYER_MESSAGES, async () => rb.decrypt(await ra.encrypt(plaintext)))
  const bare = rate(LAYER_MESSAGES, bareMs)

  const [a, b] = await sessionPair()
  const layerMs = await timeIt(LAYER_MESSAGES, (i) => oneMessage(a, b, i))
  const layerRate = rate(LAYER_MESSAGES, layerMs)
  records.push({
    name: 'dm encrypt+decrypt with envelope, record and validation (200 B)',
    unit: 'msgs/s',
    value: layerRate,
    baseline: bare,
    ratio: layerRate / bare,
  })

  const dir = await mkdtemp(join(tmpdir(), 'securechat-bench-dm-'))
  let vault: Vault | undefined
  try {
    vault = await openVault({
      backend: platformVaultBackend(dir),
      unlock: { type: 'passphrase', passphrase: 'benchmark passphrase' },
      argon2id: VAULT_ARGON2ID_MIN,
    })
    const open = vault
    const [va, vb] = await sessionPair()
    const vaultMs = await timeIt(VAULT_MESSAGES, async (i) => {
      await open.putJson('dm/device/alice', { state: Buffer.from(va.serialize()).toString('base64url') })
      await oneMessage(va, vb, i)
      await open.putJson('dm/device/bob', { state: Buffer.from(vb.serialize()).toString('base64url') })
    })
    const vaultRate = rate(VAULT_MESSAGES, vaultMs)
    records.push({
      name: 'dm encrypt+decrypt, both sessions saved to a file vault per message (200 B)',
      unit: 'msgs/s',
      value: vaultRate,
      baseline: bare,
      ratio: vaultRate / bare,
    })
  } finally {
    await vault?.close()
    await rm(dir, { recursive: true, force: true })
  }
  return records
}

async function endToEnd(): Promise<BenchRecord[]> {
  const relay = new RelayNode({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'] })
  await relay.start()
  const clients: SecureChatClient[] = []
  try {
    for (let i = 0; i < 2; i++) {
      const client = createClient({
        domain: DEFAULT_CLI_DOMAIN,
        chainId: DEVNET_CHAIN_ID,
        signer: walletSigner({ type: 'eoa', signer: Wallet.createRandom() }),
        bootstrap: [relay.multiaddrs[0]!],
      })
      await client.start()
      await client.dms.ready()
      clients.push(client)
    }
    const [alice, bob] = clients as [SecureChatClient, SecureChatClient]
    const received = new Map<string, number>()
    const waiters = new Map<string, () => void>()
    bob.dms.addEventListener('message:received', ({ detail }: CustomEvent<DirectMessage>) => {
      received.set(detail.text, performance.now())
      waiters.get(detail.text)?.()
    })
    const arrival = (text: string) =>
      new Promise<void>((resolve, reject) => {
        if (received.has(text)) return resolve()
        const timer = setTimeout(() => reject(new Error(`"${text}" did not arrive`)), 15_000)
        waiters.set(text, () => {
          clearTimeout(timer)
          resolve()
        })
      })
    const conversation = alice.dm(bob.address)

    let started = performance.now()
    const first = arrival('first')
    await conversation.send('first')
    await first
    const firstMs = performance.now() - started
    // Let the session's answer arrive, so the rest goes on the pair topic.
    await new Promise((resolve) => setTimeout(resolve, 200))

    const latencies: number[] = []
    for (let i = 0; i < LATENCY_MESSAGES; i++) {
      const text = `latency ${i}`
      const arrived = arrival(text)
      started = performance.now()
      await conversation.send(text)
      await arrived
      latencies.push(performance.now() - started)
    }
    latencies.sort((x, y) => x - y)

    const texts = Array.from({ length: BURST_MESSAGES }, (_, i) => `burst ${i}`)
    const all = Promise.all(texts.map(arrival))
    started = performance.now()
    for (const text of texts) await conversation.send(text)
    await all
    const burstMs = performance.now() - started

    return [
      { name: 'dm first message to a new wallet (discovery + PQXDH), loopback', unit: 'ms', value: round(firstMs) },
      { name: 'dm latency through a relay, p50 (loopback)', unit: 'ms', value: round(percentile(latencies, 0.5)) },
      { name: 'dm latency through a relay, p95 (loopback)', unit: 'ms', value: round(percentile(latencies, 0.95)) },
      {
        name: 'dm throughput through a relay (loopback, one sender)',
        unit: 'msgs/s',
        value: rate(BURST_MESSAGES, burstMs),
      },
    ]
  } finally {
    for (const client of clients) await client.stop()
    await relay.stop()
  }
}

async function timeIt(iterations: number, body: (i: number) => Promise<unknown>): Promise<number> {
  const start = performance.now()
  for (let i = 0; i < iterations; i++) await body(i)
  return performance.now() - start
}

function rate(iterations: number, ms: number): number {
  return Math.round((iterations / ms) * 1000)
}

function round(value: number): number {
  return Number(value.toFixed(2))
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!
}

// `node bench/dm.ts` runs this suite alone.
if (import.meta.main) {
  for (const record of await run()) console.log(JSON.stringify(record))
}
