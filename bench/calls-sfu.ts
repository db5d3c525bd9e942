/**
 * `BENCH_SUITES=calls-sfu`: room calls through the relay's forwarding unit (issue 17, larger calls), by size, beside
 * the `calls` suite's mesh of the same sizes. Janus's ICE gathers nothing on loopback, so the calls suite runs again
 * in a network namespace of its own (`test/helpers/netns.ts`: a veth pair inside it, nothing on the machine's
 * interfaces) with `BENCH_CALLS_SFU` naming that interface and its **mesh** series only (`BENCH_CALLS_PARTS`):
 * `calls.sfu.<size>.*` records and `bench/results/calls-sfu-latest.json`. Needs root, iproute2 and Debian's `janus`
 * (what `.ci/run` installs); without them it says so and measures nothing.
 */
import { execFileSync, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { createPrivateNamespace } from '../test/helpers/netns.ts'
import type { BenchRecord } from './types.ts'

const RECORDS_PREFIX = 'calls-sfu-records: '

export async function run(): Promise<BenchRecord[]> {
  const missing = whatIsMissing()
  if (missing !== undefined) {
    console.log(`calls-sfu: skipped — ${missing}`)
    return []
  }
  const namespace = await createPrivateNamespace('scbench')
  try {
    const env = {
      ...process.env,
      BENCH_CALLS_SFU: namespace.interface,
      BENCH_CALLS_PARTS: process.env.BENCH_CALLS_PARTS ?? 'mesh',
    }
    const child = spawn('ip', ['netns', 'exec', namespace.name, process.execPath, fileURLToPath(import.meta.url)], {
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let records: BenchRecord[] = []
    let pending = ''
    child.stdout.on('data', (chunk: Buffer) => {
      pending += chunk
      const lines = pending.split('\n')
      pending = lines.pop() ?? ''
      for (const line of lines) {
        if (line.startsWith(RECORDS_PREFIX)) records = JSON.parse(line.slice(RECORDS_PREFIX.length)) as BenchRecord[]
        else console.log(line)
      }
    })
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
    if (code !== 0) throw new Error(`the calls suite in the namespace exited ${code}`)
    return records
  } finally {
    await namespace.remove()
  }
}

function whatIsMissing(): string | undefined {
  if (process.getuid?.() !== 0) return 'it needs root for a network namespace of its own (ip netns)'
  for (const [command, hint] of [
    ['ip', 'apt-get install iproute2'],
    ['janus', 'apt-get install janus'],
  ] as const) {
    try {
      execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' })
    } catch {
      return `${command} is not installed (${hint})`
    }
  }
  return undefined
}

// Inside the namespace: the calls suite itself, its records on one line for the parent.
if (import.meta.main) {
  const { run: runCalls } = await import('./calls.ts')
  const records = await runCalls()
  console.log(`${RECORDS_PREFIX}${JSON.stringify(records)}`)
  process.exit(0)
}
