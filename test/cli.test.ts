import { type AddressInfo, createServer } from 'node:net'
import { describe, expect, it } from 'vitest'
import {
  type CliProcess,
  freePort,
  killAfterEach,
  runCli,
  spawnCli,
  startRelayProcess,
  tempDir,
  waitFor,
} from './helpers/cli.ts'
import { ALICE, BOB } from './helpers/keys.ts'

const track = killAfterEach()

async function createInvite(relay: string): Promise<string> {
  const created = await runCli(['room', 'create', '--name', 'lobby', '--bootstrap', relay], {
    SECURECHAT_PRIVATE_KEY: ALICE.key,
  })
  expect(created.code, created.stderr).toBe(0)
  const invite = created.stdout.trim()
  expect(invite.startsWith('securechat:')).toBe(true)
  return invite
}

async function startListener(invite: string): Promise<{ cli: CliProcess; peerId: string }> {
  const cli = track(spawnCli(['listen', '--room', invite, '--json'], { SECURECHAT_PRIVATE_KEY: BOB.key }))
  await waitFor(
    () => /listening on room .*\(peer (\w+)\)/.test(cli.stderr()),
    () => cli.stderr(),
  )
  const peerId = /\(peer (\w+)\)/.exec(cli.stderr())![1]!
  return { cli, peerId }
}

describe('securechat CLI', () => {
  it('behavior: relay, room create, listen --json and send as separate processes', async () => {
    const relay = track(await startRelayProcess())
    const invite = await createInvite(relay.multiaddrs[0]!)
    const { cli: listener } = await startListener(invite)

    const sent = await runCli(['send', '--room', invite, 'hello from alice'], { SECURECHAT_PRIVATE_KEY: ALICE.key })
    expect(sent.code, sent.stderr).toBe(0)
    const { id, members } = JSON.parse(sent.stdout) as { id: string; members: number }
    // Bob, known from his presence (not the gossip neighbours the record left through: the relay).
    expect(members).toBe(1)

    const line = await listener.waitForLine((l) => l.includes(id))
    const message = JSON.parse(line) as Record<string, unknown>
    expect(message).toMatchObject({ type: 'message', id, sender: ALICE.address, text: 'hello from alice' })
    expect(typeof message.roomId).toBe('string')
    expect(Date.parse(String(message.sentAt))).not.toBeNaN()
  })

  it('behavior: peers reconnect and keep chatting after the relay process is killed and restarted', async () => {
    const dataDir = await tempDir('relay-restart-')
    const port = await freePort()
    const listen = [`/ip4/127.0.0.1/tcp/${port}`]
    let relay = track(await startRelayProcess({ dataDir, listen }))
    const address = relay.multiaddrs[0]!
    const invite = await createInvite(address)
    const { cli: listener, peerId } = await startListener(invite)
    const chat = track(spawnCli(['chat', '--room', invite], { SECURECHAT_PRIVATE_KEY: ALICE.key }))
    await chat.waitForLine((l) => l.includes('joined lobby'))

    chat.child.stdin!.write('before the crash\n')
    const before = JSON.parse(await listener.waitForLine((l) => l.includes('before the crash'))) as { id: string }
    // The listener's device acknowledges it (its presence): chat says it was delivered.
    await chat.waitForLine((l) => l.includes('✓ delivered to 1 of 1 members present') && l.includes(before.id))

    relay.kill('SIGKILL')
    await relay.exited
    relay = track(await startRelayProcess({ dataDir, listen }))
    expect(relay.multiaddrs[0]).toBe(address)
    // Both clients redial on their own; wait until the listener is back in the room.
    await relay.waitForLine((l) => l.includes('room:subscribed') && l.includes(peerId))
    await relay.waitForLine((l) => l.includes('room:subscribed') && !l.includes(peerId))

    // The relay has the chat's subscription, but its own may not have reached the chat yet: the message waits
    // for it (`Room.send`) instead of going to nobody.
    chat.child.stdin!.write('after the restart\n')
    const line = await listener.waitForLine((l) => l.includes('after the restart'))
    expect(JSON.parse(line)).toMatchObject({ sender: ALICE.address, text: 'after the restart' })
  })

  it('behavior: listen says when its only relay goes and when it is back, on stderr', async () => {
    const port = await freePort()
    const dataDir = await tempDir('relay-comes-back-')
    const listen = [`/ip4/127.0.0.1/tcp/${port}`]
    const relay = track(await startRelayProcess({ dataDir, listen }))
    const invite = await createInvite(relay.multiaddrs[0]!)
    const { cli } = await startListener(invite)
    relay.kill('SIGKILL')
    await relay.exited
    await waitFor(
      () => cli.stderr().includes('! no relay reachable'),
      () => cli.stderr(),
    )
    // The same relay (its PeerId kept in its data dir) on the same port.
    const again = track(await startRelayProcess({ dataDir, listen }))
    await waitFor(
      () => cli.stderr().includes(`* relay ${again.peerId} reached again`),
      () => cli.stderr(),
      60_000,
    )
    expect(cli.lines).toEqual([])
  })

  it('error: no relay reachable says what to do', async () => {
    const relay = track(await startRelayProcess())
    const invite = await createInvite(relay.multiaddrs[0]!)
    relay.kill('SIGKILL')
    await relay.exited
    const sent = await runCli(['send', '--room', invite, 'lost'], { SECURECHAT_PRIVATE_KEY: ALICE.key })
    expect(sent.code).toBe(1)
    expect(sent.stderr).toContain('no relay reachable at')
    expect(sent.stderr).toContain('securechat relay')
  })

  it('error: a room that does not accept this device’s sign-in is refused, saying what it accepts', async () => {
    const relay = track(await startRelayProcess())
    const invite = await createInvite(relay.multiaddrs[0]!)
    // As a browser on the app's address signs in: the room (made with the CLI's default) takes `localhost` only.
    const sent = await runCli(['send', '--room', invite, '--domain', '127.0.0.1:8080', 'unheard'], {
      SECURECHAT_PRIVATE_KEY: BOB.key,
    })
    expect(sent.code).toBe(1)
    expect(sent.stderr).toContain('room lobby accepts sign-ins for localhost; this device signed in for 127.0.0.1:8080')
    expect(sent.stderr).toContain('--domain localhost')
    expect(sent.stdout).toBe('')
  })

  it('error: a damaged invite and a missing wallet are explained', async () => {
    const damaged = await runCli(['send', '--room', 'securechat:!!!', 'x'], { SECURECHAT_PRIVATE_KEY: ALICE.key })
    expect(damaged.code).toBe(1)
    expect(damaged.stderr).toContain('invite is damaged')
    const noKey = await runCli(['room', 'create', '--name', 'x'], { SECURECHAT_PRIVATE_KEY: '' })
    expect(noKey.code).toBe(1)
    expect(noKey.stderr).toContain('--key-file')
  })

  it('error: a relay address that is no multiaddr is refused by its flag, with no stack trace and no invite made', async () => {
    for (const args of [
      ['send', '--room', 'securechat:x', '--bootstrap', 'notamultiaddr', 'x'],
      ['room', 'create', '--name', 'x', '--bootstrap', 'notamultiaddr'],
      ['dm', BOB.address, 'x', '--bootstrap', 'notamultiaddr'],
    ]) {
      const refused = await runCli(args, { SECURECHAT_PRIVATE_KEY: ALICE.key })
      expect(refused.code, args[0]).toBe(1)
      expect(refused.stderr).toContain("option '--bootstrap <multiaddr>' argument 'notamultiaddr' is invalid")
      expect(refused.stderr).not.toMatch(/\n\s+at /)
      expect(refused.stdout).not.toContain('securechat:')
    }
  })

  it('error: a relay whose listen port is taken says so and how to choose another, not a libp2p setting', async () => {
    const taken = createServer()
    await new Promise<void>((listening) => taken.listen(0, '127.0.0.1', listening))
    try {
      const { port } = taken.address() as AddressInfo
      const relay = await runCli([
        'relay',
        '--listen',
        `/ip4/127.0.0.1/tcp/${port}`,
        '--data-dir',
        await tempDir('taken-port-'),
      ])
      expect(relay.code).toBe(1)
      expect(relay.stderr).toContain(`could not listen on /ip4/127.0.0.1/tcp/${port}`)
      expect(relay.stderr).toContain('is another process using that port?')
      expect(relay.stderr).not.toContain('faultTolerance')
    } finally {
      taken.close()
    }
  })

  it('error: a second relay on a data dir another relay uses is refused, and one after it stopped starts', async () => {
    const dataDir = await tempDir('shared-relay-')
    const first = track(await startRelayProcess({ dataDir }))
    const second = await runCli(['relay', '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', dataDir])
    expect(second.code).toBe(1)
    expect(second.stderr).toContain(`another relay (process ${first.child.pid}) is using the data dir ${dataDir}`)
    expect(second.stderr).toContain('give this relay its own --data-dir')
    first.kill('SIGTERM')
    expect(await first.exited).toBe(0)
    const after = track(await startRelayProcess({ dataDir }))
    expect(after.peerId).toBe(first.peerId)
  })

  it('behavior: SIGTERM stops the relay gracefully', async () => {
    const relay = track(await startRelayProcess())
    relay.kill('SIGTERM')
    expect(await relay.exited).toBe(0)
    expect(relay.lines.some((l) => l.includes('relay:stopped'))).toBe(true)
  })
})
