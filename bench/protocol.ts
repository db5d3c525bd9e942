/**
 * The IPC protocol between `bench/rooms.ts` (the parent) and its child processes
 * (`bench/peer.ts`, `bench/relay.ts`). Every command gets exactly one reply with the same id;
 * children also emit events that the parent waits for (no polling, no fixed sleeps).
 */

import type { SignedManifest } from '@securechat/sdk/rooms'
import type { OutgoingStats } from '@securechat/sdk/types'
import type { RelayLimitsInit } from '../node/src/relay/limits.ts'
import type { RecordRatesInit } from '../node/src/relay/record-rates.ts'
import type { RelayStats } from '../node/src/relay/relay.ts'

/** `room`: SecureChat room records; `bare`: plain gossipsub on a plain topic. */
export type Mode = 'room' | 'bare'

export interface Measurement {
  /** One-way delivery latencies in ms (receive time minus the send time the message carries). */
  latenciesMs: number[]
  received: number
  /** Absolute times (`performance.timeOrigin + performance.now()`) of the first and last receipt. */
  firstAtMs: number | undefined
  lastAtMs: number | undefined
  /** Largest room message record seen while armed with `sizeRecords`, in bytes. */
  maxRoomRecordBytes: number
  /** Connections this peer lost meanwhile (libp2p `connection:close`). */
  connectionsClosed: number
  /** Room messages this peer could not decrypt meanwhile (`message:undecryptable`). */
  undecryptable: number
}

export interface SendReport {
  startAtMs: number
  endAtMs: number
  sent: number
  failed: number
  /** Publishes that reached no neighbour (gossipsub had no peer for the topic). */
  unrouted: number
}

export type PeerCommands = {
  /** Answered once the process has loaded its modules. */
  hello: { command: { type: 'hello' }; result: Record<string, never> }
  start: {
    command: { type: 'start'; bootstrap: string; timeoutMs: number }
    result: { peerId: string; address: string }
  }
  'create-room': { command: { type: 'create-room' }; result: { invite: string; topic: string } }
  join: { command: { type: 'join'; invite: string }; result: { topic: string } }
  'subscribe-bare': { command: { type: 'subscribe-bare'; topic: string }; result: Record<string, never> }
  /**
   * Receivers: record messages of `phase` from now on. `expected` > 0 emits `complete` once that
   * many arrived; `expected` = 0 is a readiness probe that emits `ready` on the first message
   * once this peer's mesh for the topic is not empty.
   */
  arm: {
    /** `sizeRecords`: also measure the room's message records (costs a JSON parse; warm-up only). */
    command: { type: 'arm'; mode: Mode; phase: number; expected: number; sizeRecords?: boolean }
    result: Record<string, never>
  }
  /** Sender: publish one message of `phase` every `intervalMs` until `warmup-stop`. */
  'warmup-start': {
    command: { type: 'warmup-start'; mode: Mode; phase: number; intervalMs: number; payload: PayloadSize }
    result: Record<string, never>
  }
  'warmup-stop': { command: { type: 'warmup-stop' }; result: SendReport }
  /** Sender: `count` messages at `rate` per second, on a fixed schedule. */
  paced: {
    command: { type: 'paced'; mode: Mode; phase: number; count: number; rate: number; payload: PayloadSize }
    result: SendReport
  }
  /** Sender: `count` messages as fast as it can publish them. */
  burst: {
    command: { type: 'burst'; mode: Mode; phase: number; count: number; payload: PayloadSize }
    result: SendReport
  }
  /**
   * Sender: resolves once its room's outgoing buffer is empty (every member acknowledged every
   * message, or it gave up) or after `timeoutMs`; its counts either way.
   */
  'await-acknowledged': {
    command: { type: 'await-acknowledged'; timeoutMs: number }
    result: OutgoingStats & { timedOut: boolean }
  }
  /** Receivers: what was recorded since the last `arm`. */
  collect: { command: { type: 'collect' }; result: Measurement }
  cpu: { command: { type: 'cpu' }; result: CpuReport }
  stop: { command: { type: 'stop' }; result: Record<string, never> }
}

/** CPU time this process has used so far (user + system). */
export interface CpuReport {
  cpuUs: number
}

export function cpuReport(): CpuReport {
  const { user, system } = process.cpuUsage()
  return { cpuUs: user + system }
}

/** Room mode sends a text of `textBytes`; bare mode publishes `bareBytes` raw bytes. */
export interface PayloadSize {
  textBytes: number
  bareBytes: number
}

/** What the relay process holds and has used, for the scale suites. */
export interface RelayUsage extends CpuReport {
  /** When it was read, on the relay's clock (`nowMs`): rates divide by the time between two readings. */
  atMs: number
  rssBytes: number
  heapUsedBytes: number
  /** Memory outside the V8 heap: `external` plus `arrayBuffers` (connection buffers). */
  externalBytes: number
  /** Bytes read and written by system calls since the process started (`/proc/self/io`: sockets, IPC, files). */
  readBytes: number
  writtenBytes: number
  connections: number
  stats: RelayStats
  /** Event-loop delay since the previous `usage` (`monitorEventLoopDelay`, 10 ms resolution). */
  loopDelayMs: { p50: number; p99: number; max: number }
  /** The longest garbage collection since the last report (V8's `gc` performance entries), in ms. */
  gcMaxMs: number
}

export type RelayCommands = {
  start: {
    command: { type: 'start'; limits?: RelayLimitsInit; recordRates?: RecordRatesInit }
    result: { multiaddr: string; peerId: string }
  }
  subscribe: { command: { type: 'subscribe'; topic: string }; result: Record<string, never> }
  /**
   * Resolves once every one of `peers` is in the relay's mesh for `topic`, or the mesh is full
   * (the relay keeps at most RELAY_MESH_MAX_PEERS in it), or `timeoutMs` passed; says which.
   */
  'await-mesh': {
    command: { type: 'await-mesh'; topic: string; peers: string[]; timeoutMs: number }
    result: { inMesh: number; wanted: number; timedOut: boolean }
  }
  stats: {
    command: { type: 'stats' }
    result: { rooms: number; connections: number; accepted: number; rejected: number }
  }
  /** `gc`: collect garbage first (the process runs with `--expose-gc`), so the heap is what is held. */
  usage: { command: { type: 'usage'; gc: boolean }; result: RelayUsage }
  cpu: { command: { type: 'cpu' }; result: CpuReport }
  stop: { command: { type: 'stop' }; result: Record<string, never> }
}

export type CommandMap = Record<string, { command: { type: string }; result: unknown }>
export type CommandOf<M extends CommandMap> = M[keyof M]['command']
export type ResultOf<M extends CommandMap, C extends { type: string }> = M[C['type']]['result']

export type ChildEvent = { type: 'ready'; phase: number } | { type: 'complete'; phase: number }

/** Parent → child. */
export interface RequestEnvelope {
  id: number
  command: { type: string }
}

/** Child → parent. */
export type ChildEnvelope =
  | { kind: 'reply'; id: number; ok: true; result: unknown }
  | { kind: 'reply'; id: number; ok: false; error: string }
  | { kind: 'event'; event: ChildEvent }

/** One clock for every process on this machine, with sub-millisecond resolution. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now()
}

/** A room record's type as a light client tells it (`other`: anything else on the topic). */
export type RecordKind = 'presence' | 'message' | 'keys' | 'other'

/** What the light clients of one `swarm.ts` process received since the last `arm`. */
export interface SwarmCounters {
  /** Records delivered to its clients (each client counts its own), by type. */
  records: Record<RecordKind, number>
  /** Their bytes (the gossip message's data), by type. */
  bytes: Record<RecordKind, number>
  /** One-way latencies of the armed phase's message records, one per client and message. */
  latenciesMs: number[]
  /** When each keys record naming a client arrived there (one per client and record). */
  keysAtMs: number[]
  /** Copies of a message record or of a client's keys record that reached a client that already had it (not counted above). */
  duplicates: number
}

export type SwarmCommands = {
  hello: { command: { type: 'hello' }; result: Record<string, never> }
  /** Starts `count` clients, each dialling `relay`, at most `concurrency` at a time. */
  connect: {
    command: { type: 'connect'; relay: string; count: number; concurrency: number; timeoutMs: number }
    result: { connected: number; failed: number; ms: number }
  }
  /**
   * Every client not in a room joins `roomsEach` (default 1): client `i` of this process is client `g = first + i`
   * of the run and joins rooms `(g × roomsEach + r) % rooms` for `r < roomsEach`. Answered once each announced itself
   * in each (or `timeoutMs` passed; `announced` counts memberships); presence then goes on every `presenceIntervalMs`.
   */
  join: {
    command: {
      type: 'join'
      manifests: SignedManifest[]
      roomIds: string[]
      first: number
      roomsEach?: number
      presenceIntervalMs: number
      timeoutMs: number
    }
    result: { announced: number }
  }
  leave: { command: { type: 'leave' }; result: Record<string, never> }
  peerIds: { command: { type: 'peerIds' }; result: { peerIds: string[] } }
  /** Resets the counters; message latencies are kept for `phase` only. */
  arm: { command: { type: 'arm'; phase: number }; result: Record<string, never> }
  /** What arrived since the last `arm`. */
  collect: { command: { type: 'collect' }; result: SwarmCounters }
  /** The process's first client sends `count` message records at `ratePerS` (ciphertext of `textBytes`). */
  send: {
    command: { type: 'send'; phase: number; count: number; ratePerS: number; textBytes: number }
    result: { startAtMs: number; endAtMs: number }
  }
  /**
   * The first client publishes a sender key to `members`: keys records of `perRecord` entries of `entryChars`,
   * `sealed` (a new pairwise channel) or `wrapped` (the next step of one).
   */
  'send-keys': {
    command: {
      type: 'send-keys'
      epoch: number
      members: string[]
      entry: 'sealed' | 'wrapped'
      entryChars: number
      perRecord: number
    }
    /** `unsent`: records gossipsub published to no neighbour (the sender did not see the relay in the room). */
    result: { startAtMs: number; endAtMs: number; records: number; bytes: number; unsent: number }
  }
  /** `connected`: clients with a connection open; `closed`: connections closed so far; loop delay since the last `usage`. */
  usage: {
    command: { type: 'usage' }
    result: CpuReport & { rssBytes: number; clients: number; connected: number; closed: number; loopDelayMaxMs: number }
  }
  cpu: { command: { type: 'cpu' }; result: CpuReport }
  stop: { command: { type: 'stop' }; result: Record<string, never> }
}
