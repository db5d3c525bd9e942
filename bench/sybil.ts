/**
 * Honest delivery and latency under a sybil flood (issue 13), beside the same run without it, for `npm run bench`:
 * the scenario of `test/sybil-flood.test.ts` (test/helpers/sybil-flood.ts) — a real `securechat relay` process with
 * its defaults, two in-process members, and for the flooded run ten bare libp2p peers publishing invalid records,
 * then ten devices of one wallet publishing valid records until the relay cuts them off. Reported, not asserted.
 *
 * Each figure of the flooded run has the clean run as its baseline (`ratio` = flooded / clean).
 */
import { runSybilFlood, type SybilFloodResult } from '../test/helpers/sybil-flood.ts'
import type { BenchRecord } from './types.ts'

export const DEFAULT_SYBILS = 10
export const DEFAULT_MESSAGES = 200
export const DEFAULT_PACE_MS = 50
/** Each wait of a run: the valid phase waits this long at most for every device to be scored out, then as long to be cut off. */
export const DEFAULT_TIMEOUT_MS = 60_000

export interface SybilBenchConfig {
  sybils: number
  messages: number
  paceMs: number
  timeoutMs: number
}

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): SybilBenchConfig {
  const int = (name: string, fallback: number, min: number): number => {
    const raw = env[name]
    if (raw === undefined || raw === '') return fallback
    const value = Number(raw)
    if (!Number.isInteger(value) || value < min) throw new RangeError(`${name} must be an integer ≥ ${min}, got ${raw}`)
    return value
  }
  return {
    sybils: int('BENCH_SYBILS', DEFAULT_SYBILS, 1),
    messages: int('BENCH_SYBIL_MESSAGES', DEFAULT_MESSAGES, 2),
    paceMs: int('BENCH_SYBIL_PACE_MS', DEFAULT_PACE_MS, 0),
    timeoutMs: int('BENCH_SYBIL_TIMEOUT_MS', DEFAULT_TIMEOUT_MS, 1),
  }
}

export async function run(config: SybilBenchConfig = configFromEnv()): Promise<BenchRecord[]> {
  const log = (line: string): void => console.log(line)
  log(`sybil: ${JSON.stringify(config)}`)
  const clean = await runSybilFlood({ ...config, floods: [], log })
  log(`sybil: clean ${JSON.stringify(summary(clean))}`)
  const flooded = await runSybilFlood({ ...config, floods: ['invalid', 'valid'], log })
  log(`sybil: flooded ${JSON.stringify(summary(flooded))}`)
  const beside = (name: string, unit: string, of: (result: SybilFloodResult) => number): BenchRecord => {
    const value = of(flooded)
    const baseline = of(clean)
    return { name, unit, value, baseline, ratio: value / baseline }
  }
  const records = [
    beside('sybil.delivery', 'ratio', (r) => r.received / r.sent),
    beside('sybil.latency.p50', 'ms', (r) => percentile(r.latenciesMs, 0.5)),
    beside('sybil.latency.p99', 'ms', (r) => percentile(r.latenciesMs, 0.99)),
    beside('sybil.relay.cpu', 'ms', (r) => r.relayCpuMs),
    beside('sybil.relay.peak_rss', 'MiB', (r) => r.relayPeakRssBytes / 2 ** 20),
    // Not beside the clean run: it logs nothing while the members chat, so the ratio would be infinite.
    { name: 'sybil.relay.log_lines', unit: 'lines', value: flooded.relayLines.length },
    { name: 'sybil.flood.invalid_records', unit: 'records', value: sentBy(flooded, 'invalid') },
    { name: 'sybil.flood.valid_records', unit: 'records', value: sentBy(flooded, 'valid') },
    // Devices of the valid flood the relay banned (disconnected) while they flooded, and how often it stopped reading
    // a flooder until its records were handled.
    { name: 'sybil.flood.valid_cut_off', unit: 'devices', value: flooded.phases.valid?.cutOff.length ?? 0 },
    {
      name: 'sybil.relay.read_pauses',
      unit: 'pauses',
      value: flooded.metrics.get('securechat_relay_read_pauses_total') ?? 0,
    },
  ]
  log(
    `sybil: ratios ${JSON.stringify(Object.fromEntries(records.flatMap((r) => (r.ratio === undefined ? [] : [[r.name, r.ratio]]))))}`,
  )
  return records
}

function sentBy(result: SybilFloodResult, phase: 'invalid' | 'valid'): number {
  return Object.values(result.phases[phase]?.sent ?? {}).reduce((sum, n) => sum + n, 0)
}

function percentile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
}

function summary(result: SybilFloodResult): Record<string, unknown> {
  return {
    received: result.received,
    relayAlive: result.relayAlive,
    healthz: result.healthz,
    graylisted: result.graylistedDuringInvalid,
    scoredOutValid: result.scoredOutDuringValid,
    cutOff: result.phases.valid?.cutOff.length,
    invalidRecords: sentBy(result, 'invalid'),
    validRecords: sentBy(result, 'valid'),
    readPauses: result.metrics.get('securechat_relay_read_pauses_total'),
    refused: Object.fromEntries([...result.metrics].filter(([name]) => name.startsWith('securechat_refused_total'))),
    relayLogLines: result.relayLines.length,
  }
}
