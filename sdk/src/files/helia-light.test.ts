import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { createHeliaLight as heliaOwn } from 'helia'
import { describe, expect, it } from 'vitest'
import { createHeliaLight } from './helia-light.node.ts'

describe('createHeliaLight without helia’s index', () => {
  it('behavior: gives the node helia’s own createHeliaLight gives: its class, name and version', () => {
    const ours = createHeliaLight()
    const theirs = heliaOwn()
    expect(Object.getPrototypeOf(ours)).toBe(Object.getPrototypeOf(theirs))
    expect(ours.info).toEqual(theirs.info)
    expect(ours.info.name).toBe('helia')
  })

  it('behavior: the files node loads without @helia/libp2p and the default libp2p configuration it imports', async () => {
    const files = pathToFileURL(join(import.meta.dirname, 'helia.ts')).href
    const script = `
      import { registerHooks } from 'node:module'
      const loaded = []
      registerHooks({ load: (url, context, next) => (loaded.push(url), next(url, context)) })
      await import(${JSON.stringify(files)})
      console.log(JSON.stringify(loaded))`
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script])
    const loaded = JSON.parse(stdout) as string[]
    expect(loaded).toContain(files)
    expect(loaded.some((url) => url.includes('/helia/dist/src/helia.js'))).toBe(true)
    expect(loaded.filter((url) => /\/@helia\/libp2p\/|\/@libp2p\/webrtc\/|\/acme-client\//.test(url))).toEqual([])
  })
})
