/**
 * Mentions with the CLI as people run it: `@0x…` in a message's text mentions that wallet (`send`, `reply`, `edit`,
 * `dm`). Separate processes over one relay process with its store: `listen --json` on the other devices reports
 * `mentions` and `mentionsMe` (true only for the one mentioned), an edit's mentions replace the message's, and the
 * relay's store holds no mention in the clear.
 */
import { Wallet } from 'ethers'
import { describe, expect, it } from 'vitest'
import {
  bytesUnder,
  killAfterEach,
  nextJsonLine,
  spawnCli,
  startRelayRoom,
  tempDir,
  untilStderr,
  writeCli,
} from './helpers/cli.ts'
import { ALICE, BOB, CAROL } from './helpers/keys.ts'

const track = killAfterEach()

describe('mentions from the CLI', () => {
  it('behavior: listen --json on other devices reports who is mentioned and whether it is them, in a room and a DM; the relay stores no mention in the clear', async () => {
    const { relayDir, bootstrap, invite } = await startRelayRoom(track, 'team', ALICE.key)
    const listen = (key: string, prefix: string, args: string[]) =>
      tempDir(prefix).then((dir) =>
        track(spawnCli(['listen', ...args, '--json', '--data-dir', dir], { SECURECHAT_PRIVATE_KEY: key })),
      )
    const bob = await listen(BOB.key, 'mentions-bob-', ['--room', invite])
    const carol = await listen(CAROL.key, 'mentions-carol-', ['--room', invite])
    const bobDms = await listen(BOB.key, 'mentions-bob-dm-', ['--dm', '--bootstrap', bootstrap])
    await untilStderr(bob, 'listening on room')
    await untilStderr(carol, 'listening on room')
    await untilStderr(bobDms, 'listening for direct messages')
    // A wallet no device of which is in the room: mentioned all the same, and never named to the relay.
    const outsider = Wallet.createRandom().address
    const room = ['--room', invite, '--data-dir', await tempDir('mentions-alice-')]

    const id = await writeCli(['send', ...room, `look @${BOB.address} and @${outsider.toLowerCase()}`], ALICE.key)
    expect(await nextJsonLine(bob, (l) => l.type === 'message' && l.id === id)).toMatchObject({
      mentions: [BOB.address, outsider],
      mentionsMe: true,
    })
    expect(await nextJsonLine(carol, (l) => l.type === 'message' && l.id === id)).toMatchObject({
      mentions: [BOB.address, outsider],
      mentionsMe: false,
    })

    // The edit's mentions replace the message's: Carol now, Bob no longer.
    await writeCli(['edit', id, `actually @${CAROL.address}`, ...room], ALICE.key)
    expect(await nextJsonLine(carol, (l) => l.type === 'edit')).toMatchObject({
      target: id,
      mentions: [CAROL.address],
      mentionsMe: true,
      message: { mentions: [CAROL.address] },
    })
    expect(await nextJsonLine(bob, (l) => l.type === 'edit')).toMatchObject({
      mentions: [CAROL.address],
      mentionsMe: false,
    })

    const replyId = await writeCli(['reply', id, `@${CAROL.address} thanks`, ...room], ALICE.key)
    expect(await nextJsonLine(carol, (l) => l.type === 'message' && l.id === replyId)).toMatchObject({
      parentId: id,
      mentionsMe: true,
    })
    // A plain message mentions nobody.
    const plainId = await writeCli(['send', ...room, 'no one'], ALICE.key)
    expect(await nextJsonLine(bob, (l) => l.type === 'message' && l.id === plainId)).toMatchObject({
      mentions: [],
      mentionsMe: false,
    })

    const dmId = await writeCli(
      [
        'dm',
        BOB.address,
        `@${BOB.address} see this`,
        '--data-dir',
        await tempDir('mentions-alice-dm-'),
        '--bootstrap',
        bootstrap,
      ],
      ALICE.key,
    )
    expect(await nextJsonLine(bobDms, (l) => l.type === 'dm' && l.id === dmId)).toMatchObject({
      mentions: [BOB.address],
      mentionsMe: true,
    })

    const stored = await bytesUnder(relayDir)
    expect(stored.length).toBeGreaterThan(0)
    for (const clear of ['mention', outsider, outsider.toLowerCase(), outsider.slice(2).toLowerCase(), 'look @']) {
      expect(stored.includes(Buffer.from(clear)), clear).toBe(false)
    }
  }, 300_000)
})
