import { spawn } from 'node:child_process'
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Wallet } from 'ethers'
import { describe, expect, it } from 'vitest'
import { walletSigner } from '../identity/signer.ts'
import { VAULT_ARGON2ID_MIN, VAULT_FILE_NAME, VAULT_LOCK_FILE_NAME } from './constants.ts'
import { indexedDbVaultBackend } from './vault.browser.ts'
import { fileVaultBackend } from './vault.node.ts'
import { memoryVaultBackend, openVault, type VaultBackend, type VaultUnlock } from './vault.ts'

// The cheapest cost a header may name keeps these tests fast; one test uses the default.
const FAST = { argon2id: VAULT_ARGON2ID_MIN }
const passphrase = (text: string): VaultUnlock => ({ type: 'passphrase', passphrase: text })
const tempDir = () => mkdtemp(join(tmpdir(), 'securechat-vault-'))

/** The compliance suite every vault backend runs (docs/development.md, Tests). */
function backendSuite(name: string, create: () => Promise<() => VaultBackend>): void {
  describe(`vault backend: ${name}`, () => {
    it('behavior: values survive close and reopen, entries are listed and deleted', async () => {
      const backend = await create()
      const vault = await openVault({ backend: backend(), unlock: passphrase('correct horse battery'), ...FAST })
      expect(vault.created).toBe(true)
      await vault.put('dm/device/a', Uint8Array.of(1, 2, 3))
      await vault.put('dm/device/b', Uint8Array.of(4))
      await vault.putJson('device/certificate', { message: 'm', signature: 's' })
      await vault.delete('dm/device/b')
      await vault.close()

      const again = await openVault({ backend: backend(), unlock: passphrase('correct horse battery'), ...FAST })
      expect(again.created).toBe(false)
      expect(again.id).toBe(vault.id)
      expect(await again.get('dm/device/a')).toEqual(Uint8Array.of(1, 2, 3))
      expect(await again.get('dm/device/b')).toBeUndefined()
      expect(await again.list('dm/')).toEqual(['dm/device/a'])
      expect(await again.list()).toEqual(['device/certificate', 'dm/device/a'])
      await again.close()
    })

    it('error: a wrong passphrase is WrongPassphraseError and changes nothing', async () => {
      const backend = await create()
      const vault = await openVault({ backend: backend(), unlock: passphrase('correct horse battery'), ...FAST })
      await vault.put('device/keys', Uint8Array.of(9, 9, 9))
      await vault.close()
      await expect(openVault({ backend: backend(), unlock: passphrase('wrong horse battery') })).rejects.toMatchObject({
        name: 'WrongPassphraseError',
      })
      // The lock was released and the vault still opens with the right passphrase, contents intact.
      const again = await openVault({ backend: backend(), unlock: passphrase('correct horse battery') })
      expect(await again.get('device/keys')).toEqual(Uint8Array.of(9, 9, 9))
      await again.close()
    })

    it('behavior: the unlock key of an open vault reopens it without the passphrase; another key does not', async () => {
      const backend = await create()
      const vault = await openVault({ backend: backend(), unlock: passphrase('correct horse battery'), ...FAST })
      await vault.put('device/keys', Uint8Array.of(7))
      const key = vault.unlockKey
      expect(key.extractable).toBe(false)
      await vault.close()
      const again = await openVault({ backend: backend(), unlock: { type: 'key', key } })
      expect(await again.get('device/keys')).toEqual(Uint8Array.of(7))
      await again.close()
      const other = await openVault({
        backend: memoryVaultBackend(),
        unlock: passphrase('another long phrase'),
        ...FAST,
      })
      // Not "wrong passphrase": no passphrase was given. The error says the kept key is stale, and what to do.
      const stale = {
        name: 'VaultError',
        message: 'the stored vault key opens no vault here',
        details: { unlock: 'key' },
        hint: expect.stringContaining('unlock with the wallet or the passphrase'),
      }
      await expect(
        openVault({ backend: backend(), unlock: { type: 'key', key: other.unlockKey } }),
      ).rejects.toMatchObject(stale)
      await other.close()
      await expect(openVault({ backend: memoryVaultBackend(), unlock: { type: 'key', key } })).rejects.toMatchObject(
        stale,
      )
    })

    it('error: a second open of the same vault is VaultBusyError until the first closes', async () => {
      const backend = await create()
      const first = await openVault({ backend: backend(), unlock: passphrase('correct horse battery'), ...FAST })
      await expect(
        openVault({ backend: backend(), unlock: passphrase('correct horse battery'), ...FAST }),
      ).rejects.toMatchObject({ name: 'VaultBusyError' })
      await first.close()
      const second = await openVault({ backend: backend(), unlock: passphrase('correct horse battery'), ...FAST })
      await second.close()
    })
  })
}

backendSuite('memory', async () => {
  // One store behind every "open", as one file or one database is.
  const store = memoryVaultBackend()
  return () => store
})
backendSuite('IndexedDB (vault.browser.ts on an in-memory IndexedDB stand-in, Web Locks of Node)', async () => {
  installFakeIndexedDb()
  const name = `vault-${Math.random()}`
  return () => indexedDbVaultBackend({ name })
})
backendSuite('file', async () => {
  const dir = await tempDir()
  return () => fileVaultBackend({ dir })
})

describe('vault', () => {
  it('behavior: putLatest writes once per delay with the latest value, at once on flush and close; delete drops it', async () => {
    const memory = memoryVaultBackend()
    const puts: string[] = []
    const backend: VaultBackend = {
      ...memory,
      put: (name, value) => {
        puts.push(name)
        return memory.put(name, value)
      },
    }
    const vault = await openVault({ backend, unlock: passphrase('correct horse battery'), ...FAST })
    let produced = 0
    const latest = (byte: number) => () => {
      produced += 1
      return Uint8Array.of(byte)
    }
    const first = vault.putLatest('room/keys/a', latest(1), { delayMs: 60_000 })
    const second = vault.putLatest('room/keys/a', latest(2), { delayMs: 60_000 })
    expect(second).toBe(first)
    // An earlier deadline holds for the shared write.
    const third = vault.putLatest('room/keys/a', latest(3), { delayMs: 0 })
    await third
    expect({ puts, produced }).toEqual({ puts: ['room/keys/a'], produced: 1 })
    expect(await vault.get('room/keys/a')).toEqual(Uint8Array.of(3))

    // Waiting for its delay: flush writes it now.
    const waiting = vault.putLatest('room/keys/a', latest(4), { delayMs: 60_000 })
    await vault.flush()
    await waiting
    expect(await vault.get('room/keys/a')).toEqual(Uint8Array.of(4))

    // A delete drops a write that has not started; close writes what is pending.
    const dropped = vault.putLatest('room/keys/a', latest(5), { delayMs: 60_000 })
    await vault.delete('room/keys/a')
    await dropped
    void vault.putLatest('room/keys/b', latest(6), { delayMs: 60_000 })
    await vault.close()
    expect(puts).toEqual(['room/keys/a', 'room/keys/a', 'room/keys/b'])
    const again = await openVault({ backend, unlock: passphrase('correct horse battery'), ...FAST })
    expect(await again.list('room/')).toEqual(['room/keys/b'])
    await again.close()
  })

  it('behavior: with the default Argon2id cost the passphrase opens the vault and a wrong one does not', async () => {
    const dir = await tempDir()
    const vault = await openVault({ backend: fileVaultBackend({ dir }), unlock: passphrase('a long passphrase') })
    await vault.put('device/keys', Uint8Array.of(7))
    await vault.close()
    const before = await readFile(join(dir, VAULT_FILE_NAME))
    await expect(
      openVault({ backend: fileVaultBackend({ dir }), unlock: passphrase('a long passphrasE') }),
    ).rejects.toMatchObject({ name: 'WrongPassphraseError' })
    expect(await readFile(join(dir, VAULT_FILE_NAME))).toEqual(before)
  })

  it('behavior: a wallet opens its vault by signing a fixed message; another wallet gets WrongWalletError', async () => {
    const dir = await tempDir()
    const wallet = Wallet.createRandom()
    const unlock: VaultUnlock = { type: 'wallet', signer: walletSigner({ type: 'eoa', signer: wallet }) }
    const vault = await openVault({ backend: fileVaultBackend({ dir }), unlock })
    await vault.put('device/peer-key', Uint8Array.of(1))
    await vault.close()
    const again = await openVault({ backend: fileVaultBackend({ dir }), unlock })
    expect(await again.get('device/peer-key')).toEqual(Uint8Array.of(1))
    await again.close()

    const other = { type: 'wallet', signer: walletSigner({ type: 'eoa', signer: Wallet.createRandom() }) } as const
    await expect(openVault({ backend: fileVaultBackend({ dir }), unlock: other })).rejects.toMatchObject({
      name: 'WrongWalletError',
    })
    await expect(
      openVault({ backend: fileVaultBackend({ dir }), unlock: passphrase('correct horse battery') }),
    ).rejects.toMatchObject({ name: 'VaultLockedError' })
  })

  it('error: a wallet whose signatures vary cannot lock a vault', async () => {
    const wallet = Wallet.createRandom()
    let n = 0
    const unlock: VaultUnlock = {
      type: 'wallet',
      signer: {
        getAddress: async () => wallet.address as `0x${string}`,
        signMessage: async (m) => wallet.signMessage(`${m}${n++}`),
      },
    }
    await expect(openVault({ backend: memoryVaultBackend(), unlock })).rejects.toMatchObject({ name: 'VaultError' })
  })

  it('error: an altered entry, or one moved to another name, is VaultCorruptError and stays as it is', async () => {
    const dir = await tempDir()
    const vault = await openVault({
      backend: fileVaultBackend({ dir }),
      unlock: passphrase('correct horse battery'),
      ...FAST,
    })
    await vault.put('dm/device/alice', Uint8Array.of(1, 1, 1))
    await vault.put('dm/device/mallory', Uint8Array.of(6, 6, 6))
    await vault.close()
    const path = join(dir, VAULT_FILE_NAME)
    const file = JSON.parse(await readFile(path, 'utf8')) as { entries: Record<string, string> }
    // Move mallory's sealed value under alice's name, and flip a bit in mallory's.
    file.entries['dm/device/alice'] = file.entries['dm/device/mallory']!
    const bytes = Buffer.from(file.entries['dm/device/mallory']!, 'base64url')
    bytes[20]! ^= 1
    file.entries['dm/device/mallory'] = bytes.toString('base64url')
    await writeFile(path, JSON.stringify(file))
    const damaged = await readFile(path)

    const again = await openVault({ backend: fileVaultBackend({ dir }), unlock: passphrase('correct horse battery') })
    await expect(again.get('dm/device/alice')).rejects.toMatchObject({ name: 'VaultCorruptError' })
    await expect(again.get('dm/device/mallory')).rejects.toMatchObject({ name: 'VaultCorruptError' })
    await again.close()
    expect(await readFile(path)).toEqual(damaged)
  })

  it('error: a file that is not a vault is VaultCorruptError and is not overwritten', async () => {
    const dir = await tempDir()
    await writeFile(join(dir, VAULT_FILE_NAME), 'not json at all')
    await expect(
      openVault({ backend: fileVaultBackend({ dir }), unlock: passphrase('correct horse battery'), ...FAST }),
    ).rejects.toMatchObject({ name: 'VaultCorruptError' })
    expect(await readFile(join(dir, VAULT_FILE_NAME), 'utf8')).toBe('not json at all')
    // The lock was released: a vault error leaves no stale lock behind.
    await expect(readFile(join(dir, VAULT_LOCK_FILE_NAME))).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('behavior: a lock left by a process that died is taken over', async () => {
    const dir = await tempDir()
    const child = spawn(process.execPath, ['-e', ''])
    const pid = child.pid!
    await new Promise((resolve) => child.once('exit', resolve))
    await writeFile(join(dir, VAULT_LOCK_FILE_NAME), String(pid))
    const vault = await openVault({
      backend: fileVaultBackend({ dir }),
      unlock: passphrase('correct horse battery'),
      ...FAST,
    })
    await vault.close()
  })

  it('error: a short passphrase is refused before anything is written', async () => {
    const backend = memoryVaultBackend()
    await expect(openVault({ backend, unlock: passphrase('short') })).rejects.toMatchObject({
      name: 'InvalidInputError',
    })
    expect(backend.snapshot().header).toBeUndefined()
  })
})

/**
 * Just enough of IndexedDB for `vault.browser.ts`: databases of object stores with out-of-line
 * keys; requests succeed asynchronously; a transaction completes once its requests have, or
 * aborts when one fails (`add` of an existing key). Values are structured-cloned, as in a browser.
 */
function installFakeIndexedDb(): void {
  const g = globalThis as { indexedDB?: unknown }
  if (g.indexedDB !== undefined) return
  const databases = new Map<string, Map<string, Map<unknown, unknown>>>()
  const later = (fn: () => void) => setTimeout(fn, 0)
  type Handlers = { onsuccess?: () => void; onerror?: () => void; result?: unknown; error?: unknown }
  g.indexedDB = {
    open(name: string) {
      const req: Handlers & { onupgradeneeded?: () => void } = {}
      later(() => {
        const isNew = !databases.has(name)
        const stores = databases.get(name) ?? new Map<string, Map<unknown, unknown>>()
        databases.set(name, stores)
        req.result = {
          objectStoreNames: { contains: (store: string) => stores.has(store) },
          createObjectStore: (store: string) => stores.set(store, new Map()),
          close: () => {},
          transaction: (names: string | string[]) => {
            const tx: Handlers & {
              oncomplete?: () => void
              onabort?: () => void
              abort(): void
              objectStore(n: string): unknown
            } = {
              abort: () => {},
              objectStore: (store: string) => {
                const data = stores.get(store)!
                const op = (run: () => unknown) => {
                  const r: Handlers = {}
                  pending++
                  later(() => {
                    try {
                      r.result = run()
                      r.onsuccess?.()
                    } catch (err) {
                      r.error = err
                      r.onerror?.()
                      tx.error = err
                      failed = true
                    }
                    if (--pending === 0) later(() => (failed ? tx.onabort?.() : tx.oncomplete?.()))
                  })
                  return r
                }
                return {
                  get: (key: unknown) => op(() => structuredClone(data.get(key))),
                  put: (value: unknown, key: unknown) => op(() => void data.set(key, structuredClone(value))),
                  add: (value: unknown, key: unknown) =>
                    op(() => {
                      if (data.has(key)) throw new Error('ConstraintError')
                      data.set(key, structuredClone(value))
                    }),
                  delete: (key: unknown) => op(() => void data.delete(key)),
                  getAllKeys: () => op(() => [...data.keys()]),
                }
              },
            }
            let pending = 0
            let failed = false
            void names
            return tx
          },
        }
        if (isNew) req.onupgradeneeded?.()
        req.onsuccess?.()
      })
      return req
    },
  }
}
