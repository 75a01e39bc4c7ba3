/**
 * Every error leaving @dmarc/store is a StoreError with a stable `code` and a `retriable` flag, so a
 * consumer decides between "back off and retry" and "dead-letter" without looking at driver errors.
 * The driver's own error stays reachable as `cause`.
 */
export type StoreErrorCode =
  | 'STORE_UNAVAILABLE'
  | 'STORE_TIMEOUT'
  | 'STORE_TRANSACTION_CONFLICT'
  | 'STORE_UNIQUE_VIOLATION'
  | 'STORE_CONSTRAINT_VIOLATION'
  | 'STORE_INVALID_DATA'
  | 'STORE_INVALID_QUERY'
  | 'STORE_ACCESS_DENIED'
  | 'STORE_CLOSED'
  | 'STORE_MISUSE'
  | 'STORE_MIGRATION_FILE_INVALID'
  | 'STORE_MIGRATION_CHANGED'
  | 'STORE_MIGRATION_FAILED'
  | 'STORE_ERROR';

/** Details PostgreSQL reports with an error; `detail` may quote row values, so it is never put in messages. */
export interface SqlErrorFields {
  readonly sqlState?: string;
  readonly constraint?: string;
  readonly table?: string;
  readonly column?: string;
  readonly detail?: string;
}

export abstract class StoreError extends Error implements SqlErrorFields {
  abstract readonly code: StoreErrorCode;
  abstract readonly retriable: boolean;
  readonly sqlState?: string;
  readonly constraint?: string;
  readonly table?: string;
  readonly column?: string;
  readonly detail?: string;

  constructor(message: string, options: { cause?: unknown } & SqlErrorFields = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    if (options.sqlState !== undefined) this.sqlState = options.sqlState;
    if (options.constraint !== undefined) this.constraint = options.constraint;
    if (options.table !== undefined) this.table = options.table;
    if (options.column !== undefined) this.column = options.column;
    if (options.detail !== undefined) this.detail = options.detail;
  }
}

/** The server cannot be reached, refused or dropped the connection, or is shutting down or full. */
export class StoreUnavailableError extends StoreError {
  readonly code = 'STORE_UNAVAILABLE';
  readonly retriable = true;
}

/** A connection, statement or lock wait ran out of time. */
export class StoreTimeoutError extends StoreError {
  readonly code = 'STORE_TIMEOUT';
  readonly retriable = true;
}

/** Serialization failure or deadlock: the transaction lost a race and may simply be run again. */
export class TransactionConflictError extends StoreError {
  readonly code = 'STORE_TRANSACTION_CONFLICT';
  readonly retriable = true;
}

/**
 * A unique or primary key already holds the value. Idempotent consumers treat this as "already done",
 * so it has its own code; `constraint` names the index.
 */
export class UniqueViolationError extends StoreError {
  readonly code = 'STORE_UNIQUE_VIOLATION';
  readonly retriable = false;
}

/** Foreign key, not-null, check or exclusion constraint violated. */
export class ConstraintViolationError extends StoreError {
  readonly code = 'STORE_CONSTRAINT_VIOLATION';
  readonly retriable = false;
}

/** A value the column type rejects: malformed uuid, out-of-range number, invalid text encoding. */
export class InvalidDataError extends StoreError {
  readonly code = 'STORE_INVALID_DATA';
  readonly retriable = false;
}

/** Syntax error, unknown table or column, wrong parameter count: a bug in the SQL, not in the data. */
export class InvalidQueryError extends StoreError {
  readonly code = 'STORE_INVALID_QUERY';
  readonly retriable = false;
}

/** Authentication failed, the database does not exist, or the role lacks a privilege: fix configuration. */
export class StoreAccessError extends StoreError {
  readonly code = 'STORE_ACCESS_DENIED';
  readonly retriable = false;
}

/** The store (or the transaction handle) was used after it was closed. */
export class StoreClosedError extends StoreError {
  readonly code = 'STORE_CLOSED';
  readonly retriable = false;
}

/** The store was used in a way that cannot work, e.g. a PGlite query that would wait on its own transaction. */
export class StoreMisuseError extends StoreError {
  readonly code = 'STORE_MISUSE';
  readonly retriable = false;
}

/** Anything PostgreSQL or the driver reported that none of the above describes. */
export class UnknownStoreError extends StoreError {
  readonly code = 'STORE_ERROR';
  readonly retriable = false;
}

/** A file in the migrations folder is misnamed, or two files share a version number. */
export class MigrationFileError extends StoreError {
  readonly code = 'STORE_MIGRATION_FILE_INVALID';
  readonly retriable = false;

  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`migration ${file}: ${reason}`);
  }
}

/** An already-applied migration file was edited; applied migrations are history and must not change. */
export class MigrationChangedError extends StoreError {
  readonly code = 'STORE_MIGRATION_CHANGED';
  readonly retriable = false;

  constructor(
    readonly file: string,
    readonly appliedChecksum: string,
    readonly currentChecksum: string,
  ) {
    super(
      `migration ${file} was changed after it was applied (checksum ${short(appliedChecksum)} applied, ` +
        `${short(currentChecksum)} on disk); restore it and put the change in a new migration`,
    );
  }
}

/** A migration's SQL failed; it was rolled back. Retriable when its cause was (e.g. the connection dropped). */
export class MigrationFailedError extends StoreError {
  readonly code = 'STORE_MIGRATION_FAILED';
  readonly retriable: boolean;

  constructor(
    readonly file: string,
    cause: StoreError,
  ) {
    super(`migration ${file} failed and was rolled back: ${cause.message}`, { cause, sqlState: cause.sqlState });
    this.retriable = cause.retriable;
  }
}

function short(checksum: string): string {
  return checksum.slice(0, 12);
}
