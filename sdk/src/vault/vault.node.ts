/**
 * The vault on Node: one JSON file in the data directory ({@link VAULT_FILE_NAME}, mode 0600)
 * holding the header and the sealed entries (base64url). Every change rewrites the file
 * atomically (temporary file, fsync, rename), so a crash leaves the old or the new vault, never
 * half of one. A lock file ({@link VAULT_LOCK_FILE_NAME}, holding the owner's pid) keeps a second
 * process from opening the same vault; a lock whose process is gone is taken over.
 *
 * The browser twin is `vault.browser.ts` (IndexedDB), mapped by the package's `browser` field.
 */

import { mkdir, open, readFile, rename } from 'node:fs/promises'
import { join } from 'node:path'
import { z } from 'zod'
import { base64urlDecode, base64urlEncode } from '../encoding.ts'
import { VaultBusyError, VaultCorruptError, VaultError } from '../errors.ts'
import { releasePidLock, takePidLock } from '../pid-lock.ts'
import { VAULT_FILE_NAME, VAULT_LOCK_FILE_NAME } from './constants.ts'
import type { VaultBackend } from './vault.ts'

const fileSchema = z
  .object({
    header: z.unknown(),
    entries: z.record(z.string(), z.string().regex(/^[A-Za-z0-9_-]*$/)),
  })
  .strict()

/** The vault of a data directory: `<dir>/vault.json`. */
export function platformVaultBackend(dir: string): VaultBackend {
  return fileVaultBackend({ dir })
}

export function fileVaultBackend(init: { dir: string }): VaultBackend {
  const path = join(init.dir, VAULT_FILE_NAME)
  const lockPath = join(init.dir, VAULT_LOCK_FILE_NAME)
  let header: unknown
  const entries = new Map<string, string>()
  let locked = false
  let writing: Promise<void> = Promise.resolve()

  const persist = (): Promise<void> => {
    const text = `${JSON.stringify({ header, entries: Object.fromEntries(entries) })}\n`
    // Writes run one after another; each one writes the whole current state.
    writing = writing.catch(() => undefined).then(() => writeAtomically(path, text))
    return writing
  }

  return {
    async open() {
      if (locked) throw new VaultError('this vault backend is already open')
      await mkdir(init.dir, { recursive: true, mode: 0o700 })
      await takePidLock(lockPath, (pid) =>
        Number.isNaN(pid)
          ? new VaultBusyError('could not lock the vault', { details: { lock: lockPath } })
          : new VaultBusyError('another process has this vault open', {
              details: { pid, lock: lockPath },
              hint: `stop process ${pid} (another securechat command on the same --data-dir), or use another data directory`,
            }),
      )
      locked = true
      try {
        let text: string | undefined
        try {
          text = await readFile(path, 'utf8')
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
        }
        if (text === undefined) return
        let json: unknown
        try {
          json = JSON.parse(text)
        } catch (cause) {
          throw new VaultCorruptError(`${path} is not a vault file (not JSON)`, {
            cause,
            hint: 'restore it from a backup, or move it away to start a new device; it was left as it is',
          })
        }
        const parsed = fileSchema.safeParse(json)
        if (!parsed.success) {
          throw new VaultCorruptError(`${path} is not a vault file`, {
            details: { issue: parsed.error.issues[0]?.message },
            hint: 'restore it from a backup, or move it away to start a new device; it was left as it is',
          })
        }
        header = parsed.data.header
        for (const [name, value] of Object.entries(parsed.data.entries)) entries.set(name, value)
      } catch (err) {
        locked = false
        await releasePidLock(lockPath)
        throw err
      }
    },
    async readHeader() {
      return header
    },
    async createHeader(value) {
      if (header !== undefined) throw new VaultError('a vault already exists here')
      header = value
      await persist()
    },
    async get(name) {
      const value = entries.get(name)
      return value === undefined ? undefined : base64urlDecode(value)
    },
    async put(name, value) {
      entries.set(name, base64urlEncode(value))
      await persist()
    },
    async delete(name) {
      if (entries.delete(name)) await persist()
    },
    async list() {
      return [...entries.keys()]
    },
    async close() {
      if (!locked) return
      locked = false
      await writing.catch(() => undefined)
      await releasePidLock(lockPath)
    },
  }
}

async function writeAtomically(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`
  const handle = await open(tmp, 'w', 0o600)
  try {
    await handle.writeFile(text, 'utf8')
    await handle.sync()
  } finally {
    await handle.close()
  }
  await rename(tmp, path)
}
