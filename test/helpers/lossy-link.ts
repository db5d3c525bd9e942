/**
 * A lossy network between in-process peers and a relay, as TCP shows one to libp2p.
 *
 * Each peer gets a {@link LossyLink}: a loopback TCP port that forwards to the relay. Peers run
 * no listener of their own, so every byte between them crosses their links. Dropping bytes
 * inside a TCP stream would only corrupt the encrypted libp2p stream, which no real network
 * does; what packet loss does to TCP is make it retransmit, so a lost segment shows as a stall
 * of that direction of the connection (a retransmission timeout, doubled for each loss in a row)
 * and everything behind it waits, in order. On top of that, connections are reset at random (the
 * way a NAT forgets them or a link flaps), and a link can be partitioned: nothing crosses it,
 * existing connections stall, and new ones are accepted and held without reaching the relay
 * (a dial times out, as it does when SYNs go unanswered), until it heals and what was held flows.
 *
 * Network namespaces with `tc qdisc … netem loss` would be closer to the kernel, but need root
 * and the `sch_netem` module, which these machines lack (`Specified qdisc kind is unknown`).
 */
import { connect, createServer, type Server, type Socket } from 'node:net'

/** A typical Ethernet TCP segment: loss is drawn per segment, not per read. */
const SEGMENT_BYTES = 1_460

export interface LossInit {
  /** Chance that a TCP segment is lost and must be retransmitted. */
  loss?: number
  /** One-way latency added to every chunk. */
  latencyMs?: number
  /** Linux's minimum retransmission timeout: what one lost segment costs. */
  retransmitMs?: number
  /** Mean time between random resets of one connection (exponentially distributed); 0: none. */
  resetMeanMs?: number
  /** The random source: seeded (see {@link seededRandom}) so that a run can be replayed. */
  random?: () => number
}

export interface LinkStats {
  connections: number
  chunks: number
  /** Chunks that waited for at least one retransmission. */
  retransmitted: number
  resets: number
}

/** mulberry32: a small seeded generator, enough for choosing losses. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

/** One direction of a connection: chunks leave in order, each no earlier than its loss allows. */
class Direction {
  readonly #out: Socket
  readonly #link: LossyLink
  readonly #queue: Array<{ atMs: number; chunk: Buffer }> = []
  #lastAtMs = 0
  #timer: ReturnType<typeof setTimeout> | undefined

  constructor(out: Socket, link: LossyLink) {
    this.#out = out
    this.#link = link
  }

  push(chunk: Buffer): void {
    const atMs = Math.max(this.#lastAtMs, Date.now() + this.#link.delayOf(chunk.byteLength))
    this.#lastAtMs = atMs
    this.#queue.push({ atMs, chunk })
    this.arm()
  }

  arm(): void {
    if (this.#timer !== undefined || this.#link.partitioned || this.#queue.length === 0) return
    this.#timer = setTimeout(this.#flush, Math.max(0, this.#queue[0]!.atMs - Date.now()))
  }

  readonly #flush = (): void => {
    this.#timer = undefined
    if (this.#link.partitioned) return
    const now = Date.now()
    while (this.#queue.length > 0 && this.#queue[0]!.atMs <= now) {
      if (!this.#out.destroyed) this.#out.write(this.#queue.shift()!.chunk)
      else this.#queue.shift()
    }
    this.arm()
  }

  stop(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#queue.length = 0
  }
}

/** One peer's connection to the relay through its link: both directions and the reset timer. */
class Pair {
  readonly #link: LossyLink
  readonly #inbound: Socket
  #outbound: Socket | undefined
  readonly #held: Buffer[] = []
  #up: Direction | undefined
  #down: Direction | undefined
  #resetTimer: ReturnType<typeof setTimeout> | undefined
  #closed = false

  constructor(link: LossyLink, inbound: Socket) {
    this.#link = link
    this.#inbound = inbound
    inbound.on('data', (chunk: Buffer) => (this.#up === undefined ? this.#held.push(chunk) : this.#up.push(chunk)))
    inbound.on('error', () => this.close())
    inbound.on('close', () => this.close())
    if (!link.partitioned) this.open()
  }

  /** Reaches the relay: at once, or when a partition that held this connection heals. */
  open(): void {
    if (this.#closed || this.#outbound !== undefined) return
    const outbound = connect(this.#link.target.port, this.#link.target.host)
    this.#outbound = outbound
    outbound.setNoDelay(true)
    this.#inbound.setNoDelay(true)
    this.#up = new Direction(outbound, this.#link)
    this.#down = new Direction(this.#inbound, this.#link)
    outbound.on('data', (chunk: Buffer) => this.#down?.push(chunk))
    outbound.on('error', () => this.close())
    outbound.on('close', () => this.close())
    for (const chunk of this.#held.splice(0)) this.#up.push(chunk)
    this.scheduleReset()
  }

  /** (Re)draws when this connection is reset, from the link's current mean. */
  scheduleReset(): void {
    clearTimeout(this.#resetTimer)
    const meanMs = this.#link.init.resetMeanMs
    if (meanMs <= 0 || this.#closed || this.#outbound === undefined) return
    const afterMs = -Math.log(1 - this.#link.init.random()) * meanMs
    this.#resetTimer = setTimeout(() => {
      this.#link.stats.resets++
      this.close()
    }, afterMs)
  }

  /** Partition healed: what waited flows again. */
  resume(): void {
    this.open()
    this.#up?.arm()
    this.#down?.arm()
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    clearTimeout(this.#resetTimer)
    this.#up?.stop()
    this.#down?.stop()
    this.#inbound.destroy()
    this.#outbound?.destroy()
    this.#link.forget(this)
  }
}

/** A loopback port whose connections reach `target` through a lossy path. */
export class LossyLink {
  readonly target: { host: string; port: number }
  /** The link's behaviour now; {@link impair} changes it. */
  readonly init: Required<LossInit>
  readonly stats: LinkStats = { connections: 0, chunks: 0, retransmitted: 0, resets: 0 }
  #server: Server | undefined
  readonly #pairs = new Set<Pair>()
  #partitioned = false

  constructor(target: { host: string; port: number }, init: LossInit = {}) {
    this.target = target
    this.init = {
      loss: init.loss ?? 0,
      latencyMs: init.latencyMs ?? 0,
      retransmitMs: init.retransmitMs ?? 200,
      resetMeanMs: init.resetMeanMs ?? 0,
      random: init.random ?? Math.random,
    }
  }

  get partitioned(): boolean {
    return this.#partitioned
  }

  /** The port peers dial (loopback). */
  get port(): number {
    const address = this.#server?.address()
    if (address === null || address === undefined || typeof address === 'string') throw new Error('link not started')
    return address.port
  }

  async start(): Promise<void> {
    const server = createServer((socket) => {
      this.stats.connections++
      this.#pairs.add(new Pair(this, socket))
    })
    this.#server = server
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => resolve())
    })
  }

  /**
   * What a chunk of `bytes` waits: latency, plus for each of its segments that is lost the
   * retransmission timeouts until it gets through (doubling after each loss in a row, as TCP
   * backs off); the chunk waits for its slowest segment.
   */
  delayOf(bytes: number): number {
    const { loss, latencyMs, retransmitMs, random } = this.init
    this.stats.chunks++
    let worstMs = 0
    for (let segment = 0; segment < Math.max(1, Math.ceil(bytes / SEGMENT_BYTES)); segment++) {
      let waitMs = 0
      let rto = retransmitMs
      while (random() < loss) {
        waitMs += rto
        rto *= 2
      }
      worstMs = Math.max(worstMs, waitMs)
    }
    if (worstMs > 0) this.stats.retransmitted++
    return latencyMs + worstMs
  }

  /** Changes loss, latency or resets from now on (a peer may join over a clean link, then suffer). */
  impair(init: Omit<LossInit, 'random'>): void {
    Object.assign(this.init, init)
    for (const pair of this.#pairs) pair.scheduleReset()
  }

  /** Nothing crosses the link until {@link heal}: connections stall, new ones are held. */
  partition(): void {
    this.#partitioned = true
  }

  heal(): void {
    this.#partitioned = false
    for (const pair of this.#pairs) pair.resume()
  }

  /** Resets every connection through the link now. */
  reset(): void {
    for (const pair of [...this.#pairs]) pair.close()
  }

  forget(pair: Pair): void {
    this.#pairs.delete(pair)
  }

  async stop(): Promise<void> {
    this.reset()
    const server = this.#server
    this.#server = undefined
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()))
  }
}
