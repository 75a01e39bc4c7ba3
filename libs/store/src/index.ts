export {
  ConstraintViolationError,
  InvalidDataError,
  InvalidQueryError,
  MigrationChangedError,
  MigrationFailedError,
  MigrationFileError,
  StoreAccessError,
  StoreClosedError,
  StoreError,
  StoreMisuseError,
  StoreTimeoutError,
  StoreUnavailableError,
  TransactionConflictError,
  UniqueViolationError,
  UnknownStoreError,
  type SqlErrorFields,
  type StoreErrorCode,
} from './errors';
export type {
  IsolationLevel,
  Queryable,
  QueryOptions,
  QueryParams,
  QueryResult,
  Store,
  StoreDriver,
  TransactionOptions,
} from './store';
export { PgStore, type PgStoreOptions } from './pg-store';
export { PgliteStore, type PgliteStoreOptions } from './pglite-store';
export { checksum, loadMigrations, migrationsDir, type Migration } from './migration-files';
export { migrate, type AppliedMigration, type MigrateOptions, type MigrateResult } from './migrate';
export { runMigrations, type MigrationLogger } from './run-migrations';
