/**
 * The relay's file pins (issue 16) with a real relay component, real sdk clients in a real room and real Helia
 * nodes over bitswap, on loopback: a member's file kept after its sender left and served to the next member, byte
 * for byte; who may not ask; sizes, quotas and lies refused or stopped before the disk fills; retention that
 * frees the disk; pins that outlive a restart; and the figures `/metrics` prints.
 */
import { readdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Libp2p, PrivateKey } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { tcp } from '@libp2p/tcp'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { createSecureChatLibp2p, type SecureChatClient } from '@securechat/sdk/client'
import {
  addFile,
  catFile,
  createFilesHelia,
  decodeFilePinFrame,
  encodeFilePinRequest,
  FILE_PIN_PROTOCOL,
  type FileManifest,
  FilePinRefusedError,
  FileUnavailableError,
  requestPin,
} from '@securechat/sdk/files'
import { roomTopic } from '@securechat/sdk/rooms'
import { Wallet } from 'ethers'
import fc from 'fast-check'
import type { Helia } from 'helia'
import { describe, expect, it } from 'vitest'
import { createRelay, type Relay } from '../node/src/relay/create-relay.ts'
import { type FilePinsInit, type FilePinsService, filePins } from '../node/src/relay/file-pins.ts'
import { formatMetrics } from '../node/src/relay/metrics.ts'
import { ciphertextSize } from '../sdk/src/crypto/file-stream.ts'
import { tempDir } from './helpers/cli.ts'
import { startDevice } from './helpers/device.ts'
import { containsMarker, drain, generatedFile } from './helpers/files.ts'
import { bitswapOf } from './helpers/files-peer.ts'
import { stopAfterEach } from './helpers/stoppers.ts'

const MiB = 1024 * 1024
const stoppers = stopAfterEach()

async function startFilesRelay(
  files: FilePinsInit,
  at: { dataDir?: string; privateKey?: PrivateKey; listen?: string } = {},
): Promise<{ relay: Relay; pins: FilePinsService; dataDir: string; privateKey: PrivateKey }> {
  const dataDir = at.dataDir ?? (await tempDir('file-pins-'))
  if (at.dataDir === undefined) stoppers.push(() => rm(dataDir, { recursive: true, force: true }))
  const privateKey = at.privateKey ?? (await generateKeyPair('Ed25519'))
  const relay = createRelay({
    privateKey,
    listen: [at.listen ?? '/ip4/127.0.0.1/tcp/0'],
    dataDir,
    services: { files: filePins(files) },
  })
  await relay.start()
  stoppers.push(() => relay.stop())
  return { relay, pins: relay.services.files as FilePinsService, dataDir, privateKey }
}

/** What adds and reads files: a client's own files node, or a bare Helia's. */
interface FilesOf {
  add(source: ReadableStream<Uint8Array>, meta: { name: string; type: string }): Promise<FileManifest>
  read(manifest: FileManifest, options?: { timeoutMs?: number }): Promise<ReadableStream<Uint8Array>>
}

interface Member {
  client: SecureChatClient
  files: FilesOf
  /** Stops its client (its files node with it): the member is gone. */
  leave(): Promise<void>
}

async function member(relay: Relay): Promise<Member> {
  const device = await startDevice({
    wallet: Wallet.createRandom(),
    bootstrap: [relay.multiaddrs[0]!],
    presenceIntervalMs: 1_000,
  })
  let left: Promise<void> | undefined
  const leave = () => (left ??= device.close())
  stoppers.push(leave)
  const files = device.client.files
  return {
    client: device.client,
    files: {
      add: (source, meta) => files.add(source, meta),
      read: (manifest, options) => files.get(manifest, options),
    },
    leave,
  }
}

/** Alice's room with Bob, both clients of `relay` there (their presence passed its checks). */
async function roomOnRelay(relay: Relay): Promise<{ alice: Member; bob: Member; topic: string }> {
  const alice = await member(relay)
  const bob = await member(relay)
  const { room, invite } = await alice.client.createRoom({ name: 'files' })
  const bobRoom = await bob.client.joinRoom(invite)
  await Promise.all([room.waitForPeers(), bobRoom.waitForPeers()])
  const topic = roomTopic(room.id)
  await until(
    () =>
      relay.node.isRoomClient(topic, alice.client.peerId.toString()) &&
      relay.node.isRoomClient(topic, bob.client.peerId.toString()),
  )
  return { alice, bob, topic }
}

/** A plain libp2p node with a files Helia, connected to `relay`: in no room, with no certificate. */
async function stranger(relay: Relay): Promise<{ files: FilesOf; libp2p: Libp2p; helia: Helia }> {
  const libp2p = await createSecureChatLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    listen: [],
    transports: [tcp()],
  })
  const helia = await createFilesHelia({ libp2p })
  stoppers.push(() => helia.stop().then(() => libp2p.stop()))
  await libp2p.dial(multiaddr(relay.multiaddrs[0]!))
  return {
    files: {
      add: (source, meta) => addFile(helia, source, meta),
      read: async (manifest, options) => catFile(helia, manifest, options),
    },
    libp2p,
    helia,
  }
}

async function until(condition: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

async function share(
  files: FilesOf,
  bytes: number,
  seed = 0,
): Promise<{ manifest: FileManifest; sha256: string; ciphertext: number }> {
  const file = generatedFile(bytes, seed)
  const manifest = await files.add(file.stream, { name: `file-${seed}.bin`, type: 'application/octet-stream' })
  return { manifest, sha256: await file.sha256, ciphertext: ciphertextSize(bytes) }
}

function pinOf(
  relay: Relay,
  libp2p: Libp2p,
  topic: string,
  shared: { manifest: FileManifest; ciphertext: number },
  bytes = shared.ciphertext,
): Promise<void> {
  return requestPin(libp2p, peerIdFromString(relay.peerId), { topic, cid: shared.manifest.cid, bytes })
}

async function refusal(promise: Promise<unknown>): Promise<FilePinRefusedError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(FilePinRefusedError)
  return err as FilePinRefusedError
}

/** Every block file under the relay's files dir: how many, their bytes, and whether any holds plaintext. */
async function blocksOnDisk(dataDir: string): Promise<{ blocks: number; bytes: number; plaintext: boolean }> {
  const out = { blocks: 0, bytes: 0, plaintext: false }
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) await walk(path)
      else if (entry.name.endsWith('.data')) {
        const block = await readFile(path)
        out.blocks += 1
        out.bytes += block.length
        out.plaintext ||= containsMarker(block)
      }
    }
  }
  await walk(join(dataDir, 'files', 'blocks'))
  return out
}

function metric(relay: Relay, sample: string): number {
  const line = formatMetrics(relay.metrics())
    .split('\n')
    .find((l) => l.startsWith(`${sample} `))
  return line === undefined ? Number.NaN : Number(line.slice(sample.length + 1))
}

describe("relay file pins: a member's file outlives its sender", () => {
  it('behavior: a 32 MiB file pinned with progress is fetched whole from the relay by another member after the sender left; the relay holds only ciphertext, and /metrics counts it', async () => {
    const { relay, pins, dataDir } = await startFilesRelay({})
    const { alice, bob, topic } = await roomOnRelay(relay)
    const shared = await share(alice.files, 32 * MiB)
    const progress: number[] = []
    await requestPin(
      alice.client.libp2p,
      peerIdFromString(relay.peerId),
      {
        topic,
        cid: shared.manifest.cid,
        bytes: shared.ciphertext,
      },
      { onProgress: ({ pinned }) => progress.push(pinned) },
    )
    expect(progress.length).toBeGreaterThan(0)
    expect(progress).toEqual([...progress].sort((a, b) => a - b))
    await alice.leave()

    const fetched = await drain(await bob.files.read(shared.manifest))
    expect(fetched.error).toBeUndefined()
    expect(fetched).toMatchObject({ bytes: 32 * MiB, sha256: shared.sha256 })

    const disk = await blocksOnDisk(dataDir)
    expect(disk.plaintext).toBe(false)
    expect(disk.bytes).toBeGreaterThanOrEqual(shared.ciphertext)
    expect(pins.stats()).toMatchObject({ files: 1, pinsUnderWay: 0, requests: { ok: 1 } })
    expect(metric(relay, 'securechat_files_pinned')).toBe(1)
    expect(metric(relay, 'securechat_files_pinned_bytes')).toBe(pins.stats().bytes)
    expect(metric(relay, 'securechat_files_fetched_bytes_total')).toBeGreaterThanOrEqual(shared.ciphertext)
    expect(metric(relay, 'securechat_files_pin_requests_total{outcome="ok"}')).toBe(1)
    // Asking again for a file kept is answered at once, with nothing fetched.
    await pinOf(relay, bob.client.libp2p, topic, shared)
    expect(metric(relay, 'securechat_files_fetched_bytes_total')).toBe(pins.stats().fetchedBytes)
  })
})

describe('relay file pins: whom the relay asks', () => {
  it('behavior: the relay asks the member who asked for each block, not the other clients connected to it', async () => {
    const { relay } = await startFilesRelay({})
    // Connected before the members: a relay that asked its clients in the order it met them would ask these first.
    const others = await Promise.all([1, 2, 3, 4].map(() => stranger(relay)))
    const { alice, topic } = await roomOnRelay(relay)
    const shared = await share(alice.files, 8 * MiB)
    await pinOf(relay, alice.client.libp2p, topic, shared)
    // A peer the relay sent any bitswap message to — a want, or the cancel of one — keeps a ledger for it.
    const relayPeer = peerIdFromString(relay.peerId)
    for (const other of others) {
      expect(bitswapOf({ helia: other.helia }).peerWantLists.ledgerForPeer(relayPeer)).toBeUndefined()
    }
  })
})

describe('relay file pins: who may not ask, and what is refused', () => {
  it('error: a peer outside the room is refused not-a-member, and nothing is fetched', async () => {
    const { relay, pins } = await startFilesRelay({})
    const { alice, topic } = await roomOnRelay(relay)
    const shared = await share(alice.files, 2 * MiB)
    const outsider = await stranger(relay)
    const err = await refusal(pinOf(relay, outsider.libp2p, topic, shared))
    expect(err.reason).toBe('not-a-member')
    expect(err.hint).toMatch(/member/)
    // Another room's topic, or one that is no conversation, is refused alike to a member.
    const other = await refusal(pinOf(relay, alice.client.libp2p, roomTopic('ab'.repeat(32)), shared))
    expect(other.reason).toBe('not-a-member')
    expect(pins.stats()).toMatchObject({ files: 0, fetchedBytes: 0, requests: { 'not-a-member': 2 } })
    expect(metric(relay, 'securechat_refused_total{reason="file-pin-not-a-member"}')).toBe(2)
  })

  it('behavior: a device that asks before its presence reached the relay is held a moment, not refused, and its file is kept', async () => {
    const { relay, pins } = await startFilesRelay({})
    const alice = await member(relay)
    const { invite, room } = await alice.client.createRoom({ name: 'files' })
    const topic = roomTopic(room.id)
    await until(() => relay.node.isRoomClient(topic, alice.client.peerId.toString()))
    // Carol is connected but not in the room yet: she asks first, and joins after.
    const carol = await member(relay)
    const shared = await share(carol.files, 2 * MiB)
    const asked = pinOf(relay, carol.client.libp2p, topic, shared)
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(relay.node.isRoomClient(topic, carol.client.peerId.toString())).toBe(false)
    await carol.client.joinRoom(invite)
    await asked
    expect(pins.stats()).toMatchObject({ files: 1, requests: { ok: 1, 'not-a-member': 0 } })
  })

  it('error: a file over the size per file, a room over its quota, a relay over its total: refused before a byte is fetched', async () => {
    const { relay, pins } = await startFilesRelay({
      maxFileBytes: 3.5 * MiB,
      roomQuotaBytes: 5 * MiB,
      totalQuotaBytes: 64 * MiB,
    })
    const { alice, topic } = await roomOnRelay(relay)
    const big = await share(alice.files, 4 * MiB, 1)
    expect((await refusal(pinOf(relay, alice.client.libp2p, topic, big))).reason).toBe('too-large')
    const first = await share(alice.files, 2 * MiB, 2)
    await pinOf(relay, alice.client.libp2p, topic, first)
    const fetchedAfterFirst = pins.stats().fetchedBytes
    const second = await share(alice.files, 3 * MiB, 3)
    const quota = await refusal(pinOf(relay, alice.client.libp2p, topic, second))
    expect(quota.reason).toBe('room-quota')
    expect(pins.stats().fetchedBytes).toBe(fetchedAfterFirst)

    const { relay: small } = await startFilesRelay({ totalQuotaBytes: 2 * MiB })
    const { alice: carol, topic: smallTopic } = await roomOnRelay(small)
    const shared = await share(carol.files, 3 * MiB, 4)
    expect((await refusal(pinOf(small, carol.client.libp2p, smallTopic, shared))).reason).toBe('relay-full')
  })

  it('error: a member who claims fewer bytes than the file has is stopped one block past the claim, and the blocks go', async () => {
    const { relay, pins, dataDir } = await startFilesRelay({})
    const { alice, topic } = await roomOnRelay(relay)
    const shared = await share(alice.files, 8 * MiB, 5)
    const lie = await refusal(pinOf(relay, alice.client.libp2p, topic, shared, 2 * MiB))
    expect(lie.reason).toBe('malformed')
    expect(lie.message).toMatch(/more bytes than claimed/)
    const { fetchedBytes, files } = pins.stats()
    expect(files).toBe(0)
    // The claim, the blocks in flight at once (8 of 1 MiB) and the nodes: never the whole file.
    expect(fetchedBytes).toBeLessThan(2 * MiB + 9 * MiB)
    await until(() => pins.stats().pinsUnderWay === 0)
    await pins.sweep()
    expect((await blocksOnDisk(dataDir)).blocks).toBe(0)
    expect(metric(relay, 'securechat_files_pin_requests_total{outcome="malformed"}')).toBe(1)
  })
})

describe('relay file pins: retention and restarts', () => {
  it('behavior: past the retention the file is unpinned and its blocks collected; a fetch then fails FileUnavailableError', async () => {
    const { relay, pins, dataDir } = await startFilesRelay({ retentionMs: 1_000, sweepIntervalMs: 60_000 })
    const { alice, bob, topic } = await roomOnRelay(relay)
    const shared = await share(alice.files, 3 * MiB, 6)
    await pinOf(relay, alice.client.libp2p, topic, shared)
    await alice.leave()
    expect((await blocksOnDisk(dataDir)).blocks).toBeGreaterThan(0)
    await new Promise((resolve) => setTimeout(resolve, 1_100))
    await pins.sweep()
    expect(pins.stats()).toMatchObject({ files: 0, bytes: 0, expired: 1 })
    expect((await blocksOnDisk(dataDir)).blocks).toBe(0)
    const fetched = await drain(await bob.files.read(shared.manifest, { timeoutMs: 2_000 }))
    expect(fetched.error).toBeInstanceOf(FileUnavailableError)
  })

  it('behavior: a relay restarted on its data dir keeps its pins and serves them to anyone connected', async () => {
    const first = await startFilesRelay({})
    const { alice, topic } = await roomOnRelay(first.relay)
    const shared = await share(alice.files, 4 * MiB, 7)
    await pinOf(first.relay, alice.client.libp2p, topic, shared)
    await alice.leave()
    const kept = first.pins.stats().bytes
    await first.relay.stop()

    const second = await startFilesRelay({}, { dataDir: first.dataDir, privateKey: first.privateKey })
    expect(second.pins.stats()).toMatchObject({ files: 1, bytes: kept })
    const reader = await stranger(second.relay)
    const fetched = await drain(await reader.files.read(shared.manifest))
    expect(fetched).toMatchObject({ bytes: 4 * MiB, sha256: shared.sha256 })
  })
})

/** Cases of the fuzzing over the relay's streams; `SECURECHAT_FUZZ_RUNS` runs more. */
const STREAM_RUNS = Number(process.env.SECURECHAT_FUZZ_RUNS ?? 0) || 2_000

describe('relay file pins: whatever arrives', () => {
  it('property: malformed, oversized and fuzzed requests get an answer or a closed stream, and the relay keeps serving', async () => {
    const { relay, pins } = await startFilesRelay({})
    const { libp2p } = await stranger(relay)
    const relayPeer = peerIdFromString(relay.peerId)
    const valid = encodeFilePinRequest({
      topic: `/securechat/1/room/${'cd'.repeat(32)}`,
      cid: 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi',
      bytes: 4096,
    })
    const frames = fc.oneof(
      fc.uint8Array({ maxLength: 1500 }).map((bytes) => ({ bytes, raw: false })),
      fc.json().map((text) => ({ bytes: new TextEncoder().encode(text), raw: false })),
      fc
        .array(fc.tuple(fc.nat({ max: valid.length - 1 }), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 3,
        })
        .map((edits) => {
          const bytes = valid.slice()
          for (const [at, byte] of edits) bytes[at] = byte
          return { bytes, raw: false }
        }),
      // No length prefix at all, or one that announces more than the relay reads.
      fc.uint8Array({ minLength: 1, maxLength: 64 }).map((bytes) => ({ bytes, raw: true })),
    )
    const answers = new Map<string, number>()
    await fc.assert(
      fc.asyncProperty(frames, async ({ bytes, raw }) => {
        const stream = await libp2p.dialProtocol(relayPeer, FILE_PIN_PROTOCOL, { signal: AbortSignal.timeout(5_000) })
        try {
          const lp = lpStream(stream)
          if (raw) {
            stream.send(bytes)
            await stream.close()
          } else await lp.write(bytes)
          const answer = decodeFilePinFrame((await lp.read({ signal: AbortSignal.timeout(12_000) })).subarray())
          expect(answer.ok).toBe(true)
          const kind = answer.ok && answer.value.type === 'refused' ? answer.value.reason : 'other'
          answers.set(kind, (answers.get(kind) ?? 0) + 1)
        } catch {
          // The relay closed a stream it could not read: an answer too.
          answers.set('closed', (answers.get('closed') ?? 0) + 1)
        } finally {
          stream.abort(new Error('done'))
        }
      }),
      { numRuns: STREAM_RUNS },
    )
    expect([...answers.keys()].every((kind) => ['malformed', 'not-a-member', 'closed'].includes(kind))).toBe(true)
    expect(answers.get('malformed')).toBeGreaterThan(STREAM_RUNS / 2)
    expect(pins.stats()).toMatchObject({ files: 0, pinsUnderWay: 0, fetchedBytes: 0 })
    // Still serving: a real member's file is kept after all that.
    const { alice, topic } = await roomOnRelay(relay)
    const shared = await share(alice.files, 1 * MiB, 8)
    await pinOf(relay, alice.client.libp2p, topic, shared)
    expect(pins.stats().files).toBe(1)
  })
})
