/**
 * Typing indicators and read receipts with the CLI as people run it: a relay process with its store, `listen --json`
 * processes, and alice, an sdk client in this process who types and reads. Bob's `listen` prints them, in a room and
 * in a DM; carol's, run with `--no-receipts --no-typing`, prints neither; the relay's store keeps the read position
 * as ciphertext and no typing record at all.
 */
import { createClient, type SecureChatClient } from '@securechat/sdk/client'
import { walletSigner } from '@securechat/sdk/identity'
import { Wallet } from 'ethers'
import { afterEach, describe, expect, it } from 'vitest'
import { DEFAULT_CLI_DOMAIN, DEVNET_CHAIN_ID } from '../node/src/constants.ts'
import {
  bytesUnder,
  type CliProcess,
  type JsonLine,
  killAfterEach,
  nextJsonLine,
  spawnCli,
  startRelayProcess,
  startRelayRoom,
  tempDir,
  untilStderr,
} from './helpers/cli.ts'
import { ALICE, BOB, CAROL } from './helpers/keys.ts'

const track = killAfterEach()
let alice: SecureChatClient | undefined

afterEach(async () => {
  await alice?.stop()
  alice = undefined
})

function startAlice(relay: string): SecureChatClient {
  alice = createClient({
    domain: DEFAULT_CLI_DOMAIN,
    chainId: DEVNET_CHAIN_ID,
    signer: walletSigner({ type: 'eoa', signer: new Wallet(ALICE.key) }),
    bootstrap: [relay],
    presenceIntervalMs: 1_000,
  })
  return alice
}

describe('typing and read receipts from the CLI', () => {
  it('behavior: listen --json prints a member’s typing and read position; with --no-receipts --no-typing neither; the store keeps none in the clear', async () => {
    const { relay, relayDir, invite } = await startRelayRoom(track, 'receipts', ALICE.key)
    const bob = track(spawnCli(['listen', '--room', invite, '--json'], { SECURECHAT_PRIVATE_KEY: BOB.key }))
    const carol = track(
      spawnCli(['listen', '--room', invite, '--json', '--no-receipts', '--no-typing'], {
        SECURECHAT_PRIVATE_KEY: CAROL.key,
      }),
    )
    await untilStderr(bob, 'listening on room')
    await untilStderr(carol, 'listening on room')
    const client = startAlice(relay.multiaddrs[0]!)
    await client.start()
    const room = await client.joinRoom(invite)
    await room.waitForPeers()
    const sent = await room.send('read me')
    await nextJsonLine(bob, (l) => l.type === 'message' && l.id === sent.id)

    expect(room.typing(true)).toBe(true)
    expect(await nextJsonLine(bob, (l) => l.type === 'typing')).toMatchObject({
      conversation: room.id,
      sender: ALICE.address,
      typing: true,
    })
    // Throttled: a second keystroke at once sends nothing; the stop goes out.
    expect(room.typing(true)).toBe(false)
    expect(room.typing(false)).toBe(true)
    expect(await nextJsonLine(bob, (l) => l.type === 'typing' && l.typing === false)).toMatchObject({
      sender: ALICE.address,
    })
    room.markRead(sent.id)
    expect(await nextJsonLine(bob, (l) => l.type === 'read')).toMatchObject({
      conversation: room.id,
      reader: ALICE.address,
      upTo: sent.id,
      own: false,
    })

    // Carol got the message, then a later one, and printed no typing or read line between.
    const after = await room.send('after the signals')
    await nextJsonLine(carol, (l) => l.type === 'message' && l.id === after.id)
    const carolTypes = carol.lines.flatMap((l) => (l.startsWith('{') ? [(JSON.parse(l) as JsonLine).type] : []))
    expect(carolTypes).toEqual(['message', 'message'])

    // Kept as state (each device's latest), as ciphertext.
    await expect
      .poll(async () => (await bytesUnder(relayDir)).toString('latin1').includes('"type":"read"'), { timeout: 30_000 })
      .toBe(true)
    const stored = (await bytesUnder(relayDir)).toString('latin1')
    expect(stored).not.toContain('"type":"typing"')
    expect(stored).not.toContain('upTo')
    expect(stored).not.toContain('read me')
  }, 300_000)

  it('behavior: a device away while another device of its wallet read the room learns it from the store on its return', async () => {
    const relayDir = await tempDir('receipts-away-relay-')
    const relay = track(await startRelayProcess({ dataDir: relayDir }))
    const client = startAlice(relay.multiaddrs[0]!)
    await client.start()
    const { room, invite } = await client.createRoom({ name: 'away' })
    const env = { SECURECHAT_PRIVATE_KEY: ALICE.key, SECURECHAT_VAULT_PASSPHRASE: 'alice keeps this somewhere safe' }
    const awayDir = await tempDir('receipts-away-')
    const listen = (more: Record<string, string> = {}): CliProcess =>
      track(spawnCli(['listen', '--room', invite, '--json', '--data-dir', awayDir], { ...env, ...more }))
    const first = listen()
    await untilStderr(first, 'listening on room')
    await room.waitForPeers()
    const one = await room.send('one')
    await nextJsonLine(first, (l) => l.type === 'message' && l.id === one.id)
    first.kill('SIGTERM')
    await first.exited

    const two = await room.send('two, while the other device is away')
    room.markRead(two.id)
    await expect
      .poll(async () => (await bytesUnder(relayDir)).toString('latin1').includes('"type":"read"'), { timeout: 30_000 })
      .toBe(true)
    // At debug: should its read line not come, its stderr in the failure says which step dropped the record.
    const second = listen({ SECURECHAT_LOG_LEVEL: 'debug' })
    expect(await nextJsonLine(second, (l) => l.type === 'read')).toMatchObject({
      conversation: room.id,
      reader: ALICE.address,
      upTo: two.id,
      own: true,
    })
  }, 300_000)

  it('behavior: in a DM, listen --dm --json prints the other wallet typing and reading', async () => {
    const relayDir = await tempDir('receipts-dm-relay-')
    const relay = track(await startRelayProcess({ dataDir: relayDir }))
    const bob = track(
      spawnCli(['listen', '--dm', '--json', '--bootstrap', relay.multiaddrs[0]!], { SECURECHAT_PRIVATE_KEY: BOB.key }),
    )
    await untilStderr(bob, 'listening for direct messages')
    const client = startAlice(relay.multiaddrs[0]!)
    await client.start()
    const conversation = client.dm(BOB.address)
    const sent = await conversation.send('hello bob')
    const shown = await nextJsonLine(bob, (l) => l.type === 'dm' && l.id === sent.id)
    // Bob's device answered the new session (its receipt): typing goes on the established session.
    await expect.poll(() => client.dms.status(sent.id)?.[0]?.status, { timeout: 30_000 }).toBe('delivered')
    expect(conversation.typing(true)).toBe(true)
    expect(await nextJsonLine(bob, (l) => l.type === 'typing')).toMatchObject({
      conversation: ALICE.address,
      sender: ALICE.address,
      typing: true,
    })
    // Read up to the last message of the conversation (here alice's own).
    conversation.markRead(shown.id as string)
    expect(await nextJsonLine(bob, (l) => l.type === 'read')).toMatchObject({
      conversation: ALICE.address,
      reader: ALICE.address,
      upTo: sent.id,
      own: false,
    })
    const stored = (await bytesUnder(relayDir)).toString('latin1')
    expect(stored).not.toContain('"type":"signal"')
  }, 300_000)
})
