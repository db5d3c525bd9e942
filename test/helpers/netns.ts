/**
 * A network namespace of a test's own with one interface besides loopback: one end of a veth pair whose both ends
 * live in the namespace (these kernels have no `dummy` interfaces), carrying a private address.
 * For what needs a non-loopback interface yet must send nothing off this machine — Janus's ICE (libnice) gathers no
 * candidate on loopback. Nothing is added to the machine's own namespace; deleting the namespace removes it all.
 * Needs root and iproute2 (`.ci/run` installs it).
 */
import { execFile } from 'node:child_process'
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
  const remove = async (): Promise<void> => {
    const { stdout } = await ip('netns', 'pids', name).catch(() => ({ stdout: '' }))
    for (const pid of stdout.split('\n').filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL')
      } catch {
        // Gone meanwhile.
      }
    }
    await ip('netns', 'del', name).catch(() => undefined)
  }
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
