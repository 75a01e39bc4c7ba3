import { AsyncLocalStorage } from 'node:async_hooks';
import type { PGlite, Results, Transaction } from '@electric-sql/pglite';
import { StoreClosedError, StoreError, StoreMisuseError } from './errors';
import { toStoreError } from './error-mapping';
import { loadPglite } from './pglite-loader';
import type { IsolationLevel, Queryable, QueryParams, QueryResult, Store, TransactionOptions } from './store';
import { withConflictRetry } from './transaction-retry';

export interface PgliteStoreOptions {
  /** A folder to keep the database in; unset keeps it in memory for the life of the process. */
  readonly dataDir?: string;
}

// Return values as PgStore (node-postgres) does, so code and tests behave the same on both drivers:
// PGlite's defaults turn int8 into a lossy number, date into a Date, and bytea into a bare Uint8Array.
// Dates and JSON are parsed here rather than by PGlite so they are built in the caller's realm (see
// pglite-loader.ts).
const parsers: Record<number, (value: string) => unknown> = {
  20: (v) => v, // int8
  1082: (v) => v, // date
  17: (v) => Buffer.from(v.slice(2), 'hex'), // bytea, as '\\x…' hex
  1114: (v) => new Date(v), // timestamp
  1184: (v) => new Date(v), // timestamptz
  114: (v) => JSON.parse(v), // json
  3802: (v) => JSON.parse(v), // jsonb
};

/**
 * Parameters as node-postgres sends them: Date as an ISO timestamp, bytes as bytea hex, objects as JSON,
 * anything else as its string. PGlite's own serializers reject values by `instanceof`, which fails
 * for values from another realm (a jest test's Date), and refuse strings for booleans and numbers.
 */
function serializeParam(value: unknown): string {
  if (Object.prototype.toString.call(value) === '[object Date]') return (value as Date).toISOString();
  if (ArrayBuffer.isView(value)) {
    return `\\x${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}`;
  }
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

// bool, bytea, int8, int2, int4, text, json, float4, float8, bpchar, varchar, date, timestamp,
// timestamptz, numeric, uuid, jsonb: every type PGlite would otherwise serialize its own way.
const serializers = Object.fromEntries(
  [16, 17, 20, 21, 23, 25, 114, 700, 701, 1042, 1043, 1082, 1114, 1184, 1700, 2950, 3802].map((oid) => [oid, serializeParam]),
);

const SET_ISOLATION: Readonly<Record<IsolationLevel, string>> = {
  'read committed': 'SET TRANSACTION ISOLATION LEVEL READ COMMITTED',
  'repeatable read': 'SET TRANSACTION ISOLATION LEVEL REPEATABLE READ',
  serializable: 'SET TRANSACTION ISOLATION LEVEL SERIALIZABLE',
};

/**
 * PostgreSQL compiled to WebAssembly, in this process: the embedded `dmarc analyze` mode and unit tests.
 * PGlite has one connection, and runs one query or transaction at a time; others wait their turn.
 */
export class PgliteStore implements Store {
  readonly driver = 'pglite';
  readonly #db: PGlite;
  // Marks code running inside one of our transactions: a call on the store from there would queue
  // behind the transaction it is part of and never run, so it is refused instead of hanging.
  readonly #inTransaction = new AsyncLocalStorage<{ active: boolean }>();
  #closing: Promise<void> | undefined;

  private constructor(db: PGlite) {
    this.#db = db;
  }

  static async open(options: PgliteStoreOptions = {}): Promise<PgliteStore> {
    try {
      const db = await loadPglite().PGlite.create({ ...(options.dataDir ? { dataDir: options.dataDir } : {}), parsers, serializers });
      return new PgliteStore(db);
    } catch (err) {
      throw toStoreError(err, options.dataDir ? `pglite ${options.dataDir}` : 'pglite in memory');
    }
  }

  async query<T = Record<string, unknown>>(sql: string, params?: QueryParams): Promise<QueryResult<T>> {
    this.#assertUsable('query');
    try {
      return toResult(await this.#db.query<T>(sql, params ? [...params] : undefined));
    } catch (err) {
      throw toStoreError(err);
    }
  }

  async exec(sql: string): Promise<void> {
    this.#assertUsable('exec');
    try {
      await this.#db.exec(sql);
    } catch (err) {
      throw toStoreError(err);
    }
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>, options?: TransactionOptions): Promise<T> {
    return withConflictRetry(() => this.#attempt(fn, options), options);
  }

  async ping(): Promise<void> {
    await this.query('SELECT 1');
  }

  close(): Promise<void> {
    this.#closing ??= this.#db.close().catch(() => undefined);
    return this.#closing;
  }

  async #attempt<T>(fn: (tx: Queryable) => Promise<T>, options?: TransactionOptions): Promise<T> {
    this.#assertUsable('transaction');
    const marker = { active: true };
    try {
      return await this.#db.transaction(async (pgTx) => {
        const tx = new PgliteTransaction(pgTx);
        try {
          if (options?.isolation) await tx.query(SET_ISOLATION[options.isolation]);
          return await this.#inTransaction.run(marker, () => fn(tx));
        } finally {
          tx.finish();
          marker.active = false;
        }
      });
    } catch (err) {
      // Errors from the body pass through as thrown; only PGlite's own (BEGIN/COMMIT) need mapping.
      throw isDriverError(err) ? toStoreError(err) : err;
    }
  }

  #assertUsable(what: string): void {
    if (this.#closing) throw new StoreClosedError('PgliteStore is closed');
    if (this.#inTransaction.getStore()?.active) {
      throw new StoreMisuseError(
        `${what} on the store inside its own transaction would wait for that transaction forever; use the tx passed to transaction()`,
      );
    }
  }
}

class PgliteTransaction implements Queryable {
  #done = false;

  constructor(private readonly tx: Transaction) {}

  async query<T = Record<string, unknown>>(sql: string, params?: QueryParams): Promise<QueryResult<T>> {
    this.#assertActive();
    try {
      return toResult(await this.tx.query<T>(sql, params ? [...params] : undefined));
    } catch (err) {
      throw toStoreError(err);
    }
  }

  async exec(sql: string): Promise<void> {
    this.#assertActive();
    try {
      await this.tx.exec(sql);
    } catch (err) {
      throw toStoreError(err);
    }
  }

  finish(): void {
    this.#done = true;
  }

  #assertActive(): void {
    if (this.#done) throw new StoreClosedError('transaction already finished; the handle cannot be used after it');
  }
}

function toResult<T>(res: Results<T>): QueryResult<T> {
  return {
    // Copied so rows are plain objects of the caller's realm (see pglite-loader.ts): under jest,
    // toStrictEqual compares prototypes.
    rows: res.rows.map((row) => ({ ...row })),
    // PGlite counts only affected rows (0 for a SELECT); node-postgres also counts returned rows.
    rowCount: Math.max(res.affectedRows ?? 0, res.rows.length),
  };
}

function isDriverError(err: unknown): boolean {
  // Duck-typed: PGlite's errors may come from another realm, where `instanceof Error` is false.
  return typeof err === 'object' && err !== null && !(err instanceof StoreError) && 'severity' in err;
}
