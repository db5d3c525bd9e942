/**
 * `securechat search` as people run it: separate processes over a relay, Bob's device in its own data dir. What
 * Bob's device received in a room and a DM is found by its latest text — never by an edited-away or a deleted
 * text — and the data dir holds none of those words in the clear (the index lives in the encrypted vault only).
 */
import { describe, expect, it } from 'vitest'
import {
  bytesUnder,
  type CliProcess,
  type JsonLine,
  killAfterEach,
  nextJsonLine,
  runCli,
  spawnCli,
  startRelayProcess,
  tempDir,
  untilStderr,
  writeCli,
} from './helpers/cli.ts'
import { ALICE, BOB } from './helpers/keys.ts'

const track = killAfterEach()

async function stop(cli: CliProcess): Promise<void> {
  cli.kill('SIGINT')
  expect(await cli.exited, cli.stderr()).toBe(0)
}

describe('securechat search', () => {
  it('behavior: finds a room message by its edited text and a DM by its words, not an old or deleted text; the data dir holds no word in the clear', async () => {
    const relay = track(await startRelayProcess())
    const bootstrap = relay.multiaddrs[0]!
    const created = await runCli(['room', 'create', '--name', 'searchable', '--bootstrap', bootstrap], {
      SECURECHAT_PRIVATE_KEY: ALICE.key,
    })
    expect(created.code, created.stderr).toBe(0)
    const invite = created.stdout.trim()
    const [aliceDir, bobDir] = [await tempDir('search-alice-'), await tempDir('search-bob-')]
    const bobEnv = { SECURECHAT_PRIVATE_KEY: BOB.key }
    const room = ['--room', invite, '--data-dir', aliceDir]

    const bob = track(spawnCli(['listen', '--room', invite, '--json', '--data-dir', bobDir], bobEnv))
    await untilStderr(bob, 'listening on room')
    const edited = await writeCli(['send', ...room, 'the quokka said Héllo'], ALICE.key)
    const deleted = await writeCli(['send', ...room, 'a narwhal passed by'], ALICE.key)
    await writeCli(['edit', edited, 'the axolotl said Héllo', ...room], ALICE.key)
    await writeCli(['delete', deleted, ...room], ALICE.key)
    await nextJsonLine(bob, (l) => l.type === 'delete' && l.target === deleted)
    await stop(bob)

    const dmBob = track(spawnCli(['listen', '--dm', '--json', '--data-dir', bobDir, '--bootstrap', bootstrap], bobEnv))
    await untilStderr(dmBob, 'listening for direct messages')
    const dmId = await writeCli(
      ['dm', BOB.address, 'a pangolin, privately', '--data-dir', aliceDir, '--bootstrap', bootstrap],
      ALICE.key,
    )
    await nextJsonLine(dmBob, (l) => l.type === 'dm' && l.id === dmId)
    await stop(dmBob)

    const search = async (...args: string[]): Promise<JsonLine[]> => {
      const result = await runCli(['search', ...args, '--json', '--data-dir', bobDir], bobEnv)
      expect(result.code, result.stderr).toBe(0)
      return result.stdout
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as JsonLine)
    }
    // Case and accents do not count; the last term is a prefix.
    expect(await search('AXOLOTL', 'hel')).toEqual([
      expect.objectContaining({
        type: 'match',
        room: 'searchable',
        id: edited,
        sender: ALICE.address,
        text: 'the axolotl said Héllo',
        edited: true,
      }),
    ])
    expect(await search('quokka')).toEqual([])
    expect(await search('narwhal')).toEqual([])
    expect(await search('pangolin')).toEqual([
      expect.objectContaining({ conversation: ALICE.address, id: dmId, snippet: 'a pangolin, privately' }),
    ])
    expect(await search('pangolin', '--room', 'searchable')).toEqual([])
    expect(await search('pangolin', '--dm', ALICE.address.toLowerCase())).toHaveLength(1)

    const people = await runCli(['search', 'hello', '--data-dir', bobDir], bobEnv)
    expect(people.code, people.stderr).toBe(0)
    expect(people.stdout).toContain(`#searchable`)
    expect(people.stdout).toContain(`${edited}  the axolotl said Héllo`)

    const bytes = await bytesUnder(bobDir)
    for (const word of ['axolotl', 'quokka', 'narwhal', 'pangolin', 'privately']) {
      expect(bytes.includes(Buffer.from(word)), word).toBe(false)
    }
  }, 300_000)
})
