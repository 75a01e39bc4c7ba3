import { StoreError, UniqueViolationError } from './errors';
import { toStoreError } from './error-mapping';

function serverError(code: string, message = 'server said no', extra: Record<string, string> = {}): Error {
  return Object.assign(new Error(message), { code, severity: 'ERROR', ...extra });
}

function systemError(code: string): Error {
  return Object.assign(new Error(`connect ${code} 10.0.0.1:5432`), { code, syscall: 'connect' });
}

describe('toStoreError', () => {
  it.each([
    ['23505', 'STORE_UNIQUE_VIOLATION', false],
    ['23503', 'STORE_CONSTRAINT_VIOLATION', false],
    ['23514', 'STORE_CONSTRAINT_VIOLATION', false],
    ['23001', 'STORE_CONSTRAINT_VIOLATION', false],
    ['22P02', 'STORE_INVALID_DATA', false],
    ['42601', 'STORE_INVALID_QUERY', false],
    ['42P01', 'STORE_INVALID_QUERY', false],
    ['08P01', 'STORE_INVALID_QUERY', false],
    ['42501', 'STORE_ACCESS_DENIED', false],
    ['28P01', 'STORE_ACCESS_DENIED', false],
    ['3D000', 'STORE_ACCESS_DENIED', false],
    ['40001', 'STORE_TRANSACTION_CONFLICT', true],
    ['40P01', 'STORE_TRANSACTION_CONFLICT', true],
    ['57014', 'STORE_TIMEOUT', true],
    ['55P03', 'STORE_TIMEOUT', true],
    ['57P01', 'STORE_UNAVAILABLE', true],
    ['57P03', 'STORE_UNAVAILABLE', true],
    ['08006', 'STORE_UNAVAILABLE', true],
    ['53300', 'STORE_UNAVAILABLE', true],
    ['XX000', 'STORE_ERROR', false],
  ])('SQLSTATE %s → %s (retriable %s)', (sqlState, code, retriable) => {
    const err = toStoreError(serverError(sqlState));
    expect(err).toBeInstanceOf(StoreError);
    expect(err).toMatchObject({ code, retriable, sqlState });
  });

  it('keeps the server fields, the cause, and the SQLSTATE in the message', () => {
    const cause = serverError('23505', 'duplicate key value violates unique constraint "t_pkey"', {
      constraint: 't_pkey',
      table: 't',
      detail: 'Key (id)=(1) already exists.',
    });
    const err = toStoreError(cause);
    expect(err).toBeInstanceOf(UniqueViolationError);
    expect(err.message).toBe('duplicate key value violates unique constraint "t_pkey" (SQLSTATE 23505)');
    expect(err).toMatchObject({ constraint: 't_pkey', table: 't', detail: 'Key (id)=(1) already exists.' });
    expect(err.cause).toBe(cause);
  });

  it.each([
    ['ECONNREFUSED', 'STORE_UNAVAILABLE', 'connection refused'],
    ['ECONNRESET', 'STORE_UNAVAILABLE', 'connection reset'],
    ['ENOTFOUND', 'STORE_UNAVAILABLE', 'host name not found'],
    ['ETIMEDOUT', 'STORE_TIMEOUT', 'connection timed out'],
    ['EPIPE', 'STORE_UNAVAILABLE', 'connection closed'],
  ])('a socket error %s is retriable %s', (sys, code, what) => {
    const err = toStoreError(systemError(sys), 'db:5432/dmarc');
    expect(err).toMatchObject({ code, retriable: true });
    expect(err.message).toBe(`cannot reach PostgreSQL at db:5432/dmarc: ${what} (${sys})`);
  });

  it('reads the first attempt of an AggregateError (several addresses for one name)', () => {
    const err = toStoreError(new AggregateError([systemError('ECONNREFUSED'), systemError('ECONNREFUSED')]), 'localhost:5432');
    expect(err).toMatchObject({ code: 'STORE_UNAVAILABLE', retriable: true });
  });

  it.each([
    ['Connection terminated unexpectedly', 'STORE_UNAVAILABLE'],
    ['Connection terminated due to connection timeout', 'STORE_TIMEOUT'],
    ['timeout exceeded when trying to connect', 'STORE_TIMEOUT'],
    ['Client has encountered a connection error and is not queryable', 'STORE_UNAVAILABLE'],
  ])('node-postgres "%s" → %s, retriable', (message, code) => {
    expect(toStoreError(new Error(message))).toMatchObject({ code, retriable: true });
  });

  it('does not retry what it cannot classify', () => {
    expect(toStoreError(new Error('something odd'))).toMatchObject({ code: 'STORE_ERROR', retriable: false });
    expect(toStoreError('a string')).toMatchObject({ code: 'STORE_ERROR', message: 'PostgreSQL: a string' });
  });

  it('passes StoreErrors through', () => {
    const err = toStoreError(serverError('23505'));
    expect(toStoreError(err)).toBe(err);
  });
});
