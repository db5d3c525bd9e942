/**
 * The little the store needs from a database, so that one implementation (`sql-store.ts`) runs
 * on SQLite and PostgreSQL alike. Statements use `?` placeholders; the PostgreSQL driver
 * numbers them. Integers may come back as numbers or strings and bytes as any Uint8Array:
 * callers convert.
 */
export interface SqlExecutor {
  all<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]>
  /** Runs a statement; resolves to the number of rows it changed. */
  run(sql: string, params?: readonly unknown[]): Promise<number>
}

export interface SqlDriver extends SqlExecutor {
  readonly dialect: 'sqlite' | 'postgres'
  /** Runs `fn` in one transaction on one connection; rolls back when it throws. */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>
  close(): Promise<void>
}
