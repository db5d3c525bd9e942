/**
 * The Janus configuration the relay writes for its forwarding unit: the VideoRoom plugin and the HTTP transport
 * only, the API on 127.0.0.1 behind a random `api_secret` (another local user cannot drive it), the admin API off,
 * no event handlers or loggers, no rooms predefined (the relay creates one per call, behind a random `admin_key`),
 * RTP forwarding locked. Only the relay speaks to this Janus; devices reach it for media only (ICE, DTLS-SRTP).
 */
import { existsSync, readdirSync, realpathSync } from 'node:fs'
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'

export interface JanusConfigInit {
  /** The folder written; what was in it is replaced. */
  dir: string
  /** Where the system's Janus keeps `plugins/` and `transports/` (see {@link findJanusLibDir}). */
  libDir: string
  httpPort: number
  apiSecret: string
  adminKey: string
  /** `first-last`. */
  rtpPorts: string
  /** `ice_enforce_list`: the interface name or IP media uses. */
  interface?: string
  /** `nat_1_1_mapping`: the public IP announced in candidates. */
  publicIp?: string
}

/** The only plugin and the only transport loaded. */
const PLUGIN = 'libjanus_videoroom.so'
const TRANSPORT = 'libjanus_http.so'

/**
 * Where Janus's plugins are: beside the binary's prefix (`/opt/janus/bin/janus` → `/opt/janus/lib/janus`), or in
 * Debian's multiarch folder (`/usr/lib/x86_64-linux-gnu/janus`). Undefined when none has the VideoRoom plugin.
 */
export function findJanusLibDir(bin: string): string | undefined {
  const candidates: string[] = []
  try {
    candidates.push(join(dirname(dirname(realpathSync(bin))), 'lib', 'janus'))
  } catch {
    // A bare name: the PATH's binary; Debian's folders below.
  }
  for (const entry of safeReaddir('/usr/lib'))
    if (entry.endsWith('-linux-gnu')) candidates.push(`/usr/lib/${entry}/janus`)
  candidates.push('/usr/lib/janus', '/usr/local/lib/janus')
  return candidates.find(
    (dir) => existsSync(join(dir, 'plugins', PLUGIN)) && existsSync(join(dir, 'transports', TRANSPORT)),
  )
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir)
  } catch {
    return []
  }
}

/** Writes the configuration; returns the path of `janus.jcfg`. */
export async function writeJanusConfig(init: JanusConfigInit): Promise<string> {
  const { dir } = init
  await rm(dir, { recursive: true, force: true })
  for (const sub of ['plugins', 'transports', 'none']) await mkdir(join(dir, sub), { recursive: true, mode: 0o700 })
  await symlink(join(init.libDir, 'plugins', PLUGIN), join(dir, 'plugins', PLUGIN))
  await symlink(join(init.libDir, 'transports', TRANSPORT), join(dir, 'transports', TRANSPORT))
  const files = janusConfigFiles(init)
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text, { mode: 0o600 })
  return join(dir, 'janus.jcfg')
}

/** The files' text, by name (pure: what the tests and the docs show). */
export function janusConfigFiles(init: JanusConfigInit): Record<string, string> {
  const { dir } = init
  const nat = [
    'ignore_mdns = true',
    'nice_debug = false',
    ...(init.interface === undefined ? [] : [`ice_enforce_list = ${quote(init.interface)}`]),
    ...(init.publicIp === undefined ? [] : [`nat_1_1_mapping = ${quote(init.publicIp)}`]),
  ]
  return {
    'janus.jcfg': `general: {
\tconfigs_folder = ${quote(dir)}
\tplugins_folder = ${quote(join(dir, 'plugins'))}
\ttransports_folder = ${quote(join(dir, 'transports'))}
\tevents_folder = ${quote(join(dir, 'none'))}
\tloggers_folder = ${quote(join(dir, 'none'))}
\tdebug_level = 4
\tapi_secret = ${quote(init.apiSecret)}
\tsession_timeout = 60
}
certificates: {}
media: {
\tipv6 = false
\trtp_port_range = ${quote(init.rtpPorts)}
}
nat: {
${nat.map((line) => `\t${line}`).join('\n')}
}
plugins: {}
transports: {}
loggers: {}
events: {
\tbroadcast = false
}
`,
    'janus.plugin.videoroom.jcfg': `general: {
\tadmin_key = ${quote(init.adminKey)}
\tlock_rtp_forward = true
\tstring_ids = false
}
`,
    'janus.transport.http.jcfg': `general: {
\tjson = "plain"
\tbase_path = "/janus"
\thttp = true
\tport = ${init.httpPort}
\tip = "127.0.0.1"
\thttps = false
}
admin: {
\tadmin_http = false
\tadmin_https = false
}
`,
  }
}

/** A libconfig string (the values here are ours or checked by the config's schema; quotes escaped all the same). */
function quote(value: string): string {
  return `"${value.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`
}
