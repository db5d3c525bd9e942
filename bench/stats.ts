/** Summaries the browser suites print (`web`, `calls`): a series' median, 90th percentile and range, to 0.1. */

export interface Stats {
  median: number
  p90: number
  min: number
  max: number
}

export function stats(values: number[]): Stats {
  if (values.length === 0) return { median: Number.NaN, p90: Number.NaN, min: Number.NaN, max: Number.NaN }
  const sorted = [...values].sort((x, y) => x - y)
  const mid = sorted.length >> 1
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
  const p90 = sorted[Math.min(sorted.length - 1, Math.ceil(0.9 * sorted.length) - 1)]!
  return { median: round(median), p90: round(p90), min: round(sorted[0]!), max: round(sorted.at(-1)!) }
}

export function round(value: number, digits = 1): number {
  return Number(value.toFixed(digits))
}
