/** What a relay process says about its limits: its `/metrics` samples and its refusal log lines. */
import type { RelayProcess } from './cli.ts'

/** The relay's `/metrics` (a relay process, or the URL of a relay's HTTP server), as name{labels} → value. */
export async function metrics(relay: Pick<RelayProcess, 'web'> | URL | string): Promise<Map<string, number>> {
  const base = relay instanceof URL || typeof relay === 'string' ? relay : relay.web
  const text = await (await fetch(new URL('/metrics', base))).text()
  const samples = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const at = line.lastIndexOf(' ')
    samples.set(line.slice(0, at), Number(line.slice(at + 1)))
  }
  return samples
}

/** `securechat_refused_total{reason}`; NaN when the relay does not know the reason. */
export const refused = (samples: Map<string, number>, reason: string): number =>
  samples.get(`securechat_refused_total{reason="${reason}"}`) ?? Number.NaN

/** The relay's log lines about refusals: one per offender and reason, and the interval summaries. */
export function refusalLines(relay: RelayProcess): Array<{ event: string; reason: string; offender?: string }> {
  return relay.lines
    .filter((line) => line.includes('"limit:refused'))
    .map((line) => JSON.parse(line) as { event: string; reason: string; offender?: string })
}
