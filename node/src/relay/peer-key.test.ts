import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { loadOrCreatePeerKey } from './peer-key.ts'

const dirs: string[] = []
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true })
})

async function dataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'peer-key-'))
  dirs.push(dir)
  return dir
}

describe('loadOrCreatePeerKey', () => {
  it('behavior: the first start writes a key that later starts read; nothing else is left in the data dir', async () => {
    const dir = await dataDir()
    const first = await loadOrCreatePeerKey(dir)
    const again = await loadOrCreatePeerKey(dir)
    expect(again.publicKey.toString()).toBe(first.publicKey.toString())
    expect(await readdir(dir)).toEqual(['peer-key'])
  })

  it('behavior: starts at once on one data dir end with one key, not one each', async () => {
    const dir = await dataDir()
    const keys = await Promise.all(Array.from({ length: 8 }, () => loadOrCreatePeerKey(dir)))
    expect(new Set(keys.map((k) => k.publicKey.toString())).size).toBe(1)
    expect(await readdir(dir)).toEqual(['peer-key'])
  })

  it('error: a damaged key file is refused with what to do, not replaced', async () => {
    const dir = await dataDir()
    await writeFile(join(dir, 'peer-key'), new Uint8Array())
    await expect(loadOrCreatePeerKey(dir)).rejects.toMatchObject({
      name: 'KeyFileError',
      hint: expect.stringMatching(/delete it to start with a new PeerId/),
    })
  })
})
