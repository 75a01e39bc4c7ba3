import { MigrationChangedError, MigrationFailedError, StoreError } from './errors';
import { loadMigrations, migrationsDir, type Migration } from './migration-files';
import type { Queryable, Store } from './store';

export interface MigrateOptions {
  /** Folder of `NNNN_description.sql` files (default: this library's `migrationsDir`). */
  readonly dir?: string;
  /** Called after each migration this run applied. */
  readonly onApplied?: (migration: AppliedMigration) => void;
}

export interface AppliedMigration {
  readonly version: number;
  readonly name: string;
  readonly durationMs: number;
}

export interface MigrateResult {
  /** Migrations this run applied, in order. */
  readonly applied: readonly AppliedMigration[];
  /** How many were already applied (by an earlier run, or a concurrent migrator). */
  readonly alreadyApplied: number;
  /** Recorded in the database but absent from the folder: the database is ahead of this code. */
  readonly unknown: readonly string[];
}

// One fixed advisory lock key for "migrating": every migrator takes it first in each of its
// transactions, so two migrators never run the same file, and the second sees the first one's rows.
const LOCK_KEY = 0x646d6172; // 'dmar'

const CREATE_TABLE = `
  CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    duration_ms integer NOT NULL
  )`;

interface AppliedRow {
  version: number;
  name: string;
  checksum: string;
}

/**
 * Applies the migrations not yet recorded in `schema_migrations`, each in its own transaction, in
 * version order. Re-running is a no-op. An applied file whose content changed stops everything with
 * STORE_MIGRATION_CHANGED before anything new is applied. Safe to run from several processes at once.
 */
export async function migrate(store: Store, options: MigrateOptions = {}): Promise<MigrateResult> {
  const migrations = await loadMigrations(options.dir ?? migrationsDir);
  const recorded = await store.transaction(async (tx) => {
    await lock(tx);
    await tx.query(CREATE_TABLE);
    return (await tx.query<AppliedRow>('SELECT version, name, checksum FROM schema_migrations ORDER BY version')).rows;
  });

  const recordedByVersion = new Map(recorded.map((r) => [r.version, r]));
  for (const m of migrations) {
    const row = recordedByVersion.get(m.version);
    if (row) assertUnchanged(m, row);
  }
  const onDisk = new Set(migrations.map((m) => m.version));
  const unknown = recorded.filter((r) => !onDisk.has(r.version)).map((r) => r.name);

  const applied: AppliedMigration[] = [];
  let alreadyApplied = recordedByVersion.size - unknown.length;
  for (const m of migrations) {
    if (recordedByVersion.has(m.version)) continue;
    const done = await applyOne(store, m);
    if (done) {
      applied.push(done);
      options.onApplied?.(done);
    } else {
      alreadyApplied++;
    }
  }
  return { applied, alreadyApplied, unknown };
}

/** Applies one migration, or returns undefined when a concurrent migrator got there first. */
async function applyOne(store: Store, m: Migration): Promise<AppliedMigration | undefined> {
  return store.transaction(async (tx) => {
    await lock(tx);
    // Read again under the lock: another migrator may have applied it while we waited.
    const { rows } = await tx.query<AppliedRow>('SELECT version, name, checksum FROM schema_migrations WHERE version = $1', [
      m.version,
    ]);
    if (rows[0]) {
      assertUnchanged(m, rows[0]);
      return undefined;
    }
    const started = Date.now();
    try {
      await tx.exec(m.sql);
    } catch (err) {
      throw err instanceof StoreError ? new MigrationFailedError(m.name, err) : err;
    }
    const durationMs = Date.now() - started;
    await tx.query('INSERT INTO schema_migrations (version, name, checksum, duration_ms) VALUES ($1, $2, $3, $4)', [
      m.version,
      m.name,
      m.checksum,
      durationMs,
    ]);
    return { version: m.version, name: m.name, durationMs };
  });
}

async function lock(tx: Queryable): Promise<void> {
  await tx.query(`SELECT pg_advisory_xact_lock(${LOCK_KEY})`);
}

function assertUnchanged(m: Migration, row: AppliedRow): void {
  if (row.checksum !== m.checksum) throw new MigrationChangedError(m.name, row.checksum, m.checksum);
}
