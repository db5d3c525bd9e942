/**
 * `createHeliaLight` without loading `helia`'s package index. That index imports `@helia/libp2p`, which imports a
 * default libp2p configuration at load time — ACME and X.509 for AutoTLS, WebRTC and its native module, the DHT,
 * UPnP, an HTTP client: about a thousand modules, 0.6 s at the start of every CLI command and relay on this
 * machine, none of them used (the sdk hands Helia its own libp2p node). `createHeliaLight` itself is
 * `new Helia({ name, version, ...init })` of the package's `helia.js`, which this loads by its file: the package's
 * export map names only its index. Browsers take the index (`helia-light.browser.ts`): their bundle keeps only
 * what is called.
 */
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { Helia, HeliaInit } from 'helia'

type HeliaClass = new (init: HeliaInit & { name: string; version: string }) => Helia

const packageDir = dirname(createRequire(import.meta.url).resolve('helia'))
const { Helia: HeliaClass } = (await import(pathToFileURL(join(packageDir, 'helia.js')).href)) as {
  Helia: HeliaClass
}
const { name, version } = (await import(pathToFileURL(join(packageDir, 'version.js')).href)) as {
  name: string
  version: string
}
if (typeof HeliaClass !== 'function' || typeof name !== 'string' || typeof version !== 'string') {
  throw new Error(`helia at ${packageDir} has no Helia class in helia.js: its layout changed (pinned 7.1.15)`)
}

/** A Helia node with only what `init` gives it, as `helia`'s own `createHeliaLight`. */
export function createHeliaLight(init: HeliaInit = {}): Helia {
  return new HeliaClass({ name, version, ...init })
}
