/**
 * vitest helper: an axe-core scan of a page in Chromium (the pinned `axe-core` devDependency). The engine is
 * evaluated through the DevTools protocol, not a script tag, so the page keeps its CSP and Trusted Types: a scan
 * that broke either would show as a violation in the page's own CSP checks.
 */
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import type { Page } from 'playwright-core'
import { expect } from 'vitest'

const AXE_PATH = createRequire(import.meta.url).resolve('axe-core/axe.min.js')
let source: Promise<string> | undefined

export interface AxeViolation {
  id: string
  impact: string
  help: string
  /** CSS paths of the elements that fail, through shadow roots. */
  targets: string[]
}

/** axe's rules (WCAG 2.x A/AA and best practices) on `page` as it is now: every violation, with its impact. */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  source ??= readFile(AXE_PATH, 'utf8')
  const engine = await source
  await page.evaluate(`${engine}\n;undefined`)
  return page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(context: unknown, options: unknown): Promise<AxeResults> } }).axe
    const results = await axe.run(document, { resultTypes: ['violations'] })
    return results.violations.map((v) => ({
      id: v.id,
      impact: v.impact ?? '',
      help: v.help,
      targets: v.nodes.map((node) => JSON.stringify(node.target)),
    }))
    interface AxeResults {
      violations: Array<{ id: string; impact?: string; help: string; nodes: Array<{ target: unknown }> }>
    }
  })
}

/** The violations a person meets as a barrier: axe's `serious` and `critical` ones. */
export async function seriousAxeViolations(page: Page): Promise<AxeViolation[]> {
  return (await axeViolations(page)).filter((v) => v.impact === 'serious' || v.impact === 'critical')
}

/** Fails with the screen's name and its serious and critical violations, if any. */
export async function expectNoSeriousAxeViolations(page: Page, screen: string): Promise<void> {
  expect({ screen, violations: await seriousAxeViolations(page) }).toEqual({ screen, violations: [] })
}
