import { join } from 'node:path'
import { StoreError } from '../errors.ts'
import { STORE_FILE_NAME } from './constants.ts'
import { createPostgresStore } from './postgres.ts'
import { createSqliteStore } from './sqlite.ts'
import type { MessageStore, StoreInit } from './types.ts'

export interface OpenStoreInit extends StoreInit {
  /**
   * `--store`: absent or `sqlite` for `STORE_FILE_NAME` under `dataDir`, `sqlite:<file>` for
   * another file, `postgres://…` (or `postgresql://…`) for PostgreSQL.
   */
  store?: string
  dataDir: string
}

/** Opens the store a relay's `--store` names, migrating its schema. */
export async function openStore(init: OpenStoreInit): Promise<MessageStore> {
  const { store, dataDir, ...storeInit } = init
  if (store === undefined || store === 'sqlite') {
    return await createSqliteStore({ ...storeInit, path: join(dataDir, STORE_FILE_NAME) })
  }
  if (store.startsWith('sqlite:') && store.length > 'sqlite:'.length) {
    return await createSqliteStore({ ...storeInit, path: store.slice('sqlite:'.length) })
  }
  if (store.startsWith('postgres://') || store.startsWith('postgresql://')) {
    return await createPostgresStore({ ...storeInit, url: store })
  }
  throw new StoreError('--store: not a store this relay knows', {
    details: { store: store.replace(/\/\/[^@]*@/, '//***@') },
    hint: 'omit --store for SQLite under --data-dir, or pass sqlite:<file> or postgres://user:password@host/database',
  })
}
