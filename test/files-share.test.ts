/**
 * Sharing a file as people do (issue 16), through the sdk's own API: `client.shareFile` in a room and in a DM —
 * encrypted into blocks on the sender's device, kept by the relay, announced by a message whose text is the caption
 * — and `client.files.get` on the receiver, after the sender went offline. Real relay with its file pins, real
 * clients, real Helia over bitswap on loopback.
 */
import { rm } from 'node:fs/promises'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { ShareProgress } from '@securechat/sdk/client'
import type { DirectMessage, FileManifest, RoomMessage } from '@securechat/sdk/types'
import { Wallet } from 'ethers'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { describe, expect, it } from 'vitest'
import { createRelay, type Relay } from '../node/src/relay/create-relay.ts'
import { filePins } from '../node/src/relay/file-pins.ts'
import { MAX_TEXT_BYTES } from '../sdk/src/constants.ts'
import { InvalidInputError } from '../sdk/src/errors.ts'
import { MAX_THUMBNAIL_BYTES, MAX_THUMBNAIL_SIDE } from '../sdk/src/files/constants.ts'
import { makeThumbnail } from '../sdk/src/files/thumbnail.ts'
import { tempDir } from './helpers/cli.ts'
import { startDevice } from './helpers/device.ts'
import { drain, generatedFile } from './helpers/files.ts'
import { png } from './helpers/images.ts'
import { until } from './helpers/room-inbox.ts'
import { stopAfterEach } from './helpers/stoppers.ts'

const MiB = 1024 * 1024
const TIMEOUT_MS = 30_000
const stoppers = stopAfterEach()
/** The largest thumbnail a manifest may carry, and the longest caption: together they must fit in one record. */
const largestThumbnail = makeThumbnail(
  'image/png',
  png(MAX_THUMBNAIL_SIDE, MAX_THUMBNAIL_SIDE, { padTo: MAX_THUMBNAIL_BYTES }),
)!
const longestCaption = 'the holiday '.padEnd(MAX_TEXT_BYTES, 'x')

async function filesRelay(): Promise<Relay> {
  const dataDir = await tempDir('files-share-')
  stoppers.push(() => rm(dataDir, { recursive: true, force: true }))
  const relay = createRelay({
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    dataDir,
    services: { files: filePins({}) },
  })
  await relay.start()
  stoppers.push(() => relay.stop())
  return relay
}

async function device(relay: Relay) {
  const started = await startDevice({ wallet: Wallet.createRandom(), bootstrap: [relay.multiaddrs[0]!] })
  stoppers.push(started.close)
  return started
}

describe('sharing a file', () => {
  it('behavior: shared in a room, a file is kept by the relay and read byte for byte by a member after its sender left', async () => {
    const relay = await filesRelay()
    const alice = await device(relay)
    const bob = await device(relay)
    const { room, invite } = await alice.client.createRoom({ name: 'files' })
    const bobRoom = await bob.client.joinRoom(invite)
    await Promise.all([room.waitForPeers(), bobRoom.waitForPeers()])
    // Bob is listed as a member before the file is shared: the relay keeps files for the room's members.
    await until(
      [[room, 'member:joined']],
      () => room.members().length === 2,
      () => 'bob never joined',
      TIMEOUT_MS,
    )
    const received: RoomMessage[] = []
    bobRoom.addEventListener('message:received', (event) => received.push(event.detail))

    const source = generatedFile(16 * MiB, 1)
    const stages = new Set<ShareProgress['stage']>()
    let relayBytes = 0
    const shared = await alice.client.shareFile(
      room,
      source.stream,
      { name: 'holiday.bin', type: 'application/octet-stream' },
      {
        caption: longestCaption,
        thumbnail: largestThumbnail,
        onProgress: (progress) => {
          stages.add(progress.stage)
          if (progress.stage === 'relays') relayBytes = progress.bytes
        },
      },
    )
    expect(shared.keptBy).toEqual([relay.peerId.toString()])
    expect(shared.refusedBy).toEqual([])
    expect([...stages]).toEqual(['encrypting', 'relays'])
    expect(relayBytes).toBeGreaterThan(16 * MiB)
    expect(shared.file).toMatchObject({ name: 'holiday.bin', size: 16 * MiB, sha256: await source.sha256 })
    expect(shared.file.thumbnail).toEqual(largestThumbnail)

    await until(
      [[bobRoom, 'message:received']],
      () => received.some((m) => m.id === shared.id),
      () => 'the message sharing the file never reached bob',
      TIMEOUT_MS,
    )
    const message = received.find((m) => m.id === shared.id)!
    expect(message.text).toBe(longestCaption)
    // The thumbnail arrived with the message, before a block of the file was asked for.
    expect(message.file).toEqual(shared.file)
    expect(bobRoom.message(shared.id)?.file).toEqual(shared.file)

    // A thumbnail a receiver would refuse is refused before anything is encrypted or sent.
    const lying = { ...largestThumbnail, width: 100 }
    await expect(
      alice.client.shareFile(
        room,
        generatedFile(MiB).stream,
        { name: 'x.bin', type: 'image/png' },
        { thumbnail: lying },
      ),
    ).rejects.toThrow(InvalidInputError)
    // A caption JSON escapes to more than its budget leaves the thumbnail out, and the file still goes.
    const quoted = await alice.client.shareFile(
      room,
      generatedFile(MiB, 3).stream,
      { name: 'quoted.bin', type: 'application/octet-stream' },
      { caption: '"'.repeat(MAX_TEXT_BYTES), thumbnail: largestThumbnail },
    )
    expect(quoted.file.thumbnail).toBeUndefined()
    await until(
      [[bobRoom, 'message:received']],
      () => received.some((m) => m.id === quoted.id),
      () => 'the message sharing the file without its thumbnail never reached bob',
      TIMEOUT_MS,
    )
    expect(received.find((m) => m.id === quoted.id)?.text).toBe('"'.repeat(MAX_TEXT_BYTES))

    await alice.close()
    const fetched = await drain(await bob.client.files.get(message.file!))
    expect(fetched.error).toBeUndefined()
    expect(fetched).toMatchObject({ bytes: 16 * MiB, sha256: await source.sha256 })
  }, 120_000)

  it('behavior: shared in a DM, a file is kept by the relay and read by the other wallet after its sender left', async () => {
    const relay = await filesRelay()
    const alice = await device(relay)
    const bob = await device(relay)
    const received: DirectMessage[] = []
    bob.client.dms.addEventListener('message:received', (event) => received.push(event.detail))
    await Promise.all([alice.client.dms.ready(), bob.client.dms.ready()])
    const toBob = alice.client.dm(bob.client.address)
    // A session first: the relay keeps a DM's file under the pair topic of a device with one. Its first record carries
    // the PQXDH header: with the longest text and the largest thumbnail it still fits.
    const elsewhere: FileManifest = {
      ...(await anyManifest()),
      thumbnail: largestThumbnail,
    }
    const first = await toBob.send(longestCaption, { file: elsewhere })
    await until(
      [[bob.client.dms, 'message:received']],
      () => received.length > 0,
      () => 'bob never got the first DM',
      TIMEOUT_MS,
    )
    expect(received[0]).toMatchObject({ id: first.id, text: longestCaption, file: elsewhere })
    const source = generatedFile(4 * MiB, 2)
    const shared = await alice.client.shareFile(
      toBob,
      source.stream,
      { name: 'notes.txt', type: 'text/plain' },
      { caption: longestCaption, thumbnail: largestThumbnail },
    )
    expect(shared.keptBy).toEqual([relay.peerId.toString()])
    await until(
      [[bob.client.dms, 'message:received']],
      () => received.some((m) => m.id === shared.id),
      () => 'the DM sharing the file never reached bob',
      TIMEOUT_MS,
    )
    const message = received.find((m) => m.id === shared.id)!
    expect(message.file).toEqual(shared.file)
    await alice.close()
    const fetched = await drain(await bob.client.files.get(message.file!))
    expect(fetched).toMatchObject({ bytes: 4 * MiB, sha256: await source.sha256 })
  }, 120_000)
})

/** A well-formed manifest of a file nobody has: for what a message carries, not for a download. */
async function anyManifest(): Promise<FileManifest> {
  return {
    v: 1,
    cid: CID.createV1(0x55, await sha256.digest(new TextEncoder().encode('elsewhere'))).toString(),
    size: 1,
    type: 'image/png',
    name: 'elsewhere.png',
    key: 'A'.repeat(43),
    sha256: '0'.repeat(64),
  }
}
