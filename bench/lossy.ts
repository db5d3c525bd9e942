/**
 * Delivery under loss (issue 12), for `npm run bench`: the room scenario of
 * `test/lossy-network.test.ts` (test/helpers/lossy-room.ts), smaller by default. A real relay
 * process with its store and in-process sdk peers, each behind a lossy link (TCP segments lost
 * and retransmitted, random resets), some churning, half of them partitioned for a while.
 *
 * Figures: how much gossip delivered live (within `LIVE_WINDOW_MS` of the send, before any repair
 * could act), how much every peer had at the end, and how long after the last send (and after
 * the partition healed) every peer had every message. A run that never converges reports NaN
 * convergence and a final delivery below 1, and prints who misses what.
 */
import { runLossyRoom } from '../test/helpers/lossy-room.ts'
import type { BenchRecord } from './types.ts'

export const DEFAULT_PEERS = 10
export const DEFAULT_SENDERS = 3
export const DEFAULT_LOSS_PERCENT = 10
export const DEFAULT_CHURN_PERCENT = 20
export const DEFAULT_PARTITION_MS = 20_000
/** No resets of our own by default: under loss libp2p drops stalled connections by itself. */
export const DEFAULT_RESET_MEAN_MS = 0
export const DEFAULT_DEADLINE_MS = 240_000

export interface LossyBenchConfig {
  peers: number
  senders: number
  lossPercent: number
  churnPercent: number
  partitionMs: number
  resetMeanMs: number
  deadlineMs: number
  seed: number
}

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): LossyBenchConfig {
  const int = (name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const raw = env[name]
    if (raw === undefined || raw === '') return fallback
    const value = Number(raw)
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new RangeError(`${name} must be an integer from ${min} to ${max}, got ${raw}`)
    }
    return value
  }
  return {
    peers: int('BENCH_LOSSY_PEERS', DEFAULT_PEERS, 2),
    senders: int('BENCH_LOSSY_SENDERS', DEFAULT_SENDERS, 1),
    lossPercent: int('BENCH_LOSSY_LOSS', DEFAULT_LOSS_PERCENT, 0, 90),
    churnPercent: int('BENCH_LOSSY_CHURN', DEFAULT_CHURN_PERCENT, 0, 100),
    partitionMs: int('BENCH_LOSSY_PARTITION_MS', DEFAULT_PARTITION_MS, 0),
    resetMeanMs: int('BENCH_LOSSY_RESET_MEAN_MS', DEFAULT_RESET_MEAN_MS, 0),
    deadlineMs: int('BENCH_LOSSY_DEADLINE_MS', DEFAULT_DEADLINE_MS, 1),
    seed: int('BENCH_LOSSY_SEED', Math.floor(Math.random() * 2 ** 32), 0),
  }
}

export async function run(config: LossyBenchConfig = configFromEnv()): Promise<BenchRecord[]> {
  const log = (line: string): void => console.log(line)
  log(`lossy: ${JSON.stringify(config)}`)
  const result = await runLossyRoom({
    peers: config.peers,
    senders: Math.min(config.senders, config.peers),
    churn: config.churnPercent / 100,
    loss: config.lossPercent / 100,
    resetMeanMs: config.resetMeanMs,
    beforeMs: 15_000,
    partitionMs: config.partitionMs,
    afterMs: 5_000,
    downMs: 5_000,
    sendIntervalMs: 1_000,
    timeoutMs: config.deadlineMs,
    seed: config.seed,
    log,
  })
  log(`lossy: result ${JSON.stringify(result)}`)
  return [
    { name: 'lossy.sent', unit: 'messages', value: result.sent },
    { name: 'lossy.delivery.live', unit: 'ratio', value: result.liveDelivery },
    { name: 'lossy.delivery.final', unit: 'ratio', value: result.finalDelivery },
    { name: 'lossy.convergence.after_last_send', unit: 'ms', value: result.convergenceMs ?? Number.NaN },
    { name: 'lossy.convergence.after_heal', unit: 'ms', value: result.convergenceFromHealMs ?? Number.NaN },
    {
      name: 'lossy.retransmitted',
      unit: 'ratio',
      value: result.links.retransmitted / Math.max(1, result.links.chunks),
    },
    { name: 'lossy.resets', unit: 'connections', value: result.links.resets },
  ]
}
