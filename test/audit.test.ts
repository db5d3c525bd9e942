/**
 * Audit anchoring end to end, on Hardhat's network and real Helia nodes on loopback: a relay anchors what
 * passes through it, a second node fetches the leaf lists from the relay's IPFS node, and `securechat verify`
 * and `export` work from the command line. Nothing is mocked; waits are bounded.
 */
import { createReadStream, createWriteStream } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { generateKeyPair } from '@libp2p/crypto/keys'
import {
  auditLogReader,
  checkFileCommitment,
  createAuditIpfs,
  DEVNET_AUDIT_LOG_ADDRESS,
  type FoundBatch,
  fetchAnchoredBatches,
  findEvidence,
  leafOfMessage,
  leafOfRecord,
  parseTranscript,
  VerifyFailure,
  verifyInclusion,
} from '@securechat/sdk/audit'
import { createClient, createSecureChatLibp2p, type SecureChatClient } from '@securechat/sdk/client'
import { walletSigner } from '@securechat/sdk/identity'
import type { Room } from '@securechat/sdk/rooms'
import type { RoomMessage } from '@securechat/sdk/types'
import { Wallet } from 'ethers'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { anchoring as anchoringService, type RelayAnchoring } from '../node/src/audit/relay-anchoring.ts'
import { type RoomRecording, recordRoom } from '../node/src/commands/room-recorder.ts'
import { DEFAULT_CLI_DOMAIN, DEVNET_CHAIN_ID } from '../node/src/constants.ts'
import { createRelay, type Relay } from '../node/src/relay/create-relay.ts'
import { startTestChain, type TestChain } from './helpers/chain.ts'
import { runCli, spawnCli, tempDir } from './helpers/cli.ts'
import { generatedFile } from './helpers/files.ts'

const TIMEOUT_MS = 20_000
const PRESENCE_INTERVAL_MS = 1_000
/** The relay cuts and anchors a batch this often in these tests. */
const ANCHOR_INTERVAL_MS = 400

let chain: TestChain
const cleanups: Array<() => Promise<void>> = []

beforeAll(async () => {
  chain = await startTestChain()
}, 60_000)
afterAll(async () => {
  await chain?.stop()
})
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined)
})

/** Polls `condition` every 50 ms; rejects with `describe()` after `timeoutMs`. */
async function until(condition: () => boolean | Promise<boolean>, describe: () => string, timeoutMs = TIMEOUT_MS) {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${describe()}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

interface AnchoringRelay {
  relay: Relay
  anchoring: RelayAnchoring
  address: string
}

/** A relay that anchors with dev account `account`; `drop` lets a test make it leave messages out. */
async function startAnchoringRelay(
  params: { account?: number; drop?: (id: string, index: number) => boolean } = {},
): Promise<AnchoringRelay> {
  const wallet = new Wallet(chain.accounts[params.account ?? 5]!.privateKey)
  const relay = createRelay({
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    dataDir: await tempDir('audit-relay-'),
    services: {
      anchoring: anchoringService({
        rpcUrl: chain.rpcUrl,
        chainId: chain.chainId,
        auditLog: chain.addresses.auditLog,
        wallet,
        intervalMs: ANCHOR_INTERVAL_MS,
        receiptPollIntervalMs: 50,
      }),
    },
  })
  let index = 0
  // Registered before the relay starts, so before the anchoring service's own listener: a dropped record stops
  // here and never reaches the anchorer (it is still forwarded).
  relay.node.addEventListener('record:accepted', (event) => {
    const { record } = event.detail
    if (record.type === 'message' && params.drop?.(record.id, index++) === true) event.stopImmediatePropagation()
  })
  await relay.start()
  cleanups.push(() => relay.stop())
  const anchoring = relay.services.anchoring as RelayAnchoring
  return { relay, anchoring, address: wallet.address }
}

interface Member {
  client: SecureChatClient
  room: Room
  received: RoomMessage[]
}

async function startMember(relay: Relay): Promise<SecureChatClient> {
  const client = createClient({
    domain: DEFAULT_CLI_DOMAIN,
    chainId: DEVNET_CHAIN_ID,
    signer: walletSigner({ type: 'eoa', signer: new Wallet(Wallet.createRandom().privateKey) }),
    bootstrap: [relay.multiaddrs[0]!],
    presenceIntervalMs: PRESENCE_INTERVAL_MS,
  })
  await client.start()
  cleanups.push(() => client.stop())
  return client
}

/** Alice creates a room, Bob joins and records every message with its record (as `securechat export` does). */
async function aliceAndBob(
  relay: Relay,
): Promise<{ alice: Member; bob: Member & { capture: RoomRecording }; invite: string }> {
  const aliceClient = await startMember(relay)
  const bobClient = await startMember(relay)
  const { room: aliceRoom, invite } = await aliceClient.createRoom({ name: 'audited' })
  await aliceRoom.waitForPeers({ signal: AbortSignal.timeout(TIMEOUT_MS) })
  const bobRoom = await bobClient.joinRoom(invite)
  const capture = recordRoom(bobRoom)
  const received: RoomMessage[] = []
  bobRoom.addEventListener('message:received', (event) => received.push(event.detail))
  await bobRoom.waitForPeers({ signal: AbortSignal.timeout(TIMEOUT_MS) })
  await until(
    () => aliceRoom.members().length === 2 && bobRoom.members().length === 2,
    () => 'alice and bob do not see each other',
  )
  return {
    alice: { client: aliceClient, room: aliceRoom, received: [] },
    bob: { client: bobClient, room: bobRoom, received, capture },
    invite,
  }
}

async function sendAll(alice: Member, bob: Member, texts: string[]): Promise<string[]> {
  const sent = []
  for (const text of texts) sent.push(await alice.room.send(text))
  await until(
    () => texts.every((text) => bob.received.some((m) => m.text === text)),
    () => `bob received ${JSON.stringify(bob.received.map((m) => m.text))} of ${JSON.stringify(texts)}`,
  )
  // The sender's result and the receiver's message name the same record and ciphertext hash.
  for (const s of sent) {
    const received = bob.received.find((m) => m.id === s.id)!
    expect(new Uint8Array(received.record)).toEqual(s.record)
    expect(received.ciphertextHash).toBe(s.ciphertextHash)
  }
  return sent.map((s) => s.id)
}

/** A node that is not in the room: fetches the relay's leaf lists over bitswap. */
/**
 * What bob heard, as `securechat export` writes it and `export --in` takes it: a transcript without anchors yet, each
 * file message with its hash and salt.
 */
async function writeHeardTranscript(path: string, roomId: string, capture: RoomRecording): Promise<void> {
  await writeFile(
    path,
    JSON.stringify({
      format: 'securechat-transcript-v1',
      room: { id: roomId },
      exportedAtMs: Date.now(),
      messages: capture.messages.map((m) => ({
        id: m.id,
        sender: m.sender,
        senderPeerId: m.senderPeerId,
        record: new TextDecoder().decode(m.record),
        ...(m.file === undefined ? {} : { file: m.file }),
      })),
      batches: [],
    }),
  )
}

async function secondNode(relay: Relay) {
  const libp2p = await createSecureChatLibp2p({ privateKey: await generateKeyPair('Ed25519') })
  await libp2p.dial(relay.node.libp2p.getMultiaddrs()[0]!)
  const ipfs = await createAuditIpfs({ libp2p })
  cleanups.push(async () => {
    await ipfs.stop()
    await libp2p.stop()
  })
  return ipfs
}

describe('audit anchoring through a relay', () => {
  it('behavior: messages sent through a relay get anchored, and each verifies from the leaf lists a second node fetches', async () => {
    expect(chain.addresses.auditLog).toBe(DEVNET_AUDIT_LOG_ADDRESS)
    const { relay, anchoring, address } = await startAnchoringRelay()
    const { alice, bob, invite } = await aliceAndBob(relay)
    const ids = await sendAll(alice, bob, ['one', 'two', 'three', 'four'])
    await until(
      () => anchoring.anchorer.stats().leavesAnchored >= ids.length,
      () =>
        `anchorer: ${JSON.stringify(anchoring.anchorer.stats(), (_, v) => (typeof v === 'bigint' ? String(v) : v))}`,
    )

    const reader = auditLogReader({ runner: chain.provider, address: chain.addresses.auditLog })
    const ipfs = await secondNode(relay)
    const batches: FoundBatch[] = await fetchAnchoredBatches({ reader, ipfs, roomId: alice.room.id })
    expect(batches.length).toBeGreaterThan(0)
    for (const { event, batch } of batches) {
      // The leaf list fetched from the relay's IPFS node rebuilds the root on chain.
      expect(batch.root).toBe(event.root)
      expect(batch.count).toBe(event.count)
      expect((await reader.anchorOf(batch.root))?.anchorer).toBe(address)
    }
    for (const id of ids) {
      const captured = bob.capture.messages.find((m) => m.id === id)!
      // What the room delivered is the leaf: the same as decoding the record would give.
      expect(leafOfMessage(captured)).toEqual(leafOfRecord({ record: captured.record, sender: captured.sender }))
      const verdict = await verifyInclusion({
        claim: { roomId: alice.room.id, messageId: id, sender: alice.client.address, record: captured.record },
        evidence: findEvidence(batches, { messageId: id, roomId: alice.room.id }),
        reader,
      })
      expect(verdict.failures).toEqual([])
      expect(verdict.anchor?.anchorer).toBe(address)
    }

    // One flipped byte in content, sender, timestamp or room fails with the reason.
    const id = ids[1]!
    const record = new TextDecoder().decode(bob.capture.messages.find((m) => m.id === id)!.record)
    const evidence = findEvidence(batches, { messageId: id, roomId: alice.room.id })
    const parsed = JSON.parse(record) as { sentAtMs: number; room: string; payload: { ct: string } }
    const flip = (text: string, at: number): string =>
      `${text.slice(0, at)}${text[at] === 'A' ? 'B' : text[at] === '0' ? '1' : text[at] === 'a' ? 'b' : 'A'}${text.slice(at + 1)}`
    const cases: Array<[string, Parameters<typeof verifyInclusion>[0]['claim'], string]> = [
      [
        'content',
        { roomId: alice.room.id, messageId: id, record: flip(record, record.indexOf(parsed.payload.ct) + 5) },
        VerifyFailure.tampered,
      ],
      [
        'sender',
        { roomId: alice.room.id, messageId: id, sender: flip(alice.client.address, 41), record },
        VerifyFailure.wrongSender,
      ],
      [
        'timestamp',
        {
          roomId: alice.room.id,
          messageId: id,
          record: record.replace(`"sentAtMs":${parsed.sentAtMs}`, `"sentAtMs":${parsed.sentAtMs + 1}`),
        },
        VerifyFailure.wrongTimestamp,
      ],
      ['room', { roomId: flip(alice.room.id, 7), messageId: id, record }, VerifyFailure.wrongRoom],
    ]
    for (const [what, claim, reason] of cases) {
      const verdict = await verifyInclusion({ claim, evidence, reader })
      expect(verdict.ok, what).toBe(false)
      expect(verdict.failures[0]?.reason, what).toBe(reason)
    }

    // The command line: from the invite and the id alone, through the relay's IPFS node.
    const inviteFile = join(await tempDir('audit-invite-'), 'room.invite')
    await writeFile(inviteFile, `${invite}\n`)
    const ok = await runCli(['verify', '--room', inviteFile, '--message', id, '--rpc', chain.rpcUrl])
    expect(ok.stderr).not.toMatch(/error/)
    expect(ok.code).toBe(0)
    expect(ok.stdout).toContain(`VERIFIED: message ${id}`)
    expect(ok.stdout).toContain(`by ${address}`)
    const wrong = await runCli([
      'verify',
      '--room',
      inviteFile,
      '--message',
      id,
      '--sender',
      bob.client.address,
      '--rpc',
      chain.rpcUrl,
    ])
    expect(wrong.code).toBe(1)
    expect(wrong.stdout).toContain('wrong-sender')
    const unknown = await runCli(['verify', '--room', inviteFile, '--message', 'ab'.repeat(32), '--rpc', chain.rpcUrl])
    expect(unknown.code).toBe(1)
    expect(unknown.stdout).toContain('unanchored')
  })

  it('error: a relay that anchors a batch with a message missing is caught by the transcript verifier; a member fills the gap', async () => {
    const fromBlock = (await chain.provider.getBlockNumber()) + 1
    // The relay leaves out the third message it accepts, and anchors the rest.
    const { relay, anchoring } = await startAnchoringRelay({ account: 6, drop: (_, index) => index === 2 })
    const { alice, bob, invite } = await aliceAndBob(relay)
    const ids = await sendAll(alice, bob, ['a', 'b', 'c', 'd', 'e'])
    await until(
      () => anchoring.anchorer.stats().leavesAnchored >= ids.length - 1,
      () => `anchorer: ${anchoring.anchorer.stats().leavesAnchored} anchored`,
    )
    const dir = await tempDir('audit-transcript-')
    const file = join(dir, 'transcript.json')
    // Bob's messages as `securechat export --in` takes them: a transcript without anchors yet.
    await writeHeardTranscript(file, alice.room.id, bob.capture)
    const inviteFile = join(dir, 'room.invite')
    await writeFile(inviteFile, `${invite}\n`)
    const exported = join(dir, 'anchored.json')
    const exportRun = await runCli([
      'export',
      '--room',
      inviteFile,
      '--in',
      file,
      '--out',
      exported,
      '--rpc',
      chain.rpcUrl,
      '--from-block',
      String(fromBlock),
    ])
    expect(exportRun.stderr).not.toMatch(/error|warning/)
    expect(exportRun.code).toBe(0)
    const transcript = parseTranscript(await readFile(exported, 'utf8'))
    expect(transcript.messages.filter((m) => m.anchor !== undefined)).toHaveLength(ids.length - 1)

    const verified = await runCli(['verify', '--file', exported, '--rpc', chain.rpcUrl])
    expect(verified.code).toBe(1)
    expect(verified.stdout).toContain(`✗ ${ids[2]} gap`)
    expect(verified.stdout).toMatch(/FAILED: 5 messages — 4 anchored, 0 not anchored yet, 1 in gaps/)

    // Bob anchors the room's history himself (paying gas): the missing message is anchored now.
    const filled = join(dir, 'filled.json')
    const anchorRun = await runCli(['anchor', '--file', exported, '--out', filled, '--rpc', chain.rpcUrl], {
      SECURECHAT_PRIVATE_KEY: chain.accounts[7]!.privateKey,
    })
    expect(anchorRun.stderr).not.toMatch(/error/)
    expect(anchorRun.code).toBe(0)
    expect(JSON.parse(anchorRun.stdout)).toMatchObject({
      status: 'anchored',
      count: 5,
      anchorer: chain.accounts[7]!.address,
    })
    const again = await runCli(['verify', '--file', filled, '--rpc', chain.rpcUrl])
    expect(again.code).toBe(0)
    expect(again.stdout).toContain('VERIFIED: 5 messages — 5 anchored')
  })

  it('behavior: a file shared in a room is anchored with its message; `verify` with the file passes, with a changed byte fails file-mismatch', async () => {
    const fromBlock = (await chain.provider.getBlockNumber()) + 1
    const { relay, anchoring } = await startAnchoringRelay({ account: 4 })
    const { alice, bob, invite } = await aliceAndBob(relay)
    const dir = await tempDir('audit-file-')
    const original = join(dir, 'minutes.bin')
    const { stream, sha256 } = generatedFile(3 * 1024 * 1024 + 17, 11)
    await stream.pipeTo(Writable.toWeb(createWriteStream(original)))
    const fileSha256 = await sha256
    // Shared as the CLI's send-file does, from disk; no relay here keeps files, so it is served by alice meanwhile.
    const shared = await alice.client.shareFile(
      alice.room,
      createReadStream(original, { highWaterMark: 1024 * 1024 }),
      { name: 'minutes.bin', type: 'application/octet-stream' },
      { caption: 'the minutes' },
    )
    const [textId] = await sendAll(alice, bob, ['and a text'])
    await until(
      () => bob.received.some((m) => m.id === shared.id),
      () => 'bob never received the file message',
    )
    // The record commits to the file under the salt the manifest carries; bob received both.
    const salt = shared.file.salt!
    expect(bob.received.find((m) => m.id === shared.id)?.file?.salt).toBe(salt)
    const record = new TextDecoder().decode(bob.received.find((m) => m.id === shared.id)!.record)
    expect(checkFileCommitment({ record, salt, sha256: fileSha256 }).status).toBe('match')
    expect(bob.capture.messages.find((m) => m.id === shared.id)?.file).toEqual({ sha256: fileSha256, salt })
    await until(
      () => anchoring.anchorer.stats().leavesAnchored >= 2,
      () => `anchorer: ${anchoring.anchorer.stats().leavesAnchored} anchored`,
    )

    // Bob's transcript, as `export` writes it from what he heard: the file message carries its hash and salt.
    const heard = join(dir, 'heard.json')
    await writeHeardTranscript(heard, alice.room.id, bob.capture)
    const inviteFile = join(dir, 'room.invite')
    await writeFile(inviteFile, `${invite}\n`)
    const exported = join(dir, 'transcript.json')
    const exportRun = await runCli([
      'export',
      '--room',
      inviteFile,
      '--in',
      heard,
      '--out',
      exported,
      '--rpc',
      chain.rpcUrl,
      '--from-block',
      String(fromBlock),
    ])
    expect(exportRun.stderr).not.toMatch(/error|warning/)
    expect(exportRun.code).toBe(0)
    const transcript = parseTranscript(await readFile(exported, 'utf8'))
    expect(transcript.messages.find((m) => m.id === shared.id)?.file).toEqual({ sha256: fileSha256, salt })
    expect(transcript.messages.find((m) => m.id === textId)?.file).toBeUndefined()

    // The transcript alone: every message anchored, the file message's commitment checked.
    const all = await runCli(['verify', '--file', exported, '--rpc', chain.rpcUrl])
    expect(all.code).toBe(0)
    expect(all.stdout).toContain(`✓ ${shared.id} anchored`)
    expect(all.stdout).toContain(`file sha256 ${fileSha256} committed`)
    expect(all.stdout).toContain('VERIFIED: 2 messages — 2 anchored')

    // The file on disk against the transcript: found by its hash, proven by the anchored record.
    const ok = await runCli(['verify', '--file', exported, '--shared-file', original, '--rpc', chain.rpcUrl])
    expect(ok.stderr).not.toMatch(/error/)
    expect(ok.code).toBe(0)
    expect(ok.stdout).toContain(`VERIFIED: message ${shared.id}`)
    expect(ok.stdout).toContain(`file      sha256 ${fileSha256}, committed by the record`)

    // One byte changed: no message shared it; against the message itself, file-mismatch.
    const modified = join(dir, 'minutes-modified.bin')
    const bytes = await readFile(original)
    bytes[bytes.length >> 1]! ^= 0x01
    await writeFile(modified, bytes)
    const unknown = await runCli(['verify', '--file', exported, '--shared-file', modified, '--rpc', chain.rpcUrl])
    expect(unknown.code).toBe(1)
    expect(unknown.stdout).toContain('file-mismatch: no message of the transcript shared this file')
    const mismatch = await runCli([
      'verify',
      '--file',
      exported,
      '--message',
      shared.id,
      '--shared-file',
      modified,
      '--rpc',
      chain.rpcUrl,
    ])
    expect(mismatch.code).toBe(1)
    expect(mismatch.stdout).toContain(`FAILED: message ${shared.id}`)
    expect(mismatch.stdout).toContain('file-mismatch: the record commits to another file')

    // From the chain and the relays' leaf lists, with the record and salt a member discloses.
    const recordFile = join(dir, 'record.json')
    await writeFile(recordFile, `${record}\n`)
    const direct = (file: string) =>
      runCli([
        'verify',
        '--room',
        inviteFile,
        '--message',
        shared.id,
        '--record',
        recordFile,
        '--shared-file',
        file,
        '--salt',
        salt,
        '--rpc',
        chain.rpcUrl,
      ])
    const proven = await direct(original)
    expect(proven.code).toBe(0)
    expect(proven.stdout).toContain(`VERIFIED: message ${shared.id}`)
    expect(proven.stdout).toContain(`file      sha256 ${fileSha256}, committed by the record`)
    const changed = await direct(modified)
    expect(changed.code).toBe(1)
    expect(changed.stdout).toContain('file-mismatch')
    // Another salt, and a record that commits to no file, fail alike (sdk/src/audit/file-commitment.test.ts).
  }, 180_000)

  it('behavior: `securechat relay --anchor-key` anchors; `export` records what a member hears; `verify --file` passes', async () => {
    const dir = await tempDir('audit-export-')
    const anchorer = chain.accounts[8]!
    const relay = spawnCli(
      [
        'relay',
        '--json',
        '--data-dir',
        join(dir, 'relay'),
        '--listen',
        '/ip4/127.0.0.1/tcp/0',
        '--rpc',
        chain.rpcUrl,
        '--audit-log',
        chain.addresses.auditLog,
        '--anchor-interval-ms',
        String(ANCHOR_INTERVAL_MS),
      ],
      { SECURECHAT_ANCHOR_PRIVATE_KEY: anchorer.privateKey },
    )
    cleanups.push(async () => {
      relay.kill('SIGTERM')
      await relay.exited
    })
    const started = JSON.parse(await relay.waitForLine((line) => line.includes('relay:started'), 30_000)) as {
      multiaddrs: string[]
      anchorer: string
    }
    expect(started.anchorer).toBe(anchorer.address)
    const alice = createClient({
      domain: DEFAULT_CLI_DOMAIN,
      chainId: DEVNET_CHAIN_ID,
      signer: walletSigner({ type: 'eoa', signer: new Wallet(Wallet.createRandom().privateKey) }),
      bootstrap: [started.multiaddrs[0]!],
      presenceIntervalMs: PRESENCE_INTERVAL_MS,
    })
    await alice.start()
    cleanups.push(() => alice.stop())
    const { room, invite } = await alice.createRoom({ name: 'exported' })
    await room.waitForPeers({ signal: AbortSignal.timeout(TIMEOUT_MS) })
    const inviteFile = join(dir, 'room.invite')
    await writeFile(inviteFile, `${invite}\n`)
    const out = join(dir, 'transcript.json')
    const exporter = spawnCli(['export', '--room', inviteFile, '--out', out, '--rpc', chain.rpcUrl], {
      SECURECHAT_PRIVATE_KEY: chain.accounts[9]!.privateKey,
    })
    cleanups.push(async () => exporter.kill('SIGKILL'))
    await until(
      () => exporter.stderr().includes('listening on room'),
      () => `export: ${exporter.stderr()}`,
      30_000,
    )
    await until(
      () => room.members().length === 2,
      () => 'the exporter did not join',
    )
    const ids: string[] = []
    for (const text of ['x', 'y', 'z']) ids.push((await room.send(text)).id)
    await until(
      () => ids.every((id) => exporter.stderr().includes(`received message ${id}`)),
      () => `export: ${exporter.stderr()}`,
    )
    // The relay logs each anchored batch; wait until all three messages are in one.
    const anchoredCount = (): number =>
      relay.lines
        .filter((line) => line.includes('anchor:anchored'))
        .reduce((n, line) => n + (JSON.parse(line) as { count: number }).count, 0)
    await until(
      () => anchoredCount() >= ids.length,
      () => `relay: ${relay.lines.join('\n')}`,
    )
    exporter.kill('SIGINT')
    expect(await exporter.exited).toBe(0)
    const summary = JSON.parse(exporter.lines.at(-1)!) as { messages: number; anchored: number }
    expect(summary).toMatchObject({ messages: 3, anchored: 3 })

    const verified = await runCli(['verify', '--file', out, '--rpc', chain.rpcUrl])
    expect(verified.code).toBe(0)
    expect(verified.stdout).toContain('VERIFIED: 3 messages — 3 anchored')
    for (const id of ids) expect(verified.stdout).toContain(`✓ ${id} anchored`)
  })
})
