/**
 * A lock file holding its owner's pid (Node only): what keeps a second process off a directory another is using —
 * a CLI's vault, a relay's data dir. A lock whose process is gone (it crashed, or was killed) is taken over.
 */
import { mkdir, open, readFile, unlink } from 'node:fs/promises'
import { dirname } from 'node:path'

/**
 * Takes `path` for this process (created with mode 0600, its pid inside). When a live process holds it, throws what
 * `busy(pid)` makes, which should say which process and what to do.
 */
export async function takePidLock(path: string, busy: (pid: number) => Error): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, 'wx', 0o600)
      await handle.writeFile(String(process.pid))
      await handle.close()
      return
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    const owner = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10)
    if (Number.isSafeInteger(owner) && owner > 0 && isAlive(owner)) throw busy(owner)
    // The owner is gone (crashed): its lock is stale.
    await unlink(path).catch(() => undefined)
  }
  throw busy(Number.NaN)
}

export async function releasePidLock(path: string): Promise<void> {
  await unlink(path).catch(() => undefined)
}

function isAlive(pid: number): boolean {
  if (pid === process.pid) return true
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
