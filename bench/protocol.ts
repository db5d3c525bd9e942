/**
 * The IPC protocol between `bench/rooms.ts` (the parent) and its child processes
 * (`bench/peer.ts`, `bench/relay.ts`). Every command gets exactly one reply with the same id;
 * children also emit events that the parent waits for (no polling, no fixed sleeps).
 */

import type { OutgoingStats } from '@securechat/sdk/types'

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

export type RelayCommands = {
  start: { command: { type: 'start' }; result: { multiaddr: string; peerId: string } }
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
