/**
 * `npm start` as a user runs it (`node node/src/devnet/start.ts`), on ports and a directory of
 * its own, with the CLI chatting through it as separate processes.
 */

import { readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { decodeInvite } from '@securechat/sdk/rooms'
import { afterEach, describe, expect, it } from 'vitest'
import { type CliProcess, freePort, runCli, spawnCli, spawnScript, tempDir, waitFor } from './helpers/cli.ts'
import { ALICE, BOB, CAROL } from './helpers/keys.ts'

const START = resolve(import.meta.dirname, '../node/src/devnet/start.ts')
const READY_TIMEOUT_MS = 60_000

interface DevnetInfo {
  rpcUrl: string
  chainId: number
  chainPid: number
  contracts: { auditLog: string; memberNft: string; demoMultiToken: string; demoToken: string }
  relay: string[]
  web: string
  invites: { lobby: string; members: string }
  inviteLinks: { lobby: string; members: string }
}

const running: CliProcess[] = []
/** Chains started by the devnets of a test: a devnet killed by a failing test cannot stop its own. */
const chainPids: number[] = []
afterEach(async () => {
  for (const process of running.splice(0)) {
    process.kill('SIGKILL')
    await process.exited
  }
  for (const pid of chainPids.splice(0)) {
    try {
      process.kill(-pid, 'SIGKILL')
    } catch {
      // Already stopped, as it should be.
    }
  }
})

function track<T extends CliProcess>(process: T): T {
  running.push(process)
  return process
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function startDevnet(env: Record<string, string>): Promise<{ devnet: CliProcess; info: DevnetInfo }> {
  const devnet = track(spawnScript(START, [], env))
  await devnet.waitForLine((line) => line.startsWith('Ctrl-C stops the devnet'), READY_TIMEOUT_MS)
  const info = JSON.parse(await readFile(join(env.SECURECHAT_DEVNET_DIR!, 'devnet.json'), 'utf8')) as DevnetInfo
  chainPids.push(info.chainPid)
  return { devnet, info }
}

describe('npm start', () => {
  it('behavior: a chain, the contracts, a relay and two rooms; the CLI chats through it; Ctrl-C stops it all; it starts again', async () => {
    const [chainPort, tcpPort, wsPort] = [await freePort(), await freePort(), await freePort()]
    const env = {
      SECURECHAT_DEVNET_DIR: await tempDir('devnet-'),
      SECURECHAT_CHAIN_PORT: String(chainPort),
      SECURECHAT_RELAY_TCP_PORT: String(tcpPort),
      SECURECHAT_RELAY_WS_PORT: String(wsPort),
      SECURECHAT_HTTP_PORT: String(await freePort()),
      // Serves web/dist as it is: building the app is not what this test checks.
      SECURECHAT_WEB_BUILD: '0',
    }
    const { devnet, info } = await startDevnet(env)
    const output = devnet.lines.join('\n')
    expect(info.rpcUrl).toBe(`http://127.0.0.1:${chainPort}`)
    expect(info.chainId).toBe(31337)
    expect(output).toContain(`${info.rpcUrl}   (Hardhat, chain id 31337, pid ${info.chainPid})`)
    for (const address of Object.values(info.contracts)) expect(output).toContain(address)
    expect(output).toContain('PUBLIC Hardhat test keys')
    expect(output).toContain(`requires 1 × SecureChat Member (${info.contracts.memberNft}) on chain 31337`)
    expect(info.relay[0]).toContain(`/tcp/${tcpPort}/p2p/`)

    // The web app is served, and told to dial the relay on loopback (a devnet) and to use the local chain.
    expect(info.web).toBe(`http://127.0.0.1:${env.SECURECHAT_HTTP_PORT}/`)
    expect(output).toContain(`In the browser, open ${info.web}`)
    expect(output).toContain(`RPC URL ${info.rpcUrl}, chain ID 31337, currency symbol ETH`)
    const appConfig = await (await fetch(new URL('/config.json', info.web))).json()
    expect(appConfig).toEqual({
      relays: [info.relay[1]],
      chainId: 31337,
      rpcUrl: info.rpcUrl,
      contracts: info.contracts,
      allowPrivateAddresses: true,
      iceServers: [],
    })
    // The devnet's rooms take terminal (localhost) and browser (the app's host) certificates alike.
    for (const link of Object.values(info.inviteLinks)) {
      expect(link.startsWith(`${info.web.replace(/\/$/, '')}/#invite=`)).toBe(true)
      const { manifest } = decodeInvite(decodeURIComponent(link.split('#invite=')[1]!))
      const web = new URL(info.web)
      expect(manifest.manifest.domains).toEqual(['localhost', web.host, `localhost:${web.port}`])
    }

    // Bob and alice hold the MemberNFT: they chat in the gated room.
    const listener = track(
      spawnCli(['listen', '--room', info.invites.members, '--rpc', info.rpcUrl, '--json'], {
        SECURECHAT_PRIVATE_KEY: BOB.key,
      }),
    )
    await waitFor(
      () => listener.stderr().includes('listening on room members'),
      () => listener.stderr(),
    )
    const sent = await runCli(['send', '--room', info.invites.members, '--rpc', info.rpcUrl, 'hello, members'], {
      SECURECHAT_PRIVATE_KEY: ALICE.key,
    })
    expect(sent.code, sent.stderr).toBe(0)
    const { id } = JSON.parse(sent.stdout) as { id: string }
    expect(JSON.parse(await listener.waitForLine((l) => l.includes(id)))).toMatchObject({ text: 'hello, members' })

    // The room the devnet tells a newcomer to make, made as printed: it accepts the web app's sign-ins too.
    const printed = devnet.lines[devnet.lines.findIndex((l) => l.startsWith('Your own gated room')) + 1]!.trim()
    const [assignment, , , ...args] = printed.replace('<name>', 'mine').split(/\s+/)
    const [variable, value] = assignment!.split('=')
    const made = await runCli(args, { [variable!]: value! })
    expect(made.code, made.stderr).toBe(0)
    const mine = decodeInvite(made.stdout.trim().split('\n').at(-1)!).manifest.manifest
    expect(mine).toMatchObject({ name: 'mine', domains: ['localhost', new URL(info.web).host, expect.any(String)] })

    // Carol holds nothing: `listen` says why and exits 1.
    const refused = await runCli(['listen', '--room', info.invites.members, '--rpc', info.rpcUrl], {
      SECURECHAT_PRIVATE_KEY: CAROL.key,
    })
    expect(refused.code).toBe(1)
    expect(refused.stderr).toMatch(/^error: /)
    expect(refused.stderr).toContain(
      `this room requires 1 × SecureChat Member (${info.contracts.memberNft}) on chain 31337; ${CAROL.address} holds 0\n`,
    )

    // A second devnet on the same ports says what to do.
    const clash = track(spawnScript(START, [], { ...env, SECURECHAT_DEVNET_DIR: await tempDir('devnet-clash-') }))
    expect(await clash.exited).toBe(1)
    expect(clash.stderr()).toMatch(/could not start on 127\.0\.0\.1:\d+[\s\S]*SECURECHAT_CHAIN_PORT/)

    listener.kill('SIGINT')
    await listener.exited
    devnet.kill('SIGINT')
    expect(await devnet.exited).toBe(0)
    expect(devnet.lines.at(-1)).toBe('devnet stopped.')
    expect(isRunning(info.chainPid)).toBe(false)
    expect(isRunning(-info.chainPid)).toBe(false)

    // Again, in the same directory: the relay keeps its PeerId and the rooms are the same rooms,
    // so the invites and web links of the first run keep working.
    const invites = async (files: Record<string, string>): Promise<string[]> =>
      Promise.all(Object.values(files).map((file) => readFile(file, 'utf8')))
    const firstInvites = await invites(info.invites)
    const again = await startDevnet(env)
    expect(again.info.relay).toEqual(info.relay)
    expect(again.info.contracts).toEqual(info.contracts)
    expect(await invites(again.info.invites)).toEqual(firstInvites)
    expect(again.info.inviteLinks).toEqual(info.inviteLinks)
    again.devnet.kill('SIGINT')
    expect(await again.devnet.exited).toBe(0)
    expect(isRunning(again.info.chainPid)).toBe(false)
  }, 180_000) // two devnets (chain, deploy, relay) and four CLI processes: minutes on a loaded 2-core machine

  it('behavior: `room create --gate` reads a JSON file; `--rpc` names the token and warns a non-holder owner', async () => {
    const [chainPort, tcpPort, wsPort] = [await freePort(), await freePort(), await freePort()]
    const dir = await tempDir('devnet-')
    const { devnet, info } = await startDevnet({
      SECURECHAT_DEVNET_DIR: dir,
      SECURECHAT_CHAIN_PORT: String(chainPort),
      SECURECHAT_RELAY_TCP_PORT: String(tcpPort),
      SECURECHAT_RELAY_WS_PORT: String(wsPort),
      SECURECHAT_HTTP_PORT: String(await freePort()),
      SECURECHAT_WEB_BUILD: '0',
    })
    const ruleFile = join(dir, 'rule.json')
    const { writeFile } = await import('node:fs/promises')
    await writeFile(
      ruleFile,
      JSON.stringify({ anyOf: [{ type: 'erc721', contract: info.contracts.memberNft, minBalance: '1' }] }),
    )
    const created = await runCli(
      ['room', 'create', '--name', 'dao', '--gate', ruleFile, '--rpc', info.rpcUrl, '--bootstrap', info.relay[0]!],
      { SECURECHAT_PRIVATE_KEY: CAROL.key },
    )
    expect(created.code, created.stderr).toBe(0)
    expect(created.stdout).toMatch(/^securechat:/)
    expect(created.stderr).toContain(`gate: 1 × SecureChat Member (${info.contracts.memberNft}) on chain 31337`)
    expect(created.stderr).toContain(`note: your own wallet does not pass it`)

    const bad = await runCli(['room', 'create', '--name', 'x', '--gate', 'erc721:0x1234'], {
      SECURECHAT_PRIVATE_KEY: CAROL.key,
    })
    expect(bad.code).toBe(1)
    expect(bad.stderr).toMatch(/^error: .*gate rule: cannot read "erc721:0x1234"/)
    expect(bad.stderr).toContain('hint: erc721:<contract>')

    // The relay asks its --rpc endpoint for the chain id and reports what it reads.
    const relay = track(
      spawnCli([
        'relay',
        '--json',
        '--data-dir',
        join(dir, 'r2'),
        '--listen',
        '/ip4/127.0.0.1/tcp/0',
        '--rpc',
        info.rpcUrl,
      ]),
    )
    const started = JSON.parse(await relay.waitForLine((l) => l.includes('relay:started'))) as Record<string, unknown>
    expect(started).toMatchObject({ rpc: info.rpcUrl, chainId: 31337 })
    const badRelay = await runCli(['relay', '--audit-log', 'nope', '--data-dir', join(dir, 'r3')])
    expect(badRelay.code).toBe(1)
    expect(badRelay.stderr).toContain('invalid relay setting auditLog')
    relay.kill('SIGTERM')
    expect(await relay.exited).toBe(0)

    devnet.kill('SIGTERM')
    expect(await devnet.exited).toBe(0)
    expect(isRunning(info.chainPid)).toBe(false)
  })
})
