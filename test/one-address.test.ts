/**
 * Fifty people behind one carrier NAT or one office proxy (issue 13): one address, many clients, in one room over a
 * relay. The relay is `securechat relay` with its default limits and scoring, listening on the host end of a veth
 * pair; the clients run in a network namespace behind it (`helpers/netns.ts`), so every one of them comes from the
 * same address that is not loopback — loopback is exempt from the per-IP limits and would prove nothing. They run
 * as light clients, ten real sdk clients to a process (`helpers/light-clients.ts`), and each reserves a circuit
 * relay slot as a browser does.
 *
 * Several of them send for forty seconds, forty times gossipsub's score decay interval (`SCORE_DECAY_INTERVAL_MS`):
 * every client gets and reads every message the others sent, and the relay refuses nothing (no connection, rate or
 * slot limit of its defaults) — then throw-away peers from that address are refused at the per-IP cap, so the
 * address was held to it all along.
 */
import { describe, expect, it } from 'vitest'
import { type Child, ChildGroup } from '../bench/children.ts'
import { RELAY_MAX_CONNECTIONS_PER_IP } from '../node/src/constants.ts'
import { SCORE_DECAY_INTERVAL_MS } from '../sdk/src/client/scoring.ts'
import { killAfterEach, type RelayProcess, startRelayProcess } from './helpers/cli.ts'
import type { LightClientCommands } from './helpers/light-clients.ts'
import { createNamespace } from './helpers/netns.ts'
import { metrics, refused } from './helpers/relay-metrics.ts'

const CLIENTS = 50
const PROCESSES = 5
const PER_PROCESS = CLIENTS / PROCESSES
/** Two senders in each process: ten in the room. */
const SENDERS_PER_PROCESS = 2
const MESSAGES_PER_SENDER = 10
const SEND_INTERVAL_MS = 4_000
/** How long the messages are spread over. */
const TRAFFIC_MS = MESSAGES_PER_SENDER * SEND_INTERVAL_MS
/** Setup steps (50 clients starting, joining, learning of each other) on a loaded 2-core machine. */
const STEP_TIMEOUT_MS = 60_000
const RELAY_START_TIMEOUT_MS = 60_000

const track = killAfterEach()

describe('many clients behind one address', () => {
  it(`behavior: ${CLIENTS} clients from one non-loopback address in one room, for ${TRAFFIC_MS / 1000} s of messages, all get every message and the relay refuses none`, async () => {
    expect(TRAFFIC_MS).toBeGreaterThan(10 * SCORE_DECAY_INTERVAL_MS)
    const namespace = createNamespace()
    const group = new ChildGroup()
    let relay: RelayProcess | undefined
    try {
      relay = track(
        await startRelayProcess({
          listen: [`/ip4/${namespace.hostIp}/tcp/0`],
          args: ['--http', '0'],
          startTimeoutMs: RELAY_START_TIMEOUT_MS,
        }),
      )
      const address = relay.multiaddrs.find((a) => a.startsWith(`/ip4/${namespace.hostIp}/tcp/`))
      expect(address, relay.multiaddrs.join(', ')).toBeDefined()

      const children = Array.from({ length: PROCESSES }, (_, i) =>
        group.spawn<LightClientCommands>(`clients ${i}`, new URL('./helpers/light-clients.ts', import.meta.url), {
          wrapper: namespace.wrapper,
        }),
      )
      const all = <T>(each: (child: Child<LightClientCommands>, index: number) => Promise<T>): Promise<T[]> =>
        Promise.all(children.map(each))
      // Loading the sdk's modules, five processes at once.
      await all((child) => child.request({ type: 'hello' }, { timeoutMs: 2 * STEP_TIMEOUT_MS }))

      // All at once, as a NAT's users reconnect after a relay restart.
      const started = await all((child) =>
        child.request(
          { type: 'start', count: PER_PROCESS, relay: address!, timeoutMs: STEP_TIMEOUT_MS },
          { timeoutMs: 2 * STEP_TIMEOUT_MS },
        ),
      )
      expect(started.flatMap((s) => s.reservations)).toEqual(Array(CLIENTS).fill(100)) // HOP status OK

      const { invite } = await children[0]!.request({ type: 'create-room' }, { timeoutMs: STEP_TIMEOUT_MS })
      await all((child) =>
        child.request({ type: 'join', invite, timeoutMs: STEP_TIMEOUT_MS }, { timeoutMs: 2 * STEP_TIMEOUT_MS }),
      )
      // A sender's key reaches the members it knows: everyone knows everyone before the first message.
      await all((child) =>
        child.request(
          { type: 'await-members', count: CLIENTS, timeoutMs: 3 * STEP_TIMEOUT_MS },
          { timeoutMs: 4 * STEP_TIMEOUT_MS },
        ),
      )

      const sent = (
        await all((child, i) =>
          child.request(
            {
              type: 'send',
              senders: SENDERS_PER_PROCESS,
              count: MESSAGES_PER_SENDER,
              intervalMs: SEND_INTERVAL_MS,
              // The processes take turns too: a message about every 400 ms in the room.
              offsetMs: (i * SEND_INTERVAL_MS) / (PROCESSES * SENDERS_PER_PROCESS),
            },
            { timeoutMs: TRAFFIC_MS + 2 * STEP_TIMEOUT_MS },
          ),
        )
      ).flatMap((s) => s.ids)
      expect(sent).toHaveLength(PROCESSES * SENDERS_PER_PROCESS * MESSAGES_PER_SENDER)

      const delivered = (
        await all((child) =>
          child.request(
            { type: 'await-delivered', ids: sent, timeoutMs: STEP_TIMEOUT_MS },
            { timeoutMs: 2 * STEP_TIMEOUT_MS },
          ),
        )
      ).flat()
      // Every client has every message the others sent, and could read it. (How many came only through a repair and
      // how many connections each lost say why, when one has not.)
      expect(
        delivered.map(({ missing, undecryptable }) => ({ missing, undecryptable })),
        JSON.stringify(delivered),
      ).toEqual(Array(CLIENTS).fill({ missing: 0, undecryptable: 0 }))

      const samples = await metrics(relay)
      const refusals = [...samples].filter(([name, value]) => name.startsWith('securechat_refused_total') && value > 0)
      expect(refusals).toEqual([])

      // The address was never exempt: throw-away peers from it are let in up to the per-IP cap, then refused.
      const { connected } = await children[0]!.request(
        { type: 'probe', relay: address!, max: RELAY_MAX_CONNECTIONS_PER_IP },
        { timeoutMs: STEP_TIMEOUT_MS },
      )
      expect(connected).toBeLessThan(RELAY_MAX_CONNECTIONS_PER_IP)
      expect(refused(await metrics(relay), 'connections-per-ip')).toBe(1)
    } catch (err) {
      // What the relay says at that moment: its refusals by reason, its connections and records.
      const samples = relay === undefined ? undefined : await metrics(relay).catch(() => undefined)
      const figures = [...(samples ?? [])].filter(([name, value]) => /refused|inbound|records_/.test(name) && value > 0)
      throw new Error(`${String(err)}\nrelay: ${figures.map(([name, value]) => `${name} ${value}`).join(', ')}`, {
        cause: err,
      })
    } finally {
      await group.stopAll().catch(() => group.killAll())
      namespace.remove()
    }
  }, 300_000) // 50 clients and a relay on a loaded 2-core machine: setup can take a minute on its own
})
