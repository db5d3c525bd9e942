import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { walletSigner } from '@securechat/sdk/identity'
import { loadRoomKeys } from '@securechat/sdk/rooms'
import { openVault, platformVaultBackend } from '@securechat/sdk/vault'
import { Wallet } from 'ethers'
import { describe, expect, it } from 'vitest'
import { killAfterEach, runCli, spawnCli, startRelayProcess, tempDir, waitFor } from './helpers/cli.ts'
import { ALICE, BOB } from './helpers/keys.ts'

const BOB_PASSPHRASE = 'bob keeps this one in a password manager'

const track = killAfterEach()

describe('room commands with --data-dir', () => {
  it('behavior: two sends from one data dir are one device, each run on an epoch of its own; the room is rejoined by name', async () => {
    const relay = await startRelayProcess()
    track(relay)
    const address = relay.multiaddrs[0]!
    const [aliceDir, bobDir] = [await tempDir('room-cli-alice-'), await tempDir('room-cli-bob-')]
    const created = await runCli(['room', 'create', '--name', 'lobby', '--bootstrap', address], {
      SECURECHAT_PRIVATE_KEY: ALICE.key,
    })
    expect(created.code, created.stderr).toBe(0)
    const invite = created.stdout.trim()

    const bobEnv = { SECURECHAT_PRIVATE_KEY: BOB.key, SECURECHAT_VAULT_PASSPHRASE: BOB_PASSPHRASE }
    const bob = spawnCli(['listen', '--room', invite, '--json', '--data-dir', bobDir], bobEnv)
    track(bob)
    await waitFor(
      () => bob.stderr().includes('listening on room'),
      () => bob.stderr(),
      30_000,
    )

    // Alice's vault is locked by her wallet (no passphrase set); the second send names the saved room.
    const aliceEnv = { SECURECHAT_PRIVATE_KEY: ALICE.key }
    const sent: Array<{ id: string }> = []
    for (const [room, text] of [
      [invite, 'one'],
      ['lobby', 'two'],
    ] as const) {
      const result = await runCli(['send', '--room', room, text, '--data-dir', aliceDir], aliceEnv)
      expect(result.code, result.stderr).toBe(0)
      sent.push(JSON.parse(result.stdout) as { id: string })
    }
    const lines = await Promise.all(
      sent.map(async ({ id }) => JSON.parse(await bob.waitForLine((l) => l.includes(id))) as Record<string, unknown>),
    )
    expect(lines.map((l) => l.text)).toEqual(['one', 'two'])
    expect(lines[1]!.senderPeerId).toBe(lines[0]!.senderPeerId)

    const listed = await runCli(['room', 'list', '--data-dir', aliceDir], aliceEnv)
    expect(listed.code, listed.stderr).toBe(0)
    const [saved] = listed.stdout.split('\n').map((l) => JSON.parse(l) as { roomId: string; name: string })
    expect(saved).toMatchObject({ roomId: lines[0]!.roomId, name: 'lobby' })

    // Each run started its own epoch: the vault keeps no chain of Alice's own.
    const vault = await openVault({
      backend: platformVaultBackend(aliceDir),
      unlock: { type: 'wallet', signer: walletSigner({ type: 'eoa', signer: new Wallet(ALICE.key) }) },
    })
    const keys = await loadRoomKeys(vault, saved!.roomId)
    await vault.close()
    expect(keys?.inbound.epochs(lines[0]!.senderPeerId as string) ?? []).toEqual([])

    // A wrong passphrase is refused by name and leaves Bob's vault as it was.
    bob.kill('SIGINT')
    expect(await bob.exited).toBe(0)
    const vaultFile = join(bobDir, 'vault.json')
    const before = await readFile(vaultFile)
    const wrong = await runCli(['listen', '--room', 'lobby', '--data-dir', bobDir], {
      ...bobEnv,
      SECURECHAT_VAULT_PASSPHRASE: 'not what bob chose',
    })
    expect(wrong.code).toBe(1)
    expect(wrong.stderr).toContain('WrongPassphraseError')
    expect(await readFile(vaultFile)).toEqual(before)
  })
})
