/**
 * A member whose software lies about the file a message shares, through a real relay to an honest member: the
 * record's file commitment (what the anchored leaf covers) must be the one of the manifest inside the message. A
 * commitment to another file, a commitment without a file, and a salted file without a commitment each make that
 * one message unreadable with the reason — never a file shown as shared that the anchor does not vouch for — and
 * the messages after it arrive as ever. The liar is this process's own sdk with what it commits swapped
 * (`commitToFile`); the honest member checks with the real `fileCommitmentProblem`.
 */
import type { Room } from '@securechat/sdk/rooms'
import type { FileManifest, RoomMessage, UndecryptableMessage } from '@securechat/sdk/types'
import { describe, expect, it, vi } from 'vitest'
import { sha256Hex } from '../sdk/src/crypto/primitives.ts'
import { fileCommitment } from '../sdk/src/files/commitment.ts'
import { startDevices } from './helpers/device.ts'
import { until } from './helpers/room-inbox.ts'
import { startRelay, stopAfterEach } from './helpers/stoppers.ts'

type Commit = (file: FileManifest | undefined) => { file?: FileManifest; commitment?: string }

/** What the lying sender commits for its next message; undefined: what an honest one commits. */
const lie = vi.hoisted(() => ({ commit: undefined as Commit | undefined }))

vi.mock('../sdk/src/files/commitment.ts', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../sdk/src/files/commitment.ts')>()
  return {
    ...actual,
    commitToFile: (file: FileManifest | undefined) => (lie.commit ?? actual.commitToFile)(file),
  }
})

const stoppers = stopAfterEach()
const SALT = 'c3'.repeat(32)
const OTHER_FILE_SHA256 = sha256Hex(new TextEncoder().encode('the leaked document'))

const manifest: FileManifest = {
  v: 1,
  cid: 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy',
  size: 1234,
  type: 'application/pdf',
  name: 'minutes.pdf',
  key: 'A'.repeat(43),
  sha256: 'ab'.repeat(32),
}

/** Everything bob's room delivers or refuses, by id. */
function watch(room: Room) {
  const received = new Map<string, RoomMessage>()
  const refused = new Map<string, UndecryptableMessage>()
  room.addEventListener('message:received', ({ detail }) => received.set(detail.id, detail))
  room.addEventListener('message:undecryptable', ({ detail }) => refused.set(detail.id, detail))
  const settled = (id: string) =>
    until(
      [
        [room as unknown as EventTarget, 'message:received'],
        [room as unknown as EventTarget, 'message:undecryptable'],
      ],
      () => received.has(id) || refused.has(id),
      () => `message ${id} neither arrived nor was refused`,
    )
  return { received, refused, settled }
}

describe('hostile file commitments', () => {
  it('security: a record that does not commit to the file its message shares is refused with the reason, and the room goes on', async () => {
    const relay = await startRelay(stoppers)
    const [mallory, bob] = (await startDevices(2, { bootstrap: [relay.multiaddrs[0]!] }, stoppers)).map(
      (device) => device.client,
    )
    const { room: malloryRoom, invite } = await mallory.createRoom({ name: 'liars' })
    const bobRoom = await bob.joinRoom(invite)
    await Promise.all([malloryRoom.waitForPeers(), bobRoom.waitForPeers()])
    const bobSees = watch(bobRoom)

    // Honest first: the record commits to the file under the salt its manifest carries, and bob gets both.
    const honest = await malloryRoom.send('the minutes', { file: manifest })
    await bobSees.settled(honest.id)
    const shared = bobSees.received.get(honest.id)?.file
    expect(shared?.salt).toMatch(/^[0-9a-f]{64}$/)
    const record = JSON.parse(new TextDecoder().decode(honest.record)) as { fileCommitment?: string }
    expect(record.fileCommitment).toBe(fileCommitment({ salt: shared!.salt!, sha256: manifest.sha256 }))

    const cases: Array<[string, string, { file?: FileManifest }, Commit, string]> = [
      [
        'a commitment to another file',
        'here it is',
        { file: manifest },
        (file) => ({
          file: { ...file!, salt: SALT },
          commitment: fileCommitment({ salt: SALT, sha256: OTHER_FILE_SHA256 }),
        }),
        "its record's file commitment is not the shared file's (another file or another salt)",
      ],
      [
        'a commitment without a file',
        'no file here',
        {},
        () => ({ commitment: fileCommitment({ salt: SALT, sha256: OTHER_FILE_SHA256 }) }),
        'its record commits to a file, but it shares none',
      ],
      [
        'a salted file without a commitment',
        'uncommitted',
        { file: manifest },
        (file) => ({ file: { ...file!, salt: SALT } }),
        'its file has a commitment salt, but its record commits to no file',
      ],
      [
        'a commitment to a file without a salt',
        'unsalted',
        { file: manifest },
        (file) => ({ file: file!, commitment: fileCommitment({ salt: SALT, sha256: file!.sha256 }) }),
        'its record commits to a file, but the file has no commitment salt',
      ],
    ]
    for (const [what, text, options, commit, reason] of cases) {
      lie.commit = commit
      const sent = await malloryRoom.send(text, options)
      await bobSees.settled(sent.id)
      expect(bobSees.received.has(sent.id), what).toBe(false)
      expect(bobSees.refused.get(sent.id)?.reason, what).toBe(
        `InvalidInputError: the message's file does not check: ${reason}`,
      )
      expect(bobRoom.message(sent.id), what).toBeUndefined()
    }

    // The room goes on: the next honest message, with a file, arrives whole.
    lie.commit = undefined
    const after = await malloryRoom.send('sorry', { file: manifest })
    await bobSees.settled(after.id)
    expect(bobSees.received.get(after.id)?.file).toMatchObject({ sha256: manifest.sha256 })
    expect([...bobSees.received.values()].map((m) => m.text)).toEqual(['the minutes', 'sorry'])
  }, 120_000)
})
