import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs'
import { dirname } from 'node:path'
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite'
import { StoreError } from '../errors.ts'
import { STORE_SQLITE_BUSY_TIMEOUT_MS } from './constants.ts'
import type { SqlDriver, SqlExecutor } from './sql.ts'
import { SqlStore } from './sql-store.ts'
import type { MessageStore, StoreInit } from './types.ts'

export interface SqliteStoreInit extends StoreInit {
  /** Database file (created with its directory), or `:memory:`. */
  path: string
}

/** The embedded store: one SQLite file through Node's built-in `node:sqlite`. */
export async function createSqliteStore(init: SqliteStoreInit): Promise<MessageStore> {
  return await SqlStore.open(openSqliteDriver(init.path), init)
}

/**
 * Statements of a transaction must not interleave with others that run while it awaits, and
 * `node:sqlite` blocks the thread anyway: every use, of every connection in this process,
 * waits its turn. (Per connection would not do: a second connection to the same file would
 * block the thread on the write lock the first one holds and cannot release meanwhile.)
 */
let queue: Promise<unknown> = Promise.resolve()
function serialized<T>(fn: () => Promise<T>): Promise<T> {
  const result = queue.then(fn)
  queue = result.catch(() => undefined)
  return result
}

/** The SQLite connection the store runs on (exported for migration tests). */
export function openSqliteDriver(path: string): SqlDriver {
  let db: DatabaseSync
  try {
    if (path !== ':memory:') {
      mkdirSync(dirname(path), { recursive: true })
      // The owner's alone, as the relay's key is: ciphertext, but also who is in which room and when they wrote.
      // SQLite gives its WAL and shared-memory files the database file's mode.
      closeSync(openSync(path, 'a', 0o600))
      chmodSync(path, 0o600)
    }
    db = new DatabaseSync(path)
    // WAL: readers do not wait for the writer; NORMAL sync is durable across process crashes.
    if (path !== ':memory:') db.exec('PRAGMA journal_mode = WAL')
    db.exec(`PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = ${STORE_SQLITE_BUSY_TIMEOUT_MS}`)
  } catch (err) {
    throw new StoreError(`cannot open the SQLite store at ${path}`, {
      details: { path },
      hint: 'check that --data-dir is writable, or pass --store postgres://…',
      cause: err,
    })
  }
  const statements = new Map<string, StatementSync>()
  const prepare = (sql: string): StatementSync => {
    let statement = statements.get(sql)
    if (statement === undefined) {
      statement = db.prepare(sql)
      statements.set(sql, statement)
    }
    return statement
  }
  const direct: SqlExecutor = {
    all: async <T>(sql: string, params: readonly unknown[] = []) =>
      prepare(sql).all(...(params as SQLInputValue[])) as T[],
    run: async (sql: string, params: readonly unknown[] = []) =>
      Number(prepare(sql).run(...(params as SQLInputValue[])).changes),
  }
  return {
    dialect: 'sqlite',
    all: (sql, params) => serialized(() => direct.all(sql, params)),
    run: (sql, params) => serialized(() => direct.run(sql, params)),
    transaction: (fn) =>
      serialized(async () => {
        db.exec('BEGIN IMMEDIATE')
        try {
          const result = await fn(direct)
          db.exec('COMMIT')
          return result
        } catch (err) {
          db.exec('ROLLBACK')
          throw err
        }
      }),
    close: () =>
      serialized(async () => {
        if (db.isOpen) db.close()
      }),
  }
}
