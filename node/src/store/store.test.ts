import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { storeCompliance } from './compliance.ts'
import { createPostgresStore, openPostgresDriver } from './postgres.ts'
import { createSqliteStore, openSqliteDriver } from './sqlite.ts'
import type { MessageStore } from './types.ts'

/** The PostgreSQL the tests use (`.ci/run` installs and starts it). */
const POSTGRES_URL =
  process.env.SECURECHAT_TEST_POSTGRES_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/securechat_test'

storeCompliance('sqlite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'securechat-store-'))
  const path = join(dir, 'store.sqlite')
  const opened: Array<{ close(): Promise<void> }> = []
  return {
    open: async (init = {}) => track(opened, await createSqliteStore({ ...init, path })),
    driver: async () => track(opened, openSqliteDriver(path)),
    destroy: async () => {
      for (const store of opened) await store.close()
      await rm(dir, { recursive: true, force: true })
    },
  }
})

let schemas = 0
storeCompliance('postgres', async () => {
  // A schema of its own per test: runs in parallel and leftovers of other runs cannot interfere.
  const schema = `store_test_${process.pid}_${++schemas}_${Math.random().toString(36).slice(2, 8)}`
  const admin = new pg.Client({ connectionString: POSTGRES_URL })
  await admin.connect()
  await admin.query(`CREATE SCHEMA ${schema}`)
  const opened: Array<{ close(): Promise<void> }> = []
  return {
    open: async (init = {}) => track(opened, await createPostgresStore({ ...init, url: POSTGRES_URL, schema })),
    driver: async () => track(opened, await openPostgresDriver({ url: POSTGRES_URL, schema })),
    destroy: async () => {
      for (const store of opened) await store.close()
      await admin.query(`DROP SCHEMA ${schema} CASCADE`)
      await admin.end()
    },
  }
})

function track<T extends MessageStore | { close(): Promise<void> }>(
  list: Array<{ close(): Promise<void> }>,
  item: T,
): T {
  list.push(item)
  return item
}
