/**
 * A network namespace joined to this machine by a veth pair: processes started in it (`wrapper`) reach the host
 * side at `hostIp` and come from `clientIp`, one address that is not loopback — what a relay sees of the many users
 * behind one carrier NAT or one office proxy. Needs root and `ip` (iproute2), as CI has.
 *
 * The pair's addresses are a /30 picked at random in 100.64.0.0/10, the carrier-grade NAT range (RFC 6598), and the
 * names carry this process's id: parallel runs on one machine do not collide. `remove()` deletes the namespace, which
 * deletes the pair with it.
 */
import { execFileSync } from 'node:child_process'
import { randomInt } from 'node:crypto'

export interface Namespace {
  name: string
  /** The host end's address: where a server in the root namespace listens for the namespace's processes. */
  hostIp: string
  /** The address every process in the namespace connects from. */
  clientIp: string
  /** Runs a command in the namespace: put it before the command (`ChildGroup.spawn`'s `wrapper`). */
  wrapper: readonly string[]
  /** Deletes the namespace and its veth pair; again does nothing. */
  remove(): void
}

/** Creates the namespace and its link; on a failure half-way, removes what it made and throws. */
export function createNamespace(): Namespace {
  // Interface names are 15 characters at most: "scn" + up to 7 digits of the pid + a random letter + "h"/"c".
  const name = `scn${process.pid % 10_000_000}${String.fromCharCode(97 + randomInt(26))}`
  const host = `${name}h`
  const client = `${name}c`
  // 100.64.0.0/10: 2^20 /30 blocks; the first address of a block is its network address.
  const block = randomInt(2 ** 20) * 4
  const address = (n: number): string => {
    const value = (100 << 24) + (64 << 16) + block + n
    return [24, 16, 8, 0].map((shift) => (value >>> shift) & 255).join('.')
  }
  const hostIp = address(1)
  const clientIp = address(2)
  let removed = false
  const remove = (): void => {
    if (removed) return
    removed = true
    try {
      ip('netns', 'del', name)
    } catch {
      // Never made (a failure before `netns add`); the host end then cannot exist without its peer either.
    }
  }
  try {
    ip('netns', 'add', name)
    ip('link', 'add', host, 'type', 'veth', 'peer', 'name', client)
    ip('link', 'set', client, 'netns', name)
    ip('addr', 'add', `${hostIp}/30`, 'dev', host)
    ip('link', 'set', host, 'up')
    ip('-n', name, 'addr', 'add', `${clientIp}/30`, 'dev', client)
    ip('-n', name, 'link', 'set', client, 'up')
    ip('-n', name, 'link', 'set', 'lo', 'up')
  } catch (err) {
    remove()
    // The host end is made before it moves into the namespace: if that move failed, it is still here.
    try {
      ip('link', 'del', host)
    } catch {}
    throw err
  }
  return { name, hostIp, clientIp, wrapper: ['ip', 'netns', 'exec', name], remove }
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] })
}
