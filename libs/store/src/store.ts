/**
 * The one interface both drivers implement (PgStore over a node-postgres pool, PgliteStore over an
 * in-process PGlite), chosen at wiring time.
 *
 * Values come back the same from both: bigint/int8 and numeric as strings (they do not fit a JS number
 * safely), date as 'YYYY-MM-DD' strings (no time zone shift), timestamptz as Date, json/jsonb parsed,
 * bytea as Buffer.
 */
export interface QueryResult<T> {
  readonly rows: T[];
  /** Rows returned by a SELECT, or affected by INSERT/UPDATE/DELETE; 0 for other statements. */
  readonly rowCount: number;
}

export type QueryParams = readonly unknown[];

export interface QueryOptions {
  /**
   * Names the statement so PostgreSQL parses and plans it once per connection and reuses it (node-postgres
   * named prepared statements). One name, one SQL text, for the whole process. PGlite ignores it.
   */
  readonly name?: string;
}

/** What a transaction body receives, and what the store itself offers outside transactions. */
export interface Queryable {
  /** One statement, with `$1`-style parameters. */
  query<T = Record<string, unknown>>(sql: string, params?: QueryParams, options?: QueryOptions): Promise<QueryResult<T>>;
  /** A script of several statements without parameters (migrations, fixtures). */
  exec(sql: string): Promise<void>;
}

export type IsolationLevel = 'read committed' | 'repeatable read' | 'serializable';

export interface TransactionOptions {
  /** Default: the server's (read committed). */
  readonly isolation?: IsolationLevel;
  /**
   * How many more times to run the body after a serialization failure or deadlock (default 0). Only
   * for bodies that do nothing but database work: the whole function runs again.
   */
  readonly retries?: number;
}

export type StoreDriver = 'pg' | 'pglite';

export interface Store extends Queryable {
  readonly driver: StoreDriver;
  /**
   * Runs `fn` between BEGIN and COMMIT on one connection; any error rolls back and is rethrown (database
   * errors as StoreError, the body's own errors unchanged). Use only `tx` inside `fn`: the store itself
   * would run outside the transaction (pg) or wait for it forever (PGlite, which refuses with STORE_MISUSE).
   */
  transaction<T>(fn: (tx: Queryable) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /** Health check: resolves when the database answers a trivial query, rejects with a StoreError otherwise. */
  ping(): Promise<void>;
  /** Releases connections; idempotent. Later calls fail with STORE_CLOSED. */
  close(): Promise<void>;
}
