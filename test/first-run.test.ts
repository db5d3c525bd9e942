/**
 * What a newcomer meets first: `npm start` and `securechat` on a Node that is too old say which
 * Node SecureChat needs and how to get it (instead of "Unknown file extension .ts"), and
 * `securechat --version` answers. The old Node is simulated: `process.versions.node` is replaced
 * before the entry point runs (a real Node 20 cannot be assumed on every machine).
 */
import { execFile } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { CLI_PATH, runCli, tempDir } from './helpers/cli.ts'

const ROOT = resolve(import.meta.dirname, '..')

/** Runs `args` with Node believing it is `version`; resolves with its exit code and stderr. */
async function asNode(version: string, args: string[]): Promise<{ code: number; stderr: string }> {
  const preload = join(await tempDir('old-node-'), 'old-node.cjs')
  await writeFile(
    preload,
    `Object.defineProperty(process, 'versions', { value: { ...process.versions, node: ${JSON.stringify(version)} } })\n`,
  )
  try {
    await promisify(execFile)(process.execPath, ['--require', preload, ...args], { cwd: ROOT })
    return { code: 0, stderr: '' }
  } catch (err) {
    const failed = err as { code: number; stderr: string }
    return { code: failed.code, stderr: failed.stderr }
  }
}

describe('first run', () => {
  it('error: on Node 20, npm start’s check and the securechat command say that Node 24 is needed and how to get it', async () => {
    const wanted = (await readFile(join(ROOT, '.nvmrc'), 'utf8')).trim()
    const packageJson = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
      scripts: { start: string }
    }
    expect(packageJson.scripts.start.startsWith('node scripts/check-node.cjs && ')).toBe(true)
    for (const entry of [join(ROOT, 'scripts/check-node.cjs'), CLI_PATH]) {
      const { code, stderr } = await asNode('20.20.0', [entry, '--help'])
      expect(code).toBe(1)
      expect(stderr).toContain(`SecureChat needs Node.js ${wanted} or later; this is Node.js 20.20.0`)
      expect(stderr).toContain('nvm install')
      expect(stderr).not.toContain('Unknown file extension')
    }
    expect(await asNode(process.versions.node, [join(ROOT, 'scripts/check-node.cjs')])).toEqual({
      code: 0,
      stderr: '',
    })
  })

  it('behavior: securechat --version prints the version of the node package', async () => {
    const { version } = JSON.parse(await readFile(join(ROOT, 'node/package.json'), 'utf8')) as { version: string }
    const result = await runCli(['--version'])
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout.trim()).toBe(version)
  })
})
