/**
 * Many clients behind one address (a NAT, a TLS proxy, one machine): gossipsub's default
 * IP-colocation penalty made the relay stop forwarding anyone's records from the eleventh or
 * twelfth peer ever seen from that address on (disconnected peers count for an hour). Real
 * processes: `securechat relay`, one `listen --json`, and one `send` process per message, each a
 * new PeerId from 127.0.0.1.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { type CliProcess, runCli, spawnCli, startRelayProcess } from './helpers/cli.ts'

// Public Hardhat test keys (never hold real funds).
const ALICE_KEY = '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d'
const BOB_KEY = '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a'

/** More than gossipsub's default colocation threshold (10 peers per IP) plus the listener. */
const SENDS = 16

const running: CliProcess[] = []
afterEach(async () => {
  for (const cli of running.splice(0)) {
    cli.kill('SIGKILL')
    await cli.exited
  }
})

function track<T extends CliProcess>(cli: T): T {
  running.push(cli)
  return cli
}

/** Resolves once `cli` wrote `text` on stderr (the listener says when it joined). */
function untilStderr(cli: CliProcess, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (!cli.stderr().includes(text)) return
      cli.child.stderr?.off('data', check)
      resolve()
    }
    cli.child.stderr?.on('data', check)
    void cli.exited.then((code) => reject(new Error(`exited (${code}) before "${text}": ${cli.stderr()}`)))
    queueMicrotask(check)
  })
}

describe('many clients from one address', () => {
  it(`behavior: ${SENDS} send processes in a row from one address are all delivered, and /healthz stays ok`, async () => {
    const relay = track(await startRelayProcess({ args: ['--http', '0'] }))
    const created = await runCli(['room', 'create', '--name', 'nat', '--bootstrap', relay.multiaddrs[0]!], {
      SECURECHAT_PRIVATE_KEY: ALICE_KEY,
    })
    expect(created.code, created.stderr).toBe(0)
    const invite = created.stdout.trim()
    const listener = track(spawnCli(['listen', '--room', invite, '--json'], { SECURECHAT_PRIVATE_KEY: BOB_KEY }))
    await untilStderr(listener, 'listening on room')

    const delivered: string[] = []
    for (let i = 0; i < SENDS; i++) {
      const sent = await runCli(['send', '--room', invite, `message ${i}`], { SECURECHAT_PRIVATE_KEY: ALICE_KEY })
      expect(sent.code, sent.stderr).toBe(0)
      const { id } = JSON.parse(sent.stdout) as { id: string }
      const line = await listener
        .waitForLine((l) => l.includes(id), 10_000)
        .catch((err: unknown) => {
          throw new Error(`message ${i} was not delivered (${delivered.length} were): ${String(err)}`)
        })
      delivered.push((JSON.parse(line) as { text: string }).text)
    }
    expect(delivered).toEqual(Array.from({ length: SENDS }, (_, i) => `message ${i}`))

    const health = await fetch(new URL('/healthz', relay.web))
    expect(health.status).toBe(200)
    expect(await health.json()).toMatchObject({ status: 'ok' })
  }, 600_000) // 18 CLI processes, one after another: minutes on a loaded 2-core machine
})
