import pg from 'pg'
import { StoreError } from '../errors.ts'
import { STORE_POSTGRES_POOL_SIZE } from './constants.ts'
import type { SqlDriver, SqlExecutor } from './sql.ts'
import { SqlStore } from './sql-store.ts'
import type { MessageStore, StoreInit } from './types.ts'

export interface PostgresStoreInit extends StoreInit {
  /** `postgres://user:password@host:port/database` */
  url: string
  /** Schema holding the tables (it must exist). Default: the server's search path (`public`). */
  schema?: string
  /** Default `STORE_POSTGRES_POOL_SIZE`. */
  poolSize?: number
}

/**
 * The store on PostgreSQL, for operators who outgrow one file and for several relays sharing
 * one database: inserts are idempotent by (topic, message id, sender), so relays that see the
 * same record store it once, and migrations take an advisory lock.
 */
export async function createPostgresStore(init: PostgresStoreInit): Promise<MessageStore> {
  return await SqlStore.open(await openPostgresDriver(init), init)
}

/** The connection pool the store runs on, once the server answered (exported for migration tests). */
export async function openPostgresDriver(init: Omit<PostgresStoreInit, keyof StoreInit>): Promise<SqlDriver> {
  if (init.schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(init.schema)) {
    throw new StoreError('schema: a lower-case SQL identifier', { details: { schema: init.schema } })
  }
  const pool = new pg.Pool({
    connectionString: init.url,
    max: init.poolSize ?? STORE_POSTGRES_POOL_SIZE,
    ...(init.schema === undefined ? {} : { options: `-c search_path=${init.schema}` }),
  })
  // An idle client that loses its server emits here; without a listener the process would exit.
  pool.on('error', () => undefined)
  try {
    const client = await pool.connect()
    client.release()
  } catch (err) {
    await pool.end()
    throw new StoreError('cannot reach the PostgreSQL store', {
      details: { url: redact(init.url) },
      hint: 'check the --store URL (user, password, host, database) and that PostgreSQL is running',
      cause: err,
    })
  }
  return driverOver(pool)
}

function driverOver(pool: pg.Pool): SqlDriver {
  const on = (client: pg.Pool | pg.PoolClient): SqlExecutor => ({
    all: async <T>(sql: string, params: readonly unknown[] = []) =>
      (await client.query(numbered(sql), params.map(toPg))).rows as T[],
    run: async (sql: string, params: readonly unknown[] = []) =>
      (await client.query(numbered(sql), params.map(toPg))).rowCount ?? 0,
  })
  let ended = false
  return {
    dialect: 'postgres',
    ...on(pool),
    transaction: async (fn) => {
      const client = await pool.connect()
      try {
        await client.query('BEGIN')
        const result = await fn(on(client))
        await client.query('COMMIT')
        return result
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined)
        throw err
      } finally {
        client.release()
      }
    },
    close: async () => {
      if (ended) return
      ended = true
      await pool.end()
    },
  }
}

/** `?` placeholders to `$1, $2, …` (the store's SQL has no `?` inside literals). */
function numbered(sql: string): string {
  let n = 0
  return sql.replace(/\?/g, () => `$${++n}`)
}

function toPg(value: unknown): unknown {
  return value instanceof Uint8Array && !Buffer.isBuffer(value)
    ? Buffer.from(value.buffer, value.byteOffset, value.byteLength)
    : value
}

function redact(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password !== '') parsed.password = '***'
    return parsed.toString()
  } catch {
    return '(not a URL)'
  }
}
