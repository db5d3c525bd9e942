/**
 * The vault in the browser: an IndexedDB database (plain IndexedDB API) with two object stores,
 * `meta` (the header, under the key `header`) and `entries` (sealed values by name). Each put is
 * one transaction that resolves on `complete`, so it is durable when it resolves. An exclusive
 * Web Lock (`navigator.locks`, where available) keeps a second tab from opening the same vault.
 *
 * The Node twin is `vault.node.ts`; the package's `browser` field maps it here.
 */

import { VaultBusyError, VaultError } from '../errors.ts'
import type { VaultBackend } from './vault.ts'

const DB_VERSION = 1
const META = 'meta'
const ENTRIES = 'entries'

/** The vault stored in the IndexedDB database named `name`. */
export function platformVaultBackend(name: string): VaultBackend {
  return indexedDbVaultBackend({ name })
}

export function indexedDbVaultBackend(init: { name: string }): VaultBackend {
  let db: IDBDatabase | undefined
  let release: (() => void) | undefined

  const database = (): IDBDatabase => {
    if (db === undefined) throw new VaultError('the vault is not open')
    return db
  }

  return {
    async open() {
      if (db !== undefined) throw new VaultError('this vault backend is already open')
      release = await takeWebLock(`securechat-vault:${init.name}`)
      try {
        db = await openDatabase(init.name)
      } catch (err) {
        release?.()
        release = undefined
        throw err
      }
    },
    async readHeader() {
      return request(database().transaction(META, 'readonly').objectStore(META).get('header'))
    },
    async createHeader(header) {
      // `add` fails (ConstraintError) when a header exists: never replaces a vault.
      const tx = database().transaction(META, 'readwrite', { durability: 'strict' })
      tx.objectStore(META).add(header, 'header')
      try {
        await complete(tx)
      } catch (cause) {
        throw new VaultError('a vault already exists here', { cause })
      }
    },
    async get(name) {
      const value = await request(database().transaction(ENTRIES, 'readonly').objectStore(ENTRIES).get(name))
      return value instanceof Uint8Array ? value : undefined
    },
    async put(name, value) {
      const tx = database().transaction(ENTRIES, 'readwrite', { durability: 'strict' })
      tx.objectStore(ENTRIES).put(value, name)
      await complete(tx)
    },
    async delete(name) {
      const tx = database().transaction(ENTRIES, 'readwrite', { durability: 'strict' })
      tx.objectStore(ENTRIES).delete(name)
      await complete(tx)
    },
    async list() {
      const keys = await request(database().transaction(ENTRIES, 'readonly').objectStore(ENTRIES).getAllKeys())
      return keys.filter((key): key is string => typeof key === 'string')
    },
    async close() {
      db?.close()
      db = undefined
      release?.()
      release = undefined
    },
  }
}

function openDatabase(name: string): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(name, DB_VERSION)
    req.onupgradeneeded = () => {
      const upgrade = req.result
      if (!upgrade.objectStoreNames.contains(META)) upgrade.createObjectStore(META)
      if (!upgrade.objectStoreNames.contains(ENTRIES)) upgrade.createObjectStore(ENTRIES)
    }
    req.onsuccess = () => resolve(req.result)
    req.onerror = () => reject(new VaultError('IndexedDB could not be opened', { cause: req.error }))
    req.onblocked = () => reject(new VaultBusyError('another tab holds an older version of the vault database open'))
  })
}

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result)
    req.onerror = () => reject(new VaultError('IndexedDB request failed', { cause: req.error }))
  })
}

function complete(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve()
    tx.onerror = () => reject(new VaultError('IndexedDB transaction failed', { cause: tx.error }))
    tx.onabort = () => reject(new VaultError('IndexedDB transaction aborted', { cause: tx.error }))
  })
}

/** Holds an exclusive Web Lock until the returned function is called; no-op where unsupported. */
async function takeWebLock(name: string): Promise<() => void> {
  const locks = (globalThis.navigator as Navigator | undefined)?.locks
  if (locks === undefined) return () => {}
  return new Promise((resolve, reject) => {
    locks
      .request(name, { ifAvailable: true }, (lock) => {
        if (lock === null) {
          reject(
            new VaultBusyError('another tab has this vault open', {
              hint: 'close the other SecureChat tab, or reload it',
            }),
          )
          return undefined
        }
        return new Promise<void>((releaseLock) => resolve(() => releaseLock()))
      })
      .catch(reject)
  })
}
