/**
 * What every benchmark suite returns: one record per figure. `baseline` is the same figure
 * measured on bare gossipsub in the same run and `ratio` is `value / baseline`; figures that
 * have no baseline leave both out.
 */
export interface BenchRecord {
  name: string
  unit: string
  value: number
  baseline?: number
  ratio?: number
  /** The ratio the project aims for; printed in the table, not written to the JSON. */
  goal?: Goal
}

/** `max`: the ratio should stay at or below `ratio` (latency); `min`: at or above (throughput). */
export interface Goal {
  bound: 'max' | 'min'
  ratio: number
}

/** A suite module: `bench/run.ts` calls its `run()` and prints and stores what it returns. */
export interface BenchSuite {
  run(): Promise<BenchRecord[]>
}

/** A record with its baseline and ratio filled in. */
export function compared(
  params: { name: string; unit: string; value: number; baseline: number } & { goal?: Goal },
): BenchRecord {
  const { baseline, value } = params
  return { ...params, ratio: baseline === 0 ? Number.NaN : value / baseline }
}
