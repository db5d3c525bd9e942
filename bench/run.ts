/**
 * `npm run bench`: runs every benchmark suite, prints one table, and writes the records to
 * `bench/results/<timestamp>.json` and `bench/results/latest.json`.
 *
 * A suite is a module exporting `run(): Promise<BenchRecord[]>`; add yours to SUITES.
 * `BENCH_SUITES=rooms,crypto` runs a subset.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { BenchRecord, BenchSuite } from './types.ts'

const SUITES: Record<string, () => Promise<BenchSuite | undefined>> = {
  rooms: () => import('./rooms.ts'),
  crypto: loadCryptoSuite,
  audit: () => import('./audit.ts'),
  store: () => import('./store.ts'),
  'catch-up': () => import('./catch-up.ts'),
  dm: () => import('./dm.ts'),
  web: () => import('./web.ts'),
  lossy: () => import('./lossy.ts'),
  sybil: () => import('./sybil.ts'),
  'scale-clients': () => import('./scale-clients.ts'),
  'scale-room': () => import('./scale-room.ts'),
  'scale-rooms': () => import('./scale-rooms.ts'),
  'join-burst': () => import('./join-burst.ts'),
  search: () => import('./search.ts'),
  'file-crypto': () => import('./file-crypto.ts'),
  'file-crypto-browser': () => import('./file-crypto-browser.ts'),
  'file-transfer': () => import('./file-transfer.ts'),
  calls: () => import('./calls.ts'),
  'calls-sfu': () => import('./calls-sfu.ts'),
}

/**
 * The sdk's crypto benchmark (`sdk/src/crypto/bench.ts`, `benchCrypto`), when that module exists.
 * The path is built at run time so this file type-checks and runs without it.
 */
async function loadCryptoSuite(): Promise<BenchSuite | undefined> {
  const url = new URL('../sdk/src/crypto/bench.ts', import.meta.url)
  if (!existsSync(url)) {
    console.log('crypto: skipped, sdk/src/crypto/bench.ts does not exist yet')
    return undefined
  }
  const module = (await import(url.href)) as { benchCrypto?: () => Promise<unknown> }
  const benchCrypto = module.benchCrypto
  if (typeof benchCrypto !== 'function') {
    console.log('crypto: skipped, sdk/src/crypto/bench.ts exports no benchCrypto()')
    return undefined
  }
  return {
    async run() {
      const result = await benchCrypto()
      if (!Array.isArray(result) || !result.every(isRecord)) {
        throw new TypeError('benchCrypto() must resolve to an array of { name, unit, value, baseline?, ratio? }')
      }
      return result
    },
  }
}

function isRecord(value: unknown): value is BenchRecord {
  const r = value as Partial<BenchRecord> | null
  return (
    typeof r === 'object' &&
    r !== null &&
    typeof r.name === 'string' &&
    typeof r.unit === 'string' &&
    typeof r.value === 'number'
  )
}

async function main(): Promise<number> {
  const selected = process.env.BENCH_SUITES?.split(',').filter(Boolean) ?? Object.keys(SUITES)
  const unknown = selected.filter((name) => !(name in SUITES))
  if (unknown.length > 0) {
    console.error(`unknown suite ${unknown.join(', ')}; suites: ${Object.keys(SUITES).join(', ')}`)
    return 2
  }
  const records: BenchRecord[] = []
  let failed = false
  for (const name of selected) {
    const started = performance.now()
    try {
      const suite = await SUITES[name]!()
      if (suite === undefined) continue
      records.push(...(await suite.run()))
      console.log(`${name}: done in ${((performance.now() - started) / 1000).toFixed(1)} s`)
    } catch (err) {
      failed = true
      console.error(`${name}: failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
    }
  }
  console.log()
  console.log(table(records))
  if (records.length > 0) {
    const dir = fileURLToPath(new URL('./results/', import.meta.url))
    mkdirSync(dir, { recursive: true })
    const json = `${JSON.stringify(records.map(stored), null, 2)}\n`
    const file = `${dir}${new Date().toISOString().replaceAll(':', '-')}.json`
    writeFileSync(file, json)
    writeFileSync(`${dir}latest.json`, json)
    console.log(`\nwrote ${file} and bench/results/latest.json`)
  }
  return failed ? 1 : 0
}

/** The record as stored: name, unit, value, and baseline and ratio when there is a baseline. */
function stored(record: BenchRecord): BenchRecord {
  const { name, unit, value, baseline, ratio } = record
  return baseline === undefined
    ? { name, unit, value }
    : { name, unit, value, baseline, ratio: ratio ?? value / baseline }
}

function table(records: BenchRecord[]): string {
  const rows = [
    ['figure', 'unit', 'value', 'baseline (bare)', 'ratio', 'goal'],
    ...records.map((r) => [
      r.name,
      r.unit,
      format(r.value),
      r.baseline === undefined ? '' : format(r.baseline),
      r.ratio === undefined ? '' : r.ratio.toFixed(2),
      r.goal === undefined || r.ratio === undefined
        ? ''
        : `${r.goal.bound === 'max' ? '≤' : '≥'} ${r.goal.ratio} ${meets(r.ratio, r.goal) ? 'met' : 'MISSED'}`,
    ]),
  ]
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)))
  const line = (row: string[]): string =>
    row
      .map((cell, i) => (i >= 2 && i <= 4 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd()
  return [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n')
}

function meets(ratio: number, goal: NonNullable<BenchRecord['goal']>): boolean {
  return goal.bound === 'max' ? ratio <= goal.ratio : ratio >= goal.ratio
}

function format(value: number): string {
  if (!Number.isFinite(value)) return String(value)
  if (Number.isInteger(value)) return String(value)
  return Math.abs(value) >= 100 ? value.toFixed(0) : value.toPrecision(3)
}

process.exitCode = await main()
