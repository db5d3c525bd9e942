/**
 * What this browser remembers outside the vault, in its own IndexedDB database: per wallet,
 * the vault's non-extractable unlock key (a CryptoKey: script can use it, nobody can read its
 * bytes), which wallet signed in last, the relay's last `/config.json`, and the files on disk that interrupted
 * downloads write to (File System Access handles: browser objects the vault's JSON cannot hold, and no secret — a
 * handle names a file the person picked, which the disk shows anyway). Never localStorage: a key there would be
 * readable bytes. Signing out deletes the key, so the next sign-in asks the wallet again.
 */

const DB_NAME = 'securechat-device'
const STORE = 'device'
const LAST_SESSION = 'last-session'
const LAST_CONFIG = 'last-config'

export interface LastSession {
  address: string
  /** The wallet's EIP-6963 rdns, to find the same wallet on reload. */
  rdns: string
}

function openDb(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1)
    request.onupgradeneeded = () => request.result.createObjectStore(STORE)
    request.onsuccess = () => resolve(request.result)
    request.onerror = () => reject(request.error)
  })
}

async function run<T>(mode: IDBTransactionMode, work: (store: IDBObjectStore) => IDBRequest | undefined): Promise<T> {
  const db = await openDb()
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(STORE, mode)
      const request = work(tx.objectStore(STORE))
      tx.oncomplete = () => resolve(request?.result as T)
      tx.onerror = () => reject(tx.error)
      tx.onabort = () => reject(tx.error)
    })
  } finally {
    db.close()
  }
}

const keyName = (address: string): string => `vault-key:${address.toLowerCase()}`

export async function loadVaultKey(address: string): Promise<CryptoKey | undefined> {
  const value = await run<unknown>('readonly', (store) => store.get(keyName(address)))
  return value instanceof CryptoKey ? value : undefined
}

export async function saveVaultKey(address: string, key: CryptoKey): Promise<void> {
  if (key.extractable) throw new TypeError('only a non-extractable key may be kept')
  await run('readwrite', (store) => store.put(key, keyName(address)))
}

export async function forgetVaultKey(address: string): Promise<void> {
  await run('readwrite', (store) => store.delete(keyName(address)))
}

export async function loadLastSession(): Promise<LastSession | undefined> {
  const value = (await run<unknown>('readonly', (store) => store.get(LAST_SESSION))) as Partial<LastSession> | undefined
  return typeof value?.address === 'string' && typeof value.rdns === 'string'
    ? { address: value.address, rdns: value.rdns }
    : undefined
}

export async function saveLastSession(session: LastSession | undefined): Promise<void> {
  await run('readwrite', (store) =>
    session === undefined ? store.delete(LAST_SESSION) : store.put(session, LAST_SESSION),
  )
}

/** The relay's last `/config.json` (public data: addresses, chain, contracts), for offline starts. */
export async function loadLastConfig(): Promise<unknown> {
  return run<unknown>('readonly', (store) => store.get(LAST_CONFIG))
}

export async function saveLastConfig(config: unknown): Promise<void> {
  await run('readwrite', (store) => store.put(config, LAST_CONFIG))
}

const targetName = (address: string, messageId: string): string =>
  `download-target:${address.toLowerCase()}:${messageId}`

/** The file on disk `address`'s download of message `messageId` writes to, kept to write it again after a reload. */
export async function loadDownloadTarget(
  address: string,
  messageId: string,
): Promise<FileSystemFileHandle | undefined> {
  const value = await run<unknown>('readonly', (store) => store.get(targetName(address, messageId)))
  // A browser without the File System Access API (nor OPFS) has no such class: nothing it kept can be one.
  return typeof FileSystemFileHandle === 'function' && value instanceof FileSystemFileHandle ? value : undefined
}

export async function saveDownloadTarget(
  address: string,
  messageId: string,
  handle: FileSystemFileHandle,
): Promise<void> {
  await run('readwrite', (store) => store.put(handle, targetName(address, messageId)))
}

export async function forgetDownloadTarget(address: string, messageId: string): Promise<void> {
  await run('readwrite', (store) => store.delete(targetName(address, messageId)))
}
