import { Pool, types as pgTypes, type PoolClient, type QueryConfig, type QueryResult as PgResult } from 'pg';
import { StoreClosedError, StoreMisuseError, type StoreError } from './errors';
import { toStoreError } from './error-mapping';
import type { Queryable, QueryOptions, QueryParams, QueryResult, Store, TransactionOptions } from './store';
import { beginStatement, withConflictRetry } from './transaction-retry';

export interface PgStoreOptions {
  /** `postgres://user:password@host:port/database?sslmode=...` */
  readonly url: string;
  /** Most connections held at once (default 10). */
  readonly poolSize?: number;
  /** How long to wait for a connection, new or from the pool, before STORE_TIMEOUT (default 5000). */
  readonly connectTimeoutMs?: number;
  /** Idle connections are closed after this long (default 30000). */
  readonly idleTimeoutMs?: number;
  /** Server-side limit per statement; unset means none. */
  readonly statementTimeoutMs?: number;
  /** Sets search_path on every connection, e.g. a throwaway schema per test run. */
  readonly schema?: string;
  /** Shown in pg_stat_activity, so a DBA can tell services apart. */
  readonly applicationName?: string;
  /**
   * Told about errors on idle connections (server restart, network cut). The pool drops such a
   * connection by itself; without a listener node-postgres would crash the process instead.
   */
  readonly onError?: (err: StoreError) => void;
}

const DATE_OID = 1082;

// node-postgres turns `date` into a Date at local midnight, which shifts the day in any zone west of
// UTC; a plain 'YYYY-MM-DD' string is what PgliteStore returns too.
const typeParsers = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === DATE_OID ? (v: string) => v : pgTypes.getTypeParser(oid, format as 'text')) as typeof pgTypes.getTypeParser,
};

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** PostgreSQL over a node-postgres connection pool. */
export class PgStore implements Store {
  readonly driver = 'pg';
  readonly #pool: Pool;
  readonly #target: string | undefined;
  readonly #counter = { statements: 0 };
  #closing: Promise<void> | undefined;

  constructor(options: PgStoreOptions) {
    if (options.schema !== undefined && !SCHEMA_NAME.test(options.schema)) {
      throw new StoreMisuseError(`PgStore schema must be a lower-case identifier, got ${JSON.stringify(options.schema)}`);
    }
    this.#target = describeTarget(options.url);
    this.#pool = new Pool({
      connectionString: options.url,
      max: options.poolSize ?? 10,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
      idleTimeoutMillis: options.idleTimeoutMs ?? 30_000,
      ...(options.statementTimeoutMs !== undefined ? { statement_timeout: options.statementTimeoutMs } : {}),
      ...(options.applicationName !== undefined ? { application_name: options.applicationName } : {}),
      ...(options.schema !== undefined ? { options: `-c search_path=${options.schema}` } : {}),
      types: typeParsers,
    });
    const onError = options.onError;
    this.#pool.on('error', (err) => onError?.(toStoreError(err, this.#target)));
  }

  /**
   * Statements sent to the server so far, transactions' BEGIN and COMMIT included: what a cache in front of
   * the store saves is read here (the `dmarc_db_statements_total` metric).
   */
  get statementsSent(): number {
    return this.#counter.statements;
  }

  async query<T = Record<string, unknown>>(sql: string, params?: QueryParams, options?: QueryOptions): Promise<QueryResult<T>> {
    this.#assertOpen();
    this.#counter.statements++;
    try {
      return toResult<T>(await this.#pool.query(singleStatement(sql, params, options)));
    } catch (err) {
      throw toStoreError(err, this.#target);
    }
  }

  async exec(sql: string): Promise<void> {
    this.#assertOpen();
    this.#counter.statements++;
    try {
      await this.#pool.query(sql);
    } catch (err) {
      throw toStoreError(err, this.#target);
    }
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>, options?: TransactionOptions): Promise<T> {
    return withConflictRetry(() => this.#attempt(fn, options), options);
  }

  async ping(): Promise<void> {
    await this.query('SELECT 1');
  }

  close(): Promise<void> {
    this.#closing ??= this.#pool.end().catch(() => undefined);
    return this.#closing;
  }

  async #attempt<T>(fn: (tx: Queryable) => Promise<T>, options?: TransactionOptions): Promise<T> {
    this.#assertOpen();
    let client: PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (err) {
      throw toStoreError(err, this.#target);
    }
    // A checked-out client has no pool listener; a connection lost while the body awaits something
    // else would otherwise be an unhandled 'error' event. The next query on it fails and says why.
    const ignore = (): void => undefined;
    client.on('error', ignore);
    const tx = new PgTransaction(client, this.#target, this.#counter);
    let broken: Error | undefined;
    try {
      await tx.query(beginStatement(options));
      const result = await fn(tx);
      await tx.query('COMMIT');
      return result;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackErr) {
        // The connection is unusable; destroy it rather than hand a half-open transaction to the next user.
        broken = rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr));
      }
      throw err;
    } finally {
      tx.finish();
      client.off('error', ignore);
      client.release(broken);
    }
  }

  #assertOpen(): void {
    if (this.#closing) throw new StoreClosedError('PgStore is closed');
  }
}

class PgTransaction implements Queryable {
  #done = false;

  constructor(
    private readonly client: PoolClient,
    private readonly target: string | undefined,
    private readonly counter: { statements: number },
  ) {}

  async query<T = Record<string, unknown>>(sql: string, params?: QueryParams, options?: QueryOptions): Promise<QueryResult<T>> {
    this.#assertActive();
    this.counter.statements++;
    try {
      return toResult<T>(await this.client.query(singleStatement(sql, params, options)));
    } catch (err) {
      throw toStoreError(err, this.target);
    }
  }

  async exec(sql: string): Promise<void> {
    this.#assertActive();
    this.counter.statements++;
    try {
      await this.client.query(sql);
    } catch (err) {
      throw toStoreError(err, this.target);
    }
  }

  finish(): void {
    this.#done = true;
  }

  #assertActive(): void {
    // The connection has gone back to the pool: running on it now would land in someone else's session.
    if (this.#done) throw new StoreClosedError('transaction already finished; the handle cannot be used after it');
  }
}

/**
 * The extended protocol runs exactly one statement, as PGlite's query does, so a query that works on one
 * driver works on the other; scripts go through `exec`.
 */
function singleStatement(sql: string, params?: QueryParams, options?: QueryOptions): QueryConfig {
  return { text: sql, values: params ? [...params] : [], queryMode: 'extended', ...(options?.name ? { name: options.name } : {}) } as QueryConfig;
}

function toResult<T>(res: PgResult): QueryResult<T> {
  return { rows: res.rows as T[], rowCount: res.rowCount ?? 0 };
}

/** host:port/database for error messages, never the credentials. */
function describeTarget(url: string): string | undefined {
  try {
    const u = new URL(url);
    return `${u.hostname || 'localhost'}:${u.port || '5432'}${u.pathname || ''}`;
  } catch {
    return undefined;
  }
}
