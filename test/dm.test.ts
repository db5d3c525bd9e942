import { createHash } from 'node:crypto'
import { mkdtemp, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Message } from '@libp2p/gossipsub'
import { multiaddr } from '@multiformats/multiaddr'
import {
  createClient,
  createSecureChatLibp2p,
  type SecureChatClient,
  type SecureChatLibp2p,
} from '@securechat/sdk/client'
import { acceptSession, generateDeviceKeys } from '@securechat/sdk/crypto'
import { DM_INBOX_TOPIC_PREFIX, DM_TOPIC_PREFIX, decodeDmRecord, isDmTopic } from '@securechat/sdk/dm'
import { walletSigner } from '@securechat/sdk/identity'
import type { DirectMessage, DmDevice, UndecryptableDirectMessage } from '@securechat/sdk/types'
import { openVault, platformVaultBackend, type Vault } from '@securechat/sdk/vault'
import { type HDNodeWallet, Wallet } from 'ethers'
import { describe, expect, it } from 'vitest'
import { DEFAULT_CLI_DOMAIN, DEVNET_CHAIN_ID } from '../node/src/constants.ts'
import type { RelayNode } from '../node/src/relay/relay.ts'
import { startRelay, stopAfterEach } from './helpers/stoppers.ts'

const stoppers = stopAfterEach()

/** A started client whose DMs are running; with `vault`, the device persists there. */
async function startDevice(relay: RelayNode, wallet: HDNodeWallet | Wallet, vault?: Vault): Promise<SecureChatClient> {
  const client = createClient({
    domain: DEFAULT_CLI_DOMAIN,
    chainId: DEVNET_CHAIN_ID,
    signer: walletSigner({ type: 'eoa', signer: wallet }),
    bootstrap: [relay.multiaddrs[0]!],
    ...(vault === undefined ? {} : { vault }),
  })
  await client.start()
  await client.dms.ready()
  stoppers.push(() => client.stop())
  return client
}

function nextDm(client: SecureChatClient, match: (m: DirectMessage) => boolean): Promise<DirectMessage> {
  return new Promise((resolve) => {
    const listener = (event: CustomEvent<DirectMessage>): void => {
      if (!match(event.detail)) return
      client.dms.removeEventListener('message:received', listener)
      resolve(event.detail)
    }
    client.dms.addEventListener('message:received', listener)
  })
}

function nextUndecryptable(client: SecureChatClient): Promise<UndecryptableDirectMessage> {
  return new Promise((resolve) =>
    client.dms.addEventListener('message:undecryptable', (event) => resolve(event.detail), { once: true }),
  )
}

async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

describe('direct messages', () => {
  it('behavior: two wallets exchange DMs through a relay that sees only ciphertext; a third party cannot read them', async () => {
    const relay = await startRelay(stoppers)
    const seenByRelay: Message[] = []
    relay.libp2p.services.pubsub.addEventListener('message', (event) => {
      if (isDmTopic(event.detail.topic)) seenByRelay.push(event.detail)
    })
    const [alice, bob] = await Promise.all([
      startDevice(relay, Wallet.createRandom()),
      startDevice(relay, Wallet.createRandom()),
    ])
    // An eavesdropper: a bare libp2p node that subscribes to every DM topic the relay carries.
    const eavesdropper: SecureChatLibp2p = await createSecureChatLibp2p({
      privateKey: await generateKeyPair('Ed25519'),
    })
    stoppers.push(async () => eavesdropper.stop())
    const seenByEavesdropper: Message[] = []
    eavesdropper.services.pubsub.addEventListener('message', (event) => seenByEavesdropper.push(event.detail))
    await eavesdropper.dial(multiaddr(relay.multiaddrs[0]!))
    const follow = setInterval(() => {
      for (const topic of relay.libp2p.services.pubsub.getTopics()) {
        if (isDmTopic(topic) && !eavesdropper.services.pubsub.getTopics().includes(topic)) {
          eavesdropper.services.pubsub.subscribe(topic)
        }
      }
    }, 20)
    stoppers.push(async () => clearInterval(follow))

    const secrets = ['the vault code is 4242', 'bring the blue folder', 'see you at the harbour']
    const first = nextDm(bob, (m) => m.text === secrets[0])
    const established = new Promise<DmDevice>((resolve) =>
      alice.dms.addEventListener('session:established', (event) => resolve(event.detail), { once: true }),
    )
    const sent = await alice.dm(bob.address).send(secrets[0]!)
    expect(sent.delivery).toMatchObject([{ address: bob.address, status: 'sent', handshake: true }])
    expect(await first).toMatchObject({
      conversation: alice.address,
      sender: alice.address,
      direction: 'in',
      handshake: true,
    })
    // Bob's answer to the new session reaches Alice: later messages go on the pair's topic.
    expect(await established).toMatchObject({ address: bob.address, established: true })

    const second = nextDm(bob, (m) => m.text === secrets[1])
    await alice.dm(bob.address).send(secrets[1]!, { parentId: sent.id })
    expect(await second).toMatchObject({ parentId: sent.id })

    const reply = nextDm(alice, (m) => m.text === secrets[2])
    await bob.dm(alice.address).send(secrets[2]!)
    expect(await reply).toMatchObject({ conversation: bob.address, sender: bob.address, direction: 'in' })

    // Every DM record the relay forwarded, and that reached the eavesdropper, is ciphertext.
    await until(() => seenByEavesdropper.some((m) => m.topic.startsWith(DM_TOPIC_PREFIX)), 'pair-topic traffic')
    const records = [...seenByRelay, ...seenByEavesdropper]
    expect(records.some((m) => m.topic.startsWith(DM_INBOX_TOPIC_PREFIX))).toBe(true)
    for (const secret of secrets) {
      // Whole secrets, and words of five letters or more: a short word or a number (4242) turns up by chance in
      // base64 and in timestamps (a record's `atMs` once ended in …794242).
      const needles = [secret, ...secret.split(' ').filter((w) => w.length >= 5 && !/^\d+$/.test(w))]
      for (const { data } of records) {
        const text = new TextDecoder().decode(data)
        for (const needle of needles) expect(text).not.toContain(needle)
      }
    }
    // The send result names the record the relay forwarded, and the hash of the initial message inside it.
    const delivered = sent.delivery[0]!
    if (delivered.status !== 'sent') throw new Error(`not sent: ${delivered.error}`)
    expect(seenByRelay.some((m) => Buffer.from(m.data).equals(delivered.record))).toBe(true)
    const sentRecord = decodeDmRecord(delivered.record)
    if (sentRecord.status !== 'ok' || sentRecord.record.type !== 'init') throw new Error('the first DM is not an init')
    const initialMessage = Buffer.from(sentRecord.record.msg, 'base64url')
    expect(delivered.ciphertextHash).toBe(`0x${createHash('sha256').update(initialMessage).digest('hex')}`)
    // A third party with keys of its own, handed the initial message, cannot open it.
    const init = seenByRelay
      .map((m) => ({ m, decoded: decodeDmRecord(m.data) }))
      .find(({ decoded }) => decoded.status === 'ok' && decoded.record.type === 'init')!
    const record = init.decoded.status === 'ok' && init.decoded.record.type === 'init' ? init.decoded.record : undefined
    await expect(
      acceptSession({
        deviceKeys: await generateDeviceKeys(),
        initialMessage: Buffer.from(record!.msg, 'base64url'),
        initiatorId: alice.peerId.toString(),
        responderId: bob.peerId.toString(),
      }),
    ).rejects.toMatchObject({ name: 'DecryptionFailedError' })
  })

  it("behavior: a message reaches every device of the recipient, and the sender's other devices get a copy", async () => {
    const relay = await startRelay(stoppers)
    const aliceWallet = Wallet.createRandom()
    const bobWallet = Wallet.createRandom()
    const [alice1, alice2, bob1, bob2] = await Promise.all([
      startDevice(relay, aliceWallet),
      startDevice(relay, aliceWallet),
      startDevice(relay, bobWallet),
      startDevice(relay, bobWallet),
    ])
    // Devices of one wallet find each other on its inbox.
    await until(() => alice1.dms.devices(alice1.address).length === 1, "alice1 to know alice's other device")
    await until(() => bob2.dms.devices(bob2.address).length === 1, "bob2 to know bob's other device")

    const atBob1 = nextDm(bob1, (m) => m.text === 'to all of you')
    const atBob2 = nextDm(bob2, (m) => m.text === 'to all of you')
    const atAlice2 = nextDm(alice2, (m) => m.text === 'to all of you')
    const sent = await alice1.dm(bobWallet.address).send('to all of you')
    expect(sent.delivery.map((d) => d.peerId).sort()).toEqual(
      [bob1, bob2, alice2].map((c) => c.peerId.toString()).sort(),
    )
    for (const message of [await atBob1, await atBob2]) {
      expect(message).toMatchObject({ id: sent.id, direction: 'in', conversation: aliceWallet.address })
    }
    expect(await atAlice2).toMatchObject({
      id: sent.id,
      direction: 'out',
      conversation: bobWallet.address,
      sender: aliceWallet.address,
    })

    const replies = [alice1, alice2].map((c) => nextDm(c, (m) => m.text === 'from bob2'))
    const copy = nextDm(bob1, (m) => m.text === 'from bob2')
    await bob2.dm(aliceWallet.address).send('from bob2')
    for (const message of await Promise.all(replies)) expect(message).toMatchObject({ direction: 'in' })
    expect(await copy).toMatchObject({ direction: 'out', conversation: aliceWallet.address })
  })

  it('behavior: both peers restart from their vaults and the conversation continues on the same sessions', async () => {
    const relay = await startRelay(stoppers)
    const wallets = { alice: Wallet.createRandom(), bob: Wallet.createRandom() }
    const dirs = {
      alice: await mkdtemp(join(tmpdir(), 'securechat-dm-alice-')),
      bob: await mkdtemp(join(tmpdir(), 'securechat-dm-bob-')),
    }
    const open = (who: 'alice' | 'bob') =>
      openVault({
        backend: platformVaultBackend(dirs[who]),
        unlock: { type: 'wallet', signer: walletSigner({ type: 'eoa', signer: wallets[who] }) },
      })
    const run = async () => {
      const vaults = { alice: await open('alice'), bob: await open('bob') }
      const alice = await startDevice(relay, wallets.alice, vaults.alice)
      const bob = await startDevice(relay, wallets.bob, vaults.bob)
      return {
        alice,
        bob,
        stop: async () => {
          await Promise.all([alice.stop(), bob.stop()])
          await Promise.all([vaults.alice.close(), vaults.bob.close()])
        },
      }
    }

    const first = await run()
    const peerIds = [first.alice.peerId.toString(), first.bob.peerId.toString()]
    const hello = nextDm(first.bob, (m) => m.text === 'before the restart')
    await first.alice.dm(wallets.bob.address).send('before the restart')
    expect(await hello).toMatchObject({ handshake: true })
    const answer = nextDm(first.alice, (m) => m.text === 'answer before')
    await first.bob.dm(wallets.alice.address).send('answer before')
    await answer
    await first.stop()
    // Nothing of a session is in the vault file in the clear.
    expect(await readFile(join(dirs.bob, 'vault.json'), 'utf8')).not.toContain('before the restart')

    const second = await run()
    expect([second.alice.peerId.toString(), second.bob.peerId.toString()]).toEqual(peerIds)
    const resumed = nextDm(second.bob, (m) => m.text === 'after the restart')
    const result = await second.alice.dm(wallets.bob.address).send('after the restart')
    expect(result.delivery).toMatchObject([{ status: 'sent', handshake: false }])
    expect(await resumed).toMatchObject({ handshake: false, sender: wallets.alice.address })
    const back = nextDm(second.alice, (m) => m.text === 'answer after')
    await second.bob.dm(wallets.alice.address).send('answer after')
    expect(await back).toMatchObject({ handshake: false, sender: wallets.bob.address })
    await second.stop()
  })

  it('error: tampered ciphertext, header or record is refused with a named error, and the session goes on', async () => {
    const relay = await startRelay(stoppers)
    const [alice, bob] = await Promise.all([
      startDevice(relay, Wallet.createRandom()),
      startDevice(relay, Wallet.createRandom()),
    ])
    const hello = nextDm(bob, (m) => m.text === 'hello')
    await alice.dm(bob.address).send('hello')
    await hello
    const acked = nextDm(alice, (m) => m.text === 'ok')
    // Alice's receipt for it leaves before her records are tampered with.
    const receipt = new Promise((resolve) => bob.dms.addEventListener('message:delivered', resolve, { once: true }))
    await bob.dm(alice.address).send('ok')
    await Promise.all([acked, receipt])

    // Alice's node signs whatever it publishes: tamper with her next records before they leave.
    const pubsub = alice.libp2p.services.pubsub
    const publish = pubsub.publish.bind(pubsub)
    let tamper: ((ct: Buffer) => Buffer) | undefined
    pubsub.publish = async (topic: string, data?: Uint8Array) => {
      if (tamper === undefined || !topic.startsWith(DM_TOPIC_PREFIX)) return publish(topic, data)
      const record = JSON.parse(new TextDecoder().decode(data)) as { ct: string }
      record.ct = tamper(Buffer.from(record.ct, 'base64url')).toString('base64url')
      return publish(topic, new TextEncoder().encode(JSON.stringify(record)))
    }
    const cases: Array<[string, (ct: Buffer) => Buffer, string]> = [
      ['a flipped ciphertext bit', (ct) => flip(ct, ct.length - 20), 'DecryptionFailedError'],
      ['a flipped tag bit', (ct) => flip(ct, ct.length - 1), 'DecryptionFailedError'],
      ['a flipped bit in the ratchet key of the header', (ct) => flip(ct, 5), 'DecryptionFailedError'],
      [
        'a counter far ahead',
        (ct) => Buffer.concat([ct.subarray(0, 37), Buffer.from([0, 1, 0, 0]), ct.subarray(41)]),
        'SkippedKeyLimitError',
      ],
      ['a truncated message', (ct) => ct.subarray(0, 30), 'MalformedMessageError'],
    ]
    for (const [what, change, error] of cases) {
      tamper = change
      const refused = nextUndecryptable(bob)
      await alice.dm(bob.address).send(`tampered: ${what}`)
      expect(await refused, what).toMatchObject({ error, sender: alice.address })
    }

    // A malformed record is rejected at gossip validation (here by the relay, which then does not forward it).
    tamper = undefined
    const rejectedBefore = relay.stats().rejected
    const pairTopic = pubsub.getTopics().find((t) => t.startsWith(DM_TOPIC_PREFIX))!
    await publish(pairTopic, new TextEncoder().encode('{"v":1,"type":"msg","sid":"zz"}'))
    await until(() => relay.stats().rejected > rejectedBefore, 'the relay to reject the malformed record')

    // A PQXDH initial message whose KEM ciphertext was changed, and one replayed: refused, named.
    const carol = await startDevice(relay, Wallet.createRandom())
    const carolPubsub = carol.libp2p.services.pubsub
    const carolPublish = carolPubsub.publish.bind(carolPubsub)
    const inits: Array<{ topic: string; data: Uint8Array }> = []
    let flipInit = true
    carolPubsub.publish = async (topic: string, data?: Uint8Array) => {
      const record = JSON.parse(new TextDecoder().decode(data)) as { type: string; msg: string }
      if (record.type !== 'init') return carolPublish(topic, data)
      if (!flipInit) {
        inits.push({ topic, data: data! })
        return carolPublish(topic, data)
      }
      record.msg = flip(Buffer.from(record.msg, 'base64url'), 100).toString('base64url')
      return carolPublish(topic, new TextEncoder().encode(JSON.stringify(record)))
    }
    const badInit = nextUndecryptable(bob)
    await carol.dm(bob.address).send('tampered initial message')
    expect(await badInit).toMatchObject({ error: 'DecryptionFailedError', sender: carol.address })
    flipInit = false
    const fromCarol = nextDm(bob, (m) => m.text === 'from carol')
    const carolSent = await carol.dm(bob.address).send('from carol')
    expect(carolSent.delivery[0]).toMatchObject({ handshake: true })
    await fromCarol
    // A replayed record is the same record: dropped by its id, before any decryption, without a word.
    const reported: UndecryptableDirectMessage[] = []
    bob.dms.addEventListener('message:undecryptable', (event) => reported.push(event.detail))
    await carolPublish(inits[0]!.topic, inits[0]!.data)
    const fromCarolAgain = nextDm(bob, (m) => m.text === 'carol again')
    await carol.dm(bob.address).send('carol again')
    await fromCarolAgain
    expect(reported).toEqual([])

    // The session was not disturbed: the next honest message decrypts.
    const after = nextDm(bob, (m) => m.text === 'still fine')
    await alice.dm(bob.address).send('still fine')
    expect(await after).toMatchObject({ sender: alice.address })
  })
})

function flip(bytes: Buffer, index: number): Buffer {
  const copy = Buffer.from(bytes)
  copy[index]! ^= 0x01
  return copy
}
