/**
 * Every connection pinged once per interval, the pings spread evenly over it, and one that does not answer within the
 * timeout aborted: what libp2p's connection monitor does (turned off in `libp2p.ts`), but spread. libp2p's starts
 * the ping of every connection in the same turn of the event loop, so a relay holding thousands of clients
 * opened thousands of streams at once every interval — 1.5 s of one turn at 3,000 connections, and event-loop stalls
 * of 4–13 s at 3,000–11,000 on a loaded 2-core machine (docs/benchmarks.md), during which every member's records
 * waited. Here a round takes a snapshot of the connections and pings a slice of it every {@link tickMs}.
 */
import type { ComponentLogger, Connection, Logger, Startable } from '@libp2p/interface'
import { PING_PROTOCOL } from '@libp2p/ping'
import { pingConnection } from './connection-ping.ts'

export interface SpreadPingsInit {
  /** How often each connection is pinged. */
  intervalMs: number
  /** How long an answer may take: one later is a dead connection, aborted. Shorter than the interval. */
  timeoutMs: number
  /** How often a slice of the round is pinged (default 100 ms). */
  tickMs?: number
}

interface SpreadPingsComponents {
  connectionManager: { getConnections(): Connection[] }
  logger: ComponentLogger
}

const DEFAULT_TICK_MS = 100

export class SpreadPings implements Startable {
  readonly #components: SpreadPingsComponents
  /** How often each connection is pinged, and how long its answer may take. */
  readonly intervalMs: number
  readonly timeoutMs: number
  readonly #tickMs: number
  readonly #log: Logger
  #timer: ReturnType<typeof setInterval> | undefined
  /** The connections of the round under way, and how far it got. */
  #round: Connection[] = []
  #next = 0
  #perTick = 0
  #roundStartedAtMs = Number.NEGATIVE_INFINITY

  constructor(components: SpreadPingsComponents, init: SpreadPingsInit) {
    if (init.timeoutMs >= init.intervalMs) {
      // One ping per peer at a time (the ping protocol's stream limit): the next would fail to open, and that counts.
      throw new RangeError(`a ping's timeout (${init.timeoutMs} ms) must be shorter than its interval`)
    }
    this.#components = components
    this.intervalMs = init.intervalMs
    this.timeoutMs = init.timeoutMs
    this.#tickMs = init.tickMs ?? DEFAULT_TICK_MS
    this.#log = components.logger.forComponent('securechat:client:spread-pings')
  }

  readonly [Symbol.toStringTag] = 'securechat/spread-pings'

  start(): void {
    if (this.#timer !== undefined) return
    // The first round one interval after the start, as libp2p's: a connection just opened has just answered.
    this.#roundStartedAtMs = Date.now()
    this.#timer = setInterval(() => this.#tick(), this.#tickMs)
  }

  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
    this.#round = []
    this.#next = 0
  }

  #tick(): void {
    const now = Date.now()
    if (this.#next >= this.#round.length && now - this.#roundStartedAtMs >= this.intervalMs) {
      this.#round = this.#components.connectionManager.getConnections()
      this.#next = 0
      this.#roundStartedAtMs = now
      this.#perTick = Math.ceil(this.#round.length / Math.max(1, Math.floor(this.intervalMs / this.#tickMs) - 1))
    }
    const end = Math.min(this.#round.length, this.#next + this.#perTick)
    for (; this.#next < end; this.#next++) {
      const connection = this.#round[this.#next]!
      // A ping of it under way (a relay check, the stale-connection check) decides; a second could not open — the
      // protocol takes one outbound stream per peer — and that failure would cut a live connection.
      if (connection.status === 'open' && !isPinging(connection)) void this.#ping(connection)
    }
    // Connections closed since hold nothing once their round is done.
    if (this.#next >= this.#round.length) this.#round = []
  }

  async #ping(connection: Connection): Promise<void> {
    if (await pingConnection(connection, this.timeoutMs)) return
    if (connection.status !== 'open') return
    this.#log('no ping answer from %p within %d ms: aborting its connection', connection.remotePeer, this.timeoutMs)
    connection.abort(new Error(`no ping answer within ${this.timeoutMs} ms`))
  }
}

function isPinging(connection: Connection): boolean {
  return connection.streams.some((stream) => stream.direction === 'outbound' && stream.protocol === PING_PROTOCOL)
}

/** libp2p's service factory: `services: { pings: spreadPings({ intervalMs, timeoutMs }) }`. */
export function spreadPings(init: SpreadPingsInit): (components: SpreadPingsComponents) => SpreadPings {
  return (components) => new SpreadPings(components, init)
}
