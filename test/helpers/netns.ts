/**
 * A network namespace of a test's own with one interface besides loopback: one end of a veth pair whose both ends
 * live in the namespace (these kernels have no `dummy` interfaces), carrying a private address.
 * For what needs a non-loopback interface yet must send nothing off this machine — Janus's ICE (libnice) gathers no
 * candidate on loopback. Nothing is added to the machine's own namespace; deleting the namespace removes it all.
 * Needs root and iproute2 (`.ci/run` installs it).
 */
import { execFile, spawn } from 'node:child_process'
import { promisify } from 'node:util'

const run = promisify(execFile)

export interface PrivateNamespace {
  name: string
  /** The interface's name inside the namespace. */
  interface: string
  /** Its address. */
  address: string
  /** Kills what still runs in the namespace (a Janus a scenario left), then deletes it with its interfaces. */
  remove(): Promise<void>
}

export async function createPrivateNamespace(prefix: string): Promise<PrivateNamespace> {
  const name = `${prefix}${process.pid % 100_000}`
  const address = `10.201.${1 + (process.pid % 250)}.1`
  const ip = (...args: string[]) => run('ip', args)
  await ip('netns', 'add', name)
  const remove = (): Promise<void> => deleteNamespace(name)
  try {
    await ip('-n', name, 'link', 'set', 'lo', 'up')
    await ip('-n', name, 'link', 'add', 'media0', 'type', 'veth', 'peer', 'name', 'media1')
    await ip('-n', name, 'addr', 'add', `${address}/24`, 'dev', 'media0')
    await ip('-n', name, 'link', 'set', 'media0', 'up')
    await ip('-n', name, 'link', 'set', 'media1', 'up')
  } catch (err) {
    await remove()
    throw err
  }
  return { name, interface: 'media0', address, remove }
}

/**
 * Two network namespaces of a test's own joined by a veth pair: a server's (`server`, address `serverAddress` on a
 * /16) and a client's (`client`, one /32 address on `c0`, and a route to the server's that names no source).
 * {@link changeClientAddress} gives the client a new address and removes the old one. Nothing is added to the
 * machine's own namespace.
 */
export interface LinkedNamespaces {
  server: string
  client: string
  serverAddress: string
  /** The client's address, on its interface `c0`. */
  clientAddress: string
  /** Kills what still runs in either namespace, then deletes both with their interfaces. */
  remove(): Promise<void>
}

export async function createLinkedNamespaces(prefix: string): Promise<LinkedNamespaces> {
  const server = `${prefix}s${process.pid % 100_000}`
  const client = `${prefix}c${process.pid % 100_000}`
  const serverAddress = '10.78.0.1'
  const ip = (...args: string[]) => run('ip', args)
  const remove = async (): Promise<void> => {
    await deleteNamespace(client)
    await deleteNamespace(server)
  }
  const linked: LinkedNamespaces = { server, client, serverAddress, clientAddress: '10.78.1.2', remove }
  await ip('netns', 'add', server)
  try {
    await ip('netns', 'add', client)
    await ip('-n', server, 'link', 'set', 'lo', 'up')
    await ip('-n', client, 'link', 'set', 'lo', 'up')
    await ip('-n', server, 'link', 'add', 's0', 'type', 'veth', 'peer', 'name', 'c0', 'netns', client)
    await ip('-n', server, 'addr', 'add', `${serverAddress}/16`, 'dev', 's0')
    await ip('-n', server, 'link', 'set', 's0', 'up')
    await ip('-n', client, 'addr', 'add', `${linked.clientAddress}/32`, 'dev', 'c0')
    await ip('-n', client, 'link', 'set', 'c0', 'up')
    // A route that names no source: it outlives the address it was added beside, and takes the new one.
    await ip('-n', client, 'route', 'add', `${serverAddress}/32`, 'dev', 'c0')
  } catch (err) {
    await remove()
    throw err
  }
  return linked
}

/**
 * The client of {@link createLinkedNamespaces} moves from `old` to the next address (`10.78.<n+1>.2`): the new one is
 * added, then the old one removed, as a phone that moves from Wi-Fi to mobile data — what it had open from the old
 * address is dead, and nothing tells it so. Resolves with the new address.
 */
export async function changeClientAddress(client: string, old: string): Promise<string> {
  const generation = Number(old.split('.')[2])
  const next = `10.78.${generation + 1}.2`
  await run('ip', ['-n', client, 'addr', 'add', `${next}/32`, 'dev', 'c0'])
  await run('ip', ['-n', client, 'addr', 'del', `${old}/32`, 'dev', 'c0'])
  return next
}

/** Kills what still runs in namespace `name`, then deletes it with its interfaces; never throws. */
async function deleteNamespace(name: string): Promise<void> {
  const { stdout } = await run('ip', ['netns', 'pids', name]).catch(() => ({ stdout: '' }))
  for (const pid of stdout.split('\n').filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL')
    } catch {
      // Gone meanwhile.
    }
  }
  await run('ip', ['netns', 'del', name]).catch(() => undefined)
}

/**
 * Runs the Node script `script` with `args` inside namespace `name` (`ip netns exec`) and resolves with the JSON of
 * the last line it prints; rejects, with the ends of its output, when it exits non-zero or prints no result.
 */
export function runInNamespace<T>(name: string, script: string, args: readonly string[]): Promise<T> {
  return new Promise((done, fail) => {
    const child = spawn('ip', ['netns', 'exec', name, process.execPath, script, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk
    })
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk
    })
    child.on('error', fail)
    child.on('exit', (code) => {
      const last = stdout.trim().split('\n').at(-1) ?? ''
      if (code !== 0)
        return fail(new Error(`the scenario exited ${code}:\n${stderr.slice(-4000)}\n${stdout.slice(-2000)}`))
      try {
        done(JSON.parse(last) as T)
      } catch {
        fail(new Error(`the scenario printed no result:\n${stdout.slice(-2000)}\n${stderr.slice(-2000)}`))
      }
    })
  })
}
