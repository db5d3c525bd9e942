/**
 * Summarises a V8 CPU profile (`BENCH_CPU_PROF=relay|sender|receiver npm run bench` writes one
 * to `bench/results/prof/`): where the time went, by package and by function, self and total.
 *
 *   node bench/profile.ts bench/results/prof/<file>.cpuprofile [top]
 */
import { readFileSync } from 'node:fs'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}

interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

/** Where a script belongs: an npm package, a workspace folder, or V8's own pseudo-frames. */
export function ownerOf(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)'
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (pkg !== null) return pkg[1]!
  const local = /\/(sdk\/src\/[^/]+|node\/src\/[^/]+|bench)\//.exec(url)
  if (local !== null) return local[1]!
  if (url.startsWith('node:')) return 'node:*'
  return url
}

export function summarise(profile: Profile, top: number): string {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const selfUs = new Map<number, number>()
  for (const [i, id] of profile.samples.entries()) {
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0))
  }
  const totalUs = [...selfUs.values()].reduce((a, b) => a + b, 0)
  const idleUs = [...selfUs]
    .filter(([id]) => byId.get(id)?.callFrame.functionName === '(idle)')
    .reduce((a, [, us]) => a + us, 0)

  const label = (node: ProfileNode): string => {
    const { functionName, url, lineNumber } = node.callFrame
    const file = url.replace(/^.*\/(node_modules|work\/main)\//, '')
    return `${functionName || '(anonymous)'} ${file}:${lineNumber + 1}`
  }
  const selfByPackage = new Map<string, number>()
  const selfByFunction = new Map<string, number>()
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!
    const owner = ownerOf(node.callFrame.url, node.callFrame.functionName)
    selfByPackage.set(owner, (selfByPackage.get(owner) ?? 0) + us)
    selfByFunction.set(label(node), (selfByFunction.get(label(node)) ?? 0) + us)
  }
  // Total (inclusive) time per function, counted once per stack even when it recurses.
  const inclusive = new Map<string, number>()
  const walk = (id: number, onStack: Set<string>): number => {
    const node = byId.get(id)!
    let us = selfUs.get(id) ?? 0
    const key = label(node)
    const entered = !onStack.has(key)
    if (entered) onStack.add(key)
    for (const child of node.children ?? []) us += walk(child, onStack)
    if (entered) {
      onStack.delete(key)
      inclusive.set(key, (inclusive.get(key) ?? 0) + us)
    }
    return us
  }
  const root = profile.nodes[0]
  if (root !== undefined) walk(root.id, new Set())

  const busyUs = totalUs - idleUs
  const pct = (us: number): string => `${((us / busyUs) * 100).toFixed(1).padStart(5)}%`
  const rows = (map: Map<string, number>, filter: (key: string) => boolean = () => true): string[] =>
    [...map]
      .filter(([key]) => filter(key))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([key, us]) => `  ${pct(us)} ${(us / 1000).toFixed(0).padStart(7)} ms  ${key}`)
  const pseudo = (key: string): boolean => !key.startsWith('(')
  return [
    `profiled ${(totalUs / 1e6).toFixed(1)} s, busy ${(busyUs / 1e6).toFixed(1)} s (percentages are of busy time)`,
    'self time by package:',
    ...rows(selfByPackage, (key) => key !== '(idle)'),
    'self time by function:',
    ...rows(selfByFunction, (key) => !key.startsWith('(idle)')),
    'total time by function (includes callees):',
    ...rows(inclusive, pseudo),
  ].join('\n')
}

if (import.meta.main) {
  const [file, top] = process.argv.slice(2)
  if (file === undefined) {
    console.error('usage: node bench/profile.ts <file.cpuprofile> [top]')
    process.exit(2)
  }
  console.log(summarise(JSON.parse(readFileSync(file, 'utf8')) as Profile, Number(top ?? 25)))
}
