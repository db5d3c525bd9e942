/**
 * Many clients behind one address (a NAT, a TLS proxy, one machine): gossipsub's default
 * IP-colocation penalty made the relay stop forwarding anyone's records from the eleventh or
 * twelfth peer ever seen from that address on (disconnected peers count for an hour). Real
 * processes: `securechat relay`, one `listen --json`, and one `send` process per message, each a
 * new PeerId from 127.0.0.1.
 */
import { describe, expect, it } from 'vitest'
import { killAfterEach, runCli, spawnCli, startRelayProcess, untilStderr } from './helpers/cli.ts'
import { ALICE, BOB } from './helpers/keys.ts'

/** More than gossipsub's default colocation threshold (10 peers per IP) plus the listener. */
const SENDS = 16

const track = killAfterEach()

describe('many clients from one address', () => {
  it(`behavior: ${SENDS} send processes in a row from one address are all delivered, and /healthz stays ok`, async () => {
    const relay = track(await startRelayProcess({ args: ['--http', '0'] }))
    const created = await runCli(['room', 'create', '--name', 'nat', '--bootstrap', relay.multiaddrs[0]!], {
      SECURECHAT_PRIVATE_KEY: ALICE.key,
    })
    expect(created.code, created.stderr).toBe(0)
    const invite = created.stdout.trim()
    const listener = track(spawnCli(['listen', '--room', invite, '--json'], { SECURECHAT_PRIVATE_KEY: BOB.key }))
    await untilStderr(listener, 'listening on room')

    const delivered: string[] = []
    for (let i = 0; i < SENDS; i++) {
      const sent = await runCli(['send', '--room', invite, `message ${i}`], { SECURECHAT_PRIVATE_KEY: ALICE.key })
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
