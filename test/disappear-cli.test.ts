import { Wallet } from 'ethers'
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

describe('securechat disappear', () => {
  it('behavior: the owner sets 10 s; a member online sees the message go, one offline at the time purges it after catch-up, one who joins later with the owner away learns it; a member may not set it', async () => {
    const { relayDir, invite } = await startRelayRoom(track, 'vanishing', ALICE.key)
    const [aliceDir, bobDir, carolDir] = [
      await tempDir('disappear-alice-'),
      await tempDir('disappear-bob-'),
      await tempDir('disappear-carol-'),
    ]
    const room = ['--room', invite, '--data-dir', aliceDir]
    const secret = `s${Math.random().toString(36).slice(2)}`
    const bobEnv = { SECURECHAT_PRIVATE_KEY: BOB.key }
    const carolEnv = { SECURECHAT_PRIVATE_KEY: CAROL.key }
    const bob = track(spawnCli(['listen', '--room', invite, '--json', '--data-dir', bobDir], bobEnv))
    const carol = track(spawnCli(['listen', '--room', invite, '--json', '--data-dir', carolDir], carolEnv))
    await untilStderr(bob, 'listening on room')
    await untilStderr(carol, 'listening on room')

    // Before any timer: stays.
    const keptId = await writeCli(['send', ...room, `kept ${secret}`], ALICE.key)
    await nextJsonLine(bob, (l) => l.type === 'message' && l.id === keptId)
    await nextJsonLine(carol, (l) => l.type === 'message' && l.id === keptId)
    // Carol goes offline before the timer is set.
    carol.kill('SIGINT')
    expect(await carol.exited).toBe(0)

    // A member may not set the room's timer: refused before anything is sent, with the reason.
    const refused = await runCli(['disappear', '1h', '--room', invite], bobEnv)
    expect(refused.code).not.toBe(0)
    expect(refused.stderr).toMatch(/only the room's owner/)

    // The owner's wallet signs it into the room's moderation log, which the relay's store keeps.
    const set = await runCli(['disappear', '10s', ...room], { SECURECHAT_PRIVATE_KEY: ALICE.key })
    expect(set.code, set.stderr).toBe(0)
    expect(JSON.parse(set.stdout)).toMatchObject({ action: 'timer', seconds: 10, status: 'applied' })
    expect(await nextJsonLine(bob, (l) => l.type === 'timer')).toMatchObject({ sender: ALICE.address, seconds: 10 })

    // Dave joins only now, the owner's terminal gone: he never held the key of anything sent before, yet he learns
    // the timer from the relay's store, and what he is sent next leaves his device too.
    const dave = Wallet.createRandom()
    const daveDir = await tempDir('disappear-dave-')
    const daveEnv = { SECURECHAT_PRIVATE_KEY: dave.privateKey }
    const daveListen = track(spawnCli(['listen', '--room', invite, '--json', '--data-dir', daveDir], daveEnv))
    expect(await nextJsonLine(daveListen, (l) => l.type === 'timer')).toMatchObject({
      sender: ALICE.address,
      seconds: 10,
    })
    await untilStderr(daveListen, 'listening on room')

    const goneId = await writeCli(['send', ...room, `gone ${secret}`], ALICE.key)
    await nextJsonLine(bob, (l) => l.type === 'message' && l.id === goneId)
    await nextJsonLine(daveListen, (l) => l.type === 'message' && l.id === goneId)
    // Ten seconds after it was sent, it leaves Bob's device and Dave's (and their vaults).
    expect(await nextJsonLine(bob, (l) => l.type === 'expired')).toMatchObject({ ids: [goneId] })
    expect(await nextJsonLine(daveListen, (l) => l.type === 'expired')).toMatchObject({ ids: [goneId] })
    daveListen.kill('SIGINT')
    expect(await daveListen.exited).toBe(0)
    expect(await vaultText(daveDir, dave.privateKey)).not.toContain(`gone ${secret}`)
    bob.kill('SIGINT')
    expect(await bob.exited).toBe(0)
    const bobKept = await vaultText(bobDir, BOB.key)
    expect(bobKept).toContain(`kept ${secret}`)
    expect(bobKept).not.toContain(`gone ${secret}`)

    // Carol comes back: the catch-up brings the timer, and the message already past its time is never shown.
    const history = await runCli(['history', '--room', invite, '--json', '--data-dir', carolDir], carolEnv)
    expect(history.code, history.stderr).toBe(0)
    const lines = history.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as JsonLine)
    expect(lines).toContainEqual(expect.objectContaining({ type: 'timer', sender: ALICE.address, seconds: 10 }))
    expect(lines.some((l) => l.id === goneId)).toBe(false)
    expect(history.stdout).not.toContain(`gone ${secret}`)
    const carolKept = await vaultText(carolDir, CAROL.key)
    expect(carolKept).toContain(`kept ${secret}`)
    expect(carolKept).not.toContain(`gone ${secret}`)

    // The relay kept the records and none of their texts. The timer it holds in the clear, as every relay holds the
    // room's moderation log: that is what let Dave learn it with the owner away.
    const stored = await bytesUnder(relayDir)
    expect(stored.includes(Buffer.from(secret))).toBe(false)
    expect(stored.includes(Buffer.from('"action":"timer"'))).toBe(true)
  }, 300_000)

  it('behavior: in a DM either wallet sets it; the other sees the change and the message expire', async () => {
    const relay = track(await startRelayProcess())
    const address = relay.multiaddrs[0]!
    const [aliceDir, bobDir] = [await tempDir('disappear-dm-alice-'), await tempDir('disappear-dm-bob-')]
    const bob = track(
      spawnCli(['listen', '--dm', '--json', '--data-dir', bobDir, '--bootstrap', address], {
        SECURECHAT_PRIVATE_KEY: BOB.key,
      }),
    )
    await untilStderr(bob, 'listening for direct messages')
    const secret = `s${Math.random().toString(36).slice(2)}`
    await writeCli(['disappear', '10s', '--dm', BOB.address, '--data-dir', aliceDir, '--bootstrap', address], ALICE.key)
    expect(await nextJsonLine(bob, (l) => l.type === 'timer')).toMatchObject({
      conversation: ALICE.address,
      sender: ALICE.address,
      seconds: 10,
    })
    const id = await writeCli(
      ['dm', BOB.address, `brief ${secret}`, '--data-dir', aliceDir, '--bootstrap', address],
      ALICE.key,
    )
    await nextJsonLine(bob, (l) => l.type === 'dm' && l.id === id)
    expect(await nextJsonLine(bob, (l) => l.type === 'expired')).toMatchObject({
      conversation: ALICE.address,
      ids: [id],
    })
    bob.kill('SIGINT')
    expect(await bob.exited).toBe(0)
    expect(await vaultText(bobDir, BOB.key)).not.toContain(`brief ${secret}`)
  }, 180_000)
})
