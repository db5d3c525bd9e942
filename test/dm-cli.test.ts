import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  type CliProcess,
  killAfterEach,
  runCli,
  spawnCli,
  startRelayProcess,
  tempDir,
  untilStderr,
  waitFor,
} from './helpers/cli.ts'
import { ALICE, BOB } from './helpers/keys.ts'

const BOB_PASSPHRASE = 'bob keeps this one in a password manager'

const track = killAfterEach()

/** `listen --dm --json` as Bob, with his vault locked by a passphrase; resolves once it listens. */
async function listenAsBob(relay: string, dataDir: string): Promise<{ cli: CliProcess; peerId: string }> {
  const cli = track(
    spawnCli(['listen', '--dm', '--json', '--data-dir', dataDir, '--bootstrap', relay], {
      SECURECHAT_PRIVATE_KEY: BOB.key,
      SECURECHAT_VAULT_PASSPHRASE: BOB_PASSPHRASE,
    }),
  )
  await waitFor(
    () => /listening for direct messages .*\(peer (\w+)\)/.test(cli.stderr()),
    () => cli.stderr(),
    30_000,
  )
  return { cli, peerId: /\(peer (\w+)\)/.exec(cli.stderr())![1]! }
}

/** `dm` as Alice; her vault is locked by her wallet's signature (the default). */
async function dmAsAlice(relay: string, dataDir: string, text: string): Promise<{ id: string; devices: unknown[] }> {
  const sent = await runCli(['dm', BOB.address, text, '--data-dir', dataDir, '--bootstrap', relay], {
    SECURECHAT_PRIVATE_KEY: ALICE.key,
  })
  expect(sent.code, sent.stderr).toBe(0)
  return JSON.parse(sent.stdout) as { id: string; devices: unknown[] }
}

describe('securechat dm and listen --dm', () => {
  it('behavior: separate processes exchange DMs, restart with their data dirs and continue; a wrong passphrase changes nothing', async () => {
    const relay = track(await startRelayProcess())
    const address = relay.multiaddrs[0]!
    const [aliceDir, bobDir] = [await tempDir('dm-alice-'), await tempDir('dm-bob-')]

    const { cli: bob, peerId } = await listenAsBob(address, bobDir)
    const first = await dmAsAlice(address, aliceDir, 'hello bob')
    // Bob's device read it and said so before \`dm\` exited.
    expect(first.devices).toMatchObject([{ address: BOB.address, peerId, status: 'delivered', handshake: true }])
    const line = JSON.parse(await bob.waitForLine((l) => l.includes(first.id))) as Record<string, unknown>
    expect(line).toMatchObject({
      type: 'dm',
      conversation: ALICE.address,
      sender: ALICE.address,
      direction: 'in',
      text: 'hello bob',
      handshake: true,
    })

    // Bob stops; a wrong passphrase is refused by name and leaves his vault as it was.
    bob.kill('SIGINT')
    expect(await bob.exited).toBe(0)
    const vaultFile = join(bobDir, 'vault.json')
    const before = await readFile(vaultFile)
    const wrong = await runCli(['listen', '--dm', '--data-dir', bobDir, '--bootstrap', address], {
      SECURECHAT_PRIVATE_KEY: BOB.key,
      SECURECHAT_VAULT_PASSPHRASE: 'not what bob chose',
    })
    expect(wrong.code).toBe(1)
    expect(wrong.stderr).toContain('WrongPassphraseError')
    expect(await readFile(vaultFile)).toEqual(before)

    // Both restart (new processes, same data dirs): same device, and the session goes on.
    const { cli: bobAgain, peerId: peerIdAgain } = await listenAsBob(address, bobDir)
    expect(peerIdAgain).toBe(peerId)
    const second = await dmAsAlice(address, aliceDir, 'still there?')
    expect(second.devices).toMatchObject([{ peerId, status: 'delivered' }])
    const resumed = JSON.parse(await bobAgain.waitForLine((l) => l.includes(second.id))) as Record<string, unknown>
    expect(resumed).toMatchObject({ text: 'still there?', handshake: false, sender: ALICE.address })

    // Bob goes away; what Alice sends meanwhile waits on the relay, \`sent\` but not \`delivered\`, and reaches him when
    // he listens again.
    bobAgain.kill('SIGINT')
    expect(await bobAgain.exited).toBe(0)
    const away = await dmAsAlice(address, aliceDir, 'while you were away')
    expect(away.devices).toMatchObject([{ peerId, status: 'sent', handshake: false }])
    const { cli: bobBack } = await listenAsBob(address, bobDir)
    const caught = JSON.parse(await bobBack.waitForLine((l) => l.includes(away.id))) as Record<string, unknown>
    expect(caught).toMatchObject({ type: 'dm', text: 'while you were away', sender: ALICE.address })
    await untilStderr(bobBack, 'catching up direct messages: 1 of 1 read from 1 relay(s) — done')
  }, 150_000)
})
