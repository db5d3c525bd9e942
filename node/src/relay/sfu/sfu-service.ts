/**
 * The relay's forwarding unit (issue 17, larger calls; docs/larger-calls.md): Janus's VideoRoom run as a child of the
 * relay (`janus-process.ts`), offered to room members over `SFU_PROTOCOL` (`@securechat/sdk/calls`, `sfu-wire.ts`:
 * the contract). The protocol is registered only once Janus runs, so identify tells devices this relay has one.
 *
 * One stream is one device in one call. Its first frame is `join {topic, call}`, read within
 * {@link SFU_JOIN_READ_TIMEOUT_MS}: only a room topic this relay serves and only its own room client (presence checked
 * here, token gate included, waited for as file pins do); DM calls stay a mesh. Each (topic, call) is one Janus room
 * the relay creates at the first join (its own number, a random secret, private, Opus and VP8, no recording, the
 * publisher cap) and destroys when its last device leaves. Bounds: {@link SFU_STREAMS_PER_PEER} streams per peer,
 * `maxPublishers` devices per call, `maxCalls` calls, frames of `MAX_SFU_FRAME_BYTES`. A refusal is a `refused` frame
 * with a hint, then the stream closes; it is counted by reason and logged once per offender (`refusals.ts`). Joins are
 * rate-limited per peer ({@link SFU_JOIN_BURST}, {@link SFU_JOINS_PER_SECOND}): each costs Janus a session.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Connection, Stream } from '@libp2p/interface'
import { type LengthPrefixedStream, lpStream } from '@libp2p/utils'
import {
  decodeSfuRequest,
  encodeSfuEvent,
  MAX_SFU_FEEDS,
  MAX_SFU_FRAME_BYTES,
  SFU_PROTOCOL,
  SFU_REFUSAL_REASONS,
  type SfuRefusalReason,
} from '@securechat/sdk/calls'
import { ROOM_TOPIC_PREFIX } from '@securechat/sdk/constants'
import type { Logger } from '@securechat/sdk/logger'
import type { RelayComponents, RelayService } from '../create-relay.ts'
import { becomesMember } from '../member-wait.ts'
import type { Metric } from '../metrics.ts'
import { RateLimiter } from '../rate-limit.ts'
import {
  SFU_DIR,
  SFU_JANUS_BIN,
  SFU_JOIN_BURST,
  SFU_JOIN_RATE_MAX_PEERS,
  SFU_JOIN_READ_TIMEOUT_MS,
  SFU_JOINS_PER_SECOND,
  SFU_MAX_CALLS,
  SFU_MAX_PUBLISHERS,
  SFU_MEMBER_POLL_MS,
  SFU_MEMBER_RECHECK_MS,
  SFU_MEMBER_WAIT_MS,
  SFU_RTP_PORTS,
  SFU_STREAMS_PER_PEER,
} from './constants.ts'
import { JanusError } from './janus-api.ts'
import { JanusProcess, type JanusRun, JanusStartError } from './janus-process.ts'
import { SfuCalls } from './sfu-calls.ts'
import { sfuMetrics } from './sfu-metrics.ts'
import { SfuRefusal, SfuStream } from './sfu-stream.ts'

export interface SfuInit {
  /** `--sfu-janus-bin`; default {@link SFU_JANUS_BIN}. */
  janusBin?: string
  /** `--sfu-rtp-ports`, `first-last`; default {@link SFU_RTP_PORTS}. */
  rtpPorts?: string
  /** `--sfu-interface`: Janus's `ice_enforce_list`. */
  interface?: string
  /** `--sfu-public-ip`: Janus's `nat_1_1_mapping`. */
  publicIp?: string
  /** `--sfu-max-publishers`: devices per call; default {@link SFU_MAX_PUBLISHERS}, at most `MAX_SFU_FEEDS`. */
  maxPublishers?: number
  /** `--sfu-max-calls`; default {@link SFU_MAX_CALLS}. */
  maxCalls?: number
  /** How long a join waits for its presence; default {@link SFU_MEMBER_WAIT_MS}. */
  memberWaitMs?: number
}

export type SfuOutcome = 'joined' | SfuRefusalReason

export interface SfuStats {
  /** Janus runs and the protocol is served. */
  up: boolean
  /** Why there is no forwarding unit at all (Janus missing), if so. */
  disabled: string | undefined
  /** The running Janus's process id. */
  pid: number | undefined
  /** Janus sessions the relay holds: one per device, and its own that creates rooms. */
  janusSessions: number
  calls: number
  devices: number
  feeds: number
  joins: Record<SfuOutcome, number>
  roomsCreated: number
  roomsDestroyed: number
  restarts: number
}

export interface SfuService extends RelayService {
  start(): Promise<void>
  stop(): Promise<void>
  stats(): SfuStats
  metrics(): Metric[]
}

/** What the device is told to do next, by reason. */
const HINTS: Record<SfuRefusalReason, string> = {
  malformed: 'Update the app: it spoke the SFU protocol out of order or out of bounds.',
  'not-a-member':
    'Join the room on this relay first (your presence must reach it), then join the call; DM calls stay peer to peer.',
  full: 'Keep the call a mesh, or use another of the room’s relays with a forwarding unit; try again later.',
  unavailable: 'Keep the call a mesh for now, or try again in a minute: the relay’s forwarding unit is down.',
}

/** The relay's refusal counts (`refusals.ts`) of a peer's doing. */
const REFUSAL = {
  malformed: 'sfu-malformed',
  'not-a-member': 'sfu-not-a-member',
  full: 'sfu-full',
} as const satisfies Record<Exclude<SfuRefusalReason, 'unavailable'>, string>

const OUTCOMES: readonly SfuOutcome[] = ['joined', ...SFU_REFUSAL_REASONS]

/** Janus's and VideoRoom's error codes that mean the device sent what cannot be used (an SDP it rejects). */
const MALFORMED_CODES = new Set([464, 465, 469, 431, 437])
/** VideoRoom's "maximum number of publishers reached". */
const PUBLISHERS_FULL = 432

/** The relay's forwarding unit, as a relay service (`createRelay({ services: { sfu: sfu(init) } })`). */
export function sfu(init: SfuInit = {}): (components: RelayComponents) => SfuService {
  return (components) => new Sfu(init, components)
}

class Sfu implements SfuService {
  readonly #components: RelayComponents
  readonly #log: Logger
  readonly #init: SfuInit
  #janus: JanusProcess | undefined
  #dir: string | undefined
  #tempDir = false
  #handling = false
  #disabled: string | undefined
  #stopping = new AbortController()
  readonly #calls: SfuCalls
  readonly #perPeer = new Map<string, number>()
  readonly #joinRate = new RateLimiter({
    perSecond: SFU_JOINS_PER_SECOND,
    burst: SFU_JOIN_BURST,
    maxClients: SFU_JOIN_RATE_MAX_PEERS,
  })
  readonly #joins = Object.fromEntries(OUTCOMES.map((outcome) => [outcome, 0])) as Record<SfuOutcome, number>

  constructor(init: SfuInit, components: RelayComponents) {
    this.#components = components
    this.#init = init
    this.#log = components.logger('securechat:node:sfu')
    this.#calls = new SfuCalls({
      maxPublishers: Math.min(init.maxPublishers ?? SFU_MAX_PUBLISHERS, MAX_SFU_FEEDS),
      maxCalls: init.maxCalls ?? SFU_MAX_CALLS,
      log: this.#log,
    })
  }

  async start(): Promise<void> {
    this.#stopping = new AbortController()
    this.#disabled = undefined
    const { hasDataDir } = this.#components
    this.#tempDir = !hasDataDir
    this.#dir = hasDataDir
      ? join(this.#components.dataDir('forwarding unit'), SFU_DIR)
      : await mkdtemp(join(tmpdir(), 'securechat-sfu-'))
    const janus = new JanusProcess({
      bin: this.#init.janusBin ?? SFU_JANUS_BIN,
      dir: this.#dir,
      rtpPorts: this.#init.rtpPorts ?? SFU_RTP_PORTS,
      ...(this.#init.interface === undefined ? {} : { interface: this.#init.interface }),
      ...(this.#init.publicIp === undefined ? {} : { publicIp: this.#init.publicIp }),
      log: this.#log,
      onUp: (run) =>
        void this.#up(run).catch((err: unknown) =>
          this.#log.error('the SFU protocol could not be served', { event: 'sfu:unserved', error: String(err) }),
        ),
      onDown: () => this.#down('Janus died'),
    })
    this.#janus = janus
    try {
      await janus.start()
    } catch (err) {
      if (!(err instanceof JanusStartError)) throw err
      // The relay runs without a forwarding unit: calls stay meshes. Said once, loudly, with what to do.
      this.#disabled = err.message
      this.#janus = undefined
      await janus.stop()
      this.#log.warn(`no forwarding unit: ${err.message}; calls through this relay stay meshes`, {
        event: 'sfu:unavailable',
        error: err.message,
        hint: err.hint,
      })
    }
  }

  async stop(): Promise<void> {
    this.#stopping.abort(new DOMException('the relay is stopping', 'AbortError'))
    if (this.#handling) {
      this.#handling = false
      await this.#components.node.libp2p.unhandle(SFU_PROTOCOL).catch(() => undefined)
    }
    await this.#endAll('unavailable', 'the relay is stopping')
    this.#calls.setRun(undefined)
    await this.#janus?.stop()
    this.#janus = undefined
    if (this.#tempDir && this.#dir !== undefined) await rm(this.#dir, { recursive: true, force: true })
  }

  stats(): SfuStats {
    const run = this.#calls.run
    return {
      up: run !== undefined && this.#handling,
      disabled: this.#disabled,
      pid: this.#janus?.pid,
      janusSessions: run?.api.openSessions ?? 0,
      ...this.#calls.counts(),
      joins: { ...this.#joins },
      roomsCreated: this.#calls.roomsCreated,
      roomsDestroyed: this.#calls.roomsDestroyed,
      restarts: this.#janus?.restarts ?? 0,
    }
  }

  metrics(): Metric[] {
    return sfuMetrics(this.stats())
  }

  async #up(run: JanusRun): Promise<void> {
    this.#calls.setRun(run)
    if (this.#handling || this.#stopping.signal.aborted) return
    this.#handling = true
    await this.#components.node.libp2p.handle(SFU_PROTOCOL, (stream, connection) => this.#serve(stream, connection), {
      runOnLimitedConnection: false,
      // The per-peer bound below is the real one; this one keeps a connection from opening many streams that wait.
      maxInboundStreams: SFU_STREAMS_PER_PEER * 2,
    })
  }

  /** Janus died: everything it held is gone; every device is told, and joins are refused until it is back. */
  #down(why: string): void {
    this.#calls.setRun(undefined)
    void this.#endAll('unavailable', why)
  }

  async #endAll(reason: SfuRefusalReason, message: string): Promise<void> {
    await Promise.all(this.#calls.takeAll().map((device) => this.#end(device, reason, message)))
  }

  async #serve(stream: Stream, connection: Connection): Promise<void> {
    const peer = connection.remotePeer.toString()
    const lp = lpStream(stream, { maxDataLength: MAX_SFU_FRAME_BYTES })
    const open = this.#perPeer.get(peer) ?? 0
    this.#perPeer.set(peer, open + 1)
    let device: SfuStream | undefined
    try {
      if (open >= SFU_STREAMS_PER_PEER) {
        throw new SfuRefusal('full', `at most ${SFU_STREAMS_PER_PEER} SFU streams per device at once`)
      }
      const join = await this.#readJoin(lp, peer)
      if (this.#stopping.signal.aborted) throw new SfuRefusal('unavailable', 'the relay is stopping')
      const admitted = this.#calls.place(
        join,
        (call, feed) =>
          new SfuStream({
            peer,
            call,
            feed,
            stream,
            lp,
            log: this.#log,
            onFeedsChanged: (changed) => {
              for (const other of changed.streams) other.sendFeeds()
            },
            onLost: (lost) => void this.#end(lost, 'unavailable', 'the forwarding unit lost this device’s session'),
          }),
      )
      device = admitted.device
      // Its place is taken before Janus is asked, so the caps hold while joins are under way.
      await device.call.ready
      await device.open(admitted.run)
      this.#joins.joined += 1
      this.#log.debug('device joined a call', { event: 'sfu:joined', peer, topic: join.topic, call: join.call })
      device.sendFeeds()
      const recheck = setInterval(() => {
        if (!this.#components.node.isRoomClient(join.topic, peer)) {
          void this.#end(device!, 'not-a-member', 'the device is no longer a member of the room on this relay')
        }
      }, SFU_MEMBER_RECHECK_MS)
      recheck.unref()
      try {
        await this.#frames(device, lp)
      } finally {
        clearInterval(recheck)
      }
    } catch (err) {
      const refusal = toRefusal(err)
      if (refusal !== undefined) {
        if (device !== undefined) await this.#end(device, refusal.reason, refusal.message, peer)
        else await this.#refuseUnjoined(stream, lp, peer, refusal.reason, refusal.message)
      } else {
        // The device left (closed, reset, disconnected): nothing to tell it.
        this.#log.debug('SFU stream ended', { peer, error: String(err) })
      }
    } finally {
      if (device !== undefined) {
        await device.end()
        await this.#calls.leave(device)
      }
      const left = (this.#perPeer.get(peer) ?? 1) - 1
      if (left > 0) this.#perPeer.set(peer, left)
      else this.#perPeer.delete(peer)
    }
  }

  async #readJoin(lp: LengthPrefixedStream<Stream>, peer: string): Promise<{ topic: string; call: string }> {
    let frame: Uint8Array
    try {
      frame = (await lp.read({ signal: AbortSignal.timeout(SFU_JOIN_READ_TIMEOUT_MS) })).subarray()
    } catch (err) {
      // Too large, or nothing in time: malformed; a stream gone: nothing to answer (`toRefusal` lets it through).
      if ((err as Error).name?.startsWith('InvalidDataLength')) {
        throw new SfuRefusal('malformed', `a frame over ${MAX_SFU_FRAME_BYTES} bytes`)
      }
      if ((err as Error).name === 'TimeoutError' || (err as Error).name === 'AbortError') {
        throw new SfuRefusal('malformed', `no join within ${SFU_JOIN_READ_TIMEOUT_MS / 1000} s`)
      }
      throw err
    }
    const decoded = decodeSfuRequest(frame)
    if (!decoded.ok) throw new SfuRefusal('malformed', `malformed join: ${decoded.reason}`)
    if (decoded.value.op !== 'join')
      throw new SfuRefusal('malformed', `the first frame must be join, not ${decoded.value.op}`)
    const { topic, call } = decoded.value
    if (!this.#joinRate.take(peer).allowed) {
      throw new SfuRefusal('full', `more than ${SFU_JOIN_BURST} joins at once from this device; join again in a moment`)
    }
    const { node } = this.#components
    if (!topic.startsWith(ROOM_TOPIC_PREFIX)) {
      throw new SfuRefusal('not-a-member', 'this relay forwards room calls only; DM calls stay peer to peer')
    }
    const member = await becomesMember({
      node,
      peer,
      isMember: () => node.isRoomClient(topic, peer),
      mayBecomeMember: node.servesRoom(topic),
      waitMs: this.#init.memberWaitMs ?? SFU_MEMBER_WAIT_MS,
      pollMs: SFU_MEMBER_POLL_MS,
      signal: this.#stopping.signal,
    })
    if (!member) throw new SfuRefusal('not-a-member', 'the device is not a member of this room on this relay')
    return { topic, call }
  }

  async #frames(device: SfuStream, lp: LengthPrefixedStream<Stream>): Promise<void> {
    while (!device.ended) {
      let frame: Uint8Array
      try {
        frame = (await lp.read({ signal: this.#stopping.signal })).subarray()
      } catch (err) {
        if ((err as Error).name?.startsWith('InvalidDataLength')) {
          throw new SfuRefusal('malformed', `a frame over ${MAX_SFU_FRAME_BYTES} bytes`)
        }
        throw err
      }
      const decoded = decodeSfuRequest(frame)
      if (!decoded.ok) throw new SfuRefusal('malformed', `malformed frame: ${decoded.reason}`)
      const request = decoded.value
      if (request.op === 'join') throw new SfuRefusal('malformed', 'join comes once, first; a new call is a new stream')
      await device.handle(request)
    }
  }

  /** A device's refusal after its join: sent, counted, logged (once per offender), its stream ended. */
  async #end(device: SfuStream, reason: SfuRefusalReason, message: string, peer = device.peer): Promise<void> {
    if (device.ended) return
    this.#count(peer, reason, message, { topic: device.call.topic, call: device.call.call })
    await device.end({ reason, message, hint: HINTS[reason] })
  }

  async #refuseUnjoined(
    stream: Stream,
    lp: LengthPrefixedStream<Stream>,
    peer: string,
    reason: SfuRefusalReason,
    message: string,
  ): Promise<void> {
    this.#count(peer, reason, message, {})
    const signal = AbortSignal.timeout(SFU_JOIN_READ_TIMEOUT_MS)
    const abort = (err: unknown): void => stream.abort(err instanceof Error ? err : new Error(String(err)))
    try {
      await lp.write(encodeSfuEvent({ op: 'refused', reason, message, hint: HINTS[reason] }), { signal })
      // Not waited for: a device that never closes its side must not hold its place in the per-peer bound.
      stream.close({ signal }).catch(abort)
    } catch (err) {
      abort(err)
    }
  }

  #count(peer: string, reason: SfuRefusalReason, message: string, fields: Record<string, unknown>): void {
    this.#joins[reason] += 1
    // `unavailable` is the relay's own state, not the peer's doing: counted, not logged as an offender's.
    if (reason !== 'unavailable') {
      this.#components.node.limits.refusals.refuse(REFUSAL[reason], peer, { ...fields, detail: message })
    } else {
      this.#log.debug('SFU stream refused: unavailable', { peer, ...fields, detail: message })
    }
  }
}

/** What a failure tells the device: a refusal, or Janus's failure as `unavailable` (or `malformed`/`full`). */
function toRefusal(err: unknown): SfuRefusal | undefined {
  if (err instanceof SfuRefusal) return err
  if (err instanceof JanusError) {
    if (err.code !== undefined && MALFORMED_CODES.has(err.code)) return new SfuRefusal('malformed', err.message)
    if (err.code === PUBLISHERS_FULL) return new SfuRefusal('full', err.message)
    return new SfuRefusal('unavailable', err.message)
  }
  return undefined
}
