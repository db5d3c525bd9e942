/**
 * Replies, reactions, edits and deletes with the CLI as people run it: separate processes, one relay process with
 * its store, each wallet's device in its own data dir. What they change reaches the other member as `listen --json`
 * lines, through the relay, which holds none of it in the clear; a delete reaches a device that was offline through
 * history catch-up and removes the text from its vault.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  bytesUnder,
  type JsonLine,
  killAfterEach,
  nextJsonLine,
  runCli,
  spawnCli,
  startRelayProcess,
  startRelayRoom,
  tempDir,
  untilStderr,
  vaultText,
  writeCli,
} from './helpers/cli.ts'
import { ALICE, BOB, CAROL } from './helpers/keys.ts'

const track = killAfterEach()

describe('reply, react, edit and delete from the CLI', () => {
  it('behavior: another member sees each of them; a delete of someone else’s message is refused; the relay stores none in the clear', async () => {
    const { relayDir, invite } = await startRelayRoom(track, 'kinds', ALICE.key)
    const [aliceDir, bobDir] = [await tempDir('kinds-alice-'), await tempDir('kinds-bob-')]
    const bob = track(
      spawnCli(['listen', '--room', invite, '--json', '--data-dir', bobDir], { SECURECHAT_PRIVATE_KEY: BOB.key }),
    )
    // Carol exports what she hears as a transcript (until Ctrl-C).
    const transcriptFile = join(await tempDir('kinds-export-'), 'transcript.json')
    const carol = track(
      spawnCli(['export', '--room', invite, '--out', transcriptFile], { SECURECHAT_PRIVATE_KEY: CAROL.key }),
    )
    await untilStderr(bob, 'listening on room')
    await untilStderr(carol, 'listening on room')
    const secret = `s${Math.random().toString(36).slice(2)}`
    const room = ['--room', invite, '--data-dir', aliceDir]

    const rootId = await writeCli(['send', ...room, `alpha ${secret}`], ALICE.key)
    await nextJsonLine(bob, (l) => l.type === 'message' && l.id === rootId)

    const replyId = await writeCli(['reply', rootId, `beta ${secret}`, ...room], ALICE.key)
    expect(await nextJsonLine(bob, (l) => l.type === 'message' && l.id === replyId)).toMatchObject({ parentId: rootId })
    expect(await nextJsonLine(bob, (l) => l.type === 'reply' && l.id === replyId)).toMatchObject({
      target: rootId,
      message: { thread: { count: 1, last: replyId } },
    })

    const reactId = await writeCli(['react', rootId, '👍', ...room], ALICE.key)
    expect(await nextJsonLine(bob, (l) => l.type === 'react')).toMatchObject({
      target: rootId,
      emoji: '👍',
      sender: ALICE.address,
      message: { reactions: [{ emoji: '👍', count: 1, by: [ALICE.address] }] },
    })
    await writeCli(['react', '--remove', rootId, '👍', ...room], ALICE.key)
    expect(await nextJsonLine(bob, (l) => l.type === 'unreact')).toMatchObject({
      target: rootId,
      message: { reactions: [] },
    })

    const editId = await writeCli(['edit', rootId, `gamma ${secret}`, ...room], ALICE.key)
    expect(await nextJsonLine(bob, (l) => l.type === 'edit')).toMatchObject({
      target: rootId,
      text: `gamma ${secret}`,
      message: { text: `gamma ${secret}`, edited: true, versions: 2, deleted: false },
    })

    // Carol's device never saw the message, so it sends the delete; every receiver refuses it.
    await writeCli(['delete', rootId, '--room', invite], CAROL.key)
    expect(await nextJsonLine(bob, (l) => l.type === 'refused')).toMatchObject({
      kind: 'delete',
      target: rootId,
      sender: CAROL.address,
    })
    const deleteId = await writeCli(['delete', rootId, ...room], ALICE.key)
    const deleted = await nextJsonLine(bob, (l) => l.type === 'delete')
    expect(deleted).toMatchObject({ target: rootId, message: { deleted: true, versions: 0 } })
    expect(deleted.message).not.toHaveProperty('text')

    // The relay kept every record, and none of what they say.
    const stored = await bytesUnder(relayDir)
    for (const clear of [secret, '👍', '"react"', '"edit"', '"delete"', 'parent']) {
      expect(stored.includes(Buffer.from(clear)), clear).toBe(false)
    }
    expect(stored.includes(Buffer.from('"message"'))).toBe(true)

    // Carol's transcript holds every record; texts only where one stands: not the deleted message's.
    await untilStderr(carol, `received message ${deleteId}`)
    carol.kill('SIGINT')
    expect(await carol.exited, carol.stderr()).toBe(0)
    const transcript = JSON.parse(await readFile(transcriptFile, 'utf8')) as {
      messages: Array<{ id: string; text?: string }>
    }
    const texts = new Map(transcript.messages.map((m) => [m.id, m.text]))
    for (const id of [rootId, replyId, reactId, editId, deleteId]) expect(texts.has(id), id).toBe(true)
    expect(texts.get(replyId)).toBe(`beta ${secret}`)
    expect([rootId, reactId, editId, deleteId].map((id) => texts.get(id))).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
    ])

    // Bob's vault kept the reply's text and not the deleted message's, in any version.
    bob.kill('SIGINT')
    expect(await bob.exited).toBe(0)
    const kept = await vaultText(bobDir, BOB.key)
    expect(kept).toContain(`beta ${secret}`)
    expect(kept).not.toContain(`alpha ${secret}`)
    expect(kept).not.toContain(`gamma ${secret}`)
  }, 300_000)

  it('behavior: a delete reaches a device that was offline at the time, through history catch-up, and leaves its vault', async () => {
    const { invite } = await startRelayRoom(track, 'kinds', ALICE.key)
    const [aliceDir, bobDir] = [await tempDir('kinds-alice-'), await tempDir('kinds-bob-')]
    const bobEnv = { SECURECHAT_PRIVATE_KEY: BOB.key }
    const bob = track(spawnCli(['listen', '--room', invite, '--json', '--data-dir', bobDir], bobEnv))
    await untilStderr(bob, 'listening on room')
    const secret = `s${Math.random().toString(36).slice(2)}`
    const room = ['--room', invite, '--data-dir', aliceDir]
    const id = await writeCli(['send', ...room, `gone soon ${secret}`], ALICE.key)
    await nextJsonLine(bob, (l) => l.type === 'message' && l.id === id)
    bob.kill('SIGINT')
    expect(await bob.exited).toBe(0)
    expect(await vaultText(bobDir, BOB.key)).toContain(`gone soon ${secret}`)

    await writeCli(['delete', id, ...room], ALICE.key)

    const history = await runCli(['history', '--room', invite, '--json', '--data-dir', bobDir], bobEnv)
    expect(history.code, history.stderr).toBe(0)
    const lines = history.stdout.split('\n').map((l) => JSON.parse(l) as JsonLine)
    expect(lines).toContainEqual(expect.objectContaining({ type: 'delete', target: id, sender: ALICE.address }))
    expect(await vaultText(bobDir, BOB.key)).not.toContain(secret)
  }, 180_000)

  it('behavior: in a DM (--dm), a reaction, an edit and a delete reach the other wallet’s listen --dm --json', async () => {
    const relay = track(await startRelayProcess())
    const address = relay.multiaddrs[0]!
    const [aliceDir, bobDir] = [await tempDir('kinds-dm-alice-'), await tempDir('kinds-dm-bob-')]
    const bob = track(
      spawnCli(['listen', '--dm', '--json', '--data-dir', bobDir, '--bootstrap', address], {
        SECURECHAT_PRIVATE_KEY: BOB.key,
      }),
    )
    await untilStderr(bob, 'listening for direct messages')
    const dm = ['--dm', BOB.address, '--data-dir', aliceDir, '--bootstrap', address]
    const secret = `s${Math.random().toString(36).slice(2)}`
    const id = await writeCli(
      ['dm', BOB.address, `first ${secret}`, '--data-dir', aliceDir, '--bootstrap', address],
      ALICE.key,
    )
    await nextJsonLine(bob, (l) => l.type === 'dm' && l.id === id)

    await writeCli(['react', id, '👀', ...dm], ALICE.key)
    expect(await nextJsonLine(bob, (l) => l.type === 'react')).toMatchObject({
      conversation: ALICE.address,
      target: id,
      message: { reactions: [{ emoji: '👀', count: 1, by: [ALICE.address] }] },
    })
    await writeCli(['edit', id, `second ${secret}`, ...dm], ALICE.key)
    expect(await nextJsonLine(bob, (l) => l.type === 'edit')).toMatchObject({
      message: { text: `second ${secret}`, versions: 2 },
    })
    await writeCli(['delete', id, ...dm], ALICE.key)
    expect(await nextJsonLine(bob, (l) => l.type === 'delete')).toMatchObject({
      target: id,
      message: { deleted: true },
    })

    bob.kill('SIGINT')
    expect(await bob.exited).toBe(0)
    expect(await vaultText(bobDir, BOB.key)).not.toContain(secret)
  }, 240_000)
})
