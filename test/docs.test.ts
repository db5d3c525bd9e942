/**
 * The docs that live in the repository: every relative link and `#anchor` in README.md and docs/ leads
 * somewhere, and nothing in the repository sends a reader to documents kept outside it.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

const ROOT = resolve(import.meta.dirname, '..')
/** Folders and files the project writes; generated or installed ones are left out. */
const SOURCES = ['README.md', 'sdk', 'node', 'web', 'test', 'bench', 'scripts', 'contracts', 'docs', '.ci']
const SKIPPED_DIRS = new Set(['node_modules', 'dist', 'generated', 'results', 'test-results'])
const TEXT_EXTENSIONS = ['.ts', '.md', '.sol', '.json', '.html', '.css', '', '.sh']

/** Documents beside the repository, not in it: a reader of the repository cannot open them. */
const OUTSIDE = [/\bshared\//, /\bDESIGN\.md\b/, /\bENVIRONMENT\.md\b/, /\bSTYLE\.md\b/, /\blayers\.json\b/]

const DOCS = [join(ROOT, 'README.md'), ...listFiles(join(ROOT, 'docs'), ['.md'])]

function listFiles(dir: string, extensions: readonly string[]): string[] {
  if (!existsSync(dir)) return []
  const out: string[] = []
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) {
      if (!SKIPPED_DIRS.has(name)) out.push(...listFiles(path, extensions))
    } else if (extensions.some((ext) => (ext === '' ? !name.includes('.') : name.endsWith(ext)))) {
      out.push(path)
    }
  }
  return out
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes, repeats numbered. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>()
  const seen = new Map<string, number>()
  for (const line of withoutCodeBlocks(markdown).split('\n')) {
    const heading = /^#{1,6}\s+(.+?)\s*$/.exec(line)?.[1]
    if (heading === undefined) continue
    const slug = heading
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/ /g, '-')
    const count = seen.get(slug)
    seen.set(slug, (count ?? -1) + 1)
    anchors.add(count === undefined ? slug : `${slug}-${count + 1}`)
  }
  return anchors
}

function withoutCodeBlocks(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, '')
}

describe('docs', () => {
  it('behavior: every relative link and anchor in README.md and docs/ resolves', () => {
    const broken: string[] = []
    for (const file of DOCS) {
      const text = withoutCodeBlocks(readFileSync(file, 'utf8'))
      for (const [, link] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (link === undefined || /^[a-z]+:/.test(link)) continue
        const [path = '', anchor] = link.split('#')
        const target = path === '' ? file : resolve(dirname(file), path)
        const where = `${relative(ROOT, file)}: ${link}`
        if (!existsSync(target)) broken.push(`${where} (no such file)`)
        else if (anchor !== undefined && target.endsWith('.md') && !anchorsOf(readFileSync(target, 'utf8')).has(anchor))
          broken.push(`${where} (no such heading)`)
      }
    }
    expect(broken).toEqual([])
  })

  it('behavior: nothing in the repository points a reader to documents kept outside it', () => {
    const self = resolve(import.meta.filename)
    const found: string[] = []
    for (const source of SOURCES) {
      const path = join(ROOT, source)
      if (!existsSync(path)) continue
      const files = statSync(path).isDirectory() ? listFiles(path, TEXT_EXTENSIONS) : [path]
      for (const file of files) {
        if (file === self) continue
        readFileSync(file, 'utf8')
          .split('\n')
          .forEach((line, index) => {
            if (OUTSIDE.some((pattern) => pattern.test(line))) found.push(`${relative(ROOT, file)}:${index + 1}`)
          })
      }
    }
    expect(found).toEqual([])
  })

  it('behavior: the README gives the test command CI runs', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
    const ci = readFileSync(join(ROOT, '.ci', 'run'), 'utf8')
    expect(readme).toMatch(/^```sh\nnpm test\n```$/m)
    expect(ci).toMatch(/^npm test$/m)
  })
})
