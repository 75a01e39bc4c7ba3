import {
  ConstraintViolationError,
  InvalidDataError,
  InvalidQueryError,
  StoreAccessError,
  StoreError,
  StoreTimeoutError,
  StoreUnavailableError,
  TransactionConflictError,
  UniqueViolationError,
  UnknownStoreError,
  type SqlErrorFields,
} from './errors';

/** Shape shared by node-postgres' DatabaseError and PGlite's error: both carry the server's ErrorResponse. */
interface ServerError {
  message: string;
  code: string;
  severity: string;
  constraint?: string;
  table?: string;
  column?: string;
  detail?: string;
}

/** Node's system errors (`connect ECONNREFUSED ...`) carry a string code like this. */
interface SystemError {
  message: string;
  code: string;
  syscall?: string;
}

const SQLSTATE = /^[0-9A-Z]{5}$/;

// Socket-level failures worth retrying: the server may be restarting, or its name not yet resolvable
// while a Kubernetes service comes up.
const RETRIABLE_SYSTEM_CODES: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection closed',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed',
};

/**
 * Turns whatever the driver threw into a StoreError. `target` (host:port/db, no credentials) makes
 * connection failures say where they tried to go. StoreErrors pass through unchanged.
 */
export function toStoreError(err: unknown, target?: string): StoreError {
  if (err instanceof StoreError) return err;
  if (isServerError(err)) return fromSqlState(err);
  const where = target ? ` at ${target}` : '';
  const system = systemError(err);
  if (system) {
    const what = RETRIABLE_SYSTEM_CODES[system.code];
    if (what) {
      const Cls = system.code === 'ETIMEDOUT' ? StoreTimeoutError : StoreUnavailableError;
      return new Cls(`cannot reach PostgreSQL${where}: ${what} (${system.code})`, { cause: err });
    }
  }
  const message = err instanceof Error ? err.message : String(err);
  // node-postgres reports lost connections and pool timeouts as plain Errors with no code, so their
  // message is all there is to go on; matching it here keeps that knowledge out of every caller.
  if (/timeout/i.test(message)) {
    return new StoreTimeoutError(`PostgreSQL${where}: ${message}`, { cause: err });
  }
  if (/Connection terminated|connection error|not queryable|ended the connection/i.test(message)) {
    return new StoreUnavailableError(`PostgreSQL${where}: ${message}`, { cause: err });
  }
  return new UnknownStoreError(`PostgreSQL${where}: ${message}`, { cause: err });
}

function fromSqlState(err: ServerError): StoreError {
  const state = err.code;
  const fields: SqlErrorFields & { cause: unknown } = {
    cause: err,
    sqlState: state,
    ...(err.constraint ? { constraint: err.constraint } : {}),
    ...(err.table ? { table: err.table } : {}),
    ...(err.column ? { column: err.column } : {}),
    ...(err.detail ? { detail: err.detail } : {}),
  };
  const message = `${err.message} (SQLSTATE ${state})`;
  const cls = state.slice(0, 2);
  if (state === '23505') return new UniqueViolationError(message, fields);
  if (state === '40001' || state === '40P01') return new TransactionConflictError(message, fields);
  // 57014 is statement_timeout (or a cancel); 55P03 lock_timeout; 25P03 idle_in_transaction_session_timeout.
  if (state === '57014' || state === '55P03' || state === '25P03') return new StoreTimeoutError(message, fields);
  // 57P01-57P05: admin/crash shutdown, cannot connect now, idle session timeout; 53300: too many connections.
  // 08P01 (protocol violation) is what a wrong number of bind parameters produces: a bug, not an outage.
  if (state === '08P01') return new InvalidQueryError(message, fields);
  if (cls === '08' || state.startsWith('57P') || state === '53300') return new StoreUnavailableError(message, fields);
  if (cls === '28' || state === '3D000' || state === '42501') return new StoreAccessError(message, fields);
  if (cls === '23') return new ConstraintViolationError(message, fields);
  if (cls === '22') return new InvalidDataError(message, fields);
  if (cls === '42') return new InvalidQueryError(message, fields);
  return new UnknownStoreError(message, fields);
}

function isServerError(err: unknown): err is ServerError {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as Partial<ServerError>;
  // `severity` tells a server error from a Node system error whose code also has five letters (EPIPE).
  return typeof e.code === 'string' && SQLSTATE.test(e.code) && typeof e.severity === 'string' && typeof e.message === 'string';
}

function systemError(err: unknown): SystemError | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as Partial<SystemError> & { errors?: unknown[] };
  if (typeof e.code === 'string' && typeof e.message === 'string') return e as SystemError;
  // Connecting to a name with several addresses (localhost → ::1 and 127.0.0.1) fails with an
  // AggregateError whose own code may be missing; the first attempt's code says what happened.
  if (Array.isArray(e.errors) && e.errors.length > 0) return systemError(e.errors[0]);
  return undefined;
}
